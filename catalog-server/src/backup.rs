//! `catalog-server dump` and `restore`: the whole catalogue as one compressed, versioned file,
//! read in one snapshot while the server runs, and loaded into an empty database of either
//! kind (which is also how a catalogue moves from SQLite to PostgreSQL).
//!
//! The file is gzip-compressed JSON lines:
//!
//! ```text
//! {"format":"catalog-dump","version":1,"schema":"20261123000005","backend":"sqlite",...}
//! {"table":"users","columns":["id","name","dn","admin","runner","created"]}
//! [1,"alice","/DC=org/CN=Alice",false,false,"2026-11-23T10:00:00.123456"]
//! {"end":"users","rows":1}
//! ... every table, each referenced table before the tables that refer to it ...
//! {"complete":true,"tables":22,"rows":12345}
//! ```
//!
//! Rows are JSON arrays in the table's primary-key order (directories by path, so a parent
//! always comes before its children), timestamps to the microsecond, so two dumps of the same
//! catalogue are the same bytes after their header line whichever database they came from.
//! The closing line tells a whole dump from a cut one. The bytes on storage elements are not
//! in the dump: storage elements are listed with their URLs, and their objects stay where
//! they are.

use anyhow::{bail, Context};
use chrono::{NaiveDateTime, SubsecRound};
use diesel::backend::Backend;
use diesel::connection::{DefaultLoadingMode, SimpleConnection};
use diesel::deserialize::{self, FromSql, FromSqlRow};
use diesel::expression::AsExpression;
use diesel::pg::PgRowByRowLoadingMode;
use diesel::prelude::*;
use diesel::serialize::{self, Output, ToSql};
use diesel::sql_types::{BigInt, Bool, Text, Timestamp};
use diesel_migrations::MigrationHarness;
use flate2::{read::MultiGzDecoder, write::GzEncoder, Compression};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::time::Instant;

use crate::db::{rows_per_statement, schema, DbConn};
use crate::insert_rows;

/// What the first line says the file is.
pub const FORMAT: &str = "catalog-dump";
/// The layout of the file (not of the database: that is `schema`). Restore reads this one.
pub const VERSION: u32 = 1;

/// A timestamp as the dump carries it: to the microsecond (what PostgreSQL keeps), written
/// `2026-11-23T10:00:00.123456`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, FromSqlRow, AsExpression)]
#[diesel(sql_type = Timestamp)]
pub struct Stamp(NaiveDateTime);

impl<DB: Backend> FromSql<Timestamp, DB> for Stamp
where
    NaiveDateTime: FromSql<Timestamp, DB>,
{
    fn from_sql(bytes: DB::RawValue<'_>) -> deserialize::Result<Self> {
        Ok(Stamp(NaiveDateTime::from_sql(bytes)?.trunc_subsecs(6)))
    }
}

impl<DB: Backend> ToSql<Timestamp, DB> for Stamp
where
    NaiveDateTime: ToSql<Timestamp, DB>,
{
    fn to_sql<'b>(&'b self, out: &mut Output<'b, '_, DB>) -> serialize::Result {
        self.0.to_sql(out)
    }
}

impl Serialize for Stamp {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&self.0.format("%Y-%m-%dT%H:%M:%S%.6f"))
    }
}

impl<'de> Deserialize<'de> for Stamp {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        NaiveDateTime::parse_from_str(&text, "%Y-%m-%dT%H:%M:%S%.f")
            .map(|t| Stamp(t.trunc_subsecs(6)))
            .map_err(|e| serde::de::Error::custom(format!("timestamp {text:?}: {e}")))
    }
}

/// The first line of a dump.
#[derive(Debug, Serialize, Deserialize)]
pub struct Header {
    pub format: String,
    pub version: u32,
    /// The database schema: the latest migration applied where it was written.
    pub schema: String,
    /// The database it was written from (sqlite or postgres).
    pub backend: String,
    pub created: String,
    pub producer: String,
}

/// One table: its columns, and how to copy its rows out and in.
struct Table {
    name: &'static str,
    columns: &'static [&'static str],
    /// Whether `id` is generated (PostgreSQL's sequence is moved past the loaded rows).
    serial: bool,
    count: fn(&mut DbConn) -> QueryResult<i64>,
    dump: fn(&mut DbConn, &mut dyn Write) -> anyhow::Result<u64>,
    /// Loads rows until the table's end line; returns (rows, largest first column).
    restore: fn(&mut DbConn, &mut Lines) -> anyhow::Result<(u64, i64)>,
}

/// Declares the tables, in the order they are written and loaded: each after those it
/// refers to. `order` is the order rows are written in.
macro_rules! tables {
    ($($table:ident serial=$serial:literal [$($col:ident : $ty:ty),+ $(,)?] order ($($key:ident),+);)+) => {
        fn tables() -> Vec<Table> {
            vec![$(
                Table {
                    name: stringify!($table),
                    columns: &[$(stringify!($col)),+],
                    serial: $serial,
                    count: |conn| schema::$table::table.count().get_result(conn),
                    dump: |conn, out| {
                        use schema::$table as t;
                        type Row = ($($ty,)+);
                        let query = t::table.select(($(t::$col,)+)).order_by(($(t::$key,)+));
                        let mut rows = 0u64;
                        let mut put = |row: Row| -> anyhow::Result<()> {
                            serde_json::to_writer(&mut *out, &row)?;
                            out.write_all(b"\n")?;
                            rows += 1;
                            Ok(())
                        };
                        match conn {
                            DbConn::Pg(c) => {
                                for row in query.load_iter::<Row, PgRowByRowLoadingMode>(c)? {
                                    put(row?)?;
                                }
                            }
                            DbConn::Sqlite(c) => {
                                for row in query.load_iter::<Row, DefaultLoadingMode>(c)? {
                                    put(row?)?;
                                }
                            }
                        }
                        Ok(rows)
                    },
                    restore: |conn, lines| {
                        use schema::$table as t;
                        type Row = ($($ty,)+);
                        let per_statement = rows_per_statement([$(stringify!($col)),+].len()).min(5_000);
                        let mut batch: Vec<Row> = Vec::with_capacity(per_statement);
                        let (mut rows, mut largest) = (0u64, 0i64);
                        // `last`: the line of the batch's last row.
                        let flush = |conn: &mut DbConn, batch: &mut Vec<Row>, last: u64| -> anyhow::Result<()> {
                            if batch.is_empty() {
                                return Ok(());
                            }
                            let first = last + 1 - batch.len() as u64;
                            let values: Vec<_> = batch
                                .drain(..)
                                .map(|($($col,)+)| ($(t::$col.eq($col),)+))
                                .collect();
                            insert_rows!(conn, t::table, values).with_context(|| {
                                format!("{}: the rows of lines {first}-{last} do not load", stringify!($table))
                            })?;
                            Ok(())
                        };
                        loop {
                            let line = lines.next_line()?;
                            if !line.starts_with('[') {
                                flush(conn, &mut batch, lines.number - 1)?;
                                lines.end_of(stringify!($table), rows, &line)?;
                                return Ok((rows, largest));
                            }
                            let row: Row = serde_json::from_str(&line).with_context(|| {
                                format!("line {}: not a row of {}", lines.number, stringify!($table))
                            })?;
                            largest = largest.max(row.0);
                            rows += 1;
                            batch.push(row);
                            if batch.len() == per_statement {
                                flush(conn, &mut batch, lines.number)?;
                            }
                        }
                    },
                },
            )+]
        }
    };
}

tables! {
    users serial=true [id: i64, name: String, dn: Option<String>, admin: bool, runner: bool, created: Stamp] order (id);
    user_groups serial=true [id: i64, name: String, created: Stamp] order (id);
    group_members serial=false [group_id: i64, user_id: i64] order (group_id, user_id);
    tokens serial=true [id: i64, user_id: i64, hash: String, runner: bool, created: Stamp, expires: Option<Stamp>, revoked: Option<Stamp>] order (id);
    directories serial=true [id: i64, parent_id: Option<i64>, name: String, path: String, owner: String, grp: String, mode: i32, created: Stamp] order (path);
    dir_closure serial=false [ancestor: i64, descendant: i64, depth: i32] order (ancestor, descendant);
    storage_elements serial=true [id: i64, name: String, kind: String, base_url: String, options: String, read_only: bool, created: Stamp] order (id);
    files serial=true [id: i64, dir_id: i64, name: String, path: String, guid: String, size: i64, adler32: String, md5: Option<String>, sha256: Option<String>, status: String, owner: String, grp: String, mode: i32, created: Stamp, modified: Stamp] order (id);
    replicas serial=true [id: i64, file_id: i64, se_id: i64, pfn: String, status: String, created: Stamp] order (id);
    meta_fields serial=true [id: i64, name: String, ftype: String, description: Option<String>, created: Stamp] order (id);
    file_meta serial=false [file_id: i64, field_id: i64, ival: Option<i64>, fval: Option<f64>, sval: Option<String>] order (file_id, field_id);
    dir_meta serial=false [dir_id: i64, field_id: i64, ival: Option<i64>, fval: Option<f64>, sval: Option<String>] order (dir_id, field_id);
    file_parents serial=false [child_id: i64, parent_id: i64] order (child_id, parent_id);
    datasets serial=true [id: i64, name: String, query: Option<String>, frozen: bool, metadata: String, owner: String, created: Stamp, modified: Stamp] order (id);
    dataset_files serial=false [dataset_id: i64, file_id: i64] order (dataset_id, file_id);
    dir_schemas serial=false [dir_id: i64, schema: String, created: Stamp] order (dir_id);
    jobs serial=true [id: i64, name: String, spec: String, sandbox: String, query: String, watch: bool, state: String, owner: String, created: Stamp, modified: Stamp, next_run: Option<Stamp>] order (id);
    subjobs serial=true [id: i64, job_id: i64, number: i64, state: String, attempts: i32, max_attempts: i32, cpus: i32, memory: i64, gpus: i32, runner: Option<String>, token: Option<String>, lease_expires: Option<Stamp>, exit_code: Option<i32>, reason: Option<String>, created: Stamp, modified: Stamp] order (id);
    subjob_inputs serial=false [job_id: i64, subjob_id: i64, file_id: i64] order (job_id, file_id);
    subjob_attempts serial=false [subjob_id: i64, attempt: i32, token: String, runner: String, state: String, exit_code: Option<i32>, reason: Option<String>, started: Stamp, finished: Option<Stamp>] order (subjob_id, attempt);
    subjob_files serial=false [subjob_id: i64, attempt: i32, file_id: i64, kind: String] order (subjob_id, file_id);
    audit_log serial=true [id: i64, at: Stamp, who: String, action: String, target: String, status: i32, remote: String, request_id: String] order (id);
}

/// The names of the tables a dump holds, in its order.
pub fn table_names() -> Vec<&'static str> {
    tables().iter().map(|t| t.name).collect()
}

/// The latest migration applied to the database: the schema its rows are in.
fn schema_version(conn: &mut DbConn) -> anyhow::Result<String> {
    let applied = match conn {
        DbConn::Pg(c) => c.applied_migrations(),
        DbConn::Sqlite(c) => c.applied_migrations(),
    }
    .map_err(|e| anyhow::anyhow!("cannot read the applied migrations: {e}"))?;
    applied
        .iter()
        .map(|v| v.to_string())
        .max()
        .context("the database has no migrations applied")
}

fn backend_name(conn: &DbConn) -> &'static str {
    match conn {
        DbConn::Pg(_) => "postgres",
        DbConn::Sqlite(_) => "sqlite",
    }
}

/// What a dump or restore did.
#[derive(Debug, Default)]
pub struct Summary {
    /// Rows per table, in the dump's order.
    pub tables: Vec<(&'static str, u64)>,
    pub schema: String,
    pub seconds: f64,
}

impl Summary {
    pub fn rows(&self) -> u64 {
        self.tables.iter().map(|(_, n)| n).sum()
    }

    /// "N rows of T tables (F files, R replicas, D directories, J jobs)".
    pub fn describe(&self) -> String {
        format!(
            "{} rows of {} tables ({} files, {} replicas, {} directories, {} jobs)",
            self.rows(),
            self.tables.len(),
            self.of("files"),
            self.of("replicas"),
            self.of("directories"),
            self.of("jobs")
        )
    }

    pub fn of(&self, table: &str) -> u64 {
        self.tables
            .iter()
            .find(|(t, _)| *t == table)
            .map_or(0, |(_, n)| *n)
    }
}

/// Writes the whole catalogue to `out`, read in one snapshot (a repeatable-read, read-only
/// transaction on PostgreSQL; one read transaction on SQLite, whose WAL keeps it from seeing
/// later commits), so writes may go on meanwhile.
pub fn dump(
    conn: &mut DbConn,
    out: impl Write,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let mut gz = GzEncoder::new(std::io::BufWriter::new(out), Compression::new(3));
    // Before the snapshot: diesel may create its migrations table when asked.
    let schema = schema_version(conn)?;
    conn.batch_execute(match conn {
        DbConn::Pg(_) => "BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY",
        DbConn::Sqlite(_) => "BEGIN",
    })?;
    let written = write_tables(conn, &mut gz, schema, progress);
    // Read-only: ending it either way changes nothing.
    let ended = conn.batch_execute("ROLLBACK");
    let summary = written?;
    ended?;
    gz.finish()?.flush()?;
    Ok(Summary {
        seconds: start.elapsed().as_secs_f64(),
        ..summary
    })
}

fn write_tables(
    conn: &mut DbConn,
    out: &mut dyn Write,
    schema: String,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    let header = Header {
        format: FORMAT.into(),
        version: VERSION,
        schema: schema.clone(),
        backend: backend_name(conn).into(),
        created: chrono::Utc::now()
            .format("%Y-%m-%dT%H:%M:%S%.6fZ")
            .to_string(),
        producer: concat!("catalog-server ", env!("CARGO_PKG_VERSION")).into(),
    };
    serde_json::to_writer(&mut *out, &header)?;
    out.write_all(b"\n")?;
    let mut summary = Summary {
        schema,
        ..Summary::default()
    };
    for table in tables() {
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"table": table.name, "columns": table.columns}),
        )?;
        out.write_all(b"\n")?;
        let rows = (table.dump)(conn, out).with_context(|| format!("reading {}", table.name))?;
        serde_json::to_writer(
            &mut *out,
            &serde_json::json!({"end": table.name, "rows": rows}),
        )?;
        out.write_all(b"\n")?;
        progress(table.name, rows);
        summary.tables.push((table.name, rows));
    }
    serde_json::to_writer(
        &mut *out,
        &serde_json::json!({"complete": true, "tables": summary.tables.len(), "rows": summary.rows()}),
    )?;
    out.write_all(b"\n")?;
    Ok(summary)
}

/// The dump's lines, numbered from 1 for messages.
pub struct Lines {
    reader: Box<dyn BufRead>,
    number: u64,
    buf: String,
}

impl Lines {
    fn new(input: impl Read + 'static) -> Lines {
        Lines {
            reader: Box::new(BufReader::with_capacity(
                1 << 20,
                MultiGzDecoder::new(BufReader::new(input)),
            )),
            number: 0,
            buf: String::new(),
        }
    }

    fn next_line(&mut self) -> anyhow::Result<String> {
        self.buf.clear();
        let n = self.reader.read_line(&mut self.buf).map_err(|e| {
            if self.number == 0 {
                anyhow::anyhow!("not a catalogue dump (not gzip-compressed JSON lines: {e})")
            } else {
                anyhow::anyhow!("line {}: {e} (is the dump cut short?)", self.number + 1)
            }
        })?;
        if n == 0 {
            bail!(
                "the dump ends after line {} without its closing line: it was cut short",
                self.number
            );
        }
        self.number += 1;
        Ok(self.buf.trim_end_matches(['\n', '\r']).to_owned())
    }

    fn json(&mut self) -> anyhow::Result<serde_json::Value> {
        let line = self.next_line()?;
        serde_json::from_str(&line).with_context(|| format!("line {}: not JSON", self.number))
    }

    /// Checks the line that ends `table`'s rows.
    fn end_of(&self, table: &str, rows: u64, line: &str) -> anyhow::Result<()> {
        let v: serde_json::Value = serde_json::from_str(line)
            .with_context(|| format!("line {}: not JSON", self.number))?;
        if v["end"] != table {
            bail!(
                "line {}: expected a row of {table} or its end line, found {}",
                self.number,
                short(line)
            );
        }
        if v["rows"] != rows {
            bail!(
                "line {}: {table} should have {} rows, the dump holds {rows}",
                self.number,
                v["rows"]
            );
        }
        Ok(())
    }
}

fn short(line: &str) -> String {
    if line.len() <= 80 {
        line.to_owned()
    } else {
        let cut = (0..=80)
            .rev()
            .find(|&i| line.is_char_boundary(i))
            .unwrap_or(0);
        format!("{}...", &line[..cut])
    }
}

/// Reads and checks the first line of a dump.
pub fn read_header(lines: &mut Lines) -> anyhow::Result<Header> {
    let v = lines.json()?;
    if v["format"] != FORMAT {
        bail!("not a catalogue dump: its first line has no \"format\": \"{FORMAT}\"");
    }
    let header: Header = serde_json::from_value(v).context("line 1: the dump's header")?;
    if header.version != VERSION {
        bail!(
            "the dump is of format version {}; this catalog-server reads version {VERSION}",
            header.version
        );
    }
    Ok(header)
}

/// Loads a dump into `conn`'s database, which must be empty (as `migrate` leaves it, with at
/// most the default storage element a first start adds). One transaction: a dump that is
/// cut short, corrupt, or refused by the database leaves the database as it was.
pub fn restore(
    conn: &mut DbConn,
    input: impl Read + 'static,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    let start = Instant::now();
    let mut lines = Lines::new(input);
    let header = read_header(&mut lines)?;
    let ours = schema_version(conn)?;
    if header.schema != ours {
        bail!(
            "the dump is of database schema {} and this catalog-server's is {ours}: restore it with the catalog-server version that wrote it ({}), then upgrade",
            header.schema,
            header.producer
        );
    }
    conn.batch_execute(match conn {
        DbConn::Pg(_) => "BEGIN",
        DbConn::Sqlite(_) => "BEGIN IMMEDIATE",
    })?;
    let loaded = check_empty(conn).and_then(|()| load(conn, &mut lines, progress));
    match loaded {
        Ok(mut summary) => {
            conn.batch_execute("COMMIT")?;
            if let DbConn::Pg(c) = conn {
                c.batch_execute("VACUUM (ANALYZE)")?;
            }
            summary.schema = header.schema;
            summary.seconds = start.elapsed().as_secs_f64();
            Ok(summary)
        }
        Err(e) => {
            let _ = conn.batch_execute("ROLLBACK");
            Err(e)
        }
    }
}

/// Refuses a database holding anything but what migrations and a first start put there;
/// removes that (the root directory and an unused default storage element), as the dump
/// brings its own.
fn check_empty(conn: &mut DbConn) -> anyhow::Result<()> {
    use schema::{dir_closure, directories, storage_elements};
    let mut held = Vec::new();
    for table in tables() {
        let n = (table.count)(conn)?;
        let seeded = match table.name {
            "directories" | "dir_closure" => 1,
            "storage_elements" => storage_elements::table
                .filter(storage_elements::name.eq(crate::app::DEFAULT_SE))
                .count()
                .get_result(conn)?,
            _ => 0,
        };
        if n > seeded {
            held.push(format!("{n} {}", table.name));
        }
    }
    if !held.is_empty() {
        bail!(
            "the database is not empty (it holds {}); restore loads into a new database: give another --database-url, or for SQLite another --data-dir",
            held.join(", ")
        );
    }
    diesel::delete(dir_closure::table).execute(conn)?;
    diesel::delete(directories::table).execute(conn)?;
    diesel::delete(storage_elements::table).execute(conn)?;
    Ok(())
}

fn load(
    conn: &mut DbConn,
    lines: &mut Lines,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    let mut summary = Summary::default();
    for table in tables() {
        let v = lines.json()?;
        if v["table"] != table.name {
            bail!(
                "line {}: expected the table {} next, found {}",
                lines.number,
                table.name,
                short(&v.to_string())
            );
        }
        let columns: Vec<&str> = v["columns"]
            .as_array()
            .map(|c| c.iter().filter_map(|c| c.as_str()).collect())
            .unwrap_or_default();
        if columns != table.columns {
            bail!(
                "line {}: the dump's {} has columns {columns:?}, this catalog-server's {:?}",
                lines.number,
                table.name,
                table.columns
            );
        }
        let (rows, largest) = (table.restore)(conn, lines)?;
        if table.serial {
            restart_sequence(conn, table.name, largest)?;
        }
        progress(table.name, rows);
        summary.tables.push((table.name, rows));
    }
    let v = lines.json()?;
    if v["complete"] != true || v["rows"] != summary.rows() {
        bail!(
            "line {}: the closing line {} does not match the {} rows read",
            lines.number,
            short(&v.to_string()),
            summary.rows()
        );
    }
    Ok(summary)
}

/// Moves PostgreSQL's identity sequence of `table` past the rows loaded with their ids
/// (SQLite takes the next rowid after the largest by itself).
fn restart_sequence(conn: &mut DbConn, table: &str, largest: i64) -> anyhow::Result<()> {
    if let DbConn::Pg(c) = conn {
        diesel::sql_query("SELECT setval(pg_get_serial_sequence($1, 'id'), $2, $3)")
            .bind::<Text, _>(table)
            .bind::<BigInt, _>(largest.max(1))
            .bind::<Bool, _>(largest > 0)
            .execute(c)
            .with_context(|| format!("restarting the id sequence of {table}"))?;
    }
    Ok(())
}

/// Writes a dump to `path` (`-`: standard output): into a temporary file beside it, synced
/// and renamed when whole, so a failed dump never leaves a file that looks like one.
pub fn dump_to_path(
    conn: &mut DbConn,
    path: &Path,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    if path == Path::new("-") {
        return dump(conn, std::io::stdout().lock(), progress);
    }
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let tmp = tempfile::Builder::new()
        .prefix(".catalog-dump-")
        .tempfile_in(dir)
        .with_context(|| format!("cannot write in {}", dir.display()))?;
    let summary = dump(conn, tmp.as_file(), progress)?;
    tmp.as_file().sync_all()?;
    tmp.persist(path)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(summary)
}

/// Restores from `path` (`-`: standard input).
pub fn restore_from_path(
    conn: &mut DbConn,
    path: &Path,
    progress: &dyn Fn(&str, u64),
) -> anyhow::Result<Summary> {
    if path == Path::new("-") {
        return restore(conn, std::io::stdin(), progress);
    }
    let file =
        std::fs::File::open(path).with_context(|| format!("cannot read {}", path.display()))?;
    restore(conn, file, progress)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_keep_microseconds_and_read_back() {
        let t =
            NaiveDateTime::parse_from_str("2026-11-23T10:00:00.123456789", "%Y-%m-%dT%H:%M:%S%.f")
                .expect("time");
        let s = serde_json::to_string(&Stamp(t.trunc_subsecs(6))).expect("json");
        assert_eq!(s, "\"2026-11-23T10:00:00.123456\"");
        let back: Stamp = serde_json::from_str(&s).expect("back");
        assert_eq!(back, Stamp(t.trunc_subsecs(6)));
        assert!(serde_json::from_str::<Stamp>("\"yesterday\"").is_err());
    }

    #[test]
    fn every_table_of_the_schema_is_dumped_once() {
        // The schema's tables, as `allow_tables_to_appear_in_same_query!` lists them.
        let source = include_str!("db/schema.rs");
        let mut declared: Vec<&str> = source
            .split("diesel::table! {")
            .skip(1)
            .filter_map(|t| {
                t.lines()
                    .map(str::trim)
                    .find(|l| !l.starts_with("///") && !l.is_empty())
                    .and_then(|l| l.split_whitespace().next())
            })
            .collect();
        declared.sort_unstable();
        let mut dumped = table_names();
        dumped.sort_unstable();
        assert_eq!(dumped, declared);
    }

    #[test]
    fn cut_and_foreign_files_are_named() {
        let mut lines = Lines::new(std::io::Cursor::new(b"plain text\n".to_vec()));
        let e = read_header(&mut lines).expect_err("not gzip");
        assert!(e.to_string().contains("not a catalogue dump"), "{e}");

        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"{\"format\":\"something-else\"}\n")
            .expect("gz");
        let mut lines = Lines::new(std::io::Cursor::new(gz.finish().expect("gz")));
        let e = read_header(&mut lines).expect_err("other format");
        assert!(e.to_string().contains("not a catalogue dump"), "{e}");

        let mut gz = GzEncoder::new(Vec::new(), Compression::fast());
        gz.write_all(b"{\"format\":\"catalog-dump\",\"version\":99,\"schema\":\"1\",\"backend\":\"sqlite\",\"created\":\"\",\"producer\":\"\"}\n")
            .expect("gz");
        let mut lines = Lines::new(std::io::Cursor::new(gz.finish().expect("gz")));
        let e = read_header(&mut lines).expect_err("newer format");
        assert!(e.to_string().contains("format version 99"), "{e}");
        let e = lines.next_line().expect_err("cut");
        assert!(e.to_string().contains("cut short"), "{e}");
    }
}

//! Backup and restore: `catalog-server dump` of a running catalogue that holds every kind of
//! record (namespace, files, replicas, typed and directory metadata, a schema, provenance,
//! datasets, a finished job, users, groups, tokens, the audit log) is restored into
//! PostgreSQL, dumped again, restored into SQLite and dumped again: the three dumps hold the
//! same rows, and the restored servers answer as the original did and take new writes. A
//! dump taken during a bulk registration holds whole batches only. A dump refused (into a
//! database that is not empty, cut short, with a broken row, not a dump at all) changes
//! nothing.

use catalog_tests::postgres::Database;
use catalog_tests::{bin_dir, Backend, TestServer};
use serde_json::{json, Value};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use super::fixtures::{lfn_of, line, manifest, register_thousand};
use super::jobs::{many_inputs_job, submit, wait_job_state};

/// Runs `catalog-server ARGS` on the data directory `data` and PostgreSQL database `pg` (or
/// the SQLite database in `data`).
fn server_cmd(data: &Path, pg: Option<&Database>, args: &[&str]) -> Output {
    let mut cmd = Command::new(bin_dir().join("catalog-server"));
    cmd.args(args).arg("--data-dir").arg(data);
    if let Some(db) = pg {
        cmd.args(["--database-url", &db.url]);
    }
    cmd.env_remove("CATALOG_CONFIG")
        .env_remove("CATALOG_DATABASE_URL")
        .output()
        .expect("run catalog-server")
}

/// `catalog-server restore DUMP` into `data` and `pg`, which must succeed; what it said.
fn restore(data: &Path, pg: Option<&Database>, dump: &Path, what: &str) -> String {
    succeeded(
        server_cmd(data, pg, &["restore", dump.to_str().expect("path")]),
        what,
    )
}

fn succeeded(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

fn failed(out: Output, what: &str) -> String {
    assert!(
        !out.status.success(),
        "{what} should have failed:\n{}",
        String::from_utf8_lossy(&out.stdout)
    );
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The lines of a dump after its header (which says when and where it was written).
fn rows_of(dump: &Path) -> Vec<String> {
    let mut lines = lines_of(dump);
    let header: Value = serde_json::from_str(&lines.remove(0)).expect("header");
    assert_eq!(header["format"], "catalog-dump");
    assert_eq!(header["version"], 1);
    lines
}

/// Every line of a dump, its header first.
fn lines_of(dump: &Path) -> Vec<String> {
    let mut text = String::new();
    flate2::read::GzDecoder::new(std::fs::File::open(dump).expect("dump"))
        .read_to_string(&mut text)
        .expect("gunzip");
    text.lines().map(str::to_owned).collect()
}

fn table_rows(rows: &[String], table: &str) -> usize {
    let end = rows
        .iter()
        .find_map(|l| {
            let v: Value = serde_json::from_str(l).ok()?;
            (v["end"] == table).then(|| v["rows"].as_u64())?
        })
        .unwrap_or_else(|| panic!("no end line for {table}"));
    end as usize
}

/// Every kind of record the catalogue keeps.
fn populate(s: &TestServer) -> String {
    register_thousand(s);
    let lines = vec![
        line(
            "/derived/c1",
            10,
            json!({"run": 7, "note": "from two"}),
            &[&lfn_of(0), &lfn_of(1)],
        ),
        line("/derived/c2", 11, json!({"run": 8}), &["/derived/c1"]),
    ];
    let path = manifest(s, "derived.jsonl", &lines);
    s.ok(&["register", "-p", "--from", path.to_str().expect("path")]);
    let local = s.scratch("put");
    std::fs::write(local.join("real.dat"), b"the bytes of a real file\n").expect("file");
    s.ok(&[
        "put",
        local.join("real.dat").to_str().expect("path"),
        "/real/real.dat",
    ]);
    s.ok(&[
        "dataset", "create", "low-runs", "--query", "run < 3", "--frozen",
    ]);
    s.ok(&[
        "dataset",
        "create",
        "b01",
        "--query",
        "detector = \"B01\"",
        "--meta",
        "team=physics",
    ]);
    let schema = s.scratch("schema").join("s.json");
    std::fs::write(&schema, r#"{"type":"object","required":["run"]}"#).expect("schema");
    s.ok(&["schema", "set", "/derived", schema.to_str().expect("path")]);
    s.ok(&["meta", "set", "/exp/d2", "quality=0.75"]);
    s.admin(&[
        "user",
        "add",
        "alice",
        "--dn",
        "/DC=org/DC=example/CN=Alice",
    ]);
    s.admin(&["user", "add", "runner1", "--runner"]);
    s.admin(&["group", "add", "physics"]);
    s.admin(&["group", "add-member", "physics", "alice"]);
    let token = s.admin(&["token", "create", "alice", "--expires", "30d"]);
    s.admin(&["token", "create", "runner1", "--runner"]);
    s.ok(&["chmod", "750", "/exp/d1"]);
    s.ok(&["chown", "alice:physics", "/derived/c2"]);
    // A job run to the end: subjobs, attempts, inputs, outputs with provenance.
    let spec = many_inputs_job(
        s,
        3,
        "backup",
        "for f in \\\"$@\\\"; do cp $f $(basename $f).out; done",
        "",
    );
    let job = submit(s, &spec);
    let mut runner = s.spawn_runner(&["--slots", "2"], "runner.log");
    wait_job_state(s, job, "completed");
    runner.kill();
    token
}

/// What a server answers about everything populated, to compare two servers by.
fn answers(s: &TestServer) -> Vec<String> {
    let mut out = Vec::new();
    for query in [
        "run < 3",
        "energy > 100.5 and detector = \"B02\"",
        "campaign = \"2016A\" and quality > 0.5",
        "ancestor(name = \"f0000\")",
        "under \"/many\"",
        "has(note)",
    ] {
        out.push(s.ok(&["find", "-o", "lfn", query]));
    }
    for args in [
        &["--output", "json", "stat", "/exp/d2/f0400"][..],
        &["--output", "json", "stat", "/derived/c2"],
        &["--output", "json", "meta", "get", "/exp/d2/f0401"],
        &["--output", "json", "du", "/"],
        &["ls", "-l", "/exp"],
        &["ancestors", "/derived/c2"],
        &["replicas", "/real/real.dat"],
        &["dataset", "ls"],
        &["dataset", "files", "low-runs"],
        &["schema", "get", "/derived"],
        &["meta", "fields"],
        &["se", "ls"],
    ] {
        out.push(s.ok(args));
    }
    out
}

fn dump_of(s: &TestServer, name: &str) -> PathBuf {
    let path = s.scratch("dumps").join(name);
    succeeded(
        s.server_command(&["dump", path.to_str().expect("path")]),
        "dump",
    );
    path
}

#[test]
fn dump_and_restore_between_sqlite_and_postgres_keep_everything() {
    let a = TestServer::start(Backend::Sqlite);
    let token = populate(&a);
    let d1 = dump_of(&a, "a.dump.gz");
    let rows = rows_of(&d1);
    for (table, at_least) in [
        ("users", 2),
        ("user_groups", 1),
        ("group_members", 1),
        ("tokens", 2),
        ("directories", 10),
        ("files", 1005),
        ("replicas", 1005),
        ("meta_fields", 5),
        ("file_meta", 3000),
        ("dir_meta", 2),
        ("file_parents", 3),
        ("datasets", 2),
        ("dataset_files", 1),
        ("dir_schemas", 1),
        ("jobs", 1),
        ("subjobs", 3),
        ("subjob_inputs", 3),
        ("subjob_attempts", 3),
        ("subjob_files", 3),
        ("audit_log", 10),
    ] {
        assert!(
            table_rows(&rows, table) >= at_least,
            "{table}: {} rows, expected at least {at_least}",
            table_rows(&rows, table)
        );
    }
    assert!(
        rows.iter()
            .all(|l| !l.contains(token.split_whitespace().last().unwrap_or("-"))),
        "a token in clear in the dump"
    );

    // Into PostgreSQL; a server on it answers as the original and takes new writes.
    let pg = Database::create();
    let b_data = tempfile::tempdir().expect("tempdir");
    let said = restore(b_data.path(), Some(&pg), &d1, "restore into PostgreSQL");
    assert!(
        said.contains(&format!("restored {} rows", rows.len() - 2 * 22 - 1))
            && said.contains(&format!("({} files,", table_rows(&rows, "files"))),
        "{said}"
    );
    let mut b = TestServer::start_on(pg);
    let d2 = dump_of(&b, "b.dump.gz");
    assert_eq!(rows_of(&d2), rows, "SQLite -> PostgreSQL changed rows");
    assert_eq!(answers(&b), answers(&a));
    let back = b.scratch("get");
    b.ok(&["get", "/real/real.dat", back.to_str().expect("path")]);
    assert_eq!(
        std::fs::read(back.join("real.dat")).expect("got"),
        b"the bytes of a real file\n"
    );
    // New rows take ids after the restored ones (PostgreSQL's sequences moved on).
    b.ok(&["mkdir", "/after"]);
    let path = manifest(
        &b,
        "after.jsonl",
        &[line("/after/new", 5, json!({"run": 1}), &[&lfn_of(3)])],
    );
    b.ok(&["register", "--from", path.to_str().expect("path")]);
    b.ok(&["dataset", "create", "after", "--query", "under \"/after\""]);
    b.ok(&["meta", "index", "later", "int"]);
    b.admin(&["user", "add", "bob"]);
    b.admin(&["token", "create", "bob"]);
    assert_eq!(
        b.ok(&["find", "--count", "ancestor(path = \"/exp/d0/f0003\")"])
            .trim(),
        "1"
    );
    b.stop();

    // Back into SQLite, from the PostgreSQL dump.
    let c_data = tempfile::tempdir().expect("tempdir");
    restore(c_data.path(), None, &d2, "restore into SQLite");
    let d3 = c_data.path().join("c.dump.gz");
    succeeded(
        server_cmd(c_data.path(), None, &["dump", d3.to_str().expect("path")]),
        "dump of the SQLite restore",
    );
    assert_eq!(rows_of(&d3), rows, "PostgreSQL -> SQLite changed rows");
}

#[test]
fn refused_restores_change_nothing() {
    let a = TestServer::start(Backend::Sqlite);
    register_thousand(&a);
    let good = dump_of(&a, "good.dump.gz");
    let bytes = std::fs::read(&good).expect("dump");
    let scratch = a.scratch("bad");

    // Into a database that is not empty.
    let said = failed(
        a.server_command(&["restore", good.to_str().expect("path")]),
        "restore over data",
    );
    assert!(
        said.contains("the database is not empty") && said.contains(" 1000 files,"),
        "{said}"
    );

    let empty = tempfile::tempdir().expect("tempdir");
    let into_empty = |file: &Path| {
        server_cmd(
            empty.path(),
            None,
            &["restore", file.to_str().expect("path")],
        )
    };
    let cut = scratch.join("cut.gz");
    std::fs::write(&cut, &bytes[..bytes.len() / 2]).expect("cut");
    let said = failed(into_empty(&cut), "restore of a cut dump");
    assert!(said.contains("cut short"), "{said}");

    let text = scratch.join("text.gz");
    std::fs::write(&text, "{\"lfn\": \"/a\"}\n").expect("text");
    let said = failed(into_empty(&text), "restore of a manifest");
    assert!(said.contains("not a catalogue dump"), "{said}");

    // A row whose directory is not in the dump: the database refuses it, by line.
    let mut rows = rows_of(&good);
    let at = rows
        .iter()
        .position(|l| l.starts_with("[1,") && l.contains("/exp/d0/f0000"))
        .expect("row of f0000");
    let mut row: Value = serde_json::from_str(&rows[at]).expect("row");
    row[1] = json!(999_999);
    rows[at] = row.to_string();
    let broken = scratch.join("broken.gz");
    let mut gz = flate2::write::GzEncoder::new(
        std::fs::File::create(&broken).expect("create"),
        flate2::Compression::fast(),
    );
    let header = lines_of(&good).swap_remove(0);
    std::io::Write::write_all(
        &mut gz,
        format!("{header}\n{}\n", rows.join("\n")).as_bytes(),
    )
    .expect("write");
    gz.finish().expect("gz");
    let said = failed(into_empty(&broken), "restore of a broken row");
    assert!(said.contains("files: the rows of lines"), "{said}");

    // Each left the database empty: the good dump still restores into it.
    let said = succeeded(into_empty(&good), "restore after the refusals");
    assert!(said.contains("1000 files"), "{said}");
}

/// A dump taken while a bulk registration commits batch after batch holds whole batches: each
/// file with its replica and metadata, the files a multiple of the batch size.
#[test]
fn a_dump_under_writes_is_one_consistent_snapshot() {
    let a = TestServer::start(Backend::Postgres);
    const BATCH: usize = 500;
    let lines: Vec<Value> = (0..20 * BATCH)
        .map(|i| {
            line(
                &format!("/live/f{i:05}"),
                i as i64 + 1,
                json!({"seq": i, "tag": "x"}),
                &[],
            )
        })
        .collect();
    let path = manifest(&a, "live.jsonl", &lines);
    a.ok(&["mkdir", "/live"]);
    let mut writer = a
        .catalog_command(&[
            "register",
            "--batch-size",
            &BATCH.to_string(),
            "--from",
            path.to_str().expect("path"),
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("register");
    let count = |s: &TestServer| -> usize {
        s.ok(&["find", "--count", "under \"/live\""])
            .trim()
            .parse()
            .expect("count")
    };
    let start = std::time::Instant::now();
    while count(&a) < 2 * BATCH {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "registration did not start"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let mid = dump_of(&a, "mid.dump.gz");
    let during = count(&a);
    assert!(writer.wait().expect("register").success());
    let after = count(&a);
    assert_eq!(after, 20 * BATCH);

    let restored = tempfile::tempdir().expect("tempdir");
    restore(
        restored.path(),
        None,
        &mid,
        "restore of the mid-registration dump",
    );
    let rows = rows_of(&mid);
    let files = table_rows(&rows, "files");
    assert!(
        files >= 2 * BATCH && files.is_multiple_of(BATCH) && files <= 20 * BATCH,
        "{files} files in the dump (the count was {during} just after)"
    );
    assert_eq!(
        table_rows(&rows, "replicas"),
        files,
        "a file without its replica"
    );
    assert_eq!(
        table_rows(&rows, "file_meta"),
        2 * files,
        "a file without its metadata"
    );
    eprintln!("dump under writes: {files} of {after} files, taken while {during} were registered");
}

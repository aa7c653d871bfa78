//! Replicas: where each file's bytes are.

use catalog_core::api::{FileReplicas, ReplicaInfo};
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};

use crate::db::schema::replicas;
use crate::db::{rows_per_statement, DbConn};
use crate::error::Result;
use crate::files::{self, FileRow};
use crate::storage::{self, StorageElement};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = replicas)]
pub struct Replica {
    pub id: i64,
    pub file_id: i64,
    pub se_id: i64,
    pub pfn: String,
    pub status: String,
}

/// Replicas of the given files with their storage elements, by file id.
pub fn of_files(
    conn: &mut DbConn,
    file_ids: &[i64],
) -> Result<HashMap<i64, Vec<(Replica, StorageElement)>>> {
    let mut rows: Vec<Replica> = Vec::new();
    for chunk in file_ids.chunks(rows_per_statement(1)) {
        rows.extend(
            replicas::table
                .filter(replicas::file_id.eq_any(chunk))
                .select(Replica::as_select())
                .order(replicas::id)
                .load::<Replica>(conn)?,
        );
    }
    let se_ids: Vec<i64> = rows
        .iter()
        .map(|r| r.se_id)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ses = storage::by_ids(conn, &se_ids)?;
    let mut out: HashMap<i64, Vec<(Replica, StorageElement)>> = HashMap::new();
    for r in rows {
        if let Some(se) = ses.get(&r.se_id) {
            out.entry(r.file_id).or_default().push((r, se.clone()));
        }
    }
    Ok(out)
}

/// The replicas of each LFN, in request order.
pub fn of_lfns(conn: &mut DbConn, lfns: &[String]) -> Result<Vec<FileReplicas>> {
    let rows = files::require(conn, lfns)?;
    of_rows(conn, rows)
}

/// The replicas of files already looked up, in their order.
pub fn of_rows(conn: &mut DbConn, rows: Vec<FileRow>) -> Result<Vec<FileReplicas>> {
    let ids: Vec<i64> = rows.iter().map(|f| f.id).collect();
    let mut by_file = of_files(conn, &ids)?;
    Ok(rows
        .into_iter()
        .map(|f| FileReplicas {
            replicas: by_file
                .remove(&f.id)
                .unwrap_or_default()
                .into_iter()
                .map(|(r, se)| info(r, se))
                .collect(),
            lfn: f.path,
        })
        .collect())
}

/// A replica as the API shows it.
pub fn info(r: Replica, se: StorageElement) -> ReplicaInfo {
    ReplicaInfo {
        url: se.url_of(&r.pfn),
        se: se.name,
        pfn: r.pfn,
        status: r.status,
    }
}

/// Files and bytes below `path` (a directory, or one file), and per storage element the
/// replicas and their bytes; summed from the rows each time, so it never drifts.
pub fn du(
    conn: &mut DbConn,
    path: &str,
    se: Option<&str>,
) -> Result<catalog_core::api::DuResponse> {
    use crate::query::{Bind, Compiler};
    use diesel::sql_types::{BigInt, Text};
    #[derive(QueryableByName)]
    struct Total {
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    #[derive(QueryableByName)]
    struct PerSe {
        #[diesel(sql_type = Text)]
        se: String,
        #[diesel(sql_type = BigInt)]
        n: i64,
        #[diesel(sql_type = BigInt)]
        bytes: i64,
    }
    catalog_core::lfn::validate(path)?;
    if crate::namespace::find_dir(conn, path)?.is_none() && files::find(conn, path)?.is_none() {
        return Err(crate::error::Error::not_found(format!(
            "no such file or directory: {path}"
        )));
    }
    if let Some(name) = se {
        storage::get(conn, name)?;
    }
    let (lo, hi) = crate::namespace::subtree_bounds(path);
    let hi = hi.unwrap_or_else(|| char::MAX.to_string());
    // The files at or below `path`, on alias f.
    let below = |c: &mut Compiler<'_>| {
        c.sql.push("(f.path = ").bind(Bind::Text(path.to_owned()));
        c.sql
            .push(" OR (f.path > ")
            .bind(Bind::Text(lo.clone()))
            .push(" AND f.path < ")
            .bind(Bind::Text(hi.clone()))
            .push("))");
    };
    let mut c = Compiler::new(conn);
    c.sql.push("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(f.size), 0) AS BIGINT) AS bytes FROM files f WHERE ");
    below(&mut c);
    let total = c
        .sql
        .load::<Total>(c.conn)?
        .pop()
        .unwrap_or(Total { n: 0, bytes: 0 });
    let mut c = Compiler::new(conn);
    c.sql.push(
        "SELECT s.name AS se, COUNT(*) AS n, CAST(COALESCE(SUM(f.size), 0) AS BIGINT) AS bytes \
         FROM replicas r JOIN files f ON f.id = r.file_id JOIN storage_elements s ON s.id = r.se_id WHERE ",
    );
    below(&mut c);
    if let Some(name) = se {
        c.sql
            .push(" AND s.name = ")
            .bind(Bind::Text(name.to_owned()));
    }
    c.sql.push(" GROUP BY s.name ORDER BY s.name");
    let storage = c
        .sql
        .load::<PerSe>(c.conn)?
        .into_iter()
        .map(|r| catalog_core::api::SeUsage {
            se: r.se,
            replicas: r.n,
            bytes: r.bytes,
        })
        .collect();
    Ok(catalog_core::api::DuResponse {
        path: path.to_owned(),
        files: total.n,
        bytes: total.bytes,
        storage,
    })
}

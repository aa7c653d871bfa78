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
    let rows: Vec<FileRow> = files::require(conn, lfns)?;
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

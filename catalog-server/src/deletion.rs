//! Removing files together with their bytes: a replica leaves the catalogue only once its
//! bytes are gone, so a failed storage delete never leaves a dangling entry or dark data.

use catalog_core::api::DeleteResponse;
use diesel::prelude::*;

use crate::db::schema::replicas;
use crate::db::{rows_per_statement, Db};
use crate::error::{Error, Result};
use crate::files::{self, FileRow};
use crate::replicas as replica_rows;
use crate::stores::Store;

/// Deletes the bytes of every replica of `rows`, then the entries whose bytes are all gone.
/// Replicas whose delete failed stay registered and are named in the error.
pub async fn remove_files(db: &Db, rows: Vec<FileRow>) -> Result<DeleteResponse> {
    let ids: Vec<i64> = rows.iter().map(|f| f.id).collect();
    let mut by_file = db.read(move |c| replica_rows::of_files(c, &ids)).await?;
    let mut gone_replicas = Vec::new();
    let mut gone_files = Vec::new();
    let mut deleted = Vec::new();
    let mut failures = Vec::new();
    for f in &rows {
        let mut all_gone = true;
        for (r, se) in by_file.remove(&f.id).unwrap_or_default() {
            let outcome = match Store::open(&se) {
                Ok(store) => store.remove(&r.pfn).await,
                Err(e) => Err(e),
            };
            match outcome {
                Ok(()) => gone_replicas.push(r.id),
                Err(e) => {
                    all_gone = false;
                    failures.push(format!("{} on {}: {e}", f.path, se.name));
                }
            }
        }
        if all_gone {
            gone_files.push(f.id);
            deleted.push(f.path.clone());
        }
    }
    db.write(move |c| {
        for chunk in gone_replicas.chunks(rows_per_statement(1)) {
            diesel::delete(replicas::table.filter(replicas::id.eq_any(chunk))).execute(c)?;
        }
        files::delete_by_ids(c, &gone_files)
    })
    .await?;
    if failures.is_empty() {
        Ok(DeleteResponse { deleted })
    } else {
        Err(Error::Storage(format!(
            "{} removed; could not remove these replicas, which stay registered: {}",
            deleted.len(),
            failures.join("; ")
        )))
    }
}

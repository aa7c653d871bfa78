//! Copying replicas between storage elements, removing one replica, and verifying that each
//! replica's bytes are there with the catalogue's size and checksum. Bytes move first; the
//! catalogue changes only for what is verified, one file at a time, so a failure never
//! leaves a replica registered without its bytes.

use catalog_core::api::{ReplicaOutcome, ReplicaOutcomes};
use catalog_core::checksum::Algorithms;
use diesel::prelude::*;

use crate::db::schema::replicas;
use crate::db::{rows_per_statement, Db};
use crate::error::{Error, Result};
use crate::files::{self, FileRow};
use crate::namespace::now;
use crate::replicas as replica_rows;
use crate::storage::{self, StorageElement};
use crate::stores::{self, Store};

fn outcome(f: &FileRow, se: &str, status: &str, message: Option<String>) -> ReplicaOutcome {
    ReplicaOutcome {
        lfn: f.path.clone(),
        se: se.to_owned(),
        status: status.to_owned(),
        message,
    }
}

/// The files and, for each, its replicas with their storage elements.
async fn load(
    db: &Db,
    lfns: Vec<String>,
) -> Result<Vec<(FileRow, Vec<(replica_rows::Replica, StorageElement)>)>> {
    db.read(move |c| {
        files::check_lfns(&lfns)?;
        let rows = files::require(c, &lfns)?;
        let ids: Vec<i64> = rows.iter().map(|f| f.id).collect();
        let mut reps = replica_rows::of_files(c, &ids)?;
        Ok(rows
            .into_iter()
            .map(|f| {
                let r = reps.remove(&f.id).unwrap_or_default();
                (f, r)
            })
            .collect())
    })
    .await
}

/// Copies each file to storage element `to` from a good replica, verifies the copy, and
/// registers it.
pub async fn replicate(db: &Db, lfns: Vec<String>, to: String) -> Result<ReplicaOutcomes> {
    let name = to.clone();
    let target = db.read(move |c| storage::get(c, &name)).await?;
    if target.read_only {
        return Err(Error::bad(format!("storage element {to} is read-only")));
    }
    let mut items = Vec::new();
    for (f, reps) in load(db, lfns).await? {
        if reps.iter().any(|(_, se)| se.id == target.id) {
            items.push(outcome(&f, &to, "present", None));
            continue;
        }
        let mut errors = Vec::new();
        let mut copied = None;
        for (r, se) in reps.iter().filter(|(r, _)| r.status != "bad") {
            let pfn = f.path.trim_start_matches('/').to_owned();
            let result = async {
                let dest = Store::open(&target)?;
                let expected = f.sums();
                let got = stores::copy_new(
                    &Store::open(se)?,
                    &r.pfn,
                    &dest,
                    &pfn,
                    Algorithms::of(&expected),
                )
                .await?;
                if let Some(diff) = got.mismatch(&expected) {
                    let _ = dest.remove(&pfn).await;
                    return Err(Error::Storage(format!(
                        "checksum mismatch reading from {}: {diff}",
                        se.name
                    )));
                }
                Ok(pfn)
            }
            .await;
            match result {
                Ok(pfn) => {
                    copied = Some(pfn);
                    break;
                }
                Err(e) => errors.push(format!("from {}: {e}", se.name)),
            }
        }
        match copied {
            Some(pfn) => {
                let (file_id, se_id) = (f.id, target.id);
                let registered = db
                    .write(move |c| {
                        diesel::insert_into(replicas::table)
                            .values((
                                replicas::file_id.eq(file_id),
                                replicas::se_id.eq(se_id),
                                replicas::pfn.eq(&pfn),
                                replicas::status.eq("ok"),
                                replicas::created.eq(now()),
                            ))
                            .execute(c)?;
                        Ok(())
                    })
                    .await;
                match registered {
                    Ok(()) => items.push(outcome(&f, &to, "copied", None)),
                    Err(e) => items.push(outcome(
                        &f,
                        &to,
                        "failed",
                        Some(format!("copied but not registered: {e}")),
                    )),
                }
            }
            None if errors.is_empty() => items.push(outcome(
                &f,
                &to,
                "failed",
                Some("no good replica to copy from".into()),
            )),
            None => items.push(outcome(&f, &to, "failed", Some(errors.join("; ")))),
        }
    }
    Ok(ReplicaOutcomes { items })
}

/// Removes each file's replica on `se` (bytes first; the entry stays).
pub async fn remove(db: &Db, lfns: Vec<String>, se: String) -> Result<ReplicaOutcomes> {
    let name = se.clone();
    db.read(move |c| storage::get(c, &name)).await?;
    let mut items = Vec::new();
    for (f, reps) in load(db, lfns).await? {
        let Some((r, store)) = reps.into_iter().find(|(_, s)| s.name == se) else {
            items.push(outcome(
                &f,
                &se,
                "failed",
                Some(format!("no replica on {se}")),
            ));
            continue;
        };
        let gone = match Store::open(&store) {
            Ok(s) => s.remove(&r.pfn).await,
            Err(e) => Err(e),
        };
        match gone {
            Ok(()) => {
                let id = r.id;
                db.write(move |c| Ok(diesel::delete(replicas::table.find(id)).execute(c)?))
                    .await?;
                items.push(outcome(&f, &se, "removed", None));
            }
            Err(e) => items.push(outcome(
                &f,
                &se,
                "failed",
                Some(format!("{e}; the replica stays registered")),
            )),
        }
    }
    Ok(ReplicaOutcomes { items })
}

/// Reads every replica (on `se` only, if given) and compares it with the catalogue; with
/// `mark_bad`, replicas missing or damaged are marked `bad` and good ones `ok`.
pub async fn verify(
    db: &Db,
    lfns: Vec<String>,
    se: Option<String>,
    mark_bad: bool,
) -> Result<ReplicaOutcomes> {
    if let Some(name) = se.clone() {
        db.read(move |c| storage::get(c, &name)).await?;
    }
    let mut items = Vec::new();
    let mut statuses: Vec<(i64, &'static str)> = Vec::new();
    for (f, reps) in load(db, lfns).await? {
        for (r, store) in reps
            .into_iter()
            .filter(|(_, s)| se.as_ref().is_none_or(|n| &s.name == n))
        {
            let expected = f.sums();
            let checked = match Store::open(&store) {
                Ok(s) => s.checksum(&r.pfn, Algorithms::of(&expected)).await,
                Err(e) => Err(e),
            };
            let (status, message) = match checked {
                Ok(None) => (
                    "missing",
                    Some("no bytes at the replica's place".to_owned()),
                ),
                Ok(Some(got)) => match got.mismatch(&expected) {
                    None => ("ok", None),
                    Some(diff) => ("bad", Some(diff)),
                },
                Err(e) => ("failed", Some(e.to_string())),
            };
            match status {
                "ok" => statuses.push((r.id, "ok")),
                "missing" | "bad" => statuses.push((r.id, "bad")),
                _ => {}
            }
            items.push(outcome(&f, &store.name, status, message));
        }
    }
    if mark_bad {
        db.write(move |c| {
            for status in ["ok", "bad"] {
                let ids: Vec<i64> = statuses
                    .iter()
                    .filter(|(_, s)| *s == status)
                    .map(|(id, _)| *id)
                    .collect();
                for chunk in ids.chunks(rows_per_statement(1)) {
                    diesel::update(replicas::table.filter(replicas::id.eq_any(chunk)))
                        .set(replicas::status.eq(status))
                        .execute(c)?;
                }
            }
            Ok(())
        })
        .await?;
    }
    Ok(ReplicaOutcomes { items })
}

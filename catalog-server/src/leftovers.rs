//! Leftover uploads: the bytes an attempt put on a storage element and never got registered,
//! because its runner was killed between the upload and the finish, or the server was killed
//! in the middle of writing them (a `.NAME.part-…` file on a `file` storage element; the
//! runner's retried upload then succeeds beside it, even for a subjob done at its first
//! try). Each attempt uploads under its own directory ([`attempt_dir`]), so once a subjob
//! has ended, whatever lies under its attempts' directories and is no registered replica is
//! a leftover, and is removed; without this, every killed attempt left its outputs on
//! storage for good, counted by no one.

use catalog_core::job::attempt_dir;
use std::collections::HashSet;

use crate::db::Db;
use crate::error::Result;
use crate::stores::Store;
use crate::{jobs, storage};

/// Removes what the attempts of subjob `subjob` of job `job` uploaded and did not register;
/// the number of objects removed. Call it once the subjob has ended (done or failed for
/// good): no attempt of it registers anything after that.
pub async fn sweep(db: &Db, job: i64, subjob: i64) -> Result<usize> {
    let (ses, attempts) = db
        .read(move |c| {
            let (spec, attempts) = jobs::spec_and_attempts(c, job, subjob)?;
            let ses = storage::by_names(c, &spec.upload_ses())?;
            Ok((ses.into_values().collect::<Vec<_>>(), attempts))
        })
        .await?;
    let mut removed = 0;
    let dirs: Vec<String> = (1..=attempts)
        .map(|attempt| attempt_dir(job, subjob, attempt))
        .collect();
    for se in ses {
        let store = Store::open(&se)?;
        let mut found = Vec::new();
        for dir in &dirs {
            found.extend(store.list(dir).await?);
        }
        if !found.is_empty() {
            // One query for every attempt's objects on this storage element.
            let (name, candidates) = (se.name.clone(), found.clone());
            let registered: HashSet<String> = db
                .read(move |c| storage::registered_among(c, &name, &candidates))
                .await?;
            for pfn in found.iter().filter(|p| !registered.contains(*p)) {
                store.remove(pfn).await?;
                removed += 1;
            }
        }
        for dir in &dirs {
            store.remove_empty_dirs(dir).await?;
        }
    }
    Ok(removed)
}

/// How far back the start-up sweep looks.
const RECENT: chrono::TimeDelta = chrono::TimeDelta::days(1);

/// At start-up: sweeps again the subjobs that ended in the last day, since a sweep under way
/// when the server was killed is lost with it.
pub async fn sweep_recent(db: Db) {
    let since = crate::namespace::now() - RECENT;
    let ended = match db.read(move |c| jobs::ended_since(c, since)).await {
        Ok(ended) => ended,
        Err(e) => {
            tracing::warn!(error = %e, "cannot look for uploads no attempt registered");
            return;
        }
    };
    let mut removed = 0;
    for (job, subjob) in ended {
        match sweep(&db, job, subjob).await {
            Ok(n) => removed += n,
            Err(e) => {
                tracing::warn!(job, subjob, error = %e, "cannot remove the uploads no attempt registered")
            }
        }
    }
    if removed > 0 {
        tracing::info!(objects = removed, "removed uploads no attempt registered");
    }
}

/// [`sweep`] in the background, for the handler that ended the subjob: its answer does not
/// wait for storage, and a sweep that fails is only logged (the next end of the subjob, after
/// a resubmission, sweeps again).
pub fn sweep_later(db: &Db, job: i64, subjob: i64) {
    let db = db.clone();
    actix_web::rt::spawn(async move {
        match sweep(&db, job, subjob).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(
                job,
                subjob,
                objects = n,
                "removed uploads no attempt registered"
            ),
            Err(e) => {
                tracing::warn!(job, subjob, error = %e, "cannot remove the uploads no attempt registered")
            }
        }
    });
}

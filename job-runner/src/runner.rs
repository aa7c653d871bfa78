//! The runner loop: claim subjobs that fit the free capacity, run each in its own task,
//! renew the leases by heartbeat, stop the subjobs the server says to stop.

use catalog_core::job::{ClaimRequest, FinishResponse, HeartbeatRequest, Lease, LeaseRef};
use catalog_core::Client;
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::task::JoinHandle;
use tokio_util::sync::CancellationToken;

use crate::attempt;

#[derive(Debug, Clone)]
pub struct RunnerConfig {
    pub name: String,
    /// Subjobs run at once.
    pub slots: u32,
    pub cpus: u32,
    pub memory: u64,
    pub gpus: u32,
    /// Work directories go below this.
    pub work: PathBuf,
    /// Keep work directories after each attempt.
    pub keep: bool,
    /// Only subjobs of this job; stop when it ends.
    pub only_job: Option<i64>,
}

impl RunnerConfig {
    /// This machine's name and process id, its cores and memory.
    pub fn local(slots: Option<u32>, work: PathBuf) -> RunnerConfig {
        let cpus = std::thread::available_parallelism()
            .map(|n| n.get() as u32)
            .unwrap_or(1);
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        RunnerConfig {
            name: format!("{host}-{}", std::process::id()),
            slots: slots.unwrap_or(cpus).max(1),
            cpus: slots.unwrap_or(cpus).max(cpus),
            memory: total_memory(),
            gpus: 0,
            work,
            keep: false,
            only_job: None,
        }
    }
}

/// Total memory from /proc/meminfo (bytes), or a large value when unknown.
fn total_memory() -> u64 {
    std::fs::read_to_string("/proc/meminfo")
        .ok()
        .and_then(|t| {
            t.lines()
                .find(|l| l.starts_with("MemTotal:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse::<u64>().ok())
        })
        .map_or(u64::MAX / 2, |kb| kb * 1024)
}

struct Running {
    lease: LeaseRef,
    cancel: CancellationToken,
    handle: JoinHandle<()>,
    cpus: u32,
    memory: u64,
    gpus: u32,
}

/// What the loop tells its caller about each finished attempt.
pub type OnFinish = Arc<dyn Fn(&Lease, &anyhow::Result<FinishResponse>) + Send + Sync>;

/// Runs subjobs until `stop` is cancelled (or, with `only_job`, until that job ends).
/// Subjobs still running when it stops are stopped and reported failed, so they are retried.
pub async fn work(
    client: Client,
    cfg: RunnerConfig,
    stop: CancellationToken,
    on_finish: OnFinish,
) -> anyhow::Result<()> {
    std::fs::create_dir_all(&cfg.work)?;
    let mut running: HashMap<(i64, i64), Running> = HashMap::new();
    // Each task says here when it is over, so its slot is free at once.
    let (done_tx, mut done_rx) = tokio::sync::mpsc::unbounded_channel::<(i64, i64)>();
    let mut last_beat = Instant::now();
    let mut lease_seconds = 60u64;
    let mut backoff = Duration::from_millis(200);
    let mut nothing_to_claim = true;
    loop {
        while let Ok(key) = done_rx.try_recv() {
            running.remove(&key);
        }
        running.retain(|_, r| !r.handle.is_finished());
        if stop.is_cancelled() {
            break;
        }
        // With nothing running and nothing to claim, the job may have ended.
        if let (Some(job), true, true) = (cfg.only_job, running.is_empty(), nothing_to_claim) {
            match client.job_info(job).await {
                Ok(info) if matches!(info.state.as_str(), "completed" | "failed" | "killed") => {
                    break
                }
                Ok(_) => {}
                Err(e) if e.is_transient() => {
                    tracing::warn!(error = %e, "cannot read the job's state; retrying");
                }
                Err(e) => return Err(e.into()),
            }
        }
        let used = running.values().fold((0, 0, 0), |a, r| {
            (a.0 + r.cpus, a.1 + r.memory, a.2 + r.gpus)
        });
        let free_slots = cfg.slots.saturating_sub(running.len() as u32);
        let mut claimed = 0;
        if free_slots > 0 {
            let req = ClaimRequest {
                runner: cfg.name.clone(),
                cpus: cfg.cpus.saturating_sub(used.0),
                memory: cfg.memory.saturating_sub(used.1),
                gpus: cfg.gpus.saturating_sub(used.2),
                max: free_slots,
                job: cfg.only_job,
            };
            match client.claim(&req).await {
                Ok(resp) => {
                    backoff = Duration::from_millis(200);
                    claimed = resp.leases.len();
                    nothing_to_claim = claimed == 0;
                    for lease in resp.leases {
                        lease_seconds = lease.lease_seconds;
                        let key = (lease.job, lease.subjob);
                        let cancel = CancellationToken::new();
                        let lease_ref = LeaseRef {
                            job: lease.job,
                            subjob: lease.subjob,
                            token: lease.token.clone(),
                        };
                        let res = &lease.spec.run.resources;
                        let (cpus, memory, gpus) =
                            (res.cpus, lease.spec.memory().unwrap_or(0), res.gpus);
                        let (client, work, keep, c, done, on_finish) = (
                            client.clone(),
                            cfg.work.clone(),
                            cfg.keep,
                            cancel.clone(),
                            done_tx.clone(),
                            on_finish.clone(),
                        );
                        let handle = tokio::spawn(async move {
                            let result = attempt::attempt(&client, &lease, &work, keep, c).await;
                            on_finish(&lease, &result);
                            let _ = done.send(key);
                        });
                        running.insert(
                            key,
                            Running {
                                lease: lease_ref,
                                cancel,
                                handle,
                                cpus,
                                memory,
                                gpus,
                            },
                        );
                    }
                }
                Err(e) => {
                    tracing::warn!(error = %e, "cannot claim work; retrying");
                    tokio::select! {
                        _ = tokio::time::sleep(backoff) => {}
                        _ = stop.cancelled() => {}
                    }
                    backoff = (backoff * 2).min(Duration::from_secs(10));
                    continue;
                }
            }
        }
        let beat_every = Duration::from_secs((lease_seconds / 3).max(1));
        if !running.is_empty() && last_beat.elapsed() >= beat_every {
            last_beat = Instant::now();
            let req = HeartbeatRequest {
                runner: cfg.name.clone(),
                leases: running.values().map(|r| r.lease.clone()).collect(),
            };
            match client.heartbeat(&req).await {
                Ok(resp) => {
                    for s in resp.stop {
                        if let Some(r) = running.get(&(s.job, s.subjob)) {
                            tracing::info!(
                                job = s.job,
                                subjob = s.subjob,
                                "stopping: killed or lease lost"
                            );
                            r.cancel.cancel();
                        }
                    }
                }
                Err(e) => tracing::warn!(error = %e, "heartbeat failed"),
            }
        }
        if claimed == 0 {
            let wait = if running.is_empty() {
                Duration::from_millis(500)
            } else {
                beat_every.min(Duration::from_millis(500))
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                Some(key) = done_rx.recv() => {
                    running.remove(&key);
                }
                _ = stop.cancelled() => {}
            }
        }
    }
    for r in running.values() {
        r.cancel.cancel();
    }
    for (_, r) in running {
        let _ = r.handle.await;
    }
    Ok(())
}

//! One attempt of one subjob, from its lease to its "complete" or "fail" call.

use anyhow::{bail, Context};
use catalog_core::api::NewFile;
use catalog_core::job::{FinishRequest, FinishResponse, Lease, LeaseRef};
use catalog_core::meta::FieldType;
use catalog_core::Client;
use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

use crate::outputs;
use crate::retry::retrying;
use crate::stage;

/// How an attempt ended on the runner's side.
pub struct Outcome {
    pub exit_code: Option<i32>,
    /// None on success.
    pub failure: Option<String>,
    pub outputs: Vec<NewFile>,
}

/// Expands a command: `{inputs}` / `{input_lfns}` / `{outputs}` alone in an argument become
/// one argument per file; `{job}`, `{subjob}`, `{job_name}` anywhere.
pub fn command_line(
    lease: &Lease,
    template: &[String],
    staged: &[PathBuf],
) -> anyhow::Result<Vec<String>> {
    let paths: Vec<String> = staged.iter().map(|p| p.display().to_string()).collect();
    let lfns: Vec<String> = lease.inputs.iter().map(|i| i.file.lfn.clone()).collect();
    let mut out = Vec::new();
    for arg in template {
        match arg.as_str() {
            "{inputs}" | "{outputs}" => out.extend(paths.iter().cloned()),
            "{input_lfns}" => out.extend(lfns.iter().cloned()),
            _ => out.push(
                catalog_core::job::fill(arg, &|k| match k {
                    "job" => Some(lease.job.to_string()),
                    "subjob" => Some(lease.subjob.to_string()),
                    "job_name" => Some(lease.job_name.clone()),
                    "inputs" | "outputs" => Some(paths.join(" ")),
                    "input_lfns" => Some(lfns.join(" ")),
                    _ => None,
                })
                .map_err(anyhow::Error::msg)?,
            ),
        }
    }
    Ok(out)
}

/// Kills the command and everything it started: its process group, which it leads.
fn kill_group(pid: Option<u32>) {
    use nix::sys::signal::{killpg, Signal};
    use nix::unistd::Pid;
    // A pid of 0 or 1 would name this runner's own group or init: never signal those.
    if let Some(pid) = pid.filter(|p| *p > 1).and_then(|p| i32::try_from(p).ok()) {
        let _ = killpg(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

/// Runs the command in `dir`, its output in `log`; the exit code, or why it did not end well.
async fn run_command(
    lease: &Lease,
    argv: Vec<String>,
    dir: &Path,
    log: &Path,
    cancel: &CancellationToken,
) -> (Option<i32>, Option<String>) {
    let Some((program, args)) = argv.split_first() else {
        return (None, Some("empty command".into()));
    };
    let log_file = match std::fs::File::create(log).and_then(|f| Ok((f.try_clone()?, f))) {
        Ok(f) => f,
        Err(e) => {
            return (
                None,
                Some(format!("cannot write the log {}: {e}", log.display())),
            )
        }
    };
    let mut cmd = tokio::process::Command::new(program);
    cmd.args(args)
        .current_dir(dir)
        .envs(&lease.spec.run.env)
        .env("CATALOG_JOB", lease.job.to_string())
        .env("CATALOG_SUBJOB", lease.subjob.to_string())
        .env("CATALOG_ATTEMPT", lease.attempt.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file.0))
        .stderr(Stdio::from(log_file.1))
        .process_group(0)
        .kill_on_drop(true);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return (None, Some(format!("cannot start {program}: {e}"))),
    };
    let pid = child.id();
    let timeout = lease.spec.timeout().ok().flatten().unwrap_or(Duration::MAX);
    let sleep = tokio::time::sleep(timeout.min(Duration::from_secs(100 * 365 * 86400)));
    tokio::select! {
        status = child.wait() => match status {
            Ok(s) if s.success() => (Some(0), None),
            Ok(s) => match s.code() {
                Some(c) => (Some(c), Some(format!("exit code {c}"))),
                None => (None, Some("killed by a signal".into())),
            },
            Err(e) => (None, Some(format!("cannot wait for the command: {e}"))),
        },
        _ = sleep => {
            kill_group(pid);
            let _ = child.wait().await;
            (None, Some(format!("timeout after {}", lease.spec.run.timeout.clone().unwrap_or_default())))
        }
        _ = cancel.cancelled() => {
            kill_group(pid);
            let _ = child.wait().await;
            (None, Some("stopped: the job was killed or the lease was lost".into()))
        }
    }
}

/// Stages, runs and collects the outputs of an attempt in `dir`.
async fn run(
    client: &Client,
    lease: &Lease,
    dir: &Path,
    log: &Path,
    declared: &HashMap<String, FieldType>,
    cancel: &CancellationToken,
) -> Outcome {
    let fail = |exit_code, why: String| Outcome {
        exit_code,
        failure: Some(why),
        outputs: Vec::new(),
    };
    let mut skip: BTreeSet<String> = match stage::write_sandbox(&lease.sandbox, dir) {
        Ok(names) => names.into_iter().collect(),
        Err(e) => return fail(None, format!("{e:#}")),
    };
    let staged = match stage::stage(client, &lease.inputs, dir).await {
        Ok(s) => s,
        Err(e) => return fail(None, format!("{e:#}")),
    };
    skip.extend(
        staged
            .iter()
            .filter_map(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned()),
    );
    let template = match (&lease.spec.merge, lease.merge) {
        (Some(m), true) => &m.command,
        _ => &lease.spec.run.command,
    };
    let argv = match command_line(lease, template, &staged) {
        Ok(a) => a,
        Err(e) => return fail(None, format!("{e:#}")),
    };
    let (exit_code, failure) = run_command(lease, argv, dir, log, cancel).await;
    if let Some(why) = failure {
        return fail(exit_code, why);
    }
    let planned = match outputs::plan(lease, dir, &skip, declared) {
        Ok(p) => p,
        Err(e) => return fail(exit_code, format!("{e:#}")),
    };
    let mut files = Vec::with_capacity(planned.len());
    for p in &planned {
        match outputs::upload(client, lease, p).await {
            Ok(f) => files.push(f),
            Err(e) => {
                remove_uploaded(client, &files).await;
                return fail(exit_code, format!("{e:#}"));
            }
        }
    }
    Outcome {
        exit_code,
        failure: None,
        outputs: files,
    }
}

async fn remove_uploaded(client: &Client, files: &[NewFile]) {
    for f in files {
        for r in &f.replicas {
            let _ = client.delete_object(&r.se, &r.pfn).await;
        }
    }
}

/// The attempt's log, uploaded beside its outputs and described for registration.
async fn upload_log(client: &Client, lease: &Lease, log: &Path) -> anyhow::Result<NewFile> {
    let dir = match &lease.spec.logs {
        Some(d) => d.clone(),
        None => format!("/jobs/{}.{}/logs", lease.job_name, lease.job),
    };
    let name = format!("subjob-{:04}.attempt-{}.log", lease.subjob, lease.attempt);
    let se = lease.spec.log_se();
    let pfn = outputs::pfn(lease, &name);
    let sums = outputs::upload_to_attempt(client, lease, &se, &pfn, log, &format!("upload {name}"))
        .await?;
    Ok(NewFile::stored(
        catalog_core::lfn::join(&dir, &name),
        sums,
        se,
        pfn,
    ))
}

/// Runs one attempt in a fresh directory under `work`, then reports it to the server.
pub async fn attempt(
    client: &Client,
    lease: &Lease,
    work: &Path,
    keep: bool,
    cancel: CancellationToken,
) -> anyhow::Result<FinishResponse> {
    let dir = work
        .join(format!("job-{}", lease.job))
        .join(format!("subjob-{}.attempt-{}", lease.subjob, lease.attempt));
    let log = work.join(format!("job-{}", lease.job)).join(format!(
        "subjob-{}.attempt-{}.log",
        lease.subjob, lease.attempt
    ));
    if dir.exists() {
        std::fs::remove_dir_all(&dir).ok();
    }
    std::fs::create_dir_all(&dir).with_context(|| format!("cannot create {}", dir.display()))?;
    let lease_ref = LeaseRef {
        job: lease.job,
        subjob: lease.subjob,
        token: lease.token.clone(),
    };
    // Inputs are read, and outputs and the log written, as the job's submitter; the runner
    // reports the attempt as itself.
    let acting = client.for_lease(&lease_ref);
    let declared = retrying(
        "read the metadata fields",
        || acting.field_types(),
        catalog_core::ClientError::is_transient,
    )
    .await?;
    let outcome = run(&acting, lease, &dir, &log, &declared, &cancel).await;
    if !log.exists() {
        std::fs::write(&log, outcome.failure.as_deref().unwrap_or("")).ok();
    }
    // An attempt is reported without its log rather than not at all.
    let log_file = match upload_log(&acting, lease, &log).await {
        Ok(f) => Some(f),
        Err(e) => {
            tracing::warn!(error = %e, "cannot upload the attempt's log; reporting the attempt without it");
            None
        }
    };
    let req = FinishRequest {
        lease: lease_ref,
        exit_code: outcome.exit_code,
        reason: outcome.failure.clone(),
        outputs: outcome.outputs.clone(),
        log: log_file,
    };
    // Finishing is idempotent (a repeated call answers what the first did), so an answer lost
    // with a server that went away is asked for again.
    let answer = retrying(
        "report the attempt",
        || client.finish(&req, outcome.failure.is_none()),
        catalog_core::ClientError::is_transient,
    )
    .await;
    if !keep {
        std::fs::remove_dir_all(&dir).ok();
        std::fs::remove_file(&log).ok();
    }
    match answer {
        Ok(a) if a.state != "done" && outcome.failure.is_none() => {
            // The server refused the outputs (the reason is stored): their bytes go.
            remove_uploaded(&acting, &outcome.outputs).await;
            Ok(a)
        }
        Ok(a) => Ok(a),
        Err(e) => {
            // Nothing of an attempt whose report was refused (its lease lost to another
            // attempt) is registered: its bytes go, its log's too.
            let mut uploaded = outcome.outputs.clone();
            uploaded.extend(req.log.clone());
            remove_uploaded(&acting, &uploaded).await;
            bail!(
                "job {} subjob {} attempt {}: {e}",
                lease.job,
                lease.subjob,
                lease.attempt
            )
        }
    }
}

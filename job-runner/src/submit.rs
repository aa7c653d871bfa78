//! Reading a spec file and the files it ships, and showing jobs.

use anyhow::Context;
use base64::Engine;
use catalog_core::job::{JobInfo, JobSpec, JobStatus, SubmitRequest};
use catalog_core::text::table;
use std::collections::BTreeMap;
use std::path::Path;

/// The submission for the spec at `path`: `run.files` are read relative to the spec.
pub fn read(path: &Path) -> anyhow::Result<SubmitRequest> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let spec = JobSpec::from_toml(&text).map_err(|e| anyhow::anyhow!("{}: {e}", path.display()))?;
    let base = path.parent().unwrap_or(Path::new("."));
    let mut sandbox = BTreeMap::new();
    for f in &spec.run.files {
        let p = base.join(f);
        let bytes =
            std::fs::read(&p).with_context(|| format!("run.files: cannot read {}", p.display()))?;
        let name = p
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .context("run.files: no file name")?;
        if sandbox
            .insert(
                name.clone(),
                base64::engine::general_purpose::STANDARD.encode(bytes),
            )
            .is_some()
        {
            anyhow::bail!("run.files: two files are named {name}");
        }
    }
    Ok(SubmitRequest { spec, sandbox })
}

fn counts(j: &JobInfo) -> String {
    j.counts
        .iter()
        .map(|(s, n)| format!("{n} {s}"))
        .collect::<Vec<_>>()
        .join(", ")
}

pub fn print_jobs(jobs: &[JobInfo]) {
    if jobs.is_empty() {
        eprintln!("no jobs");
        return;
    }
    let mut rows = vec![vec![
        "JOB".to_owned(),
        "NAME".into(),
        "STATE".into(),
        "SUBJOBS".into(),
        "INPUTS".into(),
        "CREATED".into(),
    ]];
    rows.extend(jobs.iter().map(|j| {
        vec![
            j.id.to_string(),
            j.name.clone(),
            j.state.clone(),
            format!("{} ({})", j.subjobs, counts(j)),
            j.inputs.to_string(),
            j.created.format("%Y-%m-%d %H:%M:%S").to_string(),
        ]
    }));
    table(&rows);
}

pub fn print_status(st: &JobStatus) {
    let j = &st.job;
    println!(
        "job {} {} {}: {} subjobs ({}), {} input files{}",
        j.id,
        j.name,
        j.state,
        j.subjobs,
        counts(j),
        j.inputs,
        if j.watch { ", watching" } else { "" }
    );
    println!("query: {}", j.query);
    let mut rows = vec![vec![
        "SUBJOB".to_owned(),
        "STATE".into(),
        "ATTEMPTS".into(),
        "RUNNER".into(),
        "EXIT".into(),
        "INPUTS".into(),
        "OUTPUTS".into(),
        "REASON".into(),
    ]];
    rows.extend(st.subjobs.iter().map(|s| {
        vec![
            if s.subjob == 0 {
                "merge".to_owned()
            } else {
                s.subjob.to_string()
            },
            s.state.clone(),
            format!("{}/{}", s.attempts, s.max_attempts),
            s.runner.clone().unwrap_or_else(|| "-".into()),
            s.exit_code.map_or_else(|| "-".into(), |c| c.to_string()),
            s.inputs.len().to_string(),
            s.outputs.len().to_string(),
            s.reason.clone().unwrap_or_default(),
        ]
    }));
    table(&rows);
}

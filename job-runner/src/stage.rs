//! Staging: each input made available in the work directory under its LFN's base name,
//! hard-linked from a local storage element when its bytes are on this machine, downloaded
//! from the next replica otherwise; its checksum verified either way. Downloads that fail
//! because the server is away are tried again, as uploads are.

use anyhow::{bail, Context};
use catalog_core::job::LeasedInput;
use catalog_core::transfer::{self, no_progress, FetchFailed, LocalCopy};
use catalog_core::Client;
use std::path::{Path, PathBuf};

use crate::retry::retrying;

/// Stages `inputs` into `dir`; the staged paths, in input order.
pub async fn stage(
    client: &Client,
    inputs: &[LeasedInput],
    dir: &Path,
) -> anyhow::Result<Vec<PathBuf>> {
    let mut staged = Vec::with_capacity(inputs.len());
    for input in inputs {
        let f = &input.file;
        let name = catalog_core::lfn::split(&f.lfn).1;
        let target = dir.join(name);
        if target.exists() {
            bail!("two inputs are named {name}; staged inputs keep their base name, so they must differ");
        }
        // Local replicas first, then the others in the catalogue's order.
        let mut order: Vec<_> = input.replicas.iter().collect();
        order.sort_by_key(|r| transfer::local_replica(&r.url).is_none());
        // Fetched again while the server is away: a remote replica's bytes come through it.
        let sums = f.sums();
        let fetched = retrying(
            &format!("stage {}", f.lfn),
            || {
                transfer::fetch(
                    client,
                    &sums,
                    &order,
                    &target,
                    LocalCopy::Link,
                    no_progress(),
                )
            },
            |e: &FetchFailed| e.transient,
        )
        .await;
        if let Err(failed) = fetched {
            bail!("cannot stage {}: {failed}", f.lfn);
        }
        staged.push(target);
    }
    Ok(staged)
}

/// Writes the files the job ships (base64 contents) into `dir`.
pub fn write_sandbox(
    sandbox: &std::collections::BTreeMap<String, String>,
    dir: &Path,
) -> anyhow::Result<Vec<String>> {
    use base64::Engine;
    let mut names = Vec::new();
    for (name, content) in sandbox {
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(content)
            .with_context(|| format!("shipped file {name}"))?;
        std::fs::write(dir.join(name), bytes).with_context(|| format!("cannot write {name}"))?;
        names.push(name.clone());
    }
    Ok(names)
}

//! Staging: each input made available in the work directory under its LFN's base name,
//! hard-linked from a local storage element when its bytes are on this machine, downloaded
//! from the next replica otherwise; its checksum verified either way.

use anyhow::{bail, Context};
use catalog_core::job::LeasedInput;
use catalog_core::transfer::{self, no_progress};
use catalog_core::Client;
use std::path::{Path, PathBuf};

/// The local path of a `file://` replica URL, when it exists on this machine.
fn local_path(url: &str) -> Option<PathBuf> {
    let p = PathBuf::from(url.strip_prefix("file://")?);
    p.is_file().then_some(p)
}

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
        let mut tried = Vec::new();
        // Local replicas first, then the others in the catalogue's order.
        let mut order: Vec<_> = input.replicas.iter().collect();
        order.sort_by_key(|r| local_path(&r.url).is_none());
        let mut done = false;
        for r in order {
            let got = match local_path(&r.url) {
                Some(src) => match std::fs::hard_link(&src, &target)
                    .or_else(|_| std::fs::copy(&src, &target).map(|_| ()))
                {
                    Ok(()) => transfer::local_checksum(&target)
                        .await
                        .map_err(anyhow::Error::from),
                    Err(e) => Err(anyhow::Error::from(e)),
                },
                None => transfer::download_file(client, &r.se, &r.pfn, &target, no_progress())
                    .await
                    .map_err(anyhow::Error::from),
            };
            match got {
                Ok((size, adler32)) if size == f.size as u64 && adler32 == f.adler32 => {
                    done = true;
                    break;
                }
                Ok((size, adler32)) => tried.push(format!(
                    "{}: {size} bytes adler32 {adler32}, expected {} bytes adler32 {}",
                    r.se, f.size, f.adler32
                )),
                Err(e) => tried.push(format!("{}: {e:#}", r.se)),
            }
            let _ = std::fs::remove_file(&target);
        }
        if !done {
            if tried.is_empty() {
                bail!("cannot stage {}: it has no replica", f.lfn);
            }
            bail!("cannot stage {}: {}", f.lfn, tried.join("; "));
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

//! register --from MANIFEST.jsonl: bulk registration of files already on a storage element.

use anyhow::Context;
use catalog_core::api::{ManifestLine, NewFile, RegisterRequest, MAX_BATCH};
use clap::Args;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
pub struct RegisterArgs {
    /// JSON lines, one file each: {"lfn","size","adler32","se","pfn"} required;
    /// "metadata", "parents", "guid", "md5", "sha256" optional
    #[arg(long = "from", value_name = "MANIFEST.jsonl")]
    from: PathBuf,
    /// Create missing directories (otherwise a missing directory refuses the batch)
    #[arg(short = 'p', long)]
    parents: bool,
    /// Files per request (each batch is registered whole or not at all)
    #[arg(long, default_value_t = MAX_BATCH as u64, value_parser = clap::value_parser!(u64).range(1..=MAX_BATCH as u64))]
    batch_size: u64,
    /// Continue an interrupted run: files already registered with the same size and
    /// checksum are skipped (one extra lookup per batch); one registered with other
    /// content stops the run
    #[arg(long)]
    resume: bool,
}

/// The entries of a manifest with their line numbers; blank and `#` lines are skipped.
struct Manifest {
    path: PathBuf,
    lines: std::iter::Enumerate<std::io::Lines<BufReader<std::fs::File>>>,
}

impl Manifest {
    fn open(path: &Path) -> anyhow::Result<Manifest> {
        let file = std::fs::File::open(path)
            .with_context(|| format!("cannot open manifest {}", path.display()))?;
        Ok(Manifest {
            path: path.to_owned(),
            lines: BufReader::new(file).lines().enumerate(),
        })
    }
}

impl Iterator for Manifest {
    type Item = anyhow::Result<(usize, ManifestLine)>;

    fn next(&mut self) -> Option<Self::Item> {
        for (i, line) in self.lines.by_ref() {
            let number = i + 1;
            let line = match line {
                Ok(l) => l,
                Err(e) => {
                    return Some(Err(anyhow::anyhow!(
                        "{}:{number}: cannot read: {e}",
                        self.path.display()
                    )))
                }
            };
            let trimmed = line.trim();
            if trimmed.is_empty() || trimmed.starts_with('#') {
                continue;
            }
            return Some(
                serde_json::from_str(trimmed)
                    .map(|entry| (number, entry))
                    .with_context(|| {
                        format!("{}:{number}: invalid manifest line", self.path.display())
                    }),
            );
        }
        None
    }
}

pub async fn run(ctx: &Ctx, a: RegisterArgs) -> anyhow::Result<()> {
    // First pass: refuse a malformed manifest before anything is registered.
    let mut total = 0usize;
    for entry in Manifest::open(&a.from)? {
        entry?;
        total += 1;
    }
    let started = Instant::now();
    let bar = output::progress(total as u64, "registering", false);
    let batch_size = a.batch_size as usize;
    let mut done = 0usize;
    let mut batches = 0usize;
    let mut skipped = 0usize;
    let mut manifest = Manifest::open(&a.from)?.peekable();
    while manifest.peek().is_some() {
        let mut files: Vec<NewFile> = Vec::with_capacity(batch_size.min(total));
        let mut lines: Vec<usize> = Vec::with_capacity(batch_size.min(total));
        for entry in manifest.by_ref().take(batch_size) {
            let (number, entry) = entry?;
            files.push(entry.into());
            lines.push(number);
        }
        if a.resume {
            let before = files.len();
            files = not_yet_registered(ctx, files, &lines, &a.from).await?;
            skipped += before - files.len();
            bar.inc((before - files.len()) as u64);
            if files.is_empty() {
                batches += 1;
                continue;
            }
        }
        let n = files.len();
        let req = RegisterRequest {
            files,
            create_dirs: a.parents,
        };
        if let Err(e) = ctx.client.register(&req).await {
            bar.abandon();
            let (first, last) = (
                lines.first().copied().unwrap_or(0),
                lines.last().copied().unwrap_or(0),
            );
            // With no answer, the batch may have been committed before the connection went.
            let fate = match &e {
                catalog_core::ClientError::Api(_) => "refused, nothing of it registered",
                _ => "got no answer: it may or may not have been registered",
            };
            let mut msg = format!(
                "batch {} (manifest lines {first}-{last}) {fate}: {e}",
                batches + 1
            );
            if let catalog_core::ClientError::Api(p) = &e {
                if let Some(item) = p.errors.first() {
                    msg.push_str(&format!(
                        "\nfirst bad item is on manifest line {}",
                        lines.get(item.index).copied().unwrap_or(0)
                    ));
                }
            }
            msg.push_str(&format!(
                "\n{} file(s) of the manifest's first {batches} batch(es), up to line {}, are registered; \
                 run the same command with --resume to go on (files already there are skipped)",
                done + skipped,
                first.saturating_sub(1)
            ));
            anyhow::bail!(msg);
        }
        done += n;
        batches += 1;
        bar.inc(n as u64);
    }
    bar.finish_and_clear();
    let secs = started.elapsed().as_secs_f64();
    if ctx.format == Format::Json {
        return output::json(
            &serde_json::json!({ "registered": done, "skipped": skipped, "batches": batches, "seconds": secs }),
        );
    }
    let rate = if secs > 0.0 { done as f64 / secs } else { 0.0 };
    println!(
        "registered {done} file(s) from {} in {batches} batch(es), {secs:.1} s ({rate:.0} files/s)",
        a.from.display()
    );
    if skipped > 0 {
        println!("{skipped} already registered with the same size and checksum, skipped");
    }
    Ok(())
}

/// The files of a batch not registered yet. A file already registered with the same size
/// and checksums is dropped (a batch lands whole, with its replicas and metadata, so its
/// files were registered by an earlier run); one registered with other content is an error
/// naming its manifest line.
async fn not_yet_registered(
    ctx: &Ctx,
    files: Vec<NewFile>,
    lines: &[usize],
    manifest: &Path,
) -> anyhow::Result<Vec<NewFile>> {
    let lfns: Vec<String> = files.iter().map(|f| f.lfn.clone()).collect();
    let existing: std::collections::HashMap<String, catalog_core::api::FileInfo> = ctx
        .client
        .stat_existing(&lfns)
        .await
        .context("looking up which files of the batch are registered")?
        .files
        .into_iter()
        .map(|f| (f.lfn.clone(), f))
        .collect();
    let mut left = Vec::with_capacity(files.len());
    for (file, line) in files.into_iter().zip(lines) {
        match existing.get(&file.lfn) {
            None => left.push(file),
            Some(there) => {
                if let Some(diff) = there.sums().mismatch(&file.sums()) {
                    anyhow::bail!(
                        "{}:{line}: {} is already registered with another size or checksum \
                         ({diff}); nothing of this batch was registered",
                        manifest.display(),
                        file.lfn,
                    );
                }
            }
        }
    }
    Ok(left)
}

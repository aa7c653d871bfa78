//! put and get: bytes to and from storage elements, checksummed while they stream.

use anyhow::{bail, Context};
use catalog_core::api::{Entry, Metadata, NewFile, RegisterRequest, MAX_BATCH};
use catalog_core::checksum::{Algorithms, Sums};
use catalog_core::transfer::{self, LocalCopy, TransferError};
use catalog_core::{lfn, Client};
use clap::Args;
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use crate::metadata::{parse_assignments, read_meta_file};
use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
pub struct PutArgs {
    /// Local files (directories with -r), then the destination LFN or directory
    #[arg(required = true, num_args = 2.., value_name = "LOCAL... DEST")]
    paths: Vec<String>,
    /// Files uploaded at once
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Upload directories recursively: LOCALDIR/a/f becomes DEST/a/f
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Storage element to upload to
    #[arg(long, default_value = "local")]
    se: String,
    /// Metadata for every file uploaded
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
    /// A JSON object of metadata for every file uploaded
    #[arg(long, value_name = "FILE.json")]
    meta_file: Option<PathBuf>,
    /// Read each file's own metadata from the JSON file beside it named FILE+SUFFIX
    /// (e.g. --sidecar .json); sidecars themselves are not uploaded
    #[arg(long, value_name = "SUFFIX")]
    sidecar: Option<String>,
}

#[derive(Args)]
pub struct GetArgs {
    /// LFNs, then optionally a local directory (existing, or ending with '/')
    #[arg(required = true, value_name = "LFN... [DIR]")]
    args: Vec<String>,
    /// Say which replica each file came from
    #[arg(short = 'v', long)]
    verbose: bool,
    /// Files downloaded at once
    #[arg(long, short = 'j', default_value_t = 4, value_parser = clap::value_parser!(u32).range(1..=64))]
    jobs: u32,
    /// Replace existing local files
    #[arg(long)]
    force: bool,
    /// Storage elements to prefer, in order, after replicas on this machine
    #[arg(
        long,
        env = "CATALOG_SE_ORDER",
        value_delimiter = ',',
        value_name = "SE,SE..."
    )]
    se_order: Vec<String>,
}

/// The order replicas are tried in: good before bad; on this machine first; then the
/// preference list; then the catalogue's order.
fn replica_order<'a>(
    replicas: &'a [catalog_core::api::ReplicaInfo],
    prefer: &[String],
) -> Vec<&'a catalog_core::api::ReplicaInfo> {
    let mut order: Vec<&catalog_core::api::ReplicaInfo> = replicas.iter().collect();
    order.sort_by_key(|r| {
        let local = transfer::local_replica(&r.url).is_some();
        let rank = prefer
            .iter()
            .position(|s| s == &r.se)
            .unwrap_or(prefer.len());
        (r.status == "bad", !local, rank)
    });
    order
}

struct Upload {
    local: PathBuf,
    lfn: String,
    size: u64,
    metadata: Metadata,
}

fn is_sidecar(path: &Path, suffix: Option<&str>) -> bool {
    let (Some(suffix), Some(name)) = (suffix, path.file_name().and_then(|n| n.to_str())) else {
        return false;
    };
    name.strip_suffix(suffix)
        .is_some_and(|base| !base.is_empty() && path.with_file_name(base).is_file())
}

/// Files below `dir`, with their paths relative to it, in name order.
fn walk(dir: &Path) -> anyhow::Result<Vec<(PathBuf, String)>> {
    let mut out = Vec::new();
    let mut stack = vec![(dir.to_path_buf(), String::new())];
    while let Some((d, rel)) = stack.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&d)
            .with_context(|| format!("cannot read {}", d.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries.into_iter().rev() {
            let name = e.file_name().to_string_lossy().into_owned();
            let child_rel = if rel.is_empty() {
                name
            } else {
                format!("{rel}/{name}")
            };
            let ty = e.file_type()?;
            if ty.is_dir() {
                stack.push((e.path(), child_rel));
            } else if ty.is_file() || (ty.is_symlink() && e.path().is_file()) {
                out.push((e.path(), child_rel));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

async fn plan_uploads(ctx: &Ctx, a: &PutArgs) -> anyhow::Result<Vec<Upload>> {
    let (dest, sources) = a.paths.split_last().context("missing destination")?;
    let dest = dest.trim_end_matches('/').to_owned();
    let dest = if dest.is_empty() {
        "/".to_owned()
    } else {
        dest
    };
    lfn::validate(&dest)?;
    let dest_is_dir = a.recursive
        || sources.len() > 1
        || a.paths.last().is_some_and(|d| d.ends_with('/'))
        || matches!(ctx.client.stat_path(&dest).await, Ok(Entry::Dir(_)));
    let mut common = match &a.meta_file {
        Some(f) => read_meta_file(f)?,
        None => Metadata::new(),
    };
    common.extend(parse_assignments(&ctx.client, &a.meta).await?);
    let mut plan = Vec::new();
    for src in sources {
        let path = PathBuf::from(src);
        let meta = std::fs::metadata(&path).with_context(|| format!("cannot read {src}"))?;
        let found = if meta.is_dir() {
            if !a.recursive {
                bail!("{src} is a directory (use -r)");
            }
            walk(&path)?
                .into_iter()
                .map(|(p, rel)| (p, lfn::join(&dest, &rel)))
                .collect()
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .context("no file name")?;
            vec![(
                path.clone(),
                if dest_is_dir {
                    lfn::join(&dest, &name)
                } else {
                    dest.clone()
                },
            )]
        };
        for (local, target) in found {
            if is_sidecar(&local, a.sidecar.as_deref()) {
                continue;
            }
            lfn::validate_file(&target)
                .with_context(|| format!("cannot put {}", local.display()))?;
            let mut metadata = Metadata::new();
            if let Some(suffix) = &a.sidecar {
                let side = PathBuf::from(format!("{}{suffix}", local.display()));
                if side.is_file() {
                    metadata = read_meta_file(&side)?;
                }
            }
            metadata.extend(common.clone());
            let size = std::fs::metadata(&local)?.len();
            plan.push(Upload {
                local,
                lfn: target,
                size,
                metadata,
            });
        }
    }
    if plan.is_empty() {
        bail!("nothing to upload");
    }
    Ok(plan)
}

/// Streams a local file to `pfn` on `se`, checking that the server got the same bytes.
/// Bytes already at `pfn` that no replica owns are the leftovers of an interrupted upload:
/// they are removed and the upload made again (the server refuses to remove registered ones).
async fn upload_one(
    client: &Client,
    se: &str,
    pfn: &str,
    u: &Upload,
    algorithms: Algorithms,
    bar: &indicatif::ProgressBar,
) -> anyhow::Result<Sums> {
    let progress = |bar: &indicatif::ProgressBar| -> transfer::Progress {
        let b = bar.clone();
        Arc::new(move |n| b.inc(n))
    };
    let mut result =
        transfer::upload_file(client, se, pfn, &u.local, algorithms, progress(bar)).await;
    if matches!(&result, Err(TransferError::Client(e)) if e.status() == Some(409)) {
        if let Err(e) = client.delete_object(se, pfn).await {
            bail!(
                "cannot put {}: {} already has bytes on storage element {se} ({e})",
                u.local.display(),
                u.lfn
            );
        }
        result = transfer::upload_file(client, se, pfn, &u.local, algorithms, progress(bar)).await;
    }
    result.with_context(|| format!("cannot put {}", u.local.display()))
}

/// Splits a batch into the uploads still to do and those already done by an earlier run
/// (same LFN, a replica on `se`, same size and checksums). Any other file already at one of
/// the batch's LFNs refuses the batch before a byte moves.
async fn not_yet_done<'a>(
    client: &Client,
    se: &str,
    batch: &'a [Upload],
) -> anyhow::Result<(Vec<&'a Upload>, Vec<&'a Upload>)> {
    let lfns: Vec<String> = batch.iter().map(|u| u.lfn.clone()).collect();
    let existing = client.stat_existing(&lfns).await?.files;
    if existing.is_empty() {
        return Ok((batch.iter().collect(), Vec::new()));
    }
    let known: Vec<String> = existing.iter().map(|f| f.lfn.clone()).collect();
    let replicas = client.replicas(&known).await?.files;
    let by_lfn: std::collections::HashMap<&str, &Upload> =
        batch.iter().map(|u| (u.lfn.as_str(), u)).collect();
    let mut done = std::collections::HashSet::new();
    for (f, reps) in existing.iter().zip(&replicas) {
        let Some(u) = by_lfn.get(f.lfn.as_str()) else {
            continue;
        };
        if !reps.replicas.iter().any(|r| r.se == se) {
            bail!(
                "{} is already in the catalogue, without a replica on {se}; use replicate, or rm it first",
                f.lfn
            );
        }
        let expected = f.sums();
        let local = transfer::local_sums(
            &u.local,
            None,
            Algorithms::of(&expected),
            transfer::no_progress(),
        )
        .await?;
        if let Some(diff) = local.mismatch(&expected) {
            bail!(
                "{} is already in the catalogue with other content than {}: {diff}",
                f.lfn,
                u.local.display()
            );
        }
        done.insert(f.lfn.clone());
    }
    Ok(batch.iter().partition(|u| !done.contains(&u.lfn)))
}

pub async fn put(ctx: &Ctx, a: PutArgs) -> anyhow::Result<()> {
    let plan = plan_uploads(ctx, &a).await?;
    let algorithms = Algorithms::from_names(&ctx.client.health().await?.checksums);
    let total: u64 = plan.iter().map(|u| u.size).sum();
    let bar = output::progress(total, "uploading", true);
    let mut registered = Vec::new();
    let (mut skipped, mut sent) = (0, 0);
    for batch in plan.chunks(MAX_BATCH) {
        let (todo, done) = not_yet_done(&ctx.client, &a.se, batch).await?;
        skipped += done.len();
        sent += todo.iter().map(|u| u.size).sum::<u64>();
        bar.inc(done.iter().map(|u| u.size).sum());
        // Up to --jobs uploads at once; results in the batch's order.
        let results: Vec<(usize, anyhow::Result<Sums>)> =
            futures_util::stream::iter(todo.iter().enumerate())
                .map(|(i, u)| {
                    let (client, se, bar) = (ctx.client.clone(), a.se.clone(), bar.clone());
                    async move {
                        let pfn = u.lfn.trim_start_matches('/').to_owned();
                        (i, upload_one(&client, &se, &pfn, u, algorithms, &bar).await)
                    }
                })
                .buffer_unordered(a.jobs as usize)
                .collect()
                .await;
        let mut sums: Vec<Option<Sums>> = vec![None; todo.len()];
        let mut uploaded: Vec<String> = Vec::new();
        let mut first_error = None;
        for (i, r) in results {
            match r {
                Ok(s) => {
                    uploaded.push(todo[i].lfn.trim_start_matches('/').to_owned());
                    sums[i] = Some(s);
                }
                Err(e) => first_error = first_error.or(Some(e)),
            }
        }
        if let Some(e) = first_error {
            undo(&ctx.client, &a.se, &uploaded).await;
            bar.abandon();
            return Err(e);
        }
        if todo.is_empty() {
            continue;
        }
        let mut files = Vec::with_capacity(todo.len());
        for (u, s) in todo.iter().zip(sums) {
            let pfn = u.lfn.trim_start_matches('/').to_owned();
            let s = s.context("upload result missing")?;
            files.push(NewFile {
                metadata: u.metadata.clone(),
                ..NewFile::stored(u.lfn.clone(), s, a.se.clone(), pfn)
            });
        }
        match ctx
            .client
            .register(&RegisterRequest {
                files,
                create_dirs: true,
            })
            .await
        {
            Ok(r) => registered.extend(r.items),
            Err(e) => {
                undo(&ctx.client, &a.se, &uploaded).await;
                bar.abandon();
                bail!("registration refused, uploaded bytes removed: {e}");
            }
        }
    }
    bar.finish_and_clear();
    if ctx.format == Format::Json {
        return output::json(&registered);
    }
    for item in &registered {
        println!("{}", item.lfn);
    }
    eprintln!(
        "put {} file(s), {} to storage element {}{}",
        registered.len(),
        output::bytes(sent),
        a.se,
        if skipped > 0 {
            format!("; {skipped} already there with the same checksum, skipped")
        } else {
            String::new()
        }
    );
    Ok(())
}

async fn undo(client: &Client, se: &str, pfns: &[String]) {
    for pfn in pfns {
        if let Err(e) = client.delete_object(se, pfn).await {
            eprintln!("catalog: could not remove uploaded {pfn} from {se}: {e}");
        }
    }
}

pub async fn get(ctx: &Ctx, a: GetArgs) -> anyhow::Result<()> {
    let mut args = a.args.clone();
    let dest = match args.last() {
        Some(last) if args.len() > 1 && (last.ends_with('/') || Path::new(last).is_dir()) => {
            let d = PathBuf::from(args.pop().unwrap_or_default());
            std::fs::create_dir_all(&d)
                .with_context(|| format!("cannot create {}", d.display()))?;
            d
        }
        _ => PathBuf::from("."),
    };
    let lfns = args;
    let mut done = Vec::new();
    for chunk in lfns.chunks(MAX_BATCH) {
        let stats = ctx.client.stat_files(chunk).await?.files;
        let replicas = ctx.client.replicas(chunk).await?.files;
        let mut targets = Vec::new();
        let mut names = std::collections::HashSet::new();
        for f in &stats {
            let (_, name) = lfn::split(&f.lfn);
            if !names.insert(name.to_owned()) {
                bail!("two of the files are named {name}; get them into different directories");
            }
            let target = dest.join(name);
            if target.exists() && !a.force {
                bail!("{} exists (use --force to replace it)", target.display());
            }
            targets.push(target);
        }
        let total: u64 = stats.iter().map(|f| f.size.max(0) as u64).sum();
        let bar = output::progress(total, "downloading", true);
        // Up to --jobs downloads at once, each into a hidden .part file renamed when whole.
        let results: Vec<anyhow::Result<()>> =
            futures_util::stream::iter(stats.iter().zip(&replicas).zip(&targets))
                .map(|((f, reps), target)| {
                    let (bar, a) = (bar.clone(), &a);
                    async move {
                        let tmp = target.with_file_name(format!(
                            ".{}.part",
                            target
                                .file_name()
                                .map(|n| n.to_string_lossy())
                                .unwrap_or_default()
                        ));
                        let order = replica_order(&reps.replicas, &a.se_order);
                        let r = transfer::fetch(
                            &ctx.client,
                            &f.sums(),
                            &order,
                            &tmp,
                            LocalCopy::Copy,
                            Arc::new(move |n| bar.inc(n)),
                        )
                        .await
                        .map_err(|failed| anyhow::anyhow!("cannot get {}: {failed}", f.lfn))?;
                        tokio::fs::rename(&tmp, target)
                            .await
                            .with_context(|| format!("cannot write {}", target.display()))?;
                        if a.verbose {
                            eprintln!("{} <- {} ({})", f.lfn, r.se, r.url);
                        }
                        Ok(())
                    }
                })
                .buffered(a.jobs as usize)
                .collect()
                .await;
        if let Some(e) = results.into_iter().find_map(Result::err) {
            bar.abandon();
            return Err(e);
        }
        done.extend(targets.iter().map(|t| t.display().to_string()));
        bar.finish_and_clear();
    }
    if ctx.format == Format::Json {
        return output::json(&done);
    }
    for d in &done {
        println!("{d}");
    }
    Ok(())
}

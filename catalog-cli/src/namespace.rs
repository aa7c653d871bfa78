//! mkdir, ls, stat, mv, rm, rmdir.

use catalog_core::api::Entry;
use clap::Args;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
pub struct MkdirArgs {
    /// Create missing parents; an existing directory is not an error
    #[arg(short = 'p', long)]
    parents: bool,
    #[arg(required = true)]
    dirs: Vec<String>,
}

#[derive(Args)]
pub struct LsArgs {
    /// Long listing: mode, owner, group, size, modification time
    #[arg(short = 'l', long)]
    long: bool,
    /// List everything below, with full paths
    #[arg(short = 'r', long)]
    recursive: bool,
    /// Stop after this many entries
    #[arg(long)]
    limit: Option<usize>,
    #[arg(default_value = "/")]
    path: String,
}

#[derive(Args)]
pub struct StatArgs {
    #[arg(required = true)]
    paths: Vec<String>,
}

#[derive(Args)]
pub struct MvArgs {
    src: String,
    /// New path, or an existing directory to move into
    dst: String,
}

#[derive(Args)]
pub struct RmArgs {
    #[arg(required = true)]
    lfns: Vec<String>,
    /// Remove only the replica on this storage element; the files stay registered
    #[arg(long, value_name = "SE")]
    replica: Option<String>,
}

#[derive(Args)]
pub struct RmdirArgs {
    /// Remove everything below, files and their bytes included
    #[arg(short = 'r', long)]
    recursive: bool,
    dir: String,
}

pub async fn mkdir(ctx: &Ctx, a: MkdirArgs) -> anyhow::Result<()> {
    let mut made = Vec::new();
    for d in &a.dirs {
        made.push(ctx.client.mkdir(d, a.parents).await?);
    }
    if ctx.format == Format::Json {
        output::json(&made)?;
    }
    Ok(())
}

fn name_in(entry: &Entry, dir: &str, recursive: bool) -> String {
    let path = entry.path();
    let shown = if recursive {
        path
    } else {
        path.strip_prefix(dir)
            .unwrap_or(path)
            .trim_start_matches('/')
    };
    match entry {
        Entry::Dir(_) => format!("{shown}/"),
        Entry::File(_) => shown.to_owned(),
    }
}

pub async fn ls(ctx: &Ctx, a: LsArgs) -> anyhow::Result<()> {
    let entries = match ctx.client.stat_path(&a.path).await? {
        Entry::Dir(d) => ctx.client.list(&d.path, a.recursive, a.limit).await?,
        file @ Entry::File(_) => vec![file],
    };
    if ctx.format == Format::Json {
        return output::json(&entries);
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            let name = if matches!(e, Entry::File(_)) && e.path() == a.path {
                e.path().to_owned()
            } else {
                name_in(e, &a.path, a.recursive)
            };
            if a.long {
                output::long_row(e, name)
            } else {
                vec![name]
            }
        })
        .collect();
    output::table(&rows);
    Ok(())
}

pub async fn stat(ctx: &Ctx, a: StatArgs) -> anyhow::Result<()> {
    let mut entries = Vec::new();
    for p in &a.paths {
        entries.push(ctx.client.stat_path(p).await?);
    }
    if ctx.format == Format::Json {
        return output::json(&entries);
    }
    for (i, e) in entries.iter().enumerate() {
        if i > 0 {
            println!();
        }
        let rows: Vec<Vec<String>> = match e {
            Entry::Dir(d) => vec![
                vec!["path:".into(), d.path.clone()],
                vec!["type:".into(), "directory".into()],
                vec!["owner:".into(), format!("{}:{}", d.owner, d.group)],
                vec!["mode:".into(), output::mode_string(true, d.mode)],
                vec!["created:".into(), output::time(&d.created)],
            ],
            Entry::File(f) => {
                let mut rows = vec![
                    vec!["lfn:".into(), f.lfn.clone()],
                    vec!["type:".into(), "file".into()],
                    vec!["guid:".into(), f.guid.clone()],
                    vec![
                        "size:".into(),
                        format!("{} ({})", f.size, output::bytes(f.size.max(0) as u64)),
                    ],
                    vec!["adler32:".into(), f.adler32.clone()],
                ];
                if let Some(m) = &f.md5 {
                    rows.push(vec!["md5:".into(), m.clone()]);
                }
                if let Some(s) = &f.sha256 {
                    rows.push(vec!["sha256:".into(), s.clone()]);
                }
                rows.extend([
                    vec!["status:".into(), f.status.clone()],
                    vec!["owner:".into(), format!("{}:{}", f.owner, f.group)],
                    vec!["mode:".into(), output::mode_string(false, f.mode)],
                    vec!["created:".into(), output::time(&f.created)],
                    vec!["modified:".into(), output::time(&f.modified)],
                ]);
                rows
            }
        };
        output::table(&rows);
    }
    Ok(())
}

pub async fn mv(ctx: &Ctx, a: MvArgs) -> anyhow::Result<()> {
    let moved = ctx.client.mv(&a.src, &a.dst).await?;
    if ctx.format == Format::Json {
        return output::json(&moved);
    }
    println!("{} -> {}", a.src, moved.path());
    Ok(())
}

pub async fn rm(ctx: &Ctx, a: RmArgs) -> anyhow::Result<()> {
    if let Some(se) = &a.replica {
        return crate::storage::remove_replicas(ctx, &a.lfns, se).await;
    }
    let mut deleted = Vec::new();
    for chunk in a.lfns.chunks(catalog_core::api::MAX_BATCH) {
        deleted.extend(ctx.client.delete_files(chunk).await?.deleted);
    }
    if ctx.format == Format::Json {
        return output::json(&deleted);
    }
    println!("removed {} file(s)", deleted.len());
    Ok(())
}

pub async fn rmdir(ctx: &Ctx, a: RmdirArgs) -> anyhow::Result<()> {
    let resp = ctx.client.rmdir(&a.dir, a.recursive).await?;
    if ctx.format == Format::Json {
        return output::json(&resp);
    }
    let files = resp.deleted.len().saturating_sub(1);
    if a.recursive {
        println!("removed {} and {files} file(s) below it", a.dir);
    } else {
        println!("removed {}", a.dir);
    }
    Ok(())
}

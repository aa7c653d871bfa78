//! replicas, se add, se ls.

use catalog_core::api::NewStorageElement;
use clap::{Args, Subcommand};

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
pub struct ReplicasArgs {
    #[arg(required = true)]
    lfns: Vec<String>,
}

#[derive(Subcommand)]
pub enum SeCommand {
    /// Add a storage element
    Add {
        name: String,
        /// Kind of storage: file (a directory on the server's machine)
        #[arg(long, default_value = "file")]
        kind: String,
        /// The directory (created when missing)
        #[arg(long)]
        path: String,
    },
    /// List storage elements with their usage
    Ls,
}

pub async fn replicas(ctx: &Ctx, a: ReplicasArgs) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for chunk in a.lfns.chunks(catalog_core::api::MAX_BATCH) {
        files.extend(ctx.client.replicas(chunk).await?.files);
    }
    if ctx.format == Format::Json {
        return output::json(&files);
    }
    let mut rows = vec![vec![
        "LFN".into(),
        "SE".into(),
        "STATUS".into(),
        "URL".into(),
    ]];
    for f in &files {
        if f.replicas.is_empty() {
            rows.push(vec![
                f.lfn.clone(),
                "-".into(),
                "-".into(),
                "(no replica)".into(),
            ]);
        }
        for r in &f.replicas {
            rows.push(vec![
                f.lfn.clone(),
                r.se.clone(),
                r.status.clone(),
                r.url.clone(),
            ]);
        }
    }
    output::table(&rows);
    Ok(())
}

pub async fn se(ctx: &Ctx, c: SeCommand) -> anyhow::Result<()> {
    match c {
        SeCommand::Add { name, kind, path } => {
            let abs = std::path::absolute(&path)
                .map(|p| p.display().to_string())
                .unwrap_or(path);
            let se = ctx
                .client
                .add_storage_element(&NewStorageElement {
                    name,
                    kind,
                    path: abs,
                })
                .await?;
            if ctx.format == Format::Json {
                return output::json(&se);
            }
            println!(
                "added storage element {} ({}) at {}",
                se.name, se.kind, se.base_url
            );
        }
        SeCommand::Ls => {
            let ses = ctx.client.storage_elements().await?;
            if ctx.format == Format::Json {
                return output::json(&ses);
            }
            let mut rows = vec![vec![
                "NAME".into(),
                "KIND".into(),
                "REPLICAS".into(),
                "BYTES".into(),
                "URL".into(),
            ]];
            for s in ses {
                rows.push(vec![
                    s.name,
                    s.kind,
                    s.replicas.to_string(),
                    s.bytes.to_string(),
                    s.base_url,
                ]);
            }
            output::table(&rows);
        }
    }
    Ok(())
}

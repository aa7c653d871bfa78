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
    ///
    /// Examples:
    ///   catalog se add disk2 --path /data/disk2
    ///   catalog se add s3-lab --kind s3 --url s3://frames/raw --endpoint http://127.0.0.1:9014 --path-style
    ///   catalog se add dav --kind webdav --url https://dav.example.org/catalog
    ///
    /// Credentials stay with the server, in its environment:
    /// CATALOG_SE_<NAME>_ACCESS_KEY_ID and _SECRET_ACCESS_KEY (S3; else AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY), CATALOG_SE_<NAME>_USERNAME and _PASSWORD (WebDAV), NAME in
    /// upper case with '-' and '.' as '_'.
    #[command(verbatim_doc_comment)]
    Add {
        name: String,
        /// file (a directory on the server's machine), s3 (a bucket on any S3-compatible
        /// endpoint) or webdav (a directory on an HTTP/WebDAV server)
        #[arg(long, default_value = "file", value_parser = ["file", "s3", "webdav"])]
        kind: String,
        /// For file: the directory (created when missing)
        #[arg(long, required_if_eq("kind", "file"))]
        path: Option<String>,
        /// For s3: s3://BUCKET[/PREFIX]; for webdav: http(s)://HOST/PATH
        #[arg(long, required_if_eq_any([("kind", "s3"), ("kind", "webdav")]))]
        url: Option<String>,
        /// For s3: the endpoint of a non-AWS server, e.g. http://127.0.0.1:9014
        #[arg(long)]
        endpoint: Option<String>,
        /// For s3: the region [default: us-east-1]
        #[arg(long)]
        region: Option<String>,
        /// For s3: address buckets as ENDPOINT/BUCKET (most non-AWS servers need this)
        #[arg(long)]
        path_style: bool,
    },
    /// List storage elements with their usage
    Ls,
    /// One storage element with its usage
    Show { name: String },
    /// Remove a storage element (refused while it holds replicas)
    Rm { name: String },
}

#[derive(Args)]
pub struct ReplicateArgs {
    #[arg(required = true)]
    lfns: Vec<String>,
    /// The storage element to copy to
    #[arg(long, value_name = "SE")]
    to: String,
}

#[derive(Args)]
pub struct VerifyArgs {
    /// Files to check (or --query)
    lfns: Vec<String>,
    /// Check the files matching this query
    #[arg(
        long,
        value_name = "QUERY",
        conflicts_with = "lfns",
        required_unless_present = "lfns"
    )]
    query: Option<String>,
    /// Only replicas on this storage element
    #[arg(long)]
    se: Option<String>,
    /// Mark missing or damaged replicas bad (get then skips them), good ones ok
    #[arg(long)]
    mark_bad: bool,
}

#[derive(Args)]
pub struct DuArgs {
    /// A directory (or a file)
    path: String,
    /// Only this storage element
    #[arg(long)]
    se: Option<String>,
}

/// Prints per-replica outcomes; an error when any is not `ok_states`.
fn outcomes(
    ctx: &Ctx,
    items: &[catalog_core::api::ReplicaOutcome],
    ok_states: &[&str],
    what: &str,
) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        output::json(&items)?;
    } else {
        let mut rows = vec![vec![
            "LFN".to_owned(),
            "SE".into(),
            "STATUS".into(),
            "DETAIL".into(),
        ]];
        rows.extend(items.iter().map(|o| {
            vec![
                o.lfn.clone(),
                o.se.clone(),
                o.status.clone(),
                o.message.clone().unwrap_or_default(),
            ]
        }));
        output::table(&rows);
    }
    let bad = items
        .iter()
        .filter(|o| !ok_states.contains(&o.status.as_str()))
        .count();
    if bad > 0 {
        anyhow::bail!("{what}: {bad} of {} replica(s) not ok", items.len());
    }
    Ok(())
}

pub async fn replicate(ctx: &Ctx, a: ReplicateArgs) -> anyhow::Result<()> {
    let mut items = Vec::new();
    for chunk in a.lfns.chunks(catalog_core::api::MAX_BATCH) {
        items.extend(ctx.client.replicate(chunk, &a.to).await?.items);
    }
    outcomes(ctx, &items, &["copied", "present"], "replicate")
}

pub async fn remove_replicas(ctx: &Ctx, lfns: &[String], se: &str) -> anyhow::Result<()> {
    let mut items = Vec::new();
    for chunk in lfns.chunks(catalog_core::api::MAX_BATCH) {
        items.extend(ctx.client.remove_replicas(chunk, se).await?.items);
    }
    outcomes(ctx, &items, &["removed"], "rm --replica")
}

pub async fn verify(ctx: &Ctx, a: VerifyArgs) -> anyhow::Result<()> {
    let lfns: Vec<String> = match &a.query {
        Some(q) => ctx
            .client
            .find_all(&catalog_core::api::FindRequest::text(q), |_| {})
            .await?
            .into_iter()
            .map(|f| f.lfn)
            .collect(),
        None => a.lfns.clone(),
    };
    let mut items = Vec::new();
    for chunk in lfns.chunks(catalog_core::api::MAX_BATCH) {
        items.extend(
            ctx.client
                .verify(chunk, a.se.as_deref(), a.mark_bad)
                .await?
                .items,
        );
    }
    outcomes(ctx, &items, &["ok"], "verify")
}

pub async fn du(ctx: &Ctx, a: DuArgs) -> anyhow::Result<()> {
    let d = ctx.client.du(&a.path, a.se.as_deref()).await?;
    if ctx.format == Format::Json {
        return output::json(&d);
    }
    println!(
        "{}: {} files, {} bytes ({})",
        d.path,
        d.files,
        d.bytes,
        output::bytes(d.bytes.max(0) as u64)
    );
    let mut rows = vec![vec!["SE".to_owned(), "REPLICAS".into(), "BYTES".into()]];
    rows.extend(d.storage.iter().map(|s| {
        vec![
            s.se.clone(),
            s.replicas.to_string(),
            format!("{} ({})", s.bytes, output::bytes(s.bytes.max(0) as u64)),
        ]
    }));
    output::table(&rows);
    Ok(())
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
        SeCommand::Add {
            name,
            kind,
            path,
            url,
            endpoint,
            region,
            path_style,
        } => {
            let path = path.map(|p| {
                std::path::absolute(&p)
                    .map(|a| a.display().to_string())
                    .unwrap_or(p)
            });
            let se = ctx
                .client
                .add_storage_element(&NewStorageElement {
                    name,
                    kind,
                    path,
                    url,
                    endpoint,
                    region,
                    path_style,
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
        SeCommand::Show { name } => {
            let s = ctx.client.storage_element(&name).await?;
            if ctx.format == Format::Json {
                return output::json(&s);
            }
            output::table(&[
                vec!["name:".into(), s.name],
                vec!["kind:".into(), s.kind],
                vec!["url:".into(), s.base_url],
                vec!["read-only:".into(), s.read_only.to_string()],
                vec!["replicas:".into(), s.replicas.to_string()],
                vec![
                    "bytes:".into(),
                    format!("{} ({})", s.bytes, output::bytes(s.bytes.max(0) as u64)),
                ],
            ]);
        }
        SeCommand::Rm { name } => {
            ctx.client.remove_storage_element(&name).await?;
            eprintln!("removed storage element {name}");
        }
    }
    Ok(())
}

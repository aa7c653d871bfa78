//! dataset: named sets of files, dynamic (a query) or frozen (a fixed list).

use anyhow::Context;
use catalog_core::api::{DatasetInfo, FindRequest, NewDataset};
use catalog_core::query::quoted;
use clap::{Args, Subcommand};
use std::path::PathBuf;

use crate::metadata::parse_assignments;
use crate::output::{self, Format};
use crate::Ctx;

#[derive(Subcommand)]
pub enum DatasetCommand {
    /// Create a dataset from a query (dynamic, or --frozen) or from a list of LFNs (frozen)
    Create(CreateArgs),
    /// List the datasets
    Ls,
    /// Show a dataset: query, file count, total size, content hash, owner, metadata
    Show { name: String },
    /// List the files of a dataset
    Files { name: String },
    /// Add files to a frozen dataset
    Add {
        name: String,
        #[arg(required = true)]
        lfns: Vec<String>,
    },
    /// Remove files from a frozen dataset
    Remove {
        name: String,
        #[arg(required = true)]
        lfns: Vec<String>,
    },
    /// Make a dynamic dataset frozen, with the files that match its query now
    Freeze { name: String },
    /// Dataset metadata
    #[command(subcommand)]
    Meta(DatasetMetaCommand),
    /// Remove a dataset (its files stay)
    Rm { name: String },
}

#[derive(Subcommand)]
pub enum DatasetMetaCommand {
    /// Set metadata on a dataset
    Set {
        name: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        values: Vec<String>,
    },
}

#[derive(Args)]
pub struct CreateArgs {
    /// 1 to 128 letters, digits, '_', '.' or '-'
    name: String,
    /// The files: those matching this query (see 'catalog find --help')
    #[arg(long, conflicts_with = "from", required_unless_present = "from")]
    query: Option<String>,
    /// Keep the files matching now, instead of evaluating the query on each read
    #[arg(long)]
    frozen: bool,
    /// A file of LFNs, one a line (makes a frozen dataset)
    #[arg(long, value_name = "LIST")]
    from: Option<PathBuf>,
    /// Metadata of the dataset
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    meta: Vec<String>,
}

fn print(ctx: &Ctx, d: &DatasetInfo) -> anyhow::Result<()> {
    if ctx.format == Format::Json {
        return output::json(d);
    }
    let mut rows = vec![
        vec!["name:".to_owned(), d.name.clone()],
        vec![
            "kind:".to_owned(),
            if d.frozen { "frozen" } else { "dynamic" }.to_owned(),
        ],
        vec![
            "query:".to_owned(),
            d.query.clone().unwrap_or_else(|| "-".into()),
        ],
    ];
    if let (Some(n), Some(size), Some(hash)) = (d.files, d.size, &d.hash) {
        rows.push(vec!["files:".to_owned(), n.to_string()]);
        rows.push(vec![
            "size:".to_owned(),
            format!("{size} ({})", output::bytes(size.max(0) as u64)),
        ]);
        rows.push(vec!["hash:".to_owned(), hash.clone()]);
    }
    rows.push(vec!["owner:".to_owned(), d.owner.clone()]);
    rows.push(vec!["created:".to_owned(), output::time(&d.created)]);
    rows.push(vec!["modified:".to_owned(), output::time(&d.modified)]);
    for (k, v) in &d.metadata {
        rows.push(vec![
            format!("meta {k}:"),
            v.as_str().map_or_else(|| v.to_string(), str::to_owned),
        ]);
    }
    output::table(&rows);
    Ok(())
}

pub async fn run(ctx: &Ctx, c: DatasetCommand) -> anyhow::Result<()> {
    match c {
        DatasetCommand::Create(a) => {
            let files = match &a.from {
                Some(list) => Some(
                    std::fs::read_to_string(list)
                        .with_context(|| format!("cannot read {}", list.display()))?
                        .lines()
                        .map(str::trim)
                        .filter(|l| !l.is_empty() && !l.starts_with('#'))
                        .map(str::to_owned)
                        .collect::<Vec<_>>(),
                ),
                None => None,
            };
            let new = NewDataset {
                name: a.name,
                query: a.query,
                frozen: a.frozen || files.is_some(),
                files,
                metadata: parse_assignments(&ctx.client, &a.meta).await?,
                ..Default::default()
            };
            let d = ctx.client.create_dataset(&new).await?;
            print(ctx, &d)
        }
        DatasetCommand::Ls => {
            let list = ctx.client.datasets().await?.datasets;
            if ctx.format == Format::Json {
                return output::json(&list);
            }
            let mut rows = vec![vec![
                "NAME".to_owned(),
                "KIND".into(),
                "OWNER".into(),
                "CREATED".into(),
                "QUERY".into(),
            ]];
            rows.extend(list.iter().map(|d| {
                vec![
                    d.name.clone(),
                    if d.frozen { "frozen" } else { "dynamic" }.into(),
                    d.owner.clone(),
                    output::time(&d.created),
                    d.query.clone().unwrap_or_else(|| "-".into()),
                ]
            }));
            output::table(&rows);
            Ok(())
        }
        DatasetCommand::Show { name } => {
            let d = ctx.client.dataset(&name).await?;
            print(ctx, &d)
        }
        DatasetCommand::Files { name } => {
            let req = FindRequest::text(&format!("dataset = {}", quoted(&name)));
            let files = ctx.client.find_all(&req, |_| {}).await?;
            match ctx.format {
                Format::Json => output::json(&files)?,
                _ => files.iter().for_each(|f| println!("{}", f.lfn)),
            }
            Ok(())
        }
        DatasetCommand::Add { name, lfns } => change(ctx, &name, &lfns, true).await,
        DatasetCommand::Remove { name, lfns } => change(ctx, &name, &lfns, false).await,
        DatasetCommand::Freeze { name } => {
            let d = ctx.client.freeze_dataset(&name).await?;
            print(ctx, &d)
        }
        DatasetCommand::Meta(DatasetMetaCommand::Set { name, values }) => {
            let meta = parse_assignments(&ctx.client, &values).await?;
            let d = ctx.client.set_dataset_metadata(&name, meta).await?;
            print(ctx, &d)
        }
        DatasetCommand::Rm { name } => {
            ctx.client.delete_dataset(&name).await?;
            eprintln!("removed dataset {name}");
            Ok(())
        }
    }
}

async fn change(ctx: &Ctx, name: &str, lfns: &[String], add: bool) -> anyhow::Result<()> {
    let r = ctx.client.change_dataset(name, lfns, add).await?;
    if ctx.format == Format::Json {
        return output::json(&r);
    }
    println!(
        "{} {} file(s); dataset {} has {} file(s), hash {}",
        if add { "added" } else { "removed" },
        r.changed,
        name,
        r.dataset.files.unwrap_or(0),
        r.dataset.hash.unwrap_or_default()
    );
    Ok(())
}

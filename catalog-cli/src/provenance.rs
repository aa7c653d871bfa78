//! parents add, ancestors, descendants.

use catalog_core::api::ParentLinks;
use clap::{Args, Subcommand};

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Subcommand)]
pub enum ParentsCommand {
    /// Record that CHILD was made from each PARENT
    Add {
        /// The file that was made
        child: String,
        /// The files it was made from (a link that would make a cycle is refused)
        #[arg(required = true)]
        parents: Vec<String>,
    },
}

#[derive(Args)]
pub struct LineageArgs {
    #[arg(required = true)]
    lfns: Vec<String>,
    /// Generations to walk
    #[arg(long, default_value_t = 1)]
    depth: u32,
}

#[derive(Clone, Copy)]
pub enum Direction {
    Ancestors,
    Descendants,
}

pub async fn parents(ctx: &Ctx, c: ParentsCommand) -> anyhow::Result<()> {
    let ParentsCommand::Add { child, parents } = c;
    let resp = ctx
        .client
        .add_parents(vec![ParentLinks {
            child: child.clone(),
            parents,
        }])
        .await?;
    if ctx.format == Format::Json {
        return output::json(&resp);
    }
    println!("{} new link(s) to {child}", resp.added);
    Ok(())
}

pub async fn lineage(ctx: &Ctx, a: LineageArgs, direction: Direction) -> anyhow::Result<()> {
    let mut files = Vec::new();
    for chunk in a.lfns.chunks(catalog_core::api::MAX_BATCH) {
        let resp = match direction {
            Direction::Ancestors => ctx.client.ancestors(chunk, Some(a.depth)).await?,
            Direction::Descendants => ctx.client.descendants(chunk, Some(a.depth)).await?,
        };
        files.extend(resp.files);
    }
    if ctx.format == Format::Json {
        return output::json(&files);
    }
    let what = match direction {
        Direction::Ancestors => "ANCESTOR",
        Direction::Descendants => "DESCENDANT",
    };
    let mut rows = vec![vec!["LFN".into(), "DEPTH".into(), what.into()]];
    for f in &files {
        for r in &f.relatives {
            rows.push(vec![f.lfn.clone(), r.depth.to_string(), r.lfn.clone()]);
        }
    }
    output::table(&rows);
    Ok(())
}

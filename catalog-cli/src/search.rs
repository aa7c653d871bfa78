//! search: full-text search over paths, names, string metadata and datasets.

use catalog_core::api::SearchRequest;
use clap::Args;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
pub struct SearchArgs {
    /// Words to find (all must appear); "quoted phrases", -word to exclude
    #[arg(required = true, num_args = 1..)]
    text: Vec<String>,
    /// Only files that also match this query (see 'catalog find --help')
    #[arg(long = "where", value_name = "QUERY")]
    filter: Option<String>,
    /// At most N hits
    #[arg(long, default_value_t = 20)]
    limit: u32,
}

pub async fn run(ctx: &Ctx, a: SearchArgs) -> anyhow::Result<()> {
    let req = SearchRequest {
        text: a.text.join(" "),
        r#where: a.filter,
        limit: Some(a.limit),
    };
    let hits = ctx.client.search(&req).await?.hits;
    match ctx.format {
        Format::Json => output::json(&hits)?,
        Format::Lfn => hits
            .iter()
            .filter(|h| h.kind == "file")
            .for_each(|h| println!("{}", h.name)),
        Format::Table => {
            if hits.is_empty() {
                eprintln!("nothing found");
                return Ok(());
            }
            let mut rows = vec![vec![
                "SCORE".to_owned(),
                "KIND".into(),
                "SIZE".into(),
                "NAME".into(),
            ]];
            rows.extend(hits.iter().map(|h| {
                vec![
                    format!("{:.2}", h.score),
                    h.kind.clone(),
                    h.size.map_or_else(|| "-".into(), |s| s.to_string()),
                    h.name.clone(),
                ]
            }));
            output::table(&rows);
        }
    }
    Ok(())
}

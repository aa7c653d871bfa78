//! find: files by metadata, attributes, place and provenance, in the query language or in
//! the DIRAC `find` shorthand.

use anyhow::bail;
use catalog_core::api::{FindRequest, MAX_PAGE};
use catalog_core::meta::FieldType;
use catalog_core::query::{self, builtin_type, DiracTerm, Literal};
use catalog_core::{ClientError, MetaValue};
use clap::Args;
use std::collections::HashMap;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Args)]
#[command(after_long_help = QUERY_HELP)]
pub struct FindArgs {
    /// The query (its words are joined with spaces), or DIR KEY=VALUE... in the DIRAC
    /// shorthand; see below
    #[arg(required = true, num_args = 1.., value_name = "QUERY")]
    query: Vec<String>,
    /// Print how many files match
    #[arg(long)]
    count: bool,
    /// Print the total size of the files that match
    #[arg(long)]
    size: bool,
    /// Print the normalised query, its SQL and the database's plan, and run nothing
    #[arg(long)]
    explain: bool,
    /// At most N files
    #[arg(long, value_name = "N")]
    limit: Option<u64>,
    /// Files fetched per request
    #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u32).range(1..=MAX_PAGE as i64))]
    page_size: u32,
}

const QUERY_HELP: &str = r#"Query language:
  run = 3   run != 3   size > 1MB   size <= 2GiB   created >= 2016-01-01T00:00:00Z
  run in (1, 2, 3)   run not in (1, 2)   run in 10..20 (both ends included)
  path ~ "/data/*/frame_00?.txt"   (* any characters, ? one; on string fields too)
  has(quality)   missing(quality)
  under "/cernatschool/frames"   dataset = "calib"   replica_at = "local"
  parent(Q)  child(Q)  ancestor(Q)  descendant(Q)  ancestor(run = 3, depth <= 2)
  not, and, or (that precedence), parentheses
  ... order by start_time desc, size limit 100
Attributes: path name size created modified status guid adler32 owner; any declared
metadata field, with values set on a directory counting for every file below it. A
comparison on a field a file lacks is false (so `not run = 3` includes files without run).

DIRAC shorthand: catalog find /cernatschool/frames run=100 start_time>1700000000 det=A,B
  (the AND of the terms under the directory; v1,v2 means one of them)"#;

pub async fn run(ctx: &Ctx, a: FindArgs) -> anyhow::Result<()> {
    let text = a.query.join(" ");
    let mut req = if a.query[0].starts_with('/') {
        dirac_request(ctx, &a.query).await?
    } else {
        FindRequest::text(&text)
    };
    req.limit = a.limit;
    req.page_size = Some(a.page_size);
    let placed = |e: ClientError| placed_error(e, req.query.as_deref());
    if a.explain {
        let ex = ctx.client.explain(&req).await.map_err(placed)?;
        if ctx.format == Format::Json {
            return output::json(&ex);
        }
        println!("query:    {}", ex.query);
        println!("database: {}", ex.database);
        println!("sql:      {}", ex.sql);
        println!("plan:");
        for line in &ex.plan {
            println!("  {line}");
        }
        return Ok(());
    }
    if a.count || a.size {
        let c = ctx.client.count(&req).await.map_err(placed)?;
        if ctx.format == Format::Json {
            return output::json(&c);
        }
        match (a.count, a.size) {
            (true, true) => println!(
                "{} files, {} bytes ({})",
                c.count,
                c.size,
                output::bytes(c.size.max(0) as u64)
            ),
            (true, false) => println!("{}", c.count),
            _ => println!("{} bytes ({})", c.size, output::bytes(c.size.max(0) as u64)),
        }
        return Ok(());
    }
    if ctx.format == Format::Lfn {
        // LFNs only (the light endpoint), streamed out page by page so a pipe starts
        // working at once.
        ctx.client
            .find_lfns(&req, |page| {
                for lfn in &page.lfns {
                    println!("{lfn}");
                }
            })
            .await
            .map_err(placed)?;
        return Ok(());
    }
    let mut rows = vec![vec![
        "SIZE".to_owned(),
        "MODIFIED".to_owned(),
        "LFN".to_owned(),
    ]];
    let files = ctx.client.find_all(&req, |_| {}).await.map_err(placed)?;
    match ctx.format {
        Format::Json => output::json(&files)?,
        Format::Lfn => {}
        Format::Table => {
            rows.extend(
                files
                    .iter()
                    .map(|f| vec![f.size.to_string(), output::time(&f.modified), f.lfn.clone()]),
            );
            if files.is_empty() {
                eprintln!("no files match");
            } else {
                output::table(&rows);
            }
        }
    }
    Ok(())
}

/// A query error shown under the query text, with a caret at its column.
fn placed_error(e: ClientError, text: Option<&str>) -> anyhow::Error {
    if let (ClientError::Api(p), Some(text)) = (&e, text) {
        if let (Some(line), Some(col)) = (p.line, p.column) {
            if let Some(src) = text.lines().nth(line.saturating_sub(1) as usize) {
                let pad: String = src
                    .chars()
                    .take(col.saturating_sub(1) as usize)
                    .map(|c| if c == '\t' { '\t' } else { ' ' })
                    .collect();
                return anyhow::anyhow!("{}\n  {src}\n  {pad}^", p.detail);
            }
        }
    }
    e.into()
}

/// `DIR KEY=VALUE...`: each value typed by its field's declaration.
async fn dirac_request(ctx: &Ctx, words: &[String]) -> anyhow::Result<FindRequest> {
    let dir = words[0].trim_end_matches('/');
    let dir = if dir.is_empty() { "/" } else { dir };
    let terms: Vec<DiracTerm> = words[1..]
        .iter()
        .flat_map(|w| w.split_whitespace())
        .map(DiracTerm::parse)
        .collect::<Result<_, _>>()
        .map_err(anyhow::Error::msg)?;
    let declared: HashMap<String, FieldType> = if terms.is_empty() {
        HashMap::new()
    } else {
        ctx.client
            .fields()
            .await?
            .fields
            .into_iter()
            .map(|f| (f.name, f.field_type))
            .collect()
    };
    let mut typed = Vec::with_capacity(terms.len());
    for t in terms {
        let Some(ty) = builtin_type(&t.field).or_else(|| declared.get(&t.field).copied()) else {
            bail!("unknown field '{}': not an attribute nor a declared metadata field (see 'catalog meta fields')", t.field);
        };
        let values = t
            .values
            .iter()
            .map(|v| MetaValue::parse_typed(&t.field, ty, v).map(Literal::from))
            .collect::<Result<Vec<_>, _>>()?;
        typed.push((t, values));
    }
    Ok(FindRequest {
        ast: Some(query::from_dirac_terms(dir, typed)),
        ..Default::default()
    })
}

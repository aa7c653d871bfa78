//! schema: JSON Schemas on directories, checked on every registration and metadata change
//! of the files below.

use anyhow::Context;
use clap::Subcommand;
use std::path::PathBuf;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Subcommand)]
pub enum SchemaCommand {
    /// Attach a JSON Schema to a directory (replacing any); it checks the effective metadata
    /// (own and inherited values) of every file below
    Set {
        dir: String,
        #[arg(value_name = "FILE.json")]
        file: PathBuf,
    },
    /// Show the JSON Schema of a directory
    Get { dir: String },
    /// Detach the JSON Schema of a directory
    Rm { dir: String },
}

pub async fn run(ctx: &Ctx, c: SchemaCommand) -> anyhow::Result<()> {
    match c {
        SchemaCommand::Set { dir, file } => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let schema: serde_json::Value = serde_json::from_str(&text)
                .with_context(|| format!("{} is not JSON", file.display()))?;
            let info = ctx.client.set_schema(&dir, schema).await?;
            if ctx.format == Format::Json {
                return output::json(&info);
            }
            eprintln!("schema set on {}", info.path);
            Ok(())
        }
        SchemaCommand::Get { dir } => {
            let info = ctx.client.schema(&dir).await?;
            match ctx.format {
                Format::Json => output::json(&info),
                _ => output::json(&info.schema),
            }
        }
        SchemaCommand::Rm { dir } => {
            ctx.client.remove_schema(&dir).await?;
            eprintln!("schema removed from {dir}");
            Ok(())
        }
    }
}

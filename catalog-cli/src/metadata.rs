//! meta index, fields, set, get, rm; and reading `KEY=VALUE` arguments as typed values.

use anyhow::Context;
use catalog_core::api::{Metadata, NewField, SetMetadataRequest, UnsetMetadataRequest};
use catalog_core::meta::{split_key_value, MetaValue};
use catalog_core::Client;
use clap::Subcommand;
use std::path::Path;

use crate::output::{self, Format};
use crate::Ctx;

#[derive(Subcommand)]
pub enum MetaCommand {
    /// Declare a metadata field with its type (int, float, string, datetime, bool); every
    /// field is indexed and searchable
    Index {
        name: String,
        #[arg(value_name = "TYPE")]
        field_type: String,
        #[arg(long)]
        description: Option<String>,
    },
    /// List declared fields
    Fields,
    /// Set KEY=VALUE pairs on a file or directory (directory values are inherited by the files below)
    Set {
        path: String,
        #[arg(required = true, value_name = "KEY=VALUE")]
        values: Vec<String>,
    },
    /// Show the metadata of a file or directory, inherited values marked with their source
    Get { path: String },
    /// Remove fields from a file or directory
    Rm {
        path: String,
        #[arg(required = true)]
        keys: Vec<String>,
    },
}

/// Reads `KEY=VALUE` arguments: a declared field's value is read as its type; an undeclared
/// one as int, float, bool, RFC 3339 datetime, else string.
pub async fn parse_assignments(client: &Client, args: &[String]) -> anyhow::Result<Metadata> {
    if args.is_empty() {
        return Ok(Metadata::new());
    }
    let declared = client.field_types().await?;
    let mut out = Metadata::new();
    for arg in args {
        let (key, text) = split_key_value(arg)?;
        let value = match declared.get(key) {
            Some(ty) => MetaValue::parse_typed(key, *ty, text)?,
            None => MetaValue::parse_inferred(text),
        };
        out.insert(key.to_owned(), value.to_json());
    }
    Ok(out)
}

/// Reads a JSON object of metadata from a file.
pub fn read_meta_file(path: &Path) -> anyhow::Result<Metadata> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    let value: serde_json::Value = serde_json::from_str(&text)
        .with_context(|| format!("{} is not valid JSON", path.display()))?;
    match value {
        serde_json::Value::Object(map) => Ok(map.into_iter().collect()),
        _ => anyhow::bail!("{} must hold a JSON object of metadata", path.display()),
    }
}

pub async fn run(ctx: &Ctx, c: MetaCommand) -> anyhow::Result<()> {
    match c {
        MetaCommand::Index {
            name,
            field_type,
            description,
        } => {
            let field = ctx
                .client
                .declare_field(&NewField {
                    name,
                    field_type: field_type.parse()?,
                    description,
                })
                .await?;
            if ctx.format == Format::Json {
                return output::json(&field);
            }
            println!("field {} is {}", field.name, field.field_type);
        }
        MetaCommand::Fields => {
            let fields = ctx.client.fields().await?.fields;
            if ctx.format == Format::Json {
                return output::json(&fields);
            }
            let mut rows = vec![vec!["FIELD".into(), "TYPE".into(), "DESCRIPTION".into()]];
            rows.extend(fields.into_iter().map(|f| {
                vec![
                    f.name,
                    f.field_type.to_string(),
                    f.description.unwrap_or_default(),
                ]
            }));
            output::table(&rows);
        }
        MetaCommand::Set { path, values } => {
            let values = parse_assignments(&ctx.client, &values).await?;
            let meta = ctx
                .client
                .set_metadata(&SetMetadataRequest { path, values })
                .await?;
            if ctx.format == Format::Json {
                return output::json(&meta);
            }
            print_entries(&meta.entries);
        }
        MetaCommand::Get { path } => {
            let meta = ctx.client.path_metadata(&path).await?;
            if ctx.format == Format::Json {
                return output::json(&meta);
            }
            print_entries(&meta.entries);
        }
        MetaCommand::Rm { path, keys } => {
            let meta = ctx
                .client
                .unset_metadata(&UnsetMetadataRequest { path, fields: keys })
                .await?;
            if ctx.format == Format::Json {
                return output::json(&meta);
            }
            print_entries(&meta.entries);
        }
    }
    Ok(())
}

fn print_entries(entries: &[catalog_core::api::MetaEntry]) {
    let mut rows = vec![vec![
        "FIELD".into(),
        "TYPE".into(),
        "VALUE".into(),
        "SOURCE".into(),
    ]];
    for e in entries {
        let value = match &e.value {
            serde_json::Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let source = match &e.inherited_from {
            Some(dir) => format!("inherited from {dir}"),
            None => "own".to_owned(),
        };
        rows.push(vec![
            e.field.clone(),
            e.field_type.to_string(),
            value,
            source,
        ]);
    }
    output::table(&rows);
}

//! JSON Schemas attached to directories: the effective metadata of every file below (its
//! own values and those it inherits) must satisfy each schema above it. Checked after a
//! change is written and before its transaction commits, so a violation changes nothing.

use catalog_core::api::{PathMetadata, SchemaInfo};
use catalog_core::meta::FieldType;
use diesel::prelude::*;
use serde_json::{Map, Value};
use std::collections::HashMap;

use crate::db::schema::{dir_closure, dir_schemas, directories, meta_fields};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files::{FileRow, ItemErrors};
use crate::metadata;
use crate::namespace::{self, now};

/// The effective metadata of a file as the JSON object a schema validates.
fn document(m: &PathMetadata) -> Value {
    Value::Object(
        m.entries
            .iter()
            .map(|e| (e.field.clone(), e.value.clone()))
            .collect::<Map<_, _>>(),
    )
}

fn compile(dir: &str, schema: &Value) -> Result<jsonschema::Validator> {
    jsonschema::validator_for(schema).map_err(|e| {
        Error::bad(format!(
            "the schema for {dir} is not a valid JSON Schema: {e}"
        ))
    })
}

/// The JSON types a schema property allows, from its `type` (a string or a list).
fn schema_types(prop: &Value) -> Vec<String> {
    match prop.get("type") {
        Some(Value::String(t)) => vec![t.clone()],
        Some(Value::Array(ts)) => ts
            .iter()
            .filter_map(|t| t.as_str().map(str::to_owned))
            .collect(),
        _ => Vec::new(),
    }
}

/// Whether values of a field of type `ty` can be of JSON type `json`.
fn agrees(ty: FieldType, json: &str) -> bool {
    matches!(
        (ty, json),
        (FieldType::Int, "integer" | "number")
            | (FieldType::Float, "number")
            | (FieldType::String | FieldType::Datetime, "string")
            | (FieldType::Bool, "boolean")
    )
}

/// A disagreement between `schema` and the declared type `ty` of `field`, if any.
fn disagreement(field: &str, ty: FieldType, schema: &Value) -> Option<String> {
    let prop = schema.get("properties")?.get(field)?;
    let types: Vec<String> = schema_types(prop)
        .into_iter()
        .filter(|t| t != "null")
        .collect();
    if types.is_empty() || types.iter().any(|t| agrees(ty, t)) {
        return None;
    }
    Some(format!(
        "the schema says '{field}' is {}, but the field is declared {ty}",
        types.join(" or ")
    ))
}

/// Refuses declaring `field` as `ty` when a schema says otherwise.
pub fn check_declaration(conn: &mut DbConn, field: &str, ty: FieldType) -> Result<()> {
    let all: Vec<(String, String)> = dir_schemas::table
        .inner_join(directories::table)
        .select((directories::path, dir_schemas::schema))
        .load(conn)?;
    for (dir, text) in all {
        let schema: Value = serde_json::from_str(&text)
            .map_err(|e| Error::Internal(format!("schema of {dir}: {e}")))?;
        if let Some(d) = disagreement(field, ty, &schema) {
            return Err(Error::conflict(format!("{d} (schema of {dir})")));
        }
    }
    Ok(())
}

/// Every schema that applies to files in each directory of `dir_ids`: those of the
/// directory and of every directory above it.
fn applying(conn: &mut DbConn, dir_ids: &[i64]) -> Result<HashMap<i64, Vec<(String, Value)>>> {
    let mut out: HashMap<i64, Vec<(String, Value)>> = HashMap::new();
    for chunk in dir_ids.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, String, String)> = dir_closure::table
            .inner_join(dir_schemas::table.on(dir_schemas::dir_id.eq(dir_closure::ancestor)))
            .inner_join(directories::table.on(directories::id.eq(dir_closure::ancestor)))
            .filter(dir_closure::descendant.eq_any(chunk))
            .select((
                dir_closure::descendant,
                directories::path,
                dir_schemas::schema,
            ))
            .load(conn)?;
        for (dir, path, text) in rows {
            let schema = serde_json::from_str(&text)
                .map_err(|e| Error::Internal(format!("schema of {path}: {e}")))?;
            out.entry(dir).or_default().push((path, schema));
        }
    }
    Ok(out)
}

fn any_schema(conn: &mut DbConn) -> Result<bool> {
    Ok(dir_schemas::table.count().get_result::<i64>(conn)? > 0)
}

/// Each violation of a file, as "schema of DIR: /pointer: reason".
fn violations(
    files: &[FileRow],
    metas: &[PathMetadata],
    schemas: &HashMap<i64, Vec<(String, Value)>>,
) -> Result<Vec<(usize, Vec<String>)>> {
    let mut compiled: HashMap<String, jsonschema::Validator> = HashMap::new();
    let mut out = Vec::new();
    for (i, (f, m)) in files.iter().zip(metas).enumerate() {
        let Some(list) = schemas.get(&f.dir_id) else {
            continue;
        };
        let doc = document(m);
        let mut errs = Vec::new();
        for (dir, schema) in list {
            if !compiled.contains_key(dir) {
                compiled.insert(dir.clone(), compile(dir, schema)?);
            }
            let v = &compiled[dir];
            for e in v.iter_errors(&doc) {
                let at = e.instance_path.to_string();
                let at = if at.is_empty() { "/".to_owned() } else { at };
                errs.push(format!("schema of {dir}: {at}: {e}"));
            }
        }
        if !errs.is_empty() {
            out.push((i, errs));
        }
    }
    Ok(out)
}

/// Checks `files` (index in the request, row) against the schemas above them; every
/// violation goes into `errors`, named by item.
pub fn check_files(
    conn: &mut DbConn,
    files: &[(usize, FileRow)],
    errors: &mut ItemErrors,
) -> Result<()> {
    if files.is_empty() || !any_schema(conn)? {
        return Ok(());
    }
    let rows: Vec<FileRow> = files.iter().map(|(_, f)| f.clone()).collect();
    let mut dir_ids: Vec<i64> = rows.iter().map(|f| f.dir_id).collect();
    dir_ids.sort_unstable();
    dir_ids.dedup();
    let schemas = applying(conn, &dir_ids)?;
    if schemas.is_empty() {
        return Ok(());
    }
    let metas = metadata::effective(conn, &rows)?;
    for (i, errs) in violations(&rows, &metas, &schemas)? {
        let (index, f) = &files[i];
        errors.push(*index, &f.path, errs.join("; "));
    }
    Ok(())
}

/// Checks every file below `dir` (after a change to the directory's metadata or schema).
pub fn check_below(conn: &mut DbConn, dir: &namespace::Dir, what: &str) -> Result<()> {
    if !any_schema(conn)? {
        return Ok(());
    }
    let files: Vec<(usize, FileRow)> = namespace::files_below(conn, dir)?
        .into_iter()
        .enumerate()
        .collect();
    let mut errors = ItemErrors::default();
    check_files(conn, &files, &mut errors)?;
    errors.into_result(what)
}

pub fn set(conn: &mut DbConn, path: &str, schema: &Value) -> Result<SchemaInfo> {
    let dir = namespace::get_dir(conn, path)?;
    if !schema.is_object() {
        return Err(Error::bad("a JSON Schema must be a JSON object"));
    }
    compile(path, schema)?;
    let declared: Vec<(String, String)> = meta_fields::table
        .select((meta_fields::name, meta_fields::ftype))
        .load(conn)?;
    for (name, ftype) in declared {
        let ty: FieldType = ftype
            .parse()
            .map_err(|_| Error::Internal(format!("field {name}: stored type {ftype}")))?;
        if let Some(d) = disagreement(&name, ty, schema) {
            return Err(Error::bad(d));
        }
    }
    diesel::delete(dir_schemas::table.find(dir.id)).execute(conn)?;
    diesel::insert_into(dir_schemas::table)
        .values((
            dir_schemas::dir_id.eq(dir.id),
            dir_schemas::schema.eq(schema.to_string()),
            dir_schemas::created.eq(now()),
        ))
        .execute(conn)?;
    check_below(conn, &dir, "schema")?;
    get(conn, path)
}

pub fn get(conn: &mut DbConn, path: &str) -> Result<SchemaInfo> {
    let dir = namespace::get_dir(conn, path)?;
    let (text, created): (String, chrono::NaiveDateTime) = dir_schemas::table
        .find(dir.id)
        .select((dir_schemas::schema, dir_schemas::created))
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no schema on {path}")))?;
    Ok(SchemaInfo {
        path: dir.path,
        schema: serde_json::from_str(&text)
            .map_err(|e| Error::Internal(format!("schema of {path}: {e}")))?,
        created,
    })
}

pub fn remove(conn: &mut DbConn, path: &str) -> Result<()> {
    let dir = namespace::get_dir(conn, path)?;
    if diesel::delete(dir_schemas::table.find(dir.id)).execute(conn)? == 0 {
        return Err(Error::not_found(format!("no schema on {path}")));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn declarations_and_schemas_agree() {
        let s = json!({"properties": {"run": {"type": "integer"}, "e": {"type": ["number", "null"]}, "t": {"type": "string", "format": "date-time"}}});
        assert!(disagreement("run", FieldType::Int, &s).is_none());
        assert!(disagreement("run", FieldType::String, &s).is_some());
        assert!(disagreement("e", FieldType::Float, &s).is_none());
        assert!(disagreement("e", FieldType::Int, &s).is_none());
        assert!(disagreement("t", FieldType::Datetime, &s).is_none());
        assert!(disagreement("other", FieldType::Bool, &s).is_none());
    }
}

//! Datasets: named sets of files, dynamic (a query evaluated when read) or frozen (a fixed
//! list of files), with their own metadata.

use catalog_core::api::{DatasetInfo, Metadata, NewDataset};
use catalog_core::query::{self, Expr, Query};
use catalog_core::MetaValue;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Text};
use sha2::{Digest, Sha256};

use crate::db::schema::{dataset_files, datasets};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files;
use crate::metadata;
use crate::namespace::now;
use crate::query::{Bind, Compiler};

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = datasets)]
pub struct DatasetRow {
    pub id: i64,
    pub name: String,
    pub query: Option<String>,
    pub frozen: bool,
    pub metadata: String,
    pub owner: String,
    pub created: NaiveDateTime,
    pub modified: NaiveDateTime,
}

impl DatasetRow {
    fn info(&self) -> Result<DatasetInfo> {
        Ok(DatasetInfo {
            name: self.name.clone(),
            frozen: self.frozen,
            query: self.query.clone(),
            owner: self.owner.clone(),
            created: self.created,
            modified: self.modified,
            metadata: serde_json::from_str(&self.metadata)
                .map_err(|e| Error::Internal(format!("dataset {} metadata: {e}", self.name)))?,
            files: None,
            size: None,
            hash: None,
        })
    }

    fn parsed_query(&self) -> Result<Query> {
        let text = self.query.as_deref().unwrap_or("");
        query::parse(text).map_err(|e| {
            Error::Internal(format!(
                "dataset {} has a stored query that does not parse: {e}",
                self.name
            ))
        })
    }
}

/// What a dataset's files are, for the query compiler.
pub enum Source {
    Dynamic(Query),
    Frozen(i64),
}

/// Checks a dataset name: 1 to 128 of `[A-Za-z0-9_.-]`, starting with a letter or digit.
pub fn check_name(name: &str) -> Result<()> {
    let ok = name.len() <= 128
        && name
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_alphanumeric())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if ok {
        Ok(())
    } else {
        Err(Error::bad(format!(
            "invalid dataset name {name:?}: use 1 to 128 letters, digits, '_', '.' or '-', starting with a letter or digit"
        )))
    }
}

fn get(conn: &mut DbConn, name: &str) -> Result<DatasetRow> {
    check_name(name)?;
    datasets::table
        .filter(datasets::name.eq(name))
        .select(DatasetRow::as_select())
        .first(conn)
        .optional()?
        .ok_or_else(|| Error::not_found(format!("no such dataset: {name}")))
}

pub fn source(conn: &mut DbConn, name: &str) -> Result<Source> {
    let row = get(conn, name)?;
    Ok(if row.frozen {
        Source::Frozen(row.id)
    } else {
        Source::Dynamic(row.parsed_query()?)
    })
}

/// Dataset metadata: typed like file metadata when the field is declared, else as read.
fn typed_metadata(conn: &mut DbConn, values: &Metadata) -> Result<Metadata> {
    let names: Vec<String> = values.keys().cloned().collect();
    let declared = metadata::fields_by_names(conn, &names)?;
    let mut out = Metadata::new();
    for (k, v) in values {
        catalog_core::meta::validate_field_name(k)?;
        let value = match declared.get(k) {
            Some(f) => MetaValue::from_json_typed(k, f.field_type()?, v)?,
            None => MetaValue::from_json_inferred(k, v)?,
        };
        out.insert(k.clone(), value.to_json());
    }
    Ok(out)
}

/// Adds the files matching `q` (its order and limit kept) to frozen dataset `id`, in one
/// statement.
fn freeze_query(conn: &mut DbConn, id: i64, q: &Query) -> Result<usize> {
    let mut c = Compiler::new(conn);
    c.sql
        .push("INSERT INTO dataset_files (dataset_id, file_id) SELECT ")
        .bind(Bind::Int(id))
        .push(", x.id FROM (");
    crate::query::page_sql_for(&mut c, q)?;
    c.sql.push(") x");
    let sql = c.sql.clone();
    sql.execute(c.conn)
}

pub fn create(conn: &mut DbConn, new: &NewDataset, owner: &str) -> Result<DatasetInfo> {
    check_name(&new.name)?;
    let exists = datasets::table
        .filter(datasets::name.eq(&new.name))
        .count()
        .get_result::<i64>(conn)?
        > 0;
    if exists {
        return Err(Error::conflict(format!("dataset {} exists", new.name)));
    }
    let q = match (&new.query, &new.ast, &new.files) {
        (None, None, Some(_)) if new.frozen => None,
        (None, None, Some(_)) => {
            return Err(Error::bad(
                "a list of files makes a frozen dataset: set 'frozen'",
            ))
        }
        (Some(_), _, Some(_)) | (_, Some(_), Some(_)) => {
            return Err(Error::bad("give a query or a list of files, not both"))
        }
        (None, None, None) => {
            return Err(Error::bad(
                "give a query ('query' or 'ast'), or 'files' for a frozen dataset",
            ))
        }
        _ => Some(crate::query::read_request(
            conn,
            &catalog_core::api::FindRequest {
                query: new.query.clone(),
                ast: new.ast.clone(),
                ..Default::default()
            },
        )?),
    };
    if let Some(q) = &q {
        if !new.frozen && (!q.order.is_empty() || q.limit.is_some()) {
            return Err(Error::bad(
                "a dynamic dataset's query cannot have 'order by' or 'limit': it is the set of all files that match (make it --frozen to keep the first N)",
            ));
        }
        // Resolves every dataset, directory and storage element it names, now.
        crate::query::count(conn, &crate::auth::Caller::local(), q)?;
    }
    let meta = typed_metadata(conn, &new.metadata)?;
    let t = now();
    let id: i64 = diesel::insert_into(datasets::table)
        .values((
            datasets::name.eq(&new.name),
            datasets::query.eq(q.as_ref().map(|q| q.to_string())),
            datasets::frozen.eq(new.frozen),
            datasets::metadata.eq(serde_json::to_string(&meta).unwrap_or_else(|_| "{}".into())),
            datasets::owner.eq(owner),
            datasets::created.eq(t),
            datasets::modified.eq(t),
        ))
        .returning(datasets::id)
        .get_result(conn)?;
    if new.frozen {
        match (&q, &new.files) {
            (Some(q), _) => {
                freeze_query(conn, id, q)?;
            }
            (None, Some(lfns)) => {
                let ids = require_ids(conn, lfns)?;
                add_ids(conn, id, &ids)?;
            }
            (None, None) => {}
        }
    }
    show(conn, &new.name)
}

fn require_ids(conn: &mut DbConn, lfns: &[String]) -> Result<Vec<i64>> {
    Ok(files::require(conn, lfns)?.iter().map(|f| f.id).collect())
}

fn add_ids(conn: &mut DbConn, dataset: i64, ids: &[i64]) -> Result<usize> {
    let existing: std::collections::HashSet<i64> = ids
        .chunks(rows_per_statement(1))
        .map(|chunk| {
            dataset_files::table
                .filter(dataset_files::dataset_id.eq(dataset))
                .filter(dataset_files::file_id.eq_any(chunk))
                .select(dataset_files::file_id)
                .load::<i64>(conn)
        })
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .flatten()
        .collect();
    let mut fresh: Vec<i64> = ids
        .iter()
        .copied()
        .filter(|i| !existing.contains(i))
        .collect();
    fresh.sort_unstable();
    fresh.dedup();
    let rows: Vec<_> = fresh
        .iter()
        .map(|f| {
            (
                dataset_files::dataset_id.eq(dataset),
                dataset_files::file_id.eq(*f),
            )
        })
        .collect();
    for chunk in rows.chunks(rows_per_statement(2)) {
        crate::insert_rows!(conn, dataset_files::table, chunk)?;
    }
    Ok(fresh.len())
}

fn frozen(conn: &mut DbConn, name: &str, what: &str) -> Result<DatasetRow> {
    let row = get(conn, name)?;
    if !row.frozen {
        return Err(Error::bad(format!(
            "dataset {name} is dynamic: its files are those matching its query; {what} needs a frozen dataset (see 'dataset freeze')"
        )));
    }
    Ok(row)
}

fn touch(conn: &mut DbConn, id: i64) -> Result<()> {
    diesel::update(datasets::table.find(id))
        .set(datasets::modified.eq(now()))
        .execute(conn)?;
    Ok(())
}

pub fn add_files(conn: &mut DbConn, name: &str, lfns: &[String]) -> Result<u64> {
    let row = frozen(conn, name, "adding files")?;
    let ids = require_ids(conn, lfns)?;
    let n = add_ids(conn, row.id, &ids)?;
    touch(conn, row.id)?;
    Ok(n as u64)
}

pub fn remove_files(conn: &mut DbConn, name: &str, lfns: &[String]) -> Result<u64> {
    let row = frozen(conn, name, "removing files")?;
    let ids = require_ids(conn, lfns)?;
    let mut n = 0;
    for chunk in ids.chunks(rows_per_statement(1)) {
        n += diesel::delete(
            dataset_files::table
                .filter(dataset_files::dataset_id.eq(row.id))
                .filter(dataset_files::file_id.eq_any(chunk)),
        )
        .execute(conn)?;
    }
    touch(conn, row.id)?;
    Ok(n as u64)
}

/// A dynamic dataset becomes frozen with the files that match its query now.
pub fn freeze(conn: &mut DbConn, name: &str) -> Result<DatasetInfo> {
    let row = get(conn, name)?;
    if row.frozen {
        return Err(Error::conflict(format!("dataset {name} is frozen already")));
    }
    let q = row.parsed_query()?;
    freeze_query(conn, row.id, &q)?;
    diesel::update(datasets::table.find(row.id))
        .set((datasets::frozen.eq(true), datasets::modified.eq(now())))
        .execute(conn)?;
    show(conn, name)
}

pub fn set_metadata(conn: &mut DbConn, name: &str, values: &Metadata) -> Result<DatasetInfo> {
    let row = get(conn, name)?;
    let mut meta: Metadata = row.info()?.metadata;
    meta.extend(typed_metadata(conn, values)?);
    diesel::update(datasets::table.find(row.id))
        .set((
            datasets::metadata.eq(serde_json::to_string(&meta).unwrap_or_else(|_| "{}".into())),
            datasets::modified.eq(now()),
        ))
        .execute(conn)?;
    show(conn, name)
}

pub fn delete(conn: &mut DbConn, name: &str) -> Result<()> {
    let row = get(conn, name)?;
    let users: Vec<String> = datasets::table
        .filter(datasets::frozen.eq(false))
        .filter(datasets::id.ne(row.id))
        .select(DatasetRow::as_select())
        .load(conn)?
        .into_iter()
        .filter(|d| {
            d.parsed_query()
                .is_ok_and(|q| names_dataset(&q.filter, name))
        })
        .map(|d| d.name)
        .collect();
    if !users.is_empty() {
        return Err(Error::conflict(format!(
            "dataset {name} is used by the query of dataset(s) {}",
            users.join(", ")
        )));
    }
    diesel::delete(datasets::table.find(row.id)).execute(conn)?;
    Ok(())
}

fn names_dataset(e: &Expr, name: &str) -> bool {
    match e {
        Expr::Dataset { name: n } => n == name,
        Expr::And { args } | Expr::Or { args } => args.iter().any(|a| names_dataset(a, name)),
        Expr::Not { arg } => names_dataset(arg, name),
        Expr::Related { query, .. } => names_dataset(query, name),
        _ => false,
    }
}

pub fn list(conn: &mut DbConn) -> Result<Vec<DatasetInfo>> {
    datasets::table
        .order(datasets::name.asc())
        .select(DatasetRow::as_select())
        .load(conn)?
        .iter()
        .map(DatasetRow::info)
        .collect()
}

/// A dataset with its file count, total size and content hash, as of now.
pub fn show(conn: &mut DbConn, name: &str) -> Result<DatasetInfo> {
    #[derive(QueryableByName)]
    struct Content {
        #[diesel(sql_type = Text)]
        guid: String,
        #[diesel(sql_type = Text)]
        adler32: String,
        #[diesel(sql_type = BigInt)]
        size: i64,
    }
    let row = get(conn, name)?;
    let mut info = row.info()?;
    let mut c = Compiler::new(conn);
    c.sql
        .push("SELECT f.guid AS guid, f.adler32 AS adler32, f.size AS size FROM files f WHERE ");
    c.predicate(
        &Expr::Dataset {
            name: name.to_owned(),
        },
        "f",
    )?;
    c.sql.push(" ORDER BY f.guid");
    let content = c.sql.load::<Content>(c.conn)?;
    let mut h = Sha256::new();
    for f in &content {
        h.update(format!("{} {} {}\n", f.guid, f.adler32, f.size));
    }
    info.files = Some(content.len() as i64);
    info.size = Some(content.iter().map(|f| f.size).sum());
    info.hash = Some(format!("sha256:{:x}", h.finalize()));
    Ok(info)
}

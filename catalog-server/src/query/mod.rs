//! Finding files: a query (text or AST) checked against the declared fields, compiled into
//! SQL with bound values, and run a page at a time in a stable order.

mod compile;
mod cursor;
pub mod sql;

pub use compile::{Compiler, Target};
pub use sql::{Bind, Sql};

use catalog_core::api::{
    CountResponse, ExplainResponse, FindRequest, FindResponse, LfnPage, MAX_PAGE,
};
use catalog_core::meta::FieldType;
use catalog_core::query::{self, OrderKey, Query};
use diesel::sql_types::{BigInt, Double, Integer, Nullable, Text, Timestamp};
use diesel::QueryableByName;

use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::{Error, Result};
use crate::files;
use crate::metadata;
use cursor::{Cursor, KeyValue};

const DEFAULT_PAGE: u32 = 1_000;

/// Reads the query of a request: exactly one of text and AST, type-checked against the
/// declared fields. Errors in text are placed by line and column.
pub fn read_request(conn: &mut DbConn, req: &FindRequest) -> Result<Query> {
    let (mut q, positions) = match (&req.query, &req.ast) {
        (Some(text), None) => query::parse_located(text).map_err(|e| Error::Query {
            message: e.to_string(),
            line: Some(e.line),
            column: Some(e.column),
        })?,
        (None, Some(ast)) => (ast.clone(), Vec::new()),
        (None, None) => return Err(Error::bad("give a query: 'query' (text) or 'ast' (JSON)")),
        (Some(_), Some(_)) => return Err(Error::bad("give either 'query' or 'ast', not both")),
    };
    check(conn, &q, &positions)?;
    if req.ast.is_some() {
        // An AST is kept as query text (a dynamic dataset's) and shown as one: it must be one
        // the text form can say. A field name the parser would not take (`has(Fy~)`) was
        // stored once and made the dataset unreadable (found by scripts/fuzz-api.sh).
        let text = q.to_string();
        if let Err(e) = query::parse(&text) {
            return Err(Error::bad(format!(
                "'ast' is not a query the language can express ({text:?}: {e}); field names \
                 are letters, digits and _, starting with a letter or _"
            )));
        }
    }
    if let Some(l) = req.limit {
        q.limit = Some(q.limit.map_or(l, |ql| ql.min(l)));
    }
    Ok(q)
}

/// Type-checks `q`; `positions` (from the parser, may be empty) place the error.
pub fn check(conn: &mut DbConn, q: &Query, positions: &[query::Pos]) -> Result<()> {
    let names: Vec<String> = query::fields(q);
    let declared = metadata::fields_by_names(conn, &names)?;
    let types: std::collections::HashMap<String, FieldType> = declared
        .iter()
        .map(|(n, f)| Ok((n.clone(), f.field_type()?)))
        .collect::<Result<_>>()?;
    query::check(q, &|name| types.get(name).copied()).map_err(|e| {
        let pos = positions.get(e.leaf);
        Error::Query {
            message: match pos {
                Some(p) => format!("line {}, column {}: {}", p.line, p.column, e.message),
                None => e.message,
            },
            line: pos.map(|p| p.line),
            column: pos.map(|p| p.column),
        }
    })
}

/// One sort key: its SQL expression over `f` and how its values are read back.
struct Key {
    target: Target,
    descending: bool,
}

#[derive(QueryableByName)]
struct IdRow {
    #[diesel(sql_type = BigInt)]
    id: i64,
}

#[derive(QueryableByName)]
struct CountRow {
    #[diesel(sql_type = BigInt)]
    n: i64,
    #[diesel(sql_type = BigInt)]
    total: i64,
}

/// Writes the SELECT of matching file ids in order, after the cursor, at most `limit`.
fn page_sql(
    c: &mut Compiler<'_>,
    q: &Query,
    keys: &[Key],
    after: Option<&Cursor>,
    limit: Option<i64>,
) -> Result<()> {
    c.sql.push("SELECT t.id AS id FROM (SELECT f.id AS id");
    for (i, k) in keys.iter().enumerate() {
        c.sql.push(", ");
        key_expr(c, k.target);
        c.sql.push(" AS k").push(&i.to_string());
    }
    c.sql.push(" FROM files f WHERE ");
    c.selection(&q.filter, "f")?;
    c.sql.push(") t");
    if let Some(cur) = after {
        c.sql.push(" WHERE ");
        let shape: Vec<(bool, bool)> = keys
            .iter()
            .map(|k| (k.descending, matches!(k.target, Target::Meta(_))))
            .collect();
        cursor::after(&mut c.sql, &shape, cur)?;
    }
    c.sql.push(" ORDER BY ");
    for (i, k) in keys.iter().enumerate() {
        let col = format!("t.k{i}");
        // Files lacking a metadata key come last, whichever the direction.
        if matches!(k.target, Target::Meta(_)) {
            c.sql
                .push("CASE WHEN ")
                .push(&col)
                .push(" IS NULL THEN 1 ELSE 0 END, ");
        }
        c.sql
            .push(&col)
            .push(if k.descending { " DESC, " } else { " ASC, " });
    }
    c.sql.push("t.id ASC");
    if let Some(n) = limit {
        c.sql.push(" LIMIT ").bind(Bind::Int(n));
    }
    Ok(())
}

/// Writes the SELECT of every file matching `q` (`t.id`), in its order and within its limit.
pub fn page_sql_for(c: &mut Compiler<'_>, q: &Query) -> Result<()> {
    let keys = keys(c, &q.order)?;
    page_sql(
        c,
        q,
        &keys,
        None,
        q.limit.map(|l| l.min(i64::MAX as u64) as i64),
    )
}

/// The value of a sort key for the file `f`: a column, or the effective metadata value.
fn key_expr(c: &mut Compiler<'_>, t: Target) {
    match t {
        Target::Column(col, _) => {
            c.sql.push("f.").push(col);
        }
        Target::Meta(field) => {
            let col = compile::value_column(field.ty);
            c.sql
                .push("COALESCE((SELECT m.")
                .push(col)
                .push(" FROM file_meta m WHERE m.file_id = f.id AND m.field_id = ");
            c.sql.bind(Bind::Int(field.id)).push(")");
            if field.on_dirs {
                c.sql
                    .push(", (SELECT d.")
                    .push(col)
                    .push(" FROM dir_closure dc JOIN dir_meta d ON d.dir_id = dc.ancestor AND d.field_id = ")
                    .bind(Bind::Int(field.id))
                    .push(" WHERE dc.descendant = f.dir_id ORDER BY dc.depth LIMIT 1)");
            }
            c.sql.push(", NULL)");
        }
    }
}

fn keys(c: &mut Compiler<'_>, order: &[OrderKey]) -> Result<Vec<Key>> {
    let mut keys = order
        .iter()
        .map(|k| {
            Ok(Key {
                target: c.target(&k.field)?,
                descending: k.descending,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    // The default order is by path; ties always end on the file id.
    if keys.is_empty() {
        keys.push(Key {
            target: c.target("path")?,
            descending: false,
        });
    }
    Ok(keys)
}

/// The ids of a page of the files matching a query, in order.
struct Page {
    query: String,
    ids: Vec<i64>,
    next_cursor: Option<String>,
}

/// A page of the files matching `q`.
pub fn find(
    conn: &mut DbConn,
    viewer: &Caller,
    q: &Query,
    cursor: Option<&str>,
    page_size: Option<u32>,
) -> Result<FindResponse> {
    let p = page(conn, viewer, q, cursor, page_size)?;
    let rows = files::by_ids(conn, &p.ids)?;
    Ok(FindResponse {
        query: p.query,
        files: rows.iter().map(files::FileRow::info).collect(),
        next_cursor: p.next_cursor,
    })
}

/// A page of the LFNs matching `q`.
pub fn find_lfns(
    conn: &mut DbConn,
    viewer: &Caller,
    q: &Query,
    cursor: Option<&str>,
    page_size: Option<u32>,
) -> Result<LfnPage> {
    let p = page(conn, viewer, q, cursor, page_size)?;
    let mut paths = files::paths_by_ids(conn, &p.ids)?;
    Ok(LfnPage {
        query: p.query,
        lfns: p.ids.iter().filter_map(|id| paths.remove(id)).collect(),
        next_cursor: p.next_cursor,
    })
}

fn page(
    conn: &mut DbConn,
    viewer: &Caller,
    q: &Query,
    cursor: Option<&str>,
    page_size: Option<u32>,
) -> Result<Page> {
    let normal = q.to_string();
    let page = page_size.unwrap_or(DEFAULT_PAGE);
    if page == 0 || page > MAX_PAGE {
        return Err(Error::bad(format!(
            "page_size must be between 1 and {MAX_PAGE}, got {page}"
        )));
    }
    let cur = cursor.map(|c| Cursor::decode(c, &normal)).transpose()?;
    let seen = cur.as_ref().map_or(0, |c| c.returned);
    let remaining = q.limit.map(|l| l.saturating_sub(seen));
    let take = remaining.map_or(u64::from(page), |r| r.min(u64::from(page)));
    if take == 0 {
        return Ok(Page {
            query: normal,
            ids: Vec::new(),
            next_cursor: None,
        });
    }
    let mut c = Compiler::new(conn);
    c.viewer = Some(viewer.clone());
    let keys = keys(&mut c, &q.order)?;
    // One more than the page, to know whether another page follows.
    page_sql(&mut c, q, &keys, cur.as_ref(), Some(take as i64 + 1))?;
    let mut ids: Vec<i64> = c
        .sql
        .load::<IdRow>(c.conn)?
        .into_iter()
        .map(|r| r.id)
        .collect();
    let more = ids.len() as u64 > take && remaining.is_none_or(|r| r > take);
    ids.truncate(take as usize);
    let next_cursor = match (more, ids.last()) {
        (true, Some(&last)) => Some(
            Cursor {
                query_hash: cursor::hash(&normal),
                returned: seen + ids.len() as u64,
                last_id: last,
                keys: key_values(&mut c, &keys, last)?,
            }
            .encode(),
        ),
        _ => None,
    };
    Ok(Page {
        query: normal,
        ids,
        next_cursor,
    })
}

/// The sort key values of file `id`, for the cursor.
fn key_values(c: &mut Compiler<'_>, keys: &[Key], id: i64) -> Result<Vec<KeyValue>> {
    #[derive(QueryableByName)]
    struct I {
        #[diesel(sql_type = Nullable<BigInt>)]
        v: Option<i64>,
    }
    #[derive(QueryableByName)]
    struct F {
        #[diesel(sql_type = Nullable<Double>)]
        v: Option<f64>,
    }
    #[derive(QueryableByName)]
    struct S {
        #[diesel(sql_type = Nullable<Text>)]
        v: Option<String>,
    }
    #[derive(QueryableByName)]
    struct T {
        #[diesel(sql_type = Nullable<Timestamp>)]
        v: Option<chrono::NaiveDateTime>,
    }
    let mut out = Vec::with_capacity(keys.len());
    for k in keys {
        c.sql = Sql::new(c.conn);
        c.sql.push("SELECT ");
        key_expr(c, k.target);
        c.sql
            .push(" AS v FROM files f WHERE f.id = ")
            .bind(Bind::Int(id));
        let v = match (k.target, k.target.field_type()) {
            (Target::Column(..), FieldType::Datetime) => single::<T>(c)?.v.map(KeyValue::Time),
            (_, FieldType::Float) => single::<F>(c)?.v.map(KeyValue::Float),
            (_, FieldType::String) => single::<S>(c)?.v.map(KeyValue::Text),
            _ => single::<I>(c)?.v.map(KeyValue::Int),
        };
        out.push(v.unwrap_or(KeyValue::Null));
    }
    Ok(out)
}

/// The one row the compiler's statement returns.
fn single<R>(c: &mut Compiler<'_>) -> Result<R>
where
    R: QueryableByName<diesel::pg::Pg> + QueryableByName<diesel::sqlite::Sqlite> + 'static,
{
    c.sql
        .load::<R>(c.conn)?
        .pop()
        .ok_or_else(|| Error::Internal("a file of the page vanished".into()))
}

/// How many files match `q` (at most its limit), and their total size.
pub fn count(conn: &mut DbConn, viewer: &Caller, q: &Query) -> Result<CountResponse> {
    let mut c = Compiler::new(conn);
    c.viewer = Some(viewer.clone());
    c.sql.push("SELECT COUNT(*) AS n, CAST(COALESCE(SUM(s.size), 0) AS BIGINT) AS total FROM files s WHERE s.id IN (");
    if let Some(limit) = q.limit {
        let keys = keys(&mut c, &q.order)?;
        page_sql(
            &mut c,
            q,
            &keys,
            None,
            Some(limit.min(i64::MAX as u64) as i64),
        )?;
    } else {
        c.sql.push("SELECT f.id FROM files f WHERE ");
        c.selection(&q.filter, "f")?;
    }
    c.sql.push(")");
    let row = c
        .sql
        .load::<CountRow>(c.conn)?
        .pop()
        .ok_or_else(|| Error::Internal("COUNT returned no row".into()))?;
    Ok(CountResponse {
        query: q.to_string(),
        count: row.n,
        size: row.total,
    })
}

/// The SQL of the first page of `q` and the database's plan for it.
pub fn explain(conn: &mut DbConn, viewer: &Caller, q: &Query) -> Result<ExplainResponse> {
    #[derive(QueryableByName)]
    struct PgPlan {
        #[diesel(sql_type = Text, column_name = "QUERY PLAN")]
        line: String,
    }
    #[derive(QueryableByName)]
    struct SqlitePlan {
        #[diesel(sql_type = Integer)]
        id: i32,
        #[diesel(sql_type = Integer)]
        parent: i32,
        #[diesel(sql_type = Text)]
        detail: String,
    }
    let pg = matches!(conn, DbConn::Pg(_));
    let mut c = Compiler::new(conn);
    c.viewer = Some(viewer.clone());
    c.sql.push(if pg {
        "EXPLAIN "
    } else {
        "EXPLAIN QUERY PLAN "
    });
    let keys = keys(&mut c, &q.order)?;
    let limit = q
        .limit
        .unwrap_or(u64::from(DEFAULT_PAGE))
        .min(u64::from(DEFAULT_PAGE));
    page_sql(&mut c, q, &keys, None, Some(limit as i64 + 1))?;
    let plan = if pg {
        c.sql
            .load::<PgPlan>(c.conn)?
            .into_iter()
            .map(|r| r.line)
            .collect()
    } else {
        // Indent each step under its parent, as the sqlite3 shell does.
        let rows = c.sql.load::<SqlitePlan>(c.conn)?;
        let mut depth: std::collections::HashMap<i32, usize> = std::collections::HashMap::new();
        rows.iter()
            .map(|r| {
                let d = depth.get(&r.parent).map_or(0, |d| d + 1);
                depth.insert(r.id, d);
                format!("{}{}", "  ".repeat(d), r.detail)
            })
            .collect()
    };
    let text = c.sql.text();
    Ok(ExplainResponse {
        query: q.to_string(),
        database: if pg { "postgres" } else { "sqlite" }.to_owned(),
        sql: text
            .strip_prefix("EXPLAIN QUERY PLAN ")
            .or_else(|| text.strip_prefix("EXPLAIN "))
            .unwrap_or(text)
            .to_owned(),
        plan,
    })
}

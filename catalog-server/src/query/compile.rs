//! The query AST compiled into one SQL condition on a `files` row, values bound.
//!
//! Each condition becomes a predicate the database can answer from an index: attribute
//! comparisons on the `files` columns, metadata comparisons as `f.id IN (...)` over the
//! partial `(field_id, value)` indexes of `file_meta` (and of `dir_meta` joined through the
//! directory closure, for inherited values), `under` as a range on the path index, and
//! provenance as recursive walks over `file_parents`.

use crate::auth::Caller;
use catalog_core::meta::FieldType;
use catalog_core::query::{builtin_type, Cmp, Expr, Literal, Relation};
use catalog_core::{lfn, MetaValue};
use diesel::prelude::*;
use std::collections::HashMap;

use super::sql::{Bind, Sql};
use crate::datasets::{self, Source};
use crate::db::schema::{dir_meta, meta_fields};
use crate::db::DbConn;
use crate::error::{Error, Result};
use crate::metadata;
use crate::namespace::{self, subtree_bounds};
use crate::storage;

/// A metadata field as the compiler needs it.
#[derive(Debug, Clone, Copy)]
pub struct FieldRef {
    pub id: i64,
    pub ty: FieldType,
    /// Whether any directory holds a value of it (else the inherited branch is left out).
    pub on_dirs: bool,
}

/// What a field of a query names: a column of `files`, or a metadata field.
#[derive(Debug, Clone, Copy)]
pub enum Target {
    Column(&'static str, FieldType),
    Meta(FieldRef),
}

impl Target {
    pub fn field_type(self) -> FieldType {
        match self {
            Target::Column(_, t) => t,
            Target::Meta(f) => f.ty,
        }
    }
}

/// The storage column of a metadata value of type `ty`.
pub fn value_column(ty: FieldType) -> &'static str {
    match ty {
        FieldType::Int | FieldType::Bool | FieldType::Datetime => "ival",
        FieldType::Float => "fval",
        FieldType::String => "sval",
    }
}

/// The `files` column of an attribute.
fn attribute_column(name: &str) -> Option<&'static str> {
    Some(match name {
        "path" => "path",
        "name" => "name",
        "size" => "size",
        "created" => "created",
        "modified" => "modified",
        "status" => "status",
        "guid" => "guid",
        "adler32" => "adler32",
        "owner" => "owner",
        _ => return None,
    })
}

/// A literal bound as the column of `target` stores it.
fn bind_of(target: Target, field: &str, v: &Literal) -> Result<Bind> {
    let ty = target.field_type();
    let value = v
        .as_value_of(ty)
        .ok_or_else(|| Error::bad(format!("field '{field}' is {ty}, but {v} is {}", v.kind())))?;
    Ok(match (target, value) {
        (Target::Column(..), MetaValue::Datetime(d)) => Bind::Time(d.naive_utc()),
        (_, MetaValue::Int(i)) => Bind::Int(i),
        (_, MetaValue::Bool(b)) => Bind::Int(i64::from(b)),
        (_, MetaValue::Datetime(d)) => Bind::Int(d.timestamp_micros()),
        (_, MetaValue::Float(f)) => Bind::Float(f),
        (_, MetaValue::String(s)) => Bind::Text(s),
    })
}

/// How deep dataset definitions may refer to other datasets.
const MAX_DATASET_NESTING: usize = 16;

pub struct Compiler<'c> {
    pub conn: &'c mut DbConn,
    pub sql: Sql,
    fields: HashMap<String, Option<FieldRef>>,
    aliases: usize,
    datasets: Vec<String>,
    /// Write metadata tests as correlated probes of each file rather than as IN lists
    /// from the value index (set for all but the driving test of an AND).
    probe: bool,
    /// The probed test is an equality or IN list: on SQLite its probe seeks the value
    /// index on (field, value, file) in one step, instead of the (file, field) key and then
    /// the row (PostgreSQL's planner finds that index-only probe by itself). Measured at
    /// 1,000,000 files, `int > 987 and str = "tag3"` (1,231 hits): 55 ms -> 30 ms. A range
    /// keeps the key probe, as it would scan its whole range of the value index.
    probe_by_value: bool,
    /// Whose files these are: the selection is restricted to what they may read.
    pub viewer: Option<Caller>,
}

/// A condition on a value column, written for any table alias.
type Cond<'a> = &'a dyn Fn(&mut Sql, &str);
type CondFn = dyn Fn(&mut Sql, &str);

/// The most index entries a driving-test estimate reads.
const ESTIMATE_CAP: i64 = 20_000;
/// The class of equality tests and IN lists, the likeliest to be selective.
const EQUALITY: u8 = 0;
/// A driving test matching this few files is not worth looking past.
const ESTIMATE_ENOUGH: i64 = 100;

impl<'c> Compiler<'c> {
    pub fn new(conn: &'c mut DbConn) -> Compiler<'c> {
        let sql = Sql::new(conn);
        Compiler {
            conn,
            sql,
            fields: HashMap::new(),
            aliases: 0,
            datasets: Vec::new(),
            probe: false,
            probe_by_value: false,
            viewer: None,
        }
    }

    /// The top-level test of a query over `files f`: its predicate, and for a viewer who is
    /// not an admin, only the files they may read (also what matches through inherited
    /// metadata or provenance: the restriction is on the file selected).
    pub fn selection(&mut self, e: &Expr, f: &str) -> Result<()> {
        self.sql.push("(");
        self.predicate(e, f)?;
        self.sql.push(")");
        if let Some(v) = &self.viewer {
            crate::auth::access::restrict(&mut self.sql, v, f);
        }
        Ok(())
    }

    /// A fresh table alias for a nested `files` scan.
    pub fn alias(&mut self) -> String {
        self.aliases += 1;
        format!("f{}", self.aliases)
    }

    /// The declared metadata field `name`, if any (looked up once).
    pub fn meta_field(&mut self, name: &str) -> Result<Option<FieldRef>> {
        if let Some(f) = self.fields.get(name) {
            return Ok(*f);
        }
        // The field and whether any directory holds a value of it, in one statement.
        let found: Option<(metadata::Field, bool)> = meta_fields::table
            .filter(meta_fields::name.eq(name))
            .select((
                metadata::Field::as_select(),
                diesel::dsl::exists(dir_meta::table.filter(dir_meta::field_id.eq(meta_fields::id))),
            ))
            .first(self.conn)
            .optional()?;
        let f = match found {
            None => None,
            Some((field, on_dirs)) => Some(FieldRef {
                id: field.id,
                ty: field.field_type()?,
                on_dirs,
            }),
        };
        self.fields.insert(name.to_owned(), f);
        Ok(f)
    }

    pub fn target(&mut self, name: &str) -> Result<Target> {
        if let (Some(col), Some(ty)) = (attribute_column(name), builtin_type(name)) {
            return Ok(Target::Column(col, ty));
        }
        self.meta_field(name)?
            .map(Target::Meta)
            .ok_or_else(|| Error::bad(format!("unknown field '{name}'")))
    }

    /// The class of a metadata test on a field of its own, by how selective it is likely
    /// to be (lower: fewer files): equality and IN lists, then ranges, then the other
    /// comparisons. `None` for any other test.
    fn meta_class(&mut self, e: &Expr) -> Result<Option<u8>> {
        let (field, class) = match e {
            Expr::Compare { field, cmp, .. } => (field, if *cmp == Cmp::Eq { EQUALITY } else { 2 }),
            Expr::In {
                field,
                negated: false,
                ..
            } => (field, EQUALITY),
            Expr::Range { field, .. } => (field, 1),
            _ => return Ok(None),
        };
        Ok(match self.target(field)? {
            Target::Meta(m) if !m.on_dirs => Some(class),
            _ => None,
        })
    }

    /// How many files the metadata test `e` matches, counted from its value index up to
    /// `cap`: reads at most that many index entries.
    fn estimate(&mut self, e: &Expr, cap: i64) -> Result<i64> {
        let Some((Target::Meta(field), cond)) = self.condition(e)? else {
            return Ok(i64::MAX);
        };
        #[derive(QueryableByName)]
        struct Count {
            #[diesel(sql_type = diesel::sql_types::BigInt)]
            n: i64,
        }
        let mut sql = Sql::new(self.conn);
        sql.push("SELECT COUNT(*) AS n FROM (SELECT 1 FROM file_meta m WHERE m.field_id = ")
            .bind(Bind::Int(field.id))
            .push(" AND ");
        cond(&mut sql, &format!("m.{}", value_column(field.ty)));
        sql.push(" LIMIT ").bind(Bind::Int(cap)).push(") t");
        let rows: Vec<Count> = sql.load(self.conn)?;
        Ok(rows.first().map_or(0, |c| c.n))
    }

    /// Which of an AND's arguments drives it: the metadata test its value index says
    /// matches the fewest files. The tests are counted in their likely order (equality
    /// first), each count stopping at the best so far and at [`ESTIMATE_CAP`], so choosing
    /// reads few index entries; when every count reaches the cap, the likeliest class wins.
    /// (Measured at 1,000,000 files, `int > 987 and str = "tag3"`: driven by the equality
    /// on the string, 99,672 files, 220 ms; by the int's 12,000 files, 55 ms.)
    fn driver(&mut self, args: &[Expr], classes: &[Option<u8>]) -> Result<Option<usize>> {
        let mut order: Vec<(u8, usize)> = classes
            .iter()
            .enumerate()
            .filter_map(|(i, c)| c.map(|c| (c, i)))
            .collect();
        order.sort_unstable();
        // PostgreSQL plans the tests by its own statistics whichever is written as the
        // driver (kept fresh by `Db::grew`), so counting there only adds statements:
        // measured at 10,000 files, the 3-condition query's three counts cost about 1.3 ms
        // each (planning and execution), on a query of a few milliseconds.
        if order.len() < 2 || self.sql.is_pg() {
            return Ok(order.first().map(|&(_, i)| i));
        }
        let (mut best, mut fewest) = (order[0].1, ESTIMATE_CAP);
        for (_, i) in order {
            if fewest <= ESTIMATE_ENOUGH {
                break;
            }
            let n = self.estimate(&args[i], fewest)?;
            if n < fewest {
                (best, fewest) = (i, n);
            }
        }
        Ok(Some(best))
    }

    /// Writes the condition `e` on the `files` row aliased `f`.
    pub fn predicate(&mut self, e: &Expr, f: &str) -> Result<()> {
        match e {
            Expr::All => {
                self.sql.push("1 = 1");
            }
            Expr::And { args } => {
                // The likeliest most selective metadata test drives, as an IN list read
                // from its value index; the other metadata tests probe each of those files
                // by key, instead of each reading (and listing) every file it matches.
                let classes = args
                    .iter()
                    .map(|a| self.meta_class(a))
                    .collect::<Result<Vec<_>>>()?;
                let driver = self.driver(args, &classes)?;
                let outer = (self.probe, self.probe_by_value);
                self.sql.push("(");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.sql.push(" AND ");
                    }
                    self.probe = classes[i].is_some() && driver != Some(i);
                    self.probe_by_value = classes[i] == Some(EQUALITY);
                    self.predicate(a, f)?;
                    (self.probe, self.probe_by_value) = outer;
                }
                self.sql.push(")");
            }
            Expr::Or { args } => {
                let outer = std::mem::replace(&mut self.probe, false);
                self.sql.push("(");
                for (i, a) in args.iter().enumerate() {
                    if i > 0 {
                        self.sql.push(" OR ");
                    }
                    self.predicate(a, f)?;
                }
                self.sql.push(")");
                self.probe = outer;
            }
            Expr::Not { arg } => {
                self.sql.push("NOT (");
                self.predicate(arg, f)?;
                self.sql.push(")");
            }
            Expr::Compare { .. } | Expr::In { .. } | Expr::Range { .. } | Expr::Glob { .. } => {
                if let Some((t, cond)) = self.condition(e)? {
                    self.value_condition(t, f, &*cond)?;
                }
            }
            Expr::Has { field } => self.has(field, f)?,
            Expr::Missing { field } => {
                self.sql.push("NOT (");
                self.has(field, f)?;
                self.sql.push(")");
            }
            Expr::Under { path } => {
                lfn::validate(path)?;
                if namespace::find_dir(self.conn, path)?.is_none() {
                    return Err(Error::not_found(format!(
                        "under \"{path}\": no such directory"
                    )));
                }
                match subtree_bounds(path) {
                    (_, None) => self.sql.push("1 = 1"),
                    (lo, Some(hi)) => self
                        .sql
                        .push("(")
                        .push(f)
                        .push(".path > ")
                        .bind(Bind::Text(lo))
                        .push(" AND ")
                        .push(f)
                        .push(".path < ")
                        .bind(Bind::Text(hi))
                        .push(")"),
                };
            }
            Expr::ReplicaAt { se } => {
                let se = storage::get(self.conn, se)?;
                self.sql
                    .push(f)
                    .push(".id IN (SELECT r.file_id FROM replicas r WHERE r.se_id = ")
                    .bind(Bind::Int(se.id))
                    .push(")");
            }
            Expr::Dataset { name } => self.dataset(name, f)?,
            Expr::Related {
                relation,
                query,
                max_depth,
            } => self.related(*relation, query, *max_depth, f)?,
        }
        Ok(())
    }

    /// The field a comparison, IN list, range or glob tests, and its condition on that
    /// field's value column (`None` for any other expression).
    fn condition(&mut self, e: &Expr) -> Result<Option<(Target, Box<CondFn>)>> {
        let cond: (Target, Box<CondFn>) = match e {
            Expr::Compare { field, cmp, value } => {
                let t = self.target(field)?;
                let b = bind_of(t, field, value)?;
                let op = cmp_sql(*cmp);
                (
                    t,
                    Box::new(move |sql: &mut Sql, col: &str| {
                        sql.push(col).push(op).bind(b.clone());
                    }),
                )
            }
            Expr::In {
                field,
                values,
                negated,
            } => {
                let t = self.target(field)?;
                let binds = values
                    .iter()
                    .map(|v| bind_of(t, field, v))
                    .collect::<Result<Vec<_>>>()?;
                let op = if *negated { " NOT IN (" } else { " IN (" };
                (
                    t,
                    Box::new(move |sql: &mut Sql, col: &str| {
                        sql.push(col).push(op);
                        for (i, b) in binds.iter().enumerate() {
                            if i > 0 {
                                sql.push(", ");
                            }
                            sql.bind(b.clone());
                        }
                        sql.push(")");
                    }),
                )
            }
            Expr::Range { field, low, high } => {
                let t = self.target(field)?;
                let (lo, hi) = (bind_of(t, field, low)?, bind_of(t, field, high)?);
                (
                    t,
                    Box::new(move |sql: &mut Sql, col: &str| {
                        sql.push(col)
                            .push(" BETWEEN ")
                            .bind(lo.clone())
                            .push(" AND ")
                            .bind(hi.clone());
                    }),
                )
            }
            Expr::Glob { field, pattern } => {
                let t = self.target(field)?;
                if t.field_type() != FieldType::String {
                    return Err(Error::bad(format!(
                        "'~' matches string fields, and '{field}' is {}",
                        t.field_type()
                    )));
                }
                // Only C-collated columns may be range-scanned by byte prefix.
                let ranged = matches!(t, Target::Meta(_) | Target::Column("path" | "name", _));
                let glob = Glob::parse(pattern);
                (
                    t,
                    Box::new(move |sql: &mut Sql, col: &str| glob.write(sql, col, ranged)),
                )
            }
            _ => return Ok(None),
        };
        Ok(Some(cond))
    }

    /// `cond` on the value of target `t` for the file `f`: on a column directly; on a
    /// metadata field, on the file's own value or else on the value its nearest directory
    /// holds.
    fn value_condition(&mut self, t: Target, f: &str, cond: Cond<'_>) -> Result<()> {
        match t {
            Target::Column(col, _) => {
                self.sql.push("(");
                cond(&mut self.sql, &format!("{f}.{col}"));
                self.sql.push(")");
            }
            Target::Meta(field) if self.probe && !field.on_dirs => {
                let col = value_column(field.ty);
                self.sql.push("EXISTS (SELECT 1 FROM file_meta m ");
                if self.probe_by_value && !self.sql.is_pg() {
                    // Each value column's index is named after it (the migrations).
                    self.sql.push("INDEXED BY file_meta_").push(col).push(" ");
                }
                self.sql
                    .push("WHERE m.file_id = ")
                    .push(f)
                    .push(".id AND m.field_id = ");
                self.sql.bind(Bind::Int(field.id)).push(" AND ");
                cond(&mut self.sql, &format!("m.{col}"));
                self.sql.push(")");
            }
            Target::Meta(field) => {
                let col = value_column(field.ty);
                self.sql
                    .push(f)
                    .push(".id IN (SELECT m.file_id FROM file_meta m WHERE m.field_id = ");
                self.sql.bind(Bind::Int(field.id)).push(" AND ");
                cond(&mut self.sql, &format!("m.{col}"));
                if field.on_dirs {
                    self.inherited(field, cond);
                }
                self.sql.push(")");
            }
        }
        Ok(())
    }

    /// ` UNION` the files without their own value whose nearest directory value meets `cond`.
    fn inherited(&mut self, field: FieldRef, cond: Cond<'_>) {
        let col = value_column(field.ty);
        let id = Bind::Int(field.id);
        self.sql
            .push(
                " UNION SELECT g.id FROM files g JOIN dir_closure c ON c.descendant = g.dir_id \
                 JOIN dir_meta d ON d.dir_id = c.ancestor AND d.field_id = ",
            )
            .bind(id.clone())
            .push(" WHERE ");
        cond(&mut self.sql, &format!("d.{col}"));
        self.sql
            .push(" AND NOT EXISTS (SELECT 1 FROM file_meta o WHERE o.file_id = g.id AND o.field_id = ")
            .bind(id.clone())
            .push(
                ") AND NOT EXISTS (SELECT 1 FROM dir_closure c2 JOIN dir_meta d2 ON d2.dir_id = c2.ancestor \
                 AND d2.field_id = ",
            )
            .bind(id)
            .push(" WHERE c2.descendant = g.dir_id AND c2.depth < c.depth)");
    }

    fn has(&mut self, field: &str, f: &str) -> Result<()> {
        if builtin_type(field).is_some() {
            self.sql.push("1 = 1");
            return Ok(());
        }
        match self.meta_field(field)? {
            None => {
                self.sql.push("1 = 0");
                Ok(())
            }
            Some(field) => {
                self.value_condition(Target::Meta(field), f, &|sql: &mut Sql, _col: &str| {
                    sql.push("1 = 1");
                })
            }
        }
    }

    fn dataset(&mut self, name: &str, f: &str) -> Result<()> {
        if self.datasets.iter().any(|d| d == name) {
            return Err(Error::bad(format!(
                "dataset \"{name}\" refers to itself: {} -> {name}",
                self.datasets.join(" -> ")
            )));
        }
        if self.datasets.len() >= MAX_DATASET_NESTING {
            return Err(Error::bad(format!(
                "datasets nest more than {MAX_DATASET_NESTING} deep"
            )));
        }
        match datasets::source(self.conn, name)? {
            Source::Dynamic(q) => {
                self.datasets.push(name.to_owned());
                self.predicate(&q.filter, f)?;
                self.datasets.pop();
            }
            Source::Frozen(id) => {
                self.sql
                    .push(f)
                    .push(".id IN (SELECT x.file_id FROM dataset_files x WHERE x.dataset_id = ")
                    .bind(Bind::Int(id))
                    .push(")");
            }
        }
        Ok(())
    }

    /// Files one of whose relatives matches `q`: found by walking the links from the
    /// files that match, towards the children (parent/ancestor) or the parents.
    fn related(
        &mut self,
        relation: Relation,
        q: &Expr,
        max_depth: Option<u32>,
        f: &str,
    ) -> Result<()> {
        let (from, to) = if relation.walks_down() {
            ("parent_id", "child_id")
        } else {
            ("child_id", "parent_id")
        };
        let inner = self.alias();
        let one_step =
            matches!(relation, Relation::Parent | Relation::Child) || max_depth == Some(1);
        self.sql.push(f).push(".id IN (");
        if one_step {
            self.sql
                .push("SELECT p.")
                .push(to)
                .push(" FROM file_parents p WHERE p.")
                .push(from);
            self.matching(q, &inner)?;
            self.sql.push(")");
            return Ok(());
        }
        let walk = format!("w{}", self.aliases);
        let depth = max_depth.map(i64::from);
        self.sql.push("WITH RECURSIVE ").push(&walk);
        self.sql.push(if depth.is_some() {
            "(node, depth)"
        } else {
            "(node)"
        });
        self.sql.push(" AS (SELECT p.").push(to);
        if depth.is_some() {
            self.sql.push(", 1");
        }
        self.sql.push(" FROM file_parents p WHERE p.").push(from);
        self.matching(q, &inner)?;
        self.sql.push(" UNION SELECT p.").push(to);
        if depth.is_some() {
            self.sql.push(", w.depth + 1");
        }
        self.sql
            .push(" FROM ")
            .push(&walk)
            .push(" w JOIN file_parents p ON p.")
            .push(from)
            .push(" = w.node");
        if let Some(d) = depth {
            self.sql.push(" WHERE w.depth < ").bind(Bind::Int(d));
        }
        self.sql.push(") SELECT node FROM ").push(&walk).push(")");
        Ok(())
    }

    /// ` IN (ids of the files matching q)`, scanning `files` as `alias`.
    fn matching(&mut self, q: &Expr, alias: &str) -> Result<()> {
        self.sql
            .push(" IN (SELECT ")
            .push(alias)
            .push(".id FROM files ")
            .push(alias)
            .push(" WHERE ");
        self.predicate(q, alias)?;
        self.sql.push(")");
        Ok(())
    }
}

fn cmp_sql(c: Cmp) -> &'static str {
    match c {
        Cmp::Eq => " = ",
        Cmp::Ne => " <> ",
        Cmp::Lt => " < ",
        Cmp::Le => " <= ",
        Cmp::Gt => " > ",
        Cmp::Ge => " >= ",
    }
}

/// A `~` pattern: `*` any run of characters, `?` one character, `\` makes the next
/// character literal.
#[derive(Debug, Clone, PartialEq)]
enum GlobPart {
    Lit(char),
    Any,
    One,
}

struct Glob(Vec<GlobPart>);

impl Glob {
    fn parse(pattern: &str) -> Glob {
        let mut parts = Vec::new();
        let mut chars = pattern.chars();
        while let Some(c) = chars.next() {
            parts.push(match c {
                '*' => GlobPart::Any,
                '?' => GlobPart::One,
                '\\' => GlobPart::Lit(chars.next().unwrap_or('\\')),
                c => GlobPart::Lit(c),
            });
        }
        Glob(parts)
    }

    /// The literal characters before the first wildcard.
    fn prefix(&self) -> String {
        self.0
            .iter()
            .map_while(|p| match p {
                GlobPart::Lit(c) => Some(*c),
                _ => None,
            })
            .collect()
    }

    fn is_literal(&self) -> bool {
        self.0.iter().all(|p| matches!(p, GlobPart::Lit(_)))
    }

    /// PostgreSQL LIKE, escaping with `\`.
    fn like(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                GlobPart::Any => out.push('%'),
                GlobPart::One => out.push('_'),
                GlobPart::Lit(c @ ('%' | '_' | '\\')) => {
                    out.push('\\');
                    out.push(*c);
                }
                GlobPart::Lit(c) => out.push(*c),
            }
        }
        out
    }

    /// SQLite GLOB (case-sensitive), literal metacharacters in brackets.
    fn sqlite_glob(&self) -> String {
        let mut out = String::new();
        for p in &self.0 {
            match p {
                GlobPart::Any => out.push('*'),
                GlobPart::One => out.push('?'),
                GlobPart::Lit(c @ ('*' | '?' | '[')) => {
                    out.push('[');
                    out.push(*c);
                    out.push(']');
                }
                GlobPart::Lit(c) => out.push(*c),
            }
        }
        out
    }

    fn write(&self, sql: &mut Sql, col: &str, ranged: bool) {
        if self.is_literal() {
            sql.push(col).push(" = ").bind(Bind::Text(self.prefix()));
            return;
        }
        let prefix = self.prefix();
        if ranged && !prefix.is_empty() {
            let mut upper = prefix.clone();
            upper.push(char::MAX);
            sql.push(col)
                .push(" >= ")
                .bind(Bind::Text(prefix))
                .push(" AND ");
            sql.push(col)
                .push(" < ")
                .bind(Bind::Text(upper))
                .push(" AND ");
        }
        if sql.is_pg() {
            sql.push(col)
                .push(" LIKE ")
                .bind(Bind::Text(self.like()))
                .push(" ESCAPE '\\'");
        } else {
            sql.push(col)
                .push(" GLOB ")
                .bind(Bind::Text(self.sqlite_glob()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_translations() {
        let g = Glob::parse("/a/*_x?.t\\*t");
        assert_eq!(g.prefix(), "/a/");
        assert_eq!(g.like(), "/a/%\\_x_.t*t");
        assert_eq!(g.sqlite_glob(), "/a/*_x?.t[*]t");
        assert!(Glob::parse("/a/b\\?").is_literal());
        assert_eq!(Glob::parse("/a/b\\?").prefix(), "/a/b?");
    }
}

//! Parent/child links between files: adding them (refusing cycles) and walking them.
//!
//! The walks are recursive CTEs, the one place where the SQL differs between backends: the
//! seed set of file ids is bound as an array on PostgreSQL and as a JSON array on SQLite.

use catalog_core::api::{FileLineage, ParentLinks, Relative, MAX_BATCH, MAX_DEPTH};
use diesel::prelude::*;
use diesel::sql_types::{BigInt, Integer};
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::auth::{Caller, Guard, Need};
use crate::db::schema::file_parents;
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files::{self, FileRow, ItemErrors};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Direction {
    Ancestors,
    Descendants,
}

#[derive(QueryableByName)]
struct Step {
    #[diesel(sql_type = BigInt)]
    origin: i64,
    #[diesel(sql_type = BigInt)]
    node: i64,
    #[diesel(sql_type = Integer)]
    depth: i32,
}

const SEED_PG: &str = "= ANY($1)";
const SEED_SQLITE: &str = "IN (SELECT value FROM json_each($1))";

/// Walks up (child_id -> parent_id) or down, from each seed, at most $2 generations.
fn walk_sql(direction: Direction, seed: &str) -> String {
    let (from, to) = match direction {
        Direction::Ancestors => ("child_id", "parent_id"),
        Direction::Descendants => ("parent_id", "child_id"),
    };
    "WITH RECURSIVE walk(origin, node, depth) AS ( \
       SELECT FROM_COL, TO_COL, 1 FROM file_parents WHERE FROM_COL SEED \
       UNION \
       SELECT w.origin, p.TO_COL, w.depth + 1 FROM walk w JOIN file_parents p ON p.FROM_COL = w.node WHERE w.depth < $2 \
     ) SELECT origin, node, MIN(depth) AS depth FROM walk GROUP BY origin, node"
        .replace("FROM_COL", from)
        .replace("TO_COL", to)
        .replace("SEED", seed)
}

/// Finds a seed that is its own ancestor, if any ($2 is unused but bound for symmetry).
fn cycle_sql(seed: &str) -> String {
    "WITH RECURSIVE walk(origin, node) AS ( \
       SELECT child_id, parent_id FROM file_parents WHERE child_id SEED \
       UNION \
       SELECT w.origin, p.parent_id FROM walk w JOIN file_parents p ON p.child_id = w.node \
     ) SELECT origin, node, $2 AS depth FROM walk WHERE origin = node LIMIT 1"
        .replace("SEED", seed)
}

fn run_walk(
    conn: &mut DbConn,
    sql_for: impl Fn(&str) -> String,
    seeds: &[i64],
    depth: i32,
) -> Result<Vec<Step>> {
    let mut out = Vec::new();
    for chunk in seeds.chunks(MAX_BATCH) {
        let steps: Vec<Step> = match conn {
            DbConn::Pg(c) => diesel::sql_query(sql_for(SEED_PG))
                .bind::<diesel::sql_types::Array<BigInt>, _>(chunk)
                .bind::<Integer, _>(depth)
                .load(c)?,
            DbConn::Sqlite(c) => {
                let json =
                    serde_json::to_string(chunk).map_err(|e| Error::Internal(e.to_string()))?;
                diesel::sql_query(sql_for(SEED_SQLITE))
                    .bind::<diesel::sql_types::Text, _>(json)
                    .bind::<Integer, _>(depth)
                    .load(c)?
            }
        };
        out.extend(steps);
    }
    Ok(out)
}

/// A file among `children` that has become its own ancestor, if any.
pub fn find_cycle(conn: &mut DbConn, children: &[i64]) -> Result<Option<i64>> {
    Ok(run_walk(conn, cycle_sql, children, 0)?
        .first()
        .map(|s| s.origin))
}

/// Ancestors or descendants of each file in `lfns`, at most `depth` generations away, each
/// with its nearest distance; a constant number of statements whatever the count.
pub fn lineage(
    conn: &mut DbConn,
    caller: &Caller,
    lfns: &[String],
    direction: Direction,
    depth: Option<u32>,
) -> Result<Vec<FileLineage>> {
    let depth = depth.unwrap_or(1);
    if depth == 0 || depth > MAX_DEPTH {
        return Err(Error::bad(format!(
            "depth must be between 1 and {MAX_DEPTH}, got {depth}"
        )));
    }
    let rows = files::require(conn, lfns)?;
    let mut guard = Guard::new(caller);
    guard.files(conn, &rows, Need::Read)?;
    let ids: Vec<i64> = rows.iter().map(|f| f.id).collect();
    let steps = run_walk(conn, |seed| walk_sql(direction, seed), &ids, depth as i32)?;
    let related: Vec<i64> = steps
        .iter()
        .map(|s| s.node)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    // Relatives the caller may not read are left out.
    let names: HashMap<i64, String> = if caller.admin {
        files::paths_by_ids(conn, &related)?
    } else {
        let found = files::by_ids(conn, &related)?;
        guard
            .readable(conn, found, |f| f)?
            .into_iter()
            .map(|f| (f.id, f.path))
            .collect()
    };
    let mut by_origin: HashMap<i64, Vec<Relative>> = HashMap::new();
    for s in steps {
        if let Some(lfn) = names.get(&s.node) {
            by_origin.entry(s.origin).or_default().push(Relative {
                lfn: lfn.clone(),
                depth: s.depth as u32,
            });
        }
    }
    Ok(rows
        .into_iter()
        .map(|f| {
            let mut relatives = by_origin.remove(&f.id).unwrap_or_default();
            relatives.sort_by(|a, b| (a.depth, &a.lfn).cmp(&(b.depth, &b.lfn)));
            FileLineage {
                lfn: f.path,
                relatives,
            }
        })
        .collect())
}

/// Adds parent links; links that exist already are kept as they are. A link to a missing
/// file, to itself, or one that would make a cycle refuses the whole request.
pub fn add_links(conn: &mut DbConn, caller: &Caller, links: &[ParentLinks]) -> Result<usize> {
    let total: usize = links.iter().map(|l| l.parents.len()).sum();
    if total > MAX_BATCH {
        return Err(Error::TooLarge(format!(
            "{total} links in one call; at most {MAX_BATCH}"
        )));
    }
    let mut names: BTreeSet<String> = BTreeSet::new();
    for l in links {
        files::check_lfns(std::slice::from_ref(&l.child))?;
        files::check_lfns(&l.parents)?;
        names.insert(l.child.clone());
        names.extend(l.parents.iter().cloned());
    }
    let names: Vec<String> = names.into_iter().collect();
    if !caller.admin {
        // Linking changes the child (w) and reveals the parent (r).
        let rows = files::by_paths(conn, &names)?;
        let children: Vec<FileRow> = links
            .iter()
            .filter_map(|l| rows.get(&l.child).cloned())
            .collect();
        let parents: Vec<FileRow> = links
            .iter()
            .flat_map(|l| l.parents.iter().filter_map(|p| rows.get(p).cloned()))
            .collect();
        let mut guard = Guard::new(caller);
        guard.files(conn, &children, Need::Write)?;
        guard.files(conn, &parents, Need::Read)?;
    }
    let ids = files::ids_by_paths(conn, &names)?;
    let mut errors = ItemErrors::default();
    let mut wanted: BTreeSet<(i64, i64)> = BTreeSet::new();
    for (i, l) in links.iter().enumerate() {
        let Some(child) = ids.get(&l.child) else {
            errors.push(i, &l.child, format!("no such file: {}", l.child));
            continue;
        };
        for p in &l.parents {
            match ids.get(p) {
                None => errors.push(i, &l.child, format!("no such parent file: {p}")),
                Some(parent) if parent == child => {
                    errors.push(i, &l.child, "a file cannot be its own parent")
                }
                Some(parent) => {
                    wanted.insert((*child, *parent));
                }
            }
        }
    }
    errors.into_result("adding parents")?;
    let children: Vec<i64> = wanted
        .iter()
        .map(|(c, _)| *c)
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let mut existing: HashSet<(i64, i64)> = HashSet::new();
    for chunk in children.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, i64)> = file_parents::table
            .filter(file_parents::child_id.eq_any(chunk))
            .select((file_parents::child_id, file_parents::parent_id))
            .load(conn)?;
        existing.extend(rows);
    }
    let new: Vec<_> = wanted
        .iter()
        .filter(|l| !existing.contains(l))
        .map(|(c, p)| {
            (
                file_parents::child_id.eq(*c),
                file_parents::parent_id.eq(*p),
            )
        })
        .collect();
    for chunk in new.chunks(rows_per_statement(2)) {
        crate::insert_rows!(conn, file_parents::table, chunk)?;
    }
    if let Some(child) = find_cycle(conn, &children)? {
        let by_id: HashMap<i64, &String> = ids.iter().map(|(k, v)| (*v, k)).collect();
        let name = by_id.get(&child).map(|s| s.as_str()).unwrap_or("?");
        let index = links.iter().position(|l| l.child == name).unwrap_or(0);
        let mut errors = ItemErrors::default();
        errors.push(
            index,
            name,
            format!("link would make a cycle: {name} would be its own ancestor"),
        );
        errors.into_result("adding parents")?;
    }
    Ok(new.len())
}

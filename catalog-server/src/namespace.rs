//! The directory tree: creating, listing, moving and removing directories, and resolving
//! paths. Files live in `files`; this module only finds them by path.

use catalog_core::api::{DirInfo, Entry, Listing};
use catalog_core::lfn;
use chrono::{NaiveDateTime, SubsecRound, Utc};
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};

use crate::auth::{access, Caller, Guard, Need};
use crate::db::schema::{dir_closure, directories, files};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files::FileRow;

/// Who owns what is created while auth is `open`.
pub const LOCAL_USER: &str = "local";
pub const DIR_MODE: i32 = 0o775;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = directories)]
pub struct Dir {
    pub id: i64,
    pub parent_id: Option<i64>,
    pub name: String,
    pub path: String,
    pub owner: String,
    pub grp: String,
    pub mode: i32,
    pub created: NaiveDateTime,
}

impl Dir {
    pub fn info(&self) -> DirInfo {
        DirInfo {
            path: self.path.clone(),
            owner: self.owner.clone(),
            group: self.grp.clone(),
            mode: self.mode,
            created: self.created,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = directories)]
struct NewDir<'a> {
    parent_id: Option<i64>,
    name: &'a str,
    path: &'a str,
    owner: &'a str,
    grp: &'a str,
    mode: i32,
    created: NaiveDateTime,
}

/// The time now, to the microsecond: what PostgreSQL keeps, so both databases hold (and
/// dumps carry) the same times.
pub fn now() -> NaiveDateTime {
    Utc::now().naive_utc().trunc_subsecs(6)
}

/// Bounds of the paths strictly below `path`, for a range scan on a path index:
/// (exclusive lower, exclusive upper). `'0'` is the byte after `'/'`.
pub fn subtree_bounds(path: &str) -> (String, Option<String>) {
    if path == "/" {
        ("/".to_owned(), None)
    } else {
        (format!("{path}/"), Some(format!("{path}0")))
    }
}

pub fn find_dir(conn: &mut DbConn, path: &str) -> Result<Option<Dir>> {
    Ok(directories::table
        .filter(directories::path.eq(path))
        .select(Dir::as_select())
        .first(conn)
        .optional()?)
}

pub fn get_dir(conn: &mut DbConn, path: &str) -> Result<Dir> {
    lfn::validate(path)?;
    find_dir(conn, path)?.ok_or_else(|| Error::not_found(format!("no such directory: {path}")))
}

/// The directories among `paths` that exist, by path.
pub fn dirs_by_paths(conn: &mut DbConn, paths: &[String]) -> Result<HashMap<String, Dir>> {
    let mut out = HashMap::with_capacity(paths.len());
    for chunk in paths.chunks(rows_per_statement(1)) {
        let rows: Vec<Dir> = directories::table
            .filter(directories::path.eq_any(chunk))
            .select(Dir::as_select())
            .load(conn)?;
        out.extend(rows.into_iter().map(|d| (d.path.clone(), d)));
    }
    Ok(out)
}

fn insert_dir(conn: &mut DbConn, parent: &Dir, path: &str, owner: &str) -> Result<Dir> {
    let (_, name) = lfn::split(path);
    let new = NewDir {
        parent_id: Some(parent.id),
        name,
        path,
        owner,
        // A new directory belongs to its parent's group, as with setgid directories: a
        // collaboration's tree stays its group's.
        grp: &parent.grp,
        mode: DIR_MODE,
        created: now(),
    };
    // Another transaction may create the same directory at the same moment (two jobs
    // registering outputs side by side): then it is simply there.
    let inserted = match conn {
        DbConn::Pg(c) => diesel::insert_into(directories::table)
            .values(&new)
            .on_conflict_do_nothing()
            .execute(c)?,
        DbConn::Sqlite(c) => diesel::insert_into(directories::table)
            .values(&new)
            .on_conflict_do_nothing()
            .execute(c)?,
    };
    let dir = find_dir(conn, path)?
        .ok_or_else(|| Error::Internal(format!("directory {path} vanished after insert")))?;
    if inserted == 0 {
        return Ok(dir);
    }
    let above: Vec<(i64, i32)> = dir_closure::table
        .filter(dir_closure::descendant.eq(parent.id))
        .select((dir_closure::ancestor, dir_closure::depth))
        .load(conn)?;
    let mut rows: Vec<_> = above
        .into_iter()
        .map(|(a, d)| {
            (
                dir_closure::ancestor.eq(a),
                dir_closure::descendant.eq(dir.id),
                dir_closure::depth.eq(d + 1),
            )
        })
        .collect();
    rows.push((
        dir_closure::ancestor.eq(dir.id),
        dir_closure::descendant.eq(dir.id),
        dir_closure::depth.eq(0),
    ));
    crate::insert_rows!(conn, dir_closure::table, &rows)?;
    Ok(dir)
}

/// Refuses to create directories where files already are.
fn refuse_files_at(conn: &mut DbConn, paths: &[String]) -> Result<()> {
    for chunk in paths.chunks(rows_per_statement(1)) {
        let clash: Option<String> = files::table
            .filter(files::path.eq_any(chunk))
            .select(files::path)
            .first(conn)
            .optional()?;
        if let Some(p) = clash {
            return Err(Error::conflict(format!("a file exists at {p}")));
        }
    }
    Ok(())
}

/// Makes sure each directory in `wanted` exists, creating missing ones (and their parents)
/// when `create` is set; otherwise a missing one is an error naming it.
pub fn ensure_dirs(
    conn: &mut DbConn,
    wanted: &BTreeSet<String>,
    create: bool,
    owner: &str,
) -> Result<HashMap<String, Dir>> {
    let mut all: BTreeSet<String> = BTreeSet::new();
    for p in wanted {
        all.insert(p.clone());
        if create {
            all.extend(lfn::ancestors(p));
        }
    }
    let all: Vec<String> = all.into_iter().collect();
    let mut found = dirs_by_paths(conn, &all)?;
    let missing: Vec<String> = all
        .iter()
        .filter(|p| !found.contains_key(*p))
        .cloned()
        .collect();
    if missing.is_empty() {
        return Ok(found);
    }
    if !create {
        let shown: Vec<&str> = missing.iter().take(5).map(String::as_str).collect();
        let more = if missing.len() > 5 {
            format!(" and {} more", missing.len() - 5)
        } else {
            String::new()
        };
        return Err(Error::not_found(format!(
            "no such directory: {}{more} (create it with mkdir -p)",
            shown.join(", ")
        )));
    }
    refuse_files_at(conn, &missing)?;
    // Sorted order puts each parent before its children.
    for path in missing {
        let (parent_path, _) = lfn::split(&path);
        let parent = found
            .get(parent_path)
            .cloned()
            .ok_or_else(|| Error::Internal(format!("parent of {path} missing")))?;
        let dir = insert_dir(conn, &parent, &path, owner)?;
        found.insert(path, dir);
    }
    Ok(found)
}

pub fn mkdir(conn: &mut DbConn, path: &str, parents: bool, owner: &str) -> Result<Dir> {
    lfn::validate(path)?;
    if let Some(existing) = find_dir(conn, path)? {
        if parents {
            return Ok(existing);
        }
        return Err(Error::conflict(format!("directory exists: {path}")));
    }
    refuse_files_at(conn, &[path.to_owned()])?;
    if !parents {
        let (parent_path, _) = lfn::split(path);
        let parent = find_dir(conn, parent_path)?.ok_or_else(|| {
            Error::not_found(format!(
                "no such directory: {parent_path} (use mkdir -p to create parents)"
            ))
        })?;
        return insert_dir(conn, &parent, path, owner);
    }
    let mut dirs = ensure_dirs(conn, &BTreeSet::from([path.to_owned()]), true, owner)?;
    dirs.remove(path)
        .ok_or_else(|| Error::Internal(format!("directory {path} not created")))
}

/// A file or directory at `path`.
pub fn stat(conn: &mut DbConn, path: &str) -> Result<Entry> {
    lfn::validate(path)?;
    if let Some(d) = find_dir(conn, path)? {
        return Ok(Entry::Dir(d.info()));
    }
    match crate::files::find(conn, path)? {
        Some(f) => Ok(Entry::File(f.info())),
        None => Err(Error::not_found(format!(
            "no such file or directory: {path}"
        ))),
    }
}

pub const DEFAULT_PAGE: usize = 1000;
pub const MAX_PAGE: usize = 10_000;

/// One page of the entries of a directory (or of its whole subtree), directories first,
/// each group in path order. The cursor is the kind and path of the last entry returned.
pub fn list(
    conn: &mut DbConn,
    caller: &Caller,
    path: &str,
    recursive: bool,
    cursor: Option<&str>,
    limit: Option<usize>,
) -> Result<Listing> {
    let dir = get_dir(conn, path)?;
    Guard::new(caller).dir(conn, &dir, Need::Read)?;
    let limit = limit.unwrap_or(DEFAULT_PAGE).clamp(1, MAX_PAGE);
    let (phase, after) = match cursor {
        None => ('d', String::new()),
        Some(c) => match c.split_once(':') {
            Some(("d", p)) => ('d', p.to_owned()),
            Some(("f", p)) => ('f', p.to_owned()),
            _ => return Err(Error::bad(format!("invalid cursor {c:?}"))),
        },
    };
    let (lower, upper) = subtree_bounds(&dir.path);
    let lower = if after > lower { after.clone() } else { lower };
    let mut entries = Vec::new();
    if phase == 'd' {
        let mut q = directories::table
            .select(Dir::as_select())
            .filter(directories::path.gt(&lower))
            .into_boxed();
        if recursive {
            if let Some(u) = &upper {
                q = q.filter(directories::path.lt(u.clone()));
            }
        } else {
            q = q.filter(directories::parent_id.eq(dir.id));
        }
        let dirs: Vec<Dir> = q
            .order(directories::path)
            .limit(limit as i64 + 1)
            .load(conn)?;
        let more = dirs.len() > limit;
        entries.extend(dirs.into_iter().take(limit).map(|d| Entry::Dir(d.info())));
        if more {
            let next = entries.last().map(|e| format!("d:{}", e.path()));
            return Ok(Listing {
                path: dir.path,
                entries,
                next_cursor: next,
            });
        }
    }
    let room = limit - entries.len();
    let file_lower = if phase == 'f' {
        lower
    } else {
        subtree_bounds(&dir.path).0
    };
    let mut q = files::table
        .select(FileRow::as_select())
        .filter(files::path.gt(file_lower))
        .into_boxed();
    if recursive {
        if let Some(u) = upper {
            q = q.filter(files::path.lt(u));
        }
    } else {
        q = q.filter(files::dir_id.eq(dir.id));
    }
    let found: Vec<FileRow> = if room == 0 {
        Vec::new()
    } else {
        q.order(files::path).limit(room as i64 + 1).load(conn)?
    };
    let more = found.len() > room || (room == 0 && has_files(conn, &dir, recursive)?);
    entries.extend(found.into_iter().take(room).map(|f| Entry::File(f.info())));
    let next_cursor = if more {
        entries.last().map(|e| match e {
            Entry::Dir(d) => format!("d:{}", d.path),
            Entry::File(f) => format!("f:{}", f.lfn),
        })
    } else {
        None
    };
    // The cursor is past what was read; what lies below a directory the caller may not read
    // is left out of the page.
    if recursive && !caller.admin {
        hide_unreadable(conn, caller, &dir, &mut entries)?;
    }
    Ok(Listing {
        path: dir.path,
        entries,
        next_cursor,
    })
}

fn hide_unreadable(
    conn: &mut DbConn,
    caller: &Caller,
    dir: &Dir,
    entries: &mut Vec<Entry>,
) -> Result<()> {
    let hidden: Vec<String> = dirs_below(conn, dir)?
        .into_iter()
        .filter(|d| access::bits(caller, &d.owner, &d.grp, d.mode) & access::READ == 0)
        .map(|d| format!("{}/", d.path))
        .collect();
    if !hidden.is_empty() {
        entries.retain(|e| !hidden.iter().any(|h| e.path().starts_with(h.as_str())));
    }
    Ok(())
}

fn has_files(conn: &mut DbConn, dir: &Dir, recursive: bool) -> Result<bool> {
    let q = files::table.select(files::id).into_boxed();
    let q = if recursive {
        let (lower, upper) = subtree_bounds(&dir.path);
        let q = q.filter(files::path.gt(lower));
        match upper {
            Some(u) => q.filter(files::path.lt(u)),
            None => q,
        }
    } else {
        q.filter(files::dir_id.eq(dir.id))
    };
    Ok(q.first::<i64>(conn).optional()?.is_some())
}

/// Whether the directory holds anything.
pub fn is_empty(conn: &mut DbConn, dir: &Dir) -> Result<bool> {
    let sub: Option<i64> = directories::table
        .filter(directories::parent_id.eq(dir.id))
        .select(directories::id)
        .first(conn)
        .optional()?;
    Ok(sub.is_none() && !has_files(conn, dir, false)?)
}

/// Files (as rows) anywhere below `dir`.
/// `dir` and every directory below it.
pub fn dirs_below(conn: &mut DbConn, dir: &Dir) -> Result<Vec<Dir>> {
    Ok(dir_closure::table
        .inner_join(directories::table.on(directories::id.eq(dir_closure::descendant)))
        .filter(dir_closure::ancestor.eq(dir.id))
        .select(Dir::as_select())
        .load(conn)?)
}

pub fn files_below(conn: &mut DbConn, dir: &Dir) -> Result<Vec<FileRow>> {
    let (lower, upper) = subtree_bounds(&dir.path);
    let q = files::table
        .select(FileRow::as_select())
        .filter(files::path.gt(lower))
        .into_boxed();
    let q = match upper {
        Some(u) => q.filter(files::path.lt(u)),
        None => q,
    };
    Ok(q.order(files::path).load(conn)?)
}

/// Deletes `dir` and every directory below it; the files below must be gone already.
pub fn delete_subtree(conn: &mut DbConn, dir: &Dir) -> Result<usize> {
    let ids: Vec<i64> = dir_closure::table
        .filter(dir_closure::ancestor.eq(dir.id))
        .select(dir_closure::descendant)
        .load(conn)?;
    let mut deleted = 0;
    // Deepest first, so no directory outlives... its parent reference.
    let mut by_depth: Vec<(i64, usize)> = directories::table
        .filter(directories::id.eq_any(&ids))
        .select((directories::id, directories::path))
        .load::<(i64, String)>(conn)?
        .into_iter()
        .map(|(id, p)| (id, p.matches('/').count()))
        .collect();
    by_depth.sort_by_key(|d| std::cmp::Reverse(d.1));
    for chunk in by_depth.chunks(rows_per_statement(1)) {
        let chunk_ids: Vec<i64> = chunk.iter().map(|(id, _)| *id).collect();
        diesel::delete(
            crate::db::schema::dir_meta::table
                .filter(crate::db::schema::dir_meta::dir_id.eq_any(&chunk_ids)),
        )
        .execute(conn)?;
        diesel::delete(dir_closure::table.filter(dir_closure::descendant.eq_any(&chunk_ids)))
            .execute(conn)?;
    }
    // Deepest first, a whole level at a time: no directory of a level is another's parent.
    for level in by_depth.chunk_by(|a, b| a.1 == b.1) {
        let ids: Vec<i64> = level.iter().map(|(id, _)| *id).collect();
        for chunk in ids.chunks(rows_per_statement(1)) {
            deleted += diesel::delete(directories::table.filter(directories::id.eq_any(chunk)))
                .execute(conn)?;
        }
    }
    Ok(deleted)
}

diesel::define_sql_function! {
    /// The text from character `start` on (1-based), on both databases.
    fn substr(text: diesel::sql_types::Text, start: diesel::sql_types::Integer) -> diesel::sql_types::Text;
}

/// Moves a file or a directory (with everything below it). When `dst` is an existing
/// directory, `src` moves into it.
pub fn move_path(conn: &mut DbConn, caller: &Caller, src: &str, dst: &str) -> Result<Entry> {
    lfn::validate_file(src)?;
    lfn::validate_file(dst)?;
    let dst = match find_dir(conn, dst)? {
        Some(d) => lfn::join(&d.path, lfn::split(src).1),
        None => dst.to_owned(),
    };
    if dst == src {
        return Err(Error::bad(format!("{src} is already there")));
    }
    if find_dir(conn, &dst)?.is_some() || crate::files::find(conn, &dst)?.is_some() {
        return Err(Error::conflict(format!("destination exists: {dst}")));
    }
    let (dst_parent_path, dst_name) = lfn::split(&dst);
    let dst_parent = find_dir(conn, dst_parent_path)?
        .ok_or_else(|| Error::not_found(format!("no such directory: {dst_parent_path}")))?;
    let mut guard = Guard::new(caller);
    guard.dir(conn, &dst_parent, Need::Write)?;
    if let Some(f) = crate::files::find(conn, src)? {
        guard.files(conn, std::slice::from_ref(&f), Need::Write)?;
        diesel::update(files::table.find(f.id))
            .set((
                files::dir_id.eq(dst_parent.id),
                files::name.eq(dst_name),
                files::path.eq(&dst),
                files::modified.eq(now()),
            ))
            .execute(conn)?;
        return stat(conn, &dst);
    }
    let dir = find_dir(conn, src)?
        .ok_or_else(|| Error::not_found(format!("no such file or directory: {src}")))?;
    if dst.starts_with(&format!("{src}/")) {
        return Err(Error::bad(format!("cannot move {src} into itself ({dst})")));
    }
    access::check_create(conn, caller, [src])?;
    move_dir(conn, &dir, &dst_parent, &dst)?;
    stat(conn, &dst)
}

fn move_dir(conn: &mut DbConn, dir: &Dir, new_parent: &Dir, dst: &str) -> Result<()> {
    let start = dir.path.chars().count() as i32 + 1;
    let (lower, upper) = subtree_bounds(&dir.path);
    let upper = upper.ok_or_else(|| Error::bad("cannot move the root directory"))?;
    let rebased = || {
        dst.to_owned()
            .into_sql::<diesel::sql_types::Text>()
            .concat(substr(directories::path, start))
    };
    diesel::update(
        directories::table
            .filter(directories::path.gt(&lower))
            .filter(directories::path.lt(&upper)),
    )
    .set(directories::path.eq(rebased()))
    .execute(conn)?;
    let rebased_file = dst
        .to_owned()
        .into_sql::<diesel::sql_types::Text>()
        .concat(substr(files::path, start));
    diesel::update(
        files::table
            .filter(files::path.gt(&lower))
            .filter(files::path.lt(&upper)),
    )
    .set(files::path.eq(rebased_file))
    .execute(conn)?;
    let (_, name) = lfn::split(dst);
    diesel::update(directories::table.find(dir.id))
        .set((
            directories::path.eq(dst),
            directories::name.eq(name),
            directories::parent_id.eq(new_parent.id),
        ))
        .execute(conn)?;

    // Re-link the subtree in the closure table: drop its links to its old ancestors, add
    // links to each new ancestor.
    let subtree: Vec<(i64, i32)> = dir_closure::table
        .filter(dir_closure::ancestor.eq(dir.id))
        .select((dir_closure::descendant, dir_closure::depth))
        .load(conn)?;
    // The subtree's ancestors outside it are exactly the moved directory's own (old) ancestors.
    let old_above: Vec<i64> = dir_closure::table
        .filter(dir_closure::descendant.eq(dir.id))
        .filter(dir_closure::ancestor.ne(dir.id))
        .select(dir_closure::ancestor)
        .load(conn)?;
    let inside: Vec<i64> = subtree.iter().map(|(d, _)| *d).collect();
    for chunk in inside.chunks(rows_per_statement(1) - old_above.len()) {
        diesel::delete(
            dir_closure::table
                .filter(dir_closure::descendant.eq_any(chunk))
                .filter(dir_closure::ancestor.eq_any(&old_above)),
        )
        .execute(conn)?;
    }
    let above: Vec<(i64, i32)> = dir_closure::table
        .filter(dir_closure::descendant.eq(new_parent.id))
        .select((dir_closure::ancestor, dir_closure::depth))
        .load(conn)?;
    let rows: Vec<_> = above
        .iter()
        .flat_map(|(a, da)| {
            subtree.iter().map(move |(d, dd)| {
                (
                    dir_closure::ancestor.eq(*a),
                    dir_closure::descendant.eq(*d),
                    dir_closure::depth.eq(da + dd + 1),
                )
            })
        })
        .collect();
    for chunk in rows.chunks(rows_per_statement(3)) {
        crate::insert_rows!(conn, dir_closure::table, chunk)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subtree_bounds_cover_exactly_the_paths_below() {
        let (lo, hi) = subtree_bounds("/a");
        let hi = hi.unwrap_or_default();
        for inside in ["/a/b", "/a/ ", "/a/~~~", "/a/b/c"] {
            assert!(inside > lo.as_str() && inside < hi.as_str(), "{inside}");
        }
        for outside in ["/a", "/a-b", "/a.b/c", "/ab", "/a0", "/b"] {
            assert!(
                !(outside > lo.as_str() && outside < hi.as_str()),
                "{outside}"
            );
        }
        assert_eq!(subtree_bounds("/"), ("/".to_owned(), None));
    }
}

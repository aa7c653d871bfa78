//! Permissions, DFC-style: every directory and file has an owner, a group and mode bits
//! (`rwx` for owner, group and others; files use `rw`). Reading a directory's listing and its
//! files needs `r` on it; registering, removing or changing anything in it needs `w`. A
//! directory the caller may not read hides everything below it. Admins may do anything.

use catalog_core::lfn;
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap};

use super::Caller;
use crate::db::schema::{dir_closure, directories};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::files::FileRow;
use crate::namespace::Dir;
use crate::query::sql::{Bind, Sql};

pub const READ: i32 = 4;
pub const WRITE: i32 = 2;

/// What an operation needs on a directory or file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Need {
    Read,
    Write,
}

impl Need {
    fn bit(self) -> i32 {
        match self {
            Need::Read => READ,
            Need::Write => WRITE,
        }
    }

    fn verb(self) -> &'static str {
        match self {
            Need::Read => "read",
            Need::Write => "write",
        }
    }

    fn letter(self) -> &'static str {
        match self {
            Need::Read => "r",
            Need::Write => "w",
        }
    }
}

/// The `rwx` bits that apply to `caller` on something owned by `owner` and `grp`.
pub fn bits(caller: &Caller, owner: &str, grp: &str, mode: i32) -> i32 {
    if caller.admin {
        7
    } else if caller.name == owner {
        (mode >> 6) & 7
    } else if caller.groups.iter().any(|g| g == grp) {
        (mode >> 3) & 7
    } else {
        mode & 7
    }
}

/// `rwxr-x---` for 0o750.
pub fn mode_string(mode: i32) -> String {
    let mut s = String::with_capacity(9);
    for shift in [6, 3, 0] {
        let b = (mode >> shift) & 7;
        s.push(if b & 4 != 0 { 'r' } else { '-' });
        s.push(if b & 2 != 0 { 'w' } else { '-' });
        s.push(if b & 1 != 0 { 'x' } else { '-' });
    }
    s
}

fn denial(
    caller: &Caller,
    need: Need,
    what: &str,
    on: &str,
    owner: &str,
    grp: &str,
    mode: i32,
) -> Error {
    Error::Forbidden(format!(
        "{} may not {} {what}: it needs {} on {on} (owner {owner}, group {grp}, {})",
        caller.name,
        need.verb(),
        need.letter(),
        mode_string(mode)
    ))
}

/// What the caller may do in one directory: its bits there, or why it cannot see into it.
#[derive(Debug, Clone)]
enum Verdict {
    Bits {
        bits: i32,
        dir: Dir,
    },
    /// An ancestor (or the directory itself) the caller may not read.
    Hidden(Dir),
}

/// Permission checks for one caller, remembering each directory it has looked at.
pub struct Guard<'a> {
    caller: &'a Caller,
    dirs: HashMap<i64, Verdict>,
}

impl<'a> Guard<'a> {
    pub fn new(caller: &'a Caller) -> Guard<'a> {
        Guard {
            caller,
            dirs: HashMap::new(),
        }
    }

    /// Loads the verdicts of `ids` not seen yet: each directory with its ancestors.
    fn load(&mut self, conn: &mut DbConn, ids: &[i64]) -> Result<()> {
        let missing: Vec<i64> = ids
            .iter()
            .copied()
            .filter(|id| !self.dirs.contains_key(id))
            .collect();
        for chunk in missing.chunks(rows_per_statement(1)) {
            let rows: Vec<(i64, i32, Dir)> = dir_closure::table
                .inner_join(directories::table.on(directories::id.eq(dir_closure::ancestor)))
                .filter(dir_closure::descendant.eq_any(chunk))
                .select((
                    dir_closure::descendant,
                    dir_closure::depth,
                    Dir::as_select(),
                ))
                .load(conn)?;
            let mut chains: HashMap<i64, Vec<(i32, Dir)>> = HashMap::new();
            for (d, depth, dir) in rows {
                chains.entry(d).or_default().push((depth, dir));
            }
            for (id, mut chain) in chains {
                // From the root down: the first unreadable directory hides the rest.
                chain.sort_by_key(|(depth, _)| -depth);
                let mut verdict = None;
                for (depth, dir) in chain {
                    let b = bits(self.caller, &dir.owner, &dir.grp, dir.mode);
                    if depth == 0 {
                        verdict.get_or_insert(Verdict::Bits { bits: b, dir });
                    } else if b & READ == 0 && verdict.is_none() {
                        verdict = Some(Verdict::Hidden(dir));
                    }
                }
                if let Some(v) = verdict {
                    self.dirs.insert(id, v);
                }
            }
        }
        Ok(())
    }

    fn verdict(&mut self, conn: &mut DbConn, id: i64) -> Result<&Verdict> {
        self.load(conn, &[id])?;
        self.loaded(id)
    }

    fn loaded(&self, id: i64) -> Result<&Verdict> {
        self.dirs
            .get(&id)
            .ok_or_else(|| Error::not_found(format!("directory {id} vanished")))
    }

    /// `need` on the directory `dir` itself (reading its listing, writing in it).
    pub fn dir(&mut self, conn: &mut DbConn, dir: &Dir, need: Need) -> Result<()> {
        self.dir_for(conn, dir, need, &dir.path)
    }

    /// `need` on `dir` for something done to `what` (a path in it, or itself).
    pub fn dir_for(&mut self, conn: &mut DbConn, dir: &Dir, need: Need, what: &str) -> Result<()> {
        if self.caller.admin {
            return Ok(());
        }
        let caller = self.caller;
        match self.verdict(conn, dir.id)? {
            Verdict::Hidden(h) => Err(denial(
                caller,
                Need::Read,
                what,
                &h.path,
                &h.owner,
                &h.grp,
                h.mode,
            )),
            Verdict::Bits { bits, dir: d } if *bits & need.bit() == 0 => Err(denial(
                caller, need, what, &d.path, &d.owner, &d.grp, d.mode,
            )),
            Verdict::Bits { .. } => Ok(()),
        }
    }

    /// Whether the caller may see into a directory already loaded (it and every directory
    /// above it readable).
    fn sees_into(&self, dir_id: i64) -> bool {
        self.caller.admin
            || matches!(self.dirs.get(&dir_id), Some(Verdict::Bits { bits, .. }) if bits & READ != 0)
    }

    /// `need` on each of `files`: the same on its directory, and on the file itself.
    pub fn files(&mut self, conn: &mut DbConn, files: &[FileRow], need: Need) -> Result<()> {
        if self.caller.admin {
            return Ok(());
        }
        let ids: Vec<i64> = files.iter().map(|f| f.dir_id).collect();
        self.load(conn, &ids)?;
        for f in files {
            match self.loaded(f.dir_id)? {
                Verdict::Hidden(h) => {
                    return Err(denial(
                        self.caller,
                        Need::Read,
                        &f.path,
                        &h.path,
                        &h.owner,
                        &h.grp,
                        h.mode,
                    ))
                }
                Verdict::Bits { bits, dir } if *bits & need.bit() == 0 => {
                    return Err(denial(
                        self.caller,
                        need,
                        &f.path,
                        &dir.path,
                        &dir.owner,
                        &dir.grp,
                        dir.mode,
                    ))
                }
                Verdict::Bits { .. } => {}
            }
            if bits(self.caller, &f.owner, &f.grp, f.mode) & need.bit() == 0 {
                return Err(denial(
                    self.caller,
                    need,
                    &f.path,
                    &f.path,
                    &f.owner,
                    &f.grp,
                    f.mode,
                ));
            }
        }
        Ok(())
    }

    /// Of `files`, those the caller may read.
    pub fn readable<T>(
        &mut self,
        conn: &mut DbConn,
        files: Vec<T>,
        row: impl Fn(&T) -> &FileRow,
    ) -> Result<Vec<T>> {
        if self.caller.admin {
            return Ok(files);
        }
        let ids: Vec<i64> = files.iter().map(|f| row(f).dir_id).collect();
        self.load(conn, &ids)?;
        let mut out = Vec::with_capacity(files.len());
        for f in files {
            let r = row(&f);
            if self.sees_into(r.dir_id) && bits(self.caller, &r.owner, &r.grp, r.mode) & READ != 0 {
                out.push(f);
            }
        }
        Ok(out)
    }

    /// Only the owner of `dir` (or an admin) may change its owner, group or mode.
    pub fn owns(&self, what: &str, owner: &str) -> Result<()> {
        if self.caller.admin || self.caller.name == owner {
            Ok(())
        } else {
            Err(Error::Forbidden(format!(
                "{} may not change {what}: only its owner ({owner}) or an admin may",
                self.caller.name
            )))
        }
    }
}

/// Only admins.
pub fn admin(caller: &Caller, what: &str) -> Result<()> {
    if caller.admin {
        Ok(())
    } else {
        Err(Error::Forbidden(format!(
            "{} may not {what}: it needs the admin role",
            caller.name
        )))
    }
}

/// Appends ` AND <file f readable by caller>` to a query over `files f`: the file's bits, and
/// no directory on its path unreadable. Nothing for admins.
pub fn restrict(sql: &mut Sql, caller: &Caller, f: &str) {
    if caller.admin {
        return;
    }
    sql.push(" AND ");
    readable_sql(sql, caller, f);
    sql.push(" AND NOT EXISTS (SELECT 1 FROM dir_closure vc JOIN directories vd ON vd.id = vc.ancestor WHERE vc.descendant = ")
        .push(f)
        .push(".dir_id AND NOT ");
    readable_sql(sql, caller, "vd");
    sql.push(")");
}

/// `(x readable by caller)` for a row `x` with owner, grp and mode columns.
fn readable_sql(sql: &mut Sql, caller: &Caller, x: &str) {
    let owner = format!("{x}.owner");
    let grp = format!("{x}.grp");
    let mode = format!("{x}.mode");
    sql.push("((")
        .push(&owner)
        .push(" = ")
        .bind(Bind::Text(caller.name.clone()));
    sql.push(" AND (")
        .push(&mode)
        .push(" & 256) <> 0) OR (")
        .push(&owner)
        .push(" <> ");
    sql.bind(Bind::Text(caller.name.clone())).push(" AND ");
    group_test(sql, caller, &grp, true);
    sql.push(" AND (")
        .push(&mode)
        .push(" & 32) <> 0) OR (")
        .push(&owner)
        .push(" <> ");
    sql.bind(Bind::Text(caller.name.clone())).push(" AND ");
    group_test(sql, caller, &grp, false);
    sql.push(" AND (").push(&mode).push(" & 4) <> 0))");
}

fn group_test(sql: &mut Sql, caller: &Caller, grp: &str, member: bool) {
    if caller.groups.is_empty() {
        sql.push(if member { "1 = 0" } else { "1 = 1" });
        return;
    }
    sql.push(grp)
        .push(if member { " IN (" } else { " NOT IN (" });
    for (i, g) in caller.groups.iter().enumerate() {
        if i > 0 {
            sql.push(", ");
        }
        sql.bind(Bind::Text(g.clone()));
    }
    sql.push(")");
}

/// `need` on what `path` names: a directory itself, or a file (with its directory).
pub fn check_path(conn: &mut DbConn, caller: &Caller, path: &str, need: Need) -> Result<()> {
    if caller.admin {
        return Ok(());
    }
    let mut g = Guard::new(caller);
    if let Some(dir) = crate::namespace::find_dir(conn, path)? {
        return g.dir(conn, &dir, need);
    }
    let rows = crate::files::require(conn, &[path.to_owned()])?;
    g.files(conn, &rows, need)
}

/// Seeing `path` exist (stat): `r` on the directory holding it, and on the file itself.
pub fn check_visible(conn: &mut DbConn, caller: &Caller, path: &str) -> Result<()> {
    if caller.admin || path == "/" {
        return Ok(());
    }
    let mut g = Guard::new(caller);
    if crate::namespace::find_dir(conn, path)?.is_some() {
        let parent = crate::namespace::get_dir(conn, lfn::split(path).0)?;
        return g.dir_for(conn, &parent, Need::Read, path);
    }
    match crate::files::find(conn, path)? {
        Some(f) => g.files(conn, &[f], Need::Read),
        // Not there: the caller learns nothing it could not learn by creating it.
        None => Ok(()),
    }
}

/// Creating entries (files or directories) at `paths`: `w` on the nearest existing
/// directory above each (the directories made on the way are the caller's).
pub fn check_create<'p>(
    conn: &mut DbConn,
    caller: &Caller,
    paths: impl IntoIterator<Item = &'p str>,
) -> Result<()> {
    if caller.admin {
        return Ok(());
    }
    let mut above: BTreeSet<String> = BTreeSet::new();
    let mut targets: Vec<&str> = Vec::new();
    for p in paths {
        targets.push(p);
        let mut cur = p;
        while cur != "/" {
            cur = lfn::split(cur).0;
            if !above.insert(cur.to_owned()) {
                break;
            }
        }
    }
    let wanted: Vec<String> = above.into_iter().collect();
    let existing = crate::namespace::dirs_by_paths(conn, &wanted)?;
    let mut g = Guard::new(caller);
    let mut checked = BTreeSet::new();
    for p in targets {
        let mut cur = lfn::split(p).0;
        let dir = loop {
            if let Some(d) = existing.get(cur) {
                break d;
            }
            if cur == "/" {
                return Err(Error::Internal("the root directory is missing".into()));
            }
            cur = lfn::split(cur).0;
        };
        if checked.insert(dir.id) {
            g.dir_for(conn, dir, Need::Write, p)?;
        }
    }
    Ok(())
}

/// `w` on `dir` and on every directory below it (removing or moving a whole subtree).
pub fn check_subtree(conn: &mut DbConn, caller: &Caller, dir: &Dir) -> Result<()> {
    if caller.admin {
        return Ok(());
    }
    let mut g = Guard::new(caller);
    for d in crate::namespace::dirs_below(conn, dir)? {
        g.dir(conn, &d, Need::Write)?;
    }
    let files = crate::namespace::files_below(conn, dir)?;
    g.files(conn, &files, Need::Write)
}

/// Reading or writing an object `pfn` of storage element `se` through the server: a
/// registered replica needs `need` on its file; an object not (yet) registered is written
/// where its LFN (the pfn, rooted) may be created, or in the staging area of a job of the
/// caller's (`jobs/ID/...`, where runners put outputs before they are registered), and read
/// by admins only.
pub fn check_object(
    conn: &mut DbConn,
    caller: &Caller,
    se: &str,
    pfn: &str,
    need: Need,
) -> Result<()> {
    use crate::db::schema::{files, replicas};
    if caller.admin {
        return Ok(());
    }
    let se = crate::storage::get(conn, se)?;
    let pfns = [
        pfn.to_owned(),
        pfn.trim_start_matches('/').to_owned(),
        se.url_of(pfn),
    ];
    let file: Option<FileRow> = replicas::table
        .inner_join(files::table)
        .filter(replicas::se_id.eq(se.id))
        .filter(replicas::pfn.eq_any(&pfns))
        .select(FileRow::as_select())
        .first(conn)
        .optional()?;
    match (file, need) {
        (Some(f), _) => Guard::new(caller).files(conn, &[f], need),
        (None, Need::Write) => {
            let rel = pfn.trim_start_matches('/');
            let job = rel
                .strip_prefix("jobs/")
                .and_then(|r| r.split_once('/'))
                .and_then(|(id, _)| id.parse::<i64>().ok());
            if let Some(id) = job {
                if crate::jobs::owner(conn, id).is_ok_and(|o| o == caller.name) {
                    return Ok(());
                }
            }
            check_create(conn, caller, [format!("/{rel}").as_str()])
        }
        (None, Need::Read) => Err(Error::Forbidden(format!(
            "{} may not read {pfn} on {}: it is no registered replica (only admins read those)",
            caller.name, se.name
        ))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(name: &str, groups: &[&str]) -> Caller {
        Caller {
            name: name.into(),
            groups: groups.iter().map(|g| g.to_string()).collect(),
            admin: false,
            runner: false,
        }
    }

    #[test]
    fn classes_are_exclusive_like_posix() {
        let owner = caller("alice", &["phys"]);
        let member = caller("bob", &["phys"]);
        let other = caller("carol", &["chem"]);
        // The owner's bits apply to the owner even when the group's are wider.
        assert_eq!(bits(&owner, "alice", "phys", 0o070), 0);
        assert_eq!(bits(&member, "alice", "phys", 0o750), 5);
        assert_eq!(bits(&other, "alice", "phys", 0o750), 0);
        assert_eq!(bits(&other, "alice", "phys", 0o754), 4);
        let mut admin = caller("root", &[]);
        admin.admin = true;
        assert_eq!(bits(&admin, "alice", "phys", 0), 7);
    }

    #[test]
    fn modes_print_like_ls() {
        assert_eq!(mode_string(0o750), "rwxr-x---");
        assert_eq!(mode_string(0o664), "rw-rw-r--");
        assert_eq!(mode_string(0), "---------");
    }
}

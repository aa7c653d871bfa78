//! chmod, chown and chgrp: changing who owns a directory or file and what others may do.

use catalog_core::api::{PermissionsRequest, PermissionsResponse};
use catalog_core::lfn;
use diesel::prelude::*;

use super::{users, Caller, Guard};
use crate::db::schema::{directories, files};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::namespace;

/// Files keep only read and write bits.
const FILE_BITS: i32 = 0o666;

/// Applies `req`. `known_names`: owners and groups must exist as users and groups (every
/// mode but `open`, which has no user table to speak of).
pub fn change(
    conn: &mut DbConn,
    caller: &Caller,
    req: &PermissionsRequest,
    known_names: bool,
) -> Result<PermissionsResponse> {
    lfn::validate(&req.path)?;
    if req.mode.is_none() && req.owner.is_none() && req.group.is_none() {
        return Err(Error::bad(
            "nothing to change: give a mode, an owner or a group",
        ));
    }
    if let Some(m) = req.mode {
        if !(0..=0o777).contains(&m) {
            return Err(Error::bad(format!(
                "invalid mode {m:o}: expected octal 000 to 777"
            )));
        }
    }
    if let Some(o) = &req.owner {
        users::check_name("user", o)?;
        if known_names {
            users::get_user(conn, o)?;
        }
    }
    if let Some(g) = &req.group {
        users::check_name("group", g)?;
        if known_names && !users::group_exists(conn, g)? {
            return Err(Error::not_found(format!("no such group: {g}")));
        }
        if !caller.admin && !caller.groups.contains(g) {
            return Err(Error::Forbidden(format!(
                "{} may not give {} to group {g}: only to a group they are in",
                caller.name, req.path
            )));
        }
    }
    let guard = Guard::new(caller);
    let (dirs, file_rows) = match namespace::find_dir(conn, &req.path)? {
        Some(dir) if req.recursive => (
            namespace::dirs_below(conn, &dir)?,
            namespace::files_below(conn, &dir)?,
        ),
        Some(dir) => (vec![dir], Vec::new()),
        None => (
            Vec::new(),
            crate::files::require(conn, std::slice::from_ref(&req.path))?,
        ),
    };
    for d in &dirs {
        guard.owns(&d.path, &d.owner)?;
    }
    for f in &file_rows {
        guard.owns(&f.path, &f.owner)?;
    }
    // One statement per attribute and chunk of ids, whatever the subtree's size.
    let dir_ids: Vec<i64> = dirs.iter().map(|d| d.id).collect();
    for chunk in dir_ids.chunks(rows_per_statement(1)) {
        let rows = || directories::table.filter(directories::id.eq_any(chunk));
        if let Some(m) = req.mode {
            diesel::update(rows())
                .set(directories::mode.eq(m))
                .execute(conn)?;
        }
        if let Some(o) = &req.owner {
            diesel::update(rows())
                .set(directories::owner.eq(o))
                .execute(conn)?;
        }
        if let Some(g) = &req.group {
            diesel::update(rows())
                .set(directories::grp.eq(g))
                .execute(conn)?;
        }
    }
    let file_ids: Vec<i64> = file_rows.iter().map(|f| f.id).collect();
    for chunk in file_ids.chunks(rows_per_statement(1)) {
        let rows = || files::table.filter(files::id.eq_any(chunk));
        if let Some(m) = req.mode {
            diesel::update(rows())
                .set(files::mode.eq(m & FILE_BITS))
                .execute(conn)?;
        }
        if let Some(o) = &req.owner {
            diesel::update(rows())
                .set(files::owner.eq(o))
                .execute(conn)?;
        }
        if let Some(g) = &req.group {
            diesel::update(rows()).set(files::grp.eq(g)).execute(conn)?;
        }
    }
    Ok(PermissionsResponse {
        path: req.path.clone(),
        changed: (dir_ids.len() + file_ids.len()) as u64,
    })
}

//! Files: bulk registration (one transaction a batch), bulk stat and removal.

use catalog_core::api::{
    FileInfo, ItemError, NewFile, RegisterRequest, RegisterResponse, RegisteredItem, MAX_BATCH,
};
use catalog_core::{checksum, lfn};
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::collections::{BTreeSet, HashMap, HashSet};

use crate::db::schema::{directories, file_meta, file_parents, files, replicas};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::namespace::{self, now};
use crate::{metadata, provenance, storage};

pub const FILE_MODE: i32 = 0o664;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = files)]
pub struct FileRow {
    pub id: i64,
    pub dir_id: i64,
    pub name: String,
    pub path: String,
    pub guid: String,
    pub size: i64,
    pub adler32: String,
    pub md5: Option<String>,
    pub sha256: Option<String>,
    pub status: String,
    pub owner: String,
    pub grp: String,
    pub mode: i32,
    pub created: NaiveDateTime,
    pub modified: NaiveDateTime,
}

impl FileRow {
    /// The size and checksums the catalogue holds.
    pub fn sums(&self) -> checksum::Sums {
        checksum::Sums {
            size: self.size.max(0) as u64,
            adler32: self.adler32.clone(),
            md5: self.md5.clone(),
            sha256: self.sha256.clone(),
        }
    }

    pub fn info(&self) -> FileInfo {
        FileInfo {
            lfn: self.path.clone(),
            guid: self.guid.clone(),
            size: self.size,
            adler32: self.adler32.clone(),
            md5: self.md5.clone(),
            sha256: self.sha256.clone(),
            status: self.status.clone(),
            owner: self.owner.clone(),
            group: self.grp.clone(),
            mode: self.mode,
            created: self.created,
            modified: self.modified,
        }
    }
}

#[derive(Insertable)]
#[diesel(table_name = files)]
struct NewFileRow<'a> {
    dir_id: i64,
    name: &'a str,
    path: &'a str,
    guid: String,
    size: i64,
    adler32: &'a str,
    md5: Option<&'a str>,
    sha256: Option<&'a str>,
    status: &'a str,
    owner: &'a str,
    grp: &'a str,
    mode: i32,
    created: NaiveDateTime,
    modified: NaiveDateTime,
}
const NEW_FILE_COLUMNS: usize = 14;

pub fn find(conn: &mut DbConn, path: &str) -> Result<Option<FileRow>> {
    Ok(files::table
        .filter(files::path.eq(path))
        .select(FileRow::as_select())
        .first(conn)
        .optional()?)
}

/// The files among `lfns` that exist, by LFN.
pub fn by_paths(conn: &mut DbConn, lfns: &[String]) -> Result<HashMap<String, FileRow>> {
    let mut out = HashMap::with_capacity(lfns.len());
    for chunk in lfns.chunks(rows_per_statement(1)) {
        let rows: Vec<FileRow> = files::table
            .filter(files::path.eq_any(chunk))
            .select(FileRow::as_select())
            .load(conn)?;
        out.extend(rows.into_iter().map(|f| (f.path.clone(), f)));
    }
    Ok(out)
}

/// The ids of the files among `lfns` that exist, by LFN.
pub fn ids_by_paths(conn: &mut DbConn, lfns: &[String]) -> Result<HashMap<String, i64>> {
    let mut out = HashMap::with_capacity(lfns.len());
    for chunk in lfns.chunks(rows_per_statement(1)) {
        let rows: Vec<(String, i64)> = files::table
            .filter(files::path.eq_any(chunk))
            .select((files::path, files::id))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// The files with these ids, in the order of `ids` (ids of no file are left out).
pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<Vec<FileRow>> {
    let mut found = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(1)) {
        let rows: Vec<FileRow> = files::table
            .filter(files::id.eq_any(chunk))
            .select(FileRow::as_select())
            .load(conn)?;
        found.extend(rows.into_iter().map(|f| (f.id, f)));
    }
    Ok(ids.iter().filter_map(|id| found.remove(id)).collect())
}

/// LFNs for file ids.
pub fn paths_by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, String>> {
    let mut out = HashMap::with_capacity(ids.len());
    for chunk in ids.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, String)> = files::table
            .filter(files::id.eq_any(chunk))
            .select((files::id, files::path))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

/// Checks the size of a bulk read and the form of each LFN in it.
pub fn check_lfns(lfns: &[String]) -> Result<()> {
    if lfns.len() > MAX_BATCH {
        return Err(Error::TooLarge(format!(
            "{} LFNs in one call; at most {MAX_BATCH}",
            lfns.len()
        )));
    }
    for l in lfns {
        lfn::validate_file(l)?;
    }
    Ok(())
}

/// Every file of `lfns`, in request order; a missing one is an error naming it.
pub fn require(conn: &mut DbConn, lfns: &[String]) -> Result<Vec<FileRow>> {
    check_lfns(lfns)?;
    let mut found = by_paths(conn, lfns)?;
    let missing: Vec<&String> = lfns.iter().filter(|l| !found.contains_key(*l)).collect();
    if !missing.is_empty() {
        return Err(Error::not_found(no_such_files(&missing)));
    }
    Ok(lfns.iter().filter_map(|l| found.remove(l)).collect())
}

pub fn no_such_files(missing: &[&String]) -> String {
    let shown: Vec<&str> = missing.iter().take(5).map(|s| s.as_str()).collect();
    let more = if missing.len() > 5 {
        format!(" and {} more", missing.len() - 5)
    } else {
        String::new()
    };
    format!("no such file: {}{more}", shown.join(", "))
}

/// Collects per-item errors of a bulk request.
#[derive(Default)]
pub struct ItemErrors(Vec<ItemError>);

impl ItemErrors {
    pub fn push(&mut self, index: usize, lfn: &str, message: impl Into<String>) {
        self.0.push(ItemError {
            index,
            lfn: lfn.to_owned(),
            message: message.into(),
        });
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Ok when no item failed; otherwise the whole request is refused with every item's error.
    pub fn into_result(mut self, what: &str) -> Result<()> {
        if self.0.is_empty() {
            return Ok(());
        }
        self.0.sort_by_key(|e| e.index);
        let n = self.0.len();
        let first = &self.0[0];
        let message = format!(
            "{what} refused, nothing changed: {n} bad item(s); first: item {} ({}): {}",
            first.index, first.lfn, first.message
        );
        Err(Error::Invalid {
            message,
            items: self.0,
        })
    }
}

fn check_item(f: &NewFile, errors: &mut ItemErrors, index: usize) {
    let mut bad = |m: String| errors.push(index, &f.lfn, m);
    if let Err(e) = lfn::validate_file(&f.lfn) {
        bad(e.to_string());
    }
    if f.size < 0 {
        bad(format!("size {} is negative", f.size));
    }
    if !checksum::is_adler32(&f.adler32) {
        bad(format!(
            "adler32 {:?} is not 8 lowercase hex digits",
            f.adler32
        ));
    }
    if f.md5.as_deref().is_some_and(|m| !checksum::is_hex(m, 32)) {
        bad("md5 is not 32 lowercase hex digits".to_owned());
    }
    if f.sha256
        .as_deref()
        .is_some_and(|m| !checksum::is_hex(m, 64))
    {
        bad("sha256 is not 64 lowercase hex digits".to_owned());
    }
    if let Some(g) = &f.guid {
        if uuid::Uuid::parse_str(g).is_err() {
            bad(format!("guid {g:?} is not a UUID"));
        }
    }
    let mut ses = HashSet::new();
    for r in &f.replicas {
        if !ses.insert(r.se.as_str()) {
            bad(format!("two replicas on storage element {}", r.se));
        }
        if let Err(e) = storage::check_pfn(&r.pfn) {
            bad(e.to_string());
        }
    }
    for key in f.metadata.keys() {
        if let Err(e) = catalog_core::meta::validate_field_name(key) {
            bad(e.to_string());
        }
    }
    for p in &f.parents {
        if let Err(e) = lfn::validate_file(p) {
            bad(format!("parent: {e}"));
        } else if p == &f.lfn {
            bad("a file cannot be its own parent".to_owned());
        }
    }
}

/// Registers a batch of files with their replicas, metadata and parents: all of it, or
/// (with every item's error) none of it. Runs inside the caller's transaction.
pub fn register(conn: &mut DbConn, req: &RegisterRequest, owner: &str) -> Result<RegisterResponse> {
    let batch = &req.files;
    if batch.len() > MAX_BATCH {
        return Err(Error::TooLarge(format!(
            "{} files in one batch; at most {MAX_BATCH}",
            batch.len()
        )));
    }
    let mut errors = ItemErrors::default();
    let mut index_of: HashMap<&str, usize> = HashMap::with_capacity(batch.len());
    let mut guids: HashMap<String, usize> = HashMap::with_capacity(batch.len());
    for (i, f) in batch.iter().enumerate() {
        check_item(f, &mut errors, i);
        if let Some(first) = index_of.insert(f.lfn.as_str(), i) {
            index_of.insert(f.lfn.as_str(), first);
            errors.push(
                i,
                &f.lfn,
                format!("duplicate LFN in the batch (also item {first})"),
            );
        }
        if let Some(g) = &f.guid {
            if let Some(first) = guids.insert(g.to_lowercase(), i) {
                errors.push(
                    i,
                    &f.lfn,
                    format!("duplicate guid in the batch (also item {first})"),
                );
            }
        }
    }
    errors.into_result("registration")?;

    let lfns: Vec<String> = batch.iter().map(|f| f.lfn.clone()).collect();
    let mut errors = ItemErrors::default();
    for existing in ids_by_paths(conn, &lfns)?.keys() {
        errors.push(index_of[existing.as_str()], existing, "file exists");
    }
    for existing in namespace::dirs_by_paths(conn, &lfns)?.keys() {
        errors.push(
            index_of[existing.as_str()],
            existing,
            "a directory exists at this path",
        );
    }
    let given_guids: Vec<String> = guids.keys().cloned().collect();
    for chunk in given_guids.chunks(rows_per_statement(1)) {
        let taken: Vec<String> = files::table
            .filter(files::guid.eq_any(chunk))
            .select(files::guid)
            .load(conn)?;
        for g in taken {
            let i = guids[&g];
            errors.push(i, &batch[i].lfn, format!("guid {g} is already used"));
        }
    }

    let se_names: Vec<String> = batch
        .iter()
        .flat_map(|f| f.replicas.iter().map(|r| r.se.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let ses = storage::by_names(conn, &se_names)?;
    for (i, f) in batch.iter().enumerate() {
        for r in f.replicas.iter().filter(|r| !ses.contains_key(&r.se)) {
            errors.push(i, &f.lfn, format!("no such storage element: {}", r.se));
        }
    }

    let outside: Vec<String> = batch
        .iter()
        .flat_map(|f| f.parents.iter())
        .filter(|p| !index_of.contains_key(p.as_str()))
        .cloned()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let parent_ids = ids_by_paths(conn, &outside)?;
    for (i, f) in batch.iter().enumerate() {
        for p in f
            .parents
            .iter()
            .filter(|p| !index_of.contains_key(p.as_str()) && !parent_ids.contains_key(*p))
        {
            errors.push(i, &f.lfn, format!("no such parent file: {p}"));
        }
    }

    let values = metadata::resolve_for_items(
        conn,
        batch
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.lfn.as_str(), &f.metadata)),
        &mut errors,
    )?;
    errors.into_result("registration")?;

    let dir_paths: BTreeSet<String> = batch
        .iter()
        .map(|f| lfn::split(&f.lfn).0.to_owned())
        .collect();
    let dirs = namespace::ensure_dirs(conn, &dir_paths, req.create_dirs, owner)?;

    let created = now();
    let guids: Vec<String> = batch
        .iter()
        .map(|f| {
            f.guid
                .as_ref()
                .map(|g| g.to_lowercase())
                .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
        })
        .collect();
    let rows: Vec<NewFileRow> = batch
        .iter()
        .zip(&guids)
        .map(|(f, guid)| {
            let (dir, name) = lfn::split(&f.lfn);
            let dir = &dirs[dir];
            NewFileRow {
                dir_id: dir.id,
                name,
                path: &f.lfn,
                guid: guid.clone(),
                size: f.size,
                adler32: &f.adler32,
                md5: f.md5.as_deref(),
                sha256: f.sha256.as_deref(),
                status: "ok",
                owner,
                // A file belongs to its directory's group, as a new directory does.
                grp: &dir.grp,
                mode: FILE_MODE,
                created,
                modified: created,
            }
        })
        .collect();
    for chunk in rows.chunks(rows_per_statement(NEW_FILE_COLUMNS)) {
        crate::insert_rows!(conn, files::table, chunk)?;
    }
    let ids = ids_by_paths(conn, &lfns)?;
    let id_of = |lfn: &str| {
        ids.get(lfn)
            .or_else(|| parent_ids.get(lfn))
            .copied()
            .ok_or_else(|| Error::Internal(format!("file {lfn} vanished")))
    };

    let mut replica_rows = Vec::new();
    let mut meta_rows = Vec::new();
    let mut link_rows = Vec::new();
    let mut linked_in_batch = Vec::new();
    for (i, f) in batch.iter().enumerate() {
        let id = id_of(&f.lfn)?;
        for r in &f.replicas {
            replica_rows.push((
                replicas::file_id.eq(id),
                replicas::se_id.eq(ses[&r.se].id),
                replicas::pfn.eq(r.pfn.as_str()),
                replicas::status.eq("ok"),
                replicas::created.eq(created),
            ));
        }
        for (field_id, v) in &values[i] {
            meta_rows.push(v.file_row(id, *field_id));
        }
        let parents: BTreeSet<&String> = f.parents.iter().collect();
        for p in parents {
            if index_of.contains_key(p.as_str()) {
                linked_in_batch.push(id);
            }
            link_rows.push((
                file_parents::child_id.eq(id),
                file_parents::parent_id.eq(id_of(p)?),
            ));
        }
    }
    for chunk in replica_rows.chunks(rows_per_statement(5)) {
        crate::insert_rows!(conn, replicas::table, chunk)?;
    }
    for chunk in meta_rows.chunks(rows_per_statement(5)) {
        crate::insert_rows!(conn, file_meta::table, chunk)?;
    }
    for chunk in link_rows.chunks(rows_per_statement(2)) {
        crate::insert_rows!(conn, file_parents::table, chunk)?;
    }
    if !linked_in_batch.is_empty() {
        if let Some(child) = provenance::find_cycle(conn, &linked_in_batch)? {
            let name = paths_by_ids(conn, &[child])?
                .remove(&child)
                .unwrap_or_default();
            let mut errors = ItemErrors::default();
            errors.push(
                index_of.get(name.as_str()).copied().unwrap_or(0),
                &name,
                "its parents make a cycle (a file would be its own ancestor)",
            );
            errors.into_result("registration")?;
        }
    }
    let new_ids: Vec<i64> = batch.iter().map(|f| id_of(&f.lfn)).collect::<Result<_>>()?;
    let rows: Vec<(usize, FileRow)> = by_ids(conn, &new_ids)?.into_iter().enumerate().collect();
    let mut errors = ItemErrors::default();
    crate::schemas::check_files(conn, &rows, &mut errors)?;
    errors.into_result("registration")?;
    let items = batch
        .iter()
        .zip(guids)
        .enumerate()
        .map(|(index, (f, guid))| RegisteredItem {
            index,
            lfn: f.lfn.clone(),
            guid,
            status: "registered".to_owned(),
        })
        .collect();
    Ok(RegisterResponse {
        registered: batch.len(),
        items,
    })
}

/// Deletes file entries (their replicas, metadata and provenance links go with them).
pub fn delete_by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<usize> {
    let mut n = 0;
    for chunk in ids.chunks(rows_per_statement(1)) {
        n += diesel::delete(files::table.filter(files::id.eq_any(chunk))).execute(conn)?;
    }
    Ok(n)
}

/// The directory rows of files, for inheritance.
pub fn dir_paths(conn: &mut DbConn, dir_ids: &[i64]) -> Result<HashMap<i64, String>> {
    let mut out = HashMap::new();
    for chunk in dir_ids.chunks(rows_per_statement(1)) {
        let rows: Vec<(i64, String)> = directories::table
            .filter(directories::id.eq_any(chunk))
            .select((directories::id, directories::path))
            .load(conn)?;
        out.extend(rows);
    }
    Ok(out)
}

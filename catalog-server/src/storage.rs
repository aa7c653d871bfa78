//! Storage elements and the bytes on them. Kind `file`: a directory on the server's
//! machine, read and written through the streaming data endpoints.

use catalog_core::api::{NewStorageElement, StorageElementInfo};
use diesel::prelude::*;
use std::collections::HashMap;
use std::path::{Component, Path, PathBuf};

use crate::db::schema::{files, replicas, storage_elements};
use crate::db::{rows_per_statement, DbConn};
use crate::error::{Error, Result};
use crate::namespace::now;
use crate::stores::Options;

#[derive(Debug, Clone, Queryable, Selectable)]
#[diesel(table_name = storage_elements)]
pub struct StorageElement {
    pub id: i64,
    pub name: String,
    pub kind: String,
    pub base_url: String,
    /// Connection settings of a remote kind, as JSON ([`crate::stores::Options`]).
    pub options: String,
    pub read_only: bool,
}

impl StorageElement {
    /// The directory of a `file` storage element.
    pub fn root(&self) -> Result<PathBuf> {
        match self.base_url.strip_prefix("file://") {
            Some(p) if self.kind == "file" => Ok(PathBuf::from(p)),
            _ => Err(Error::bad(format!(
                "storage element {} (kind {}) has no local directory",
                self.name, self.kind
            ))),
        }
    }

    /// Where a replica's bytes are: the pfn if it is a URL, else the base URL joined with it.
    pub fn url_of(&self, pfn: &str) -> String {
        if pfn.contains("://") {
            pfn.to_owned()
        } else {
            format!(
                "{}/{}",
                self.base_url.trim_end_matches('/'),
                pfn.trim_start_matches('/')
            )
        }
    }

    /// The local path of `pfn` on a `file` storage element, refusing anything outside it.
    pub fn local_path(&self, pfn: &str) -> Result<PathBuf> {
        Ok(self
            .root()?
            .join(relative_pfn(&self.name, &self.base_url, pfn)?))
    }
}

/// `pfn` relative to the storage element `se` at `base_url`: a relative path as it is, or
/// the element's own URL with the base stripped; refuses other URLs and paths leaving it.
pub fn relative_pfn<'a>(se: &str, base_url: &str, pfn: &'a str) -> Result<&'a str> {
    let rel = match pfn.strip_prefix(&format!("{}/", base_url.trim_end_matches('/'))) {
        Some(r) => r,
        None if pfn.contains("://") => {
            return Err(Error::bad(format!("{pfn} is not on storage element {se}")));
        }
        None => pfn,
    };
    check_pfn(rel)?;
    Ok(rel.trim_start_matches('/'))
}

/// Checks a pfn: a URL, or a relative path that stays inside its storage element.
pub fn check_pfn(pfn: &str) -> Result<()> {
    if pfn.is_empty() || pfn.contains('\0') {
        return Err(Error::bad(format!("invalid pfn {pfn:?}")));
    }
    if pfn.contains("://") {
        return Ok(());
    }
    let escapes = Path::new(pfn.trim_start_matches('/'))
        .components()
        .any(|c| !matches!(c, Component::Normal(_)));
    if escapes || pfn.trim_start_matches('/').is_empty() {
        return Err(Error::bad(format!(
            "invalid pfn {pfn:?}: must be a URL or a relative path without '.' or '..'"
        )));
    }
    Ok(())
}

pub fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.".contains(c));
    if ok {
        Ok(())
    } else {
        Err(Error::bad(format!(
            "invalid storage element name {name:?}: use letters, digits, '-', '_' and '.'"
        )))
    }
}

pub fn by_names(conn: &mut DbConn, names: &[String]) -> Result<HashMap<String, StorageElement>> {
    let mut out = HashMap::new();
    for chunk in names.chunks(rows_per_statement(1)) {
        let rows: Vec<StorageElement> = storage_elements::table
            .filter(storage_elements::name.eq_any(chunk))
            .select(StorageElement::as_select())
            .load(conn)?;
        out.extend(rows.into_iter().map(|s| (s.name.clone(), s)));
    }
    Ok(out)
}

pub fn by_ids(conn: &mut DbConn, ids: &[i64]) -> Result<HashMap<i64, StorageElement>> {
    let rows: Vec<StorageElement> = storage_elements::table
        .filter(storage_elements::id.eq_any(ids))
        .select(StorageElement::as_select())
        .load(conn)?;
    Ok(rows.into_iter().map(|s| (s.id, s)).collect())
}

pub fn get(conn: &mut DbConn, name: &str) -> Result<StorageElement> {
    by_names(conn, &[name.to_owned()])?
        .remove(name)
        .ok_or_else(|| Error::not_found(format!("no such storage element: {name}")))
}

/// Checks a new storage element and works out its base URL and options; for `file`, creates
/// the directory. Touches no database: the caller probes the storage, then [`insert`]s it.
pub fn check_new(new: &NewStorageElement) -> Result<StorageElement> {
    check_name(&new.name)?;
    let needs = |what: &str, v: &Option<String>| -> Result<String> {
        v.clone().filter(|s| !s.is_empty()).ok_or_else(|| {
            Error::bad(format!(
                "a storage element of kind {} needs {what}",
                new.kind
            ))
        })
    };
    let remote_only = new.endpoint.is_some() || new.region.is_some() || new.path_style;
    let (base_url, options) = match new.kind.as_str() {
        "file" => {
            if new.url.is_some() || remote_only {
                return Err(Error::bad(
                    "a file storage element takes only a path (no url, endpoint, region or path style)",
                ));
            }
            let dir = PathBuf::from(needs("a path (the directory)", &new.path)?);
            std::fs::create_dir_all(&dir)
                .map_err(|e| Error::bad(format!("cannot create {}: {e}", dir.display())))?;
            let dir = dir
                .canonicalize()
                .map_err(|e| Error::bad(format!("cannot resolve {}: {e}", dir.display())))?;
            (format!("file://{}", dir.display()), Options::default())
        }
        "s3" => {
            let url = needs("a url (s3://BUCKET[/PREFIX])", &new.url)?;
            crate::stores::parse_s3_url(&url)?;
            if let Some(e) = &new.endpoint {
                if !(e.starts_with("http://") || e.starts_with("https://")) {
                    return Err(Error::bad(format!(
                        "invalid endpoint {e:?}: expected an http:// or https:// URL"
                    )));
                }
            }
            let options = Options {
                endpoint: new.endpoint.clone(),
                region: new.region.clone(),
                path_style: new.path_style,
            };
            (url.trim_end_matches('/').to_owned(), options)
        }
        "webdav" => {
            if remote_only {
                return Err(Error::bad(
                    "a webdav storage element takes only a url (no endpoint, region or path style)",
                ));
            }
            let url = needs("a url (http(s)://HOST/PATH)", &new.url)?;
            if !(url.starts_with("http://") || url.starts_with("https://")) {
                return Err(Error::bad(format!(
                    "invalid WebDAV URL {url:?}: expected http:// or https://"
                )));
            }
            (url.trim_end_matches('/').to_owned(), Options::default())
        }
        other => {
            return Err(Error::bad(format!(
                "unknown storage element kind {other:?}: expected file, s3 or webdav"
            )))
        }
    };
    if new.path.is_some() && new.kind != "file" {
        return Err(Error::bad(format!(
            "a storage element of kind {} takes a url, not a path",
            new.kind
        )));
    }
    Ok(StorageElement {
        id: 0,
        name: new.name.clone(),
        kind: new.kind.clone(),
        base_url,
        options: serde_json::to_string(&options).map_err(|e| Error::Internal(e.to_string()))?,
        read_only: false,
    })
}

/// Registers a checked storage element.
pub fn insert(conn: &mut DbConn, se: &StorageElement) -> Result<StorageElementInfo> {
    if !by_names(conn, std::slice::from_ref(&se.name))?.is_empty() {
        return Err(Error::conflict(format!(
            "storage element exists: {}",
            se.name
        )));
    }
    diesel::insert_into(storage_elements::table)
        .values((
            storage_elements::name.eq(&se.name),
            storage_elements::kind.eq(&se.kind),
            storage_elements::base_url.eq(&se.base_url),
            storage_elements::options.eq(&se.options),
            storage_elements::created.eq(now()),
        ))
        .execute(conn)?;
    show(conn, &se.name)
}

/// Makes sure the embedded default storage element exists.
pub fn ensure_default(conn: &mut DbConn, name: &str, dir: &Path) -> Result<()> {
    if by_names(conn, &[name.to_owned()])?.is_empty() {
        insert(
            conn,
            &check_new(&NewStorageElement::dir(name, &dir.display().to_string()))?,
        )?;
        tracing::info!(se = name, dir = %dir.display(), "created the default storage element");
    }
    Ok(())
}

/// Replica count and bytes per storage element (only `se` when given), summed from the
/// replicas.
fn usage(conn: &mut DbConn, se: Option<i64>) -> Result<HashMap<i64, (i64, i64)>> {
    let mut q = replicas::table
        .inner_join(files::table)
        .group_by(replicas::se_id)
        .select((
            replicas::se_id,
            diesel::dsl::count_star(),
            diesel::dsl::sql::<diesel::sql_types::Nullable<diesel::sql_types::BigInt>>(
                "CAST(SUM(files.size) AS BIGINT)",
            ),
        ))
        .into_boxed();
    if let Some(id) = se {
        q = q.filter(replicas::se_id.eq(id));
    }
    let rows: Vec<(i64, i64, Option<i64>)> = q.load(conn)?;
    Ok(rows
        .into_iter()
        .map(|(se, n, b)| (se, (n, b.unwrap_or(0))))
        .collect())
}

fn info(s: StorageElement, usage: &HashMap<i64, (i64, i64)>) -> StorageElementInfo {
    let (n, bytes) = usage.get(&s.id).copied().unwrap_or((0, 0));
    StorageElementInfo {
        name: s.name,
        kind: s.kind,
        base_url: s.base_url,
        read_only: s.read_only,
        replicas: n,
        bytes,
    }
}

/// Every storage element with its replica count and bytes, summed from the replicas.
pub fn list(conn: &mut DbConn) -> Result<Vec<StorageElementInfo>> {
    let ses: Vec<StorageElement> = storage_elements::table
        .select(StorageElement::as_select())
        .order(storage_elements::name)
        .load(conn)?;
    let usage = usage(conn, None)?;
    Ok(ses.into_iter().map(|s| info(s, &usage)).collect())
}

/// Whether `pfn` on storage element `se` is the pfn of a registered replica.
pub fn is_registered(conn: &mut DbConn, se: &str, pfn: &str) -> Result<bool> {
    Ok(!registered_among(conn, se, &[pfn.to_owned()])?.is_empty())
}

/// Those of `pfns` on storage element `se` that are the pfn of a registered replica, in
/// whichever form it was registered: as given, without a leading slash, or as a full URL.
pub fn registered_among(
    conn: &mut DbConn,
    se: &str,
    pfns: &[String],
) -> Result<std::collections::HashSet<String>> {
    let se = get(conn, se)?;
    let mut by_form: HashMap<String, &String> = HashMap::new();
    for p in pfns {
        for form in [
            p.clone(),
            p.trim_start_matches('/').to_owned(),
            se.url_of(p),
        ] {
            by_form.insert(form, p);
        }
    }
    let forms: Vec<&String> = by_form.keys().collect();
    let mut found = std::collections::HashSet::new();
    for chunk in forms.chunks(rows_per_statement(1)) {
        let stored: Vec<String> = replicas::table
            .filter(replicas::se_id.eq(se.id))
            .filter(replicas::pfn.eq_any(chunk))
            .select(replicas::pfn)
            .load(conn)?;
        found.extend(
            stored
                .iter()
                .filter_map(|s| by_form.get(s))
                .map(|p| (*p).clone()),
        );
    }
    Ok(found)
}

/// One storage element with its usage.
pub fn show(conn: &mut DbConn, name: &str) -> Result<StorageElementInfo> {
    let se = get(conn, name)?;
    let usage = usage(conn, Some(se.id))?;
    Ok(info(se, &usage))
}

/// Removes a storage element that holds no replica.
pub fn remove(conn: &mut DbConn, name: &str) -> Result<()> {
    let se = get(conn, name)?;
    let n: i64 = replicas::table
        .filter(replicas::se_id.eq(se.id))
        .count()
        .get_result(conn)?;
    if n > 0 {
        return Err(Error::conflict(format!(
            "storage element {name} holds {n} replica(s): remove them first (catalog rm --replica {name}, or replicate elsewhere)"
        )));
    }
    diesel::delete(storage_elements::table.find(se.id)).execute(conn)?;
    Ok(())
}

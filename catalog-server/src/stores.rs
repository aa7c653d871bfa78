//! The bytes behind a storage element, whatever its kind: a directory on this machine
//! (`file`), an S3 bucket (`s3`, any S3-compatible endpoint) or a WebDAV server (`webdav`),
//! the last two through the `object_store` crate. Every write streams, computes the
//! adler32 on the way, never replaces an existing object, and leaves nothing visible when
//! it fails; reads stream too.
//!
//! Credentials never enter the database: they come from the server's environment,
//! `CATALOG_SE_<NAME>_ACCESS_KEY_ID` / `_SECRET_ACCESS_KEY` for S3 (falling back to
//! `AWS_ACCESS_KEY_ID` / `AWS_SECRET_ACCESS_KEY`) and `CATALOG_SE_<NAME>_USERNAME` /
//! `_PASSWORD` for WebDAV, where NAME is the storage element's name in upper case with
//! every other character than letters and digits replaced by `_`.

use actix_web::web::Bytes;
use catalog_core::checksum::{Algorithms, StreamSum, Sums};
use futures_util::stream::BoxStream;
use futures_util::{StreamExt, TryStreamExt};
use object_store::path::Path as ObjectPath;
use object_store::ObjectStore;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, OnceLock};

use crate::error::{Error, Result};
use crate::objects;
use crate::storage::{relative_pfn, StorageElement};

/// Objects bigger than this go to S3 as multipart uploads, in parts of this size.
const PART_SIZE: usize = 8 * 1024 * 1024;

/// The connection settings of a remote storage element, stored as JSON beside it.
/// Never holds a secret.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Options {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub path_style: bool,
}

/// A readable object: its size and its bytes.
pub type Reader = (u64, BoxStream<'static, Result<Bytes>>);

pub enum Store {
    Dir(StorageElement),
    Remote(Remote),
}

#[derive(Clone)]
pub struct Remote {
    se: String,
    base_url: String,
    store: Arc<dyn ObjectStore>,
    /// Key prefix inside the bucket or below the WebDAV URL.
    prefix: String,
    /// Whether the store takes multipart uploads (S3 does; WebDAV does not).
    multipart: bool,
    /// For WebDAV: the Authorization header, to create the base collection.
    auth: Option<reqwest::header::HeaderValue>,
}

fn env_name(se: &str, key: &str) -> String {
    let upper: String = se
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() {
                c.to_ascii_uppercase()
            } else {
                '_'
            }
        })
        .collect();
    format!("CATALOG_SE_{upper}_{key}")
}

fn secret(se: &str, key: &str, fallback: Option<&str>) -> Option<String> {
    std::env::var(env_name(se, key))
        .ok()
        .or_else(|| fallback.and_then(|f| std::env::var(f).ok()))
        .filter(|v| !v.is_empty())
}

/// Splits `s3://bucket/prefix` into the bucket and the prefix.
pub fn parse_s3_url(url: &str) -> Result<(String, String)> {
    let rest = url.strip_prefix("s3://").ok_or_else(|| {
        Error::bad(format!(
            "invalid S3 URL {url:?}: expected s3://BUCKET[/PREFIX]"
        ))
    })?;
    let (bucket, prefix) = rest.split_once('/').unwrap_or((rest, ""));
    if bucket.is_empty() {
        return Err(Error::bad(format!("invalid S3 URL {url:?}: no bucket")));
    }
    Ok((bucket.to_owned(), prefix.trim_matches('/').to_owned()))
}

fn storage_error(se: &str, e: impl std::fmt::Display) -> Error {
    Error::Storage(format!("storage element {se}: {e}"))
}

fn build(se: &StorageElement) -> Result<Remote> {
    let options: Options = serde_json::from_str(&se.options).map_err(|e| {
        Error::Internal(format!("storage element {} has bad options: {e}", se.name))
    })?;
    match se.kind.as_str() {
        "s3" => {
            let (bucket, prefix) = parse_s3_url(&se.base_url)?;
            let mut b = object_store::aws::AmazonS3Builder::new()
                .with_bucket_name(bucket)
                .with_region(options.region.as_deref().unwrap_or("us-east-1"))
                .with_virtual_hosted_style_request(!options.path_style);
            if let Some(endpoint) = &options.endpoint {
                b = b.with_endpoint(endpoint).with_client_options(
                    object_store::ClientOptions::new()
                        .with_allow_http(endpoint.starts_with("http://")),
                );
            }
            match (
                secret(&se.name, "ACCESS_KEY_ID", Some("AWS_ACCESS_KEY_ID")),
                secret(&se.name, "SECRET_ACCESS_KEY", Some("AWS_SECRET_ACCESS_KEY")),
            ) {
                (Some(id), Some(key)) => {
                    b = b.with_access_key_id(id).with_secret_access_key(key);
                }
                _ => b = b.with_skip_signature(true),
            }
            let store = b.build().map_err(|e| storage_error(&se.name, e))?;
            Ok(Remote {
                se: se.name.clone(),
                base_url: se.base_url.clone(),
                store: Arc::new(store),
                prefix,
                multipart: true,
                auth: None,
            })
        }
        "webdav" => {
            let mut client = object_store::ClientOptions::new()
                .with_allow_http(se.base_url.starts_with("http://"));
            let mut auth = None;
            if let Some(user) = secret(&se.name, "USERNAME", None) {
                use base64::Engine;
                let password = secret(&se.name, "PASSWORD", None).unwrap_or_default();
                let token =
                    base64::engine::general_purpose::STANDARD.encode(format!("{user}:{password}"));
                let mut headers = reqwest::header::HeaderMap::new();
                let value = reqwest::header::HeaderValue::from_str(&format!("Basic {token}"))
                    .map_err(|e| storage_error(&se.name, e))?;
                headers.insert(reqwest::header::AUTHORIZATION, value.clone());
                auth = Some(value);
                client = client.with_default_headers(headers);
            }
            let store = object_store::http::HttpBuilder::new()
                .with_url(&se.base_url)
                .with_client_options(client)
                .build()
                .map_err(|e| storage_error(&se.name, e))?;
            Ok(Remote {
                se: se.name.clone(),
                base_url: se.base_url.clone(),
                store: Arc::new(store),
                prefix: String::new(),
                multipart: false,
                auth,
            })
        }
        other => Err(Error::Internal(format!(
            "storage element {} has unknown kind {other}",
            se.name
        ))),
    }
}

/// Remote stores are built once per storage element (their HTTP clients pool connections).
fn cached(se: &StorageElement) -> Result<Remote> {
    type Cache = Mutex<HashMap<(i64, String, String), Remote>>;
    static CACHE: OnceLock<Cache> = OnceLock::new();
    let key = (se.id, se.base_url.clone(), se.options.clone());
    let cache = CACHE.get_or_init(Default::default);
    if let Some(r) = cache.lock().expect("store cache").get(&key) {
        return Ok(r.clone());
    }
    let remote = build(se)?;
    cache
        .lock()
        .expect("store cache")
        .insert(key, remote.clone());
    Ok(remote)
}

impl Store {
    pub fn open(se: &StorageElement) -> Result<Store> {
        match se.kind.as_str() {
            "file" => Ok(Store::Dir(se.clone())),
            _ => Ok(Store::Remote(cached(se)?)),
        }
    }

    /// Checks that the storage element answers (and accepts our credentials).
    pub async fn probe(&self) -> Result<()> {
        match self {
            Store::Dir(se) => se.root().map(|_| ()),
            Store::Remote(r) => {
                if !r.multipart {
                    r.make_collections().await?;
                }
                let probe = r.location(".catalog-probe")?;
                match r.store.head(&probe).await {
                    Ok(_) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                    Err(e) => Err(Error::bad(format!(
                        "cannot reach storage element {}: {e}",
                        r.se
                    ))),
                }
            }
        }
    }

    /// Writes a stream to a new object at `pfn`; its size, adler32 and `algorithms`.
    pub async fn write_new<S, E>(
        &self,
        pfn: &str,
        body: S,
        expected_len: Option<u64>,
        algorithms: Algorithms,
    ) -> Result<Sums>
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        match self {
            Store::Dir(se) => {
                objects::write_new(&se.local_path(pfn)?, body, expected_len, algorithms).await
            }
            Store::Remote(r) => r.write_new(pfn, body, expected_len, algorithms).await,
        }
    }

    /// The object at `pfn`; `None` when there is none.
    pub async fn read(&self, pfn: &str) -> Result<Option<Reader>> {
        match self {
            Store::Dir(se) => {
                let path: PathBuf = se.local_path(pfn)?;
                let file = match tokio::fs::File::open(&path).await {
                    Ok(f) => f,
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
                    Err(e) => {
                        return Err(Error::Storage(format!(
                            "cannot read {}: {e}",
                            path.display()
                        )))
                    }
                };
                let len = file
                    .metadata()
                    .await
                    .map_err(|e| Error::Storage(format!("cannot read {}: {e}", path.display())))?
                    .len();
                let stream = tokio_util::io::ReaderStream::with_capacity(file, 256 * 1024)
                    .map_err(|e| Error::Storage(format!("read failed: {e}")));
                Ok(Some((len, stream.boxed())))
            }
            Store::Remote(r) => r.read(pfn).await,
        }
    }

    /// Reads the object whole: its size, adler32 and `algorithms`; `None` when there is none.
    pub async fn checksum(&self, pfn: &str, algorithms: Algorithms) -> Result<Option<Sums>> {
        let Some((_, mut stream)) = self.read(pfn).await? else {
            return Ok(None);
        };
        let mut sum = StreamSum::with(algorithms);
        while let Some(chunk) = stream.next().await {
            sum.update(&chunk?);
        }
        Ok(Some(sum.sums()))
    }

    /// The pfns of the objects below directory `dir` (relative to the storage element), at
    /// any depth; none when there is no such directory.
    pub async fn list(&self, dir: &str) -> Result<Vec<String>> {
        let dir = dir.trim_matches('/');
        match self {
            Store::Dir(se) => {
                let root = se.local_path(dir)?;
                let mut found = Vec::new();
                let mut pending = vec![(root, dir.to_owned())];
                while let Some((path, pfn)) = pending.pop() {
                    let mut entries = match tokio::fs::read_dir(&path).await {
                        Ok(entries) => entries,
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => continue,
                        Err(e) => {
                            return Err(storage_error(
                                &se.name,
                                format!("cannot list {}: {e}", path.display()),
                            ))
                        }
                    };
                    while let Some(entry) = entries.next_entry().await.map_err(|e| {
                        storage_error(&se.name, format!("cannot list {}: {e}", path.display()))
                    })? {
                        let child = format!("{pfn}/{}", entry.file_name().to_string_lossy());
                        match entry.file_type().await {
                            Ok(t) if t.is_dir() => pending.push((entry.path(), child)),
                            Ok(_) => found.push(child),
                            Err(e) => return Err(storage_error(&se.name, e)),
                        }
                    }
                }
                found.sort();
                Ok(found)
            }
            Store::Remote(r) => {
                let metas: Vec<object_store::ObjectMeta> = r
                    .store
                    .list(Some(&r.location(dir)?))
                    .try_collect()
                    .await
                    .map_err(|e| storage_error(&r.se, format!("cannot list {dir}: {e}")))?;
                let strip = if r.prefix.is_empty() {
                    String::new()
                } else {
                    format!("{}/", r.prefix)
                };
                let mut found: Vec<String> = metas
                    .iter()
                    .filter_map(|m| m.location.as_ref().strip_prefix(&strip).map(str::to_owned))
                    .collect();
                found.sort();
                Ok(found)
            }
        }
    }

    /// Removes directory `dir` of a `file` storage element and the directories below it when
    /// they hold no file; elsewhere directories are not objects, and there is nothing to do.
    pub async fn remove_empty_dirs(&self, dir: &str) -> Result<()> {
        let Store::Dir(se) = self else {
            return Ok(());
        };
        let root = se.local_path(dir.trim_matches('/'))?;
        tokio::task::spawn_blocking(move || {
            // Deepest first: a parent is empty only once its children are gone.
            fn prune(p: &std::path::Path) {
                if let Ok(entries) = std::fs::read_dir(p) {
                    for e in entries.flatten() {
                        if e.file_type().is_ok_and(|t| t.is_dir()) {
                            prune(&e.path());
                        }
                    }
                }
                let _ = std::fs::remove_dir(p);
            }
            prune(&root);
        })
        .await
        .map_err(|e| Error::Internal(format!("pruning directories failed: {e}")))
    }

    /// Removes an object; one already gone is not an error.
    pub async fn remove(&self, pfn: &str) -> Result<()> {
        match self {
            Store::Dir(se) => objects::remove(&se.local_path(pfn)?).await,
            Store::Remote(r) => match r.store.delete(&r.location(pfn)?).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(storage_error(&r.se, format!("cannot remove {pfn}: {e}"))),
            },
        }
    }
}

impl Remote {
    /// The object key of a pfn: relative to the storage element, or its full URL.
    fn location(&self, pfn: &str) -> Result<ObjectPath> {
        let rel = relative_pfn(&self.se, &self.base_url, pfn)?;
        let key = if self.prefix.is_empty() {
            rel.to_owned()
        } else {
            format!("{}/{rel}", self.prefix)
        };
        ObjectPath::parse(&key).map_err(|e| Error::bad(format!("invalid pfn {pfn:?}: {e}")))
    }

    async fn write_new<S, E>(
        &self,
        pfn: &str,
        mut body: S,
        expected_len: Option<u64>,
        algorithms: Algorithms,
    ) -> Result<Sums>
    where
        S: futures_util::Stream<Item = std::result::Result<Bytes, E>> + Unpin,
        E: std::fmt::Display,
    {
        use tokio::io::AsyncWriteExt;
        let location = self.location(pfn)?;
        match self.store.head(&location).await {
            Ok(_) => {
                return Err(Error::conflict(format!(
                    "object exists: {pfn} on {}",
                    self.se
                )))
            }
            Err(object_store::Error::NotFound { .. }) => {}
            Err(e) => return Err(storage_error(&self.se, e)),
        }
        // Below the part size a single PUT; above it a multipart upload, visible only once
        // completed. WebDAV takes no multipart uploads, so the object goes in one PUT.
        let capacity = if self.multipart {
            PART_SIZE
        } else {
            usize::MAX
        };
        let mut writer = object_store::buffered::BufWriter::with_capacity(
            self.store.clone(),
            location,
            capacity,
        );
        let mut sum = StreamSum::with(algorithms);
        let written: Result<()> = async {
            while let Some(chunk) = body.next().await {
                let chunk = chunk.map_err(|e| Error::bad(format!("upload interrupted: {e}")))?;
                sum.update(&chunk);
                writer
                    .put(chunk)
                    .await
                    .map_err(|e| storage_error(&self.se, e))?;
            }
            if let Some(len) = expected_len.filter(|l| *l != sum.size()) {
                return Err(Error::bad(format!(
                    "upload incomplete: got {} of {len} bytes",
                    sum.size()
                )));
            }
            Ok(())
        }
        .await;
        match written {
            Ok(()) => {
                writer
                    .shutdown()
                    .await
                    .map_err(|e| storage_error(&self.se, format!("cannot write {pfn}: {e}")))?;
                Ok(sum.sums())
            }
            Err(e) => {
                let _ = writer.abort().await;
                Err(e)
            }
        }
    }

    /// Creates the WebDAV collections of the base URL, top down (MKCOL answers 405 for one
    /// that exists): objects are put below it, creating their own parents.
    async fn make_collections(&self) -> Result<()> {
        let unreachable = |e: &dyn std::fmt::Display| {
            Error::bad(format!("cannot reach storage element {}: {e}", self.se))
        };
        let url = reqwest::Url::parse(&self.base_url).map_err(|e| unreachable(&e))?;
        let segments: Vec<String> = url
            .path_segments()
            .map(|s| s.filter(|x| !x.is_empty()).map(str::to_owned).collect())
            .unwrap_or_default();
        let client = reqwest::Client::new();
        let mkcol = reqwest::Method::from_bytes(b"MKCOL").expect("method");
        for depth in 1..=segments.len() {
            let mut dir = url.clone();
            dir.set_path(&format!("{}/", segments[..depth].join("/")));
            let mut req = client.request(mkcol.clone(), dir.clone());
            if let Some(a) = &self.auth {
                req = req.header(reqwest::header::AUTHORIZATION, a.clone());
            }
            let status = req.send().await.map_err(|e| unreachable(&e))?.status();
            if !(status.is_success() || status == reqwest::StatusCode::METHOD_NOT_ALLOWED) {
                return Err(unreachable(&format!("MKCOL {dir} answered {status}")));
            }
        }
        Ok(())
    }

    async fn read(&self, pfn: &str) -> Result<Option<Reader>> {
        match self.store.get(&self.location(pfn)?).await {
            Ok(got) => {
                let se = self.se.clone();
                let len = got.meta.size;
                let stream = got
                    .into_stream()
                    .map_err(move |e| storage_error(&se, format!("read failed: {e}")));
                Ok(Some((len, stream.boxed())))
            }
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(storage_error(&self.se, e)),
        }
    }
}

/// Streams the object `from_pfn` of `from` into a new object `to_pfn` of `to`; the sums
/// (adler32 and `algorithms`) of what was written.
pub async fn copy_new(
    from: &Store,
    from_pfn: &str,
    to: &Store,
    to_pfn: &str,
    algorithms: Algorithms,
) -> Result<Sums> {
    let (len, stream) = from
        .read(from_pfn)
        .await?
        .ok_or_else(|| Error::Storage(format!("no bytes at {from_pfn}")))?;
    to.write_new(to_pfn, stream, Some(len), algorithms).await
}

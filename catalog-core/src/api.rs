//! JSON request and response bodies of the HTTP API under `/api/v1`.

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::BTreeMap;
use utoipa::ToSchema;

use crate::checksum::Sums;
use crate::meta::FieldType;

/// Most items one bulk call takes (files to register, LFNs to read).
pub const MAX_BATCH: usize = 10_000;
/// Deepest provenance walk answered.
pub const MAX_DEPTH: u32 = 1_000;

/// Metadata as sent and received: field name to JSON scalar (datetimes as RFC 3339 strings).
pub type Metadata = BTreeMap<String, Value>;

/// An error body (`application/problem+json`, RFC 9457).
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Problem {
    /// Stable machine-readable kind, e.g. `urn:catalog:bad-request`.
    #[serde(rename = "type")]
    pub kind: String,
    pub title: String,
    pub status: u16,
    /// What went wrong, naming the offending thing.
    pub detail: String,
    /// Per-item errors of a refused bulk call.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<ItemError>,
    /// Where in a query's text the problem is (1-based), for query errors.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub line: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub column: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ItemError {
    /// Position of the item in the request (0-based).
    pub index: usize,
    pub lfn: String,
    pub message: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Health {
    pub status: String,
    pub database: String,
    pub version: String,
    /// Checksums computed on every transfer: adler32, and md5/sha256 when configured.
    #[serde(default)]
    pub checksums: Vec<String>,
}

// ---- namespace ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MkdirRequest {
    pub path: String,
    /// Create missing parents and accept an existing directory, like `mkdir -p`.
    #[serde(default)]
    pub parents: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MoveRequest {
    pub src: String,
    /// The new path; when it is an existing directory, `src` moves into it.
    pub dst: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
#[serde(rename_all = "lowercase")]
pub enum EntryKind {
    Dir,
    File,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DirInfo {
    pub path: String,
    pub owner: String,
    pub group: String,
    pub mode: i32,
    pub created: NaiveDateTime,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileInfo {
    pub lfn: String,
    pub guid: String,
    pub size: i64,
    pub adler32: String,
    pub md5: Option<String>,
    pub sha256: Option<String>,
    pub status: String,
    pub owner: String,
    pub group: String,
    pub mode: i32,
    pub created: NaiveDateTime,
    pub modified: NaiveDateTime,
}

impl FileInfo {
    /// The size and checksums the catalogue holds for the file.
    pub fn sums(&self) -> Sums {
        Sums::described(self.size, &self.adler32, &self.md5, &self.sha256)
    }
}

/// A directory or a file.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Entry {
    Dir(DirInfo),
    File(FileInfo),
}

impl Entry {
    pub fn path(&self) -> &str {
        match self {
            Entry::Dir(d) => &d.path,
            Entry::File(f) => &f.lfn,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Listing {
    pub path: String,
    pub entries: Vec<Entry>,
    /// Pass as `cursor` to get the next page; absent on the last page.
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LfnsRequest {
    pub lfns: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StatResponse {
    pub files: Vec<FileInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DeleteResponse {
    pub deleted: Vec<String>,
}

// ---- registration ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewReplica {
    /// Storage element name.
    pub se: String,
    /// Path relative to the storage element's root, or a full URL.
    pub pfn: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewFile {
    pub lfn: String,
    pub size: i64,
    /// 8 lowercase hex digits.
    pub adler32: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
    /// A UUID; one is made when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub guid: Option<String>,
    #[serde(default)]
    pub replicas: Vec<NewReplica>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// LFNs of the files this one was made from (existing, or in the same batch).
    #[serde(default)]
    pub parents: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    pub files: Vec<NewFile>,
    /// Create missing directories (like `mkdir -p`) instead of refusing the batch.
    #[serde(default)]
    pub create_dirs: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisteredItem {
    pub index: usize,
    pub lfn: String,
    pub guid: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct RegisterResponse {
    pub registered: usize,
    pub items: Vec<RegisteredItem>,
}

/// One line of a `catalog register --from` manifest.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestLine {
    pub lfn: String,
    pub size: i64,
    pub adler32: String,
    pub se: String,
    pub pfn: String,
    #[serde(default)]
    pub metadata: Metadata,
    #[serde(default)]
    pub parents: Vec<String>,
    #[serde(default)]
    pub guid: Option<String>,
    #[serde(default)]
    pub md5: Option<String>,
    #[serde(default)]
    pub sha256: Option<String>,
}

impl NewFile {
    /// A file with one replica, described by the sums of its bytes.
    pub fn stored(lfn: String, sums: Sums, se: String, pfn: String) -> Self {
        NewFile {
            lfn,
            size: sums.size as i64,
            adler32: sums.adler32,
            md5: sums.md5,
            sha256: sums.sha256,
            guid: None,
            replicas: vec![NewReplica { se, pfn }],
            metadata: Metadata::new(),
            parents: Vec::new(),
        }
    }

    /// The size and checksums the file is described with.
    pub fn sums(&self) -> Sums {
        Sums::described(self.size, &self.adler32, &self.md5, &self.sha256)
    }
}

impl From<ManifestLine> for NewFile {
    fn from(m: ManifestLine) -> Self {
        NewFile {
            lfn: m.lfn,
            size: m.size,
            adler32: m.adler32,
            md5: m.md5,
            sha256: m.sha256,
            guid: m.guid,
            replicas: vec![NewReplica {
                se: m.se,
                pfn: m.pfn,
            }],
            metadata: m.metadata,
            parents: m.parents,
        }
    }
}

// ---- replicas and storage elements ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicaInfo {
    pub se: String,
    pub pfn: String,
    /// Where the bytes are: the storage element's base URL joined with the pfn.
    pub url: String,
    pub status: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileReplicas {
    pub lfn: String,
    pub replicas: Vec<ReplicaInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicasResponse {
    pub files: Vec<FileReplicas>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewStorageElement {
    pub name: String,
    /// `file`: a directory on the server's machine; `s3`: a bucket on any S3-compatible
    /// endpoint; `webdav`: a directory on an HTTP/WebDAV server.
    pub kind: String,
    /// For `file`: the directory (created when missing).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// For `s3`: `s3://BUCKET[/PREFIX]`; for `webdav`: the `http(s)://` URL of the directory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// For `s3`: the endpoint of a non-AWS server, e.g. `http://127.0.0.1:9000`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoint: Option<String>,
    /// For `s3`: the region [default: us-east-1].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// For `s3`: address buckets as ENDPOINT/BUCKET rather than BUCKET.ENDPOINT.
    #[serde(default)]
    pub path_style: bool,
}

impl NewStorageElement {
    /// A `file` storage element over `path`.
    pub fn dir(name: &str, path: &str) -> NewStorageElement {
        NewStorageElement {
            name: name.to_owned(),
            kind: "file".to_owned(),
            path: Some(path.to_owned()),
            url: None,
            endpoint: None,
            region: None,
            path_style: false,
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct StorageElementInfo {
    pub name: String,
    pub kind: String,
    pub base_url: String,
    pub read_only: bool,
    pub replicas: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct UploadResponse {
    pub se: String,
    pub pfn: String,
    pub size: i64,
    pub adler32: String,
    /// Present when the server is configured to compute md5.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub md5: Option<String>,
    /// Present when the server is configured to compute sha256.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sha256: Option<String>,
}

impl UploadResponse {
    pub fn sums(&self) -> Sums {
        Sums::described(self.size, &self.adler32, &self.md5, &self.sha256)
    }
}

// ---- metadata ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewField {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[serde(default)]
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct FieldInfo {
    pub name: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    pub description: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FieldsResponse {
    pub fields: Vec<FieldInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetMetadataRequest {
    /// A file or a directory.
    pub path: String,
    #[schema(value_type = Object)]
    pub values: Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UnsetMetadataRequest {
    pub path: String,
    pub fields: Vec<String>,
}

/// One metadata value of a file or directory, with where it comes from.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct MetaEntry {
    pub field: String,
    #[serde(rename = "type")]
    pub field_type: FieldType,
    #[schema(value_type = Object)]
    pub value: Value,
    /// The directory the value is inherited from; absent when set on the path itself.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub inherited_from: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PathMetadata {
    pub path: String,
    pub entries: Vec<MetaEntry>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct MetadataResponse {
    pub files: Vec<PathMetadata>,
}

// ---- provenance ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ParentLinks {
    pub child: String,
    pub parents: Vec<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct AddParentsRequest {
    pub links: Vec<ParentLinks>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct AddParentsResponse {
    /// Links created (links that already existed are not counted).
    pub added: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LineageRequest {
    pub lfns: Vec<String>,
    /// How many generations to walk (1: parents or children only); default 1.
    #[serde(default)]
    pub depth: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq, Eq, PartialOrd, Ord)]
pub struct Relative {
    pub lfn: String,
    /// Generations away (1: parent or child).
    pub depth: u32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FileLineage {
    pub lfn: String,
    pub relatives: Vec<Relative>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LineageResponse {
    pub files: Vec<FileLineage>,
}

// ---- finding files ----

/// Largest page of `find` results.
pub const MAX_PAGE: u32 = 10_000;

/// A query, as text (`query`) or as its JSON AST (`ast`), exactly one of the two.
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FindRequest {
    /// The query language, e.g. `run in 10..20 and under "/data" order by start_time`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    /// The same query as its syntax tree.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ast: Option<crate::query::Query>,
    /// From a previous page's `next_cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cursor: Option<String>,
    /// Files per page (default 1,000, at most 10,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub page_size: Option<u32>,
    /// At most this many files in all; with the query's own `limit`, the smaller wins.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
}

impl FindRequest {
    pub fn text(query: &str) -> FindRequest {
        FindRequest {
            query: Some(query.to_owned()),
            ..Default::default()
        }
    }
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct FindResponse {
    /// The query in its normalised text form.
    pub query: String,
    pub files: Vec<FileInfo>,
    /// Present when more files follow: pass it back as `cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

/// A page of the LFNs matching a query: the light answer for scripts and bulk work.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct LfnPage {
    /// The query in its normalised text form.
    pub query: String,
    pub lfns: Vec<String>,
    /// Present when more follow: pass it back as `cursor`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub next_cursor: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct CountResponse {
    pub query: String,
    /// Files matching (at most the query's `limit`).
    pub count: i64,
    /// Their total size in bytes.
    pub size: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ExplainResponse {
    pub query: String,
    /// `sqlite` or `postgres`.
    pub database: String,
    /// The SQL run, values bound as parameters.
    pub sql: String,
    /// The database's plan, a line per step.
    pub plan: Vec<String>,
}

// ---- datasets ----

/// A new dataset: dynamic (its query is evaluated when it is read) or frozen (a fixed list
/// of files, from a query evaluated now or from `files`).
#[derive(Debug, Clone, Default, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewDataset {
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ast: Option<crate::query::Query>,
    #[serde(default)]
    pub frozen: bool,
    /// LFNs of a frozen dataset, instead of a query.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<Vec<String>>,
    #[serde(default)]
    #[schema(value_type = Object)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetInfo {
    pub name: String,
    pub frozen: bool,
    /// The query: what a dynamic dataset is, what a frozen one was made from (if it was).
    pub query: Option<String>,
    pub owner: String,
    pub created: NaiveDateTime,
    pub modified: NaiveDateTime,
    #[schema(value_type = Object)]
    pub metadata: Metadata,
    /// Files, total size and content hash: given by `show`, not by the listing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub files: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    /// `sha256:` of the sorted GUIDs, checksums and sizes of the files: it changes exactly
    /// when the set of files does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub hash: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetsResponse {
    pub datasets: Vec<DatasetInfo>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct DatasetMetadataRequest {
    #[schema(value_type = Object)]
    pub metadata: Metadata,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DatasetChange {
    /// Files added or removed.
    pub changed: u64,
    pub dataset: DatasetInfo,
}

// ---- schemas ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SetSchemaRequest {
    /// The directory.
    pub path: String,
    /// A JSON Schema for the effective metadata of each file below the directory.
    #[schema(value_type = Object)]
    pub schema: Value,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SchemaInfo {
    pub path: String,
    #[schema(value_type = Object)]
    pub schema: Value,
    pub created: NaiveDateTime,
}

// ---- full-text search ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SearchRequest {
    /// Words to find in paths, names, string metadata and datasets (all of them must
    /// appear; "quoted phrases", `-word` to exclude, `meta:word` for one field).
    pub text: String,
    /// Only files matching this query (datasets are left out then).
    #[serde(default, rename = "where", skip_serializing_if = "Option::is_none")]
    pub r#where: Option<String>,
    /// At most this many hits (default 20).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u32>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchHit {
    /// `file` or `dataset`.
    pub kind: String,
    /// The LFN of a file, the name of a dataset.
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub size: Option<i64>,
    pub score: f32,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SearchResponse {
    pub hits: Vec<SearchHit>,
}

// ---- replica management ----

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicateRequest {
    pub lfns: Vec<String>,
    /// The storage element to copy to.
    pub to: String,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ReplicaSetRequest {
    pub lfns: Vec<String>,
    /// Only replicas on this storage element (verify: all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub se: Option<String>,
    /// verify: mark the replicas found bad as `bad` (get skips them).
    #[serde(default)]
    pub mark_bad: bool,
}

/// What happened to one replica.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema, PartialEq)]
pub struct ReplicaOutcome {
    pub lfn: String,
    pub se: String,
    /// replicate: copied, present or failed; remove: removed or failed; verify: ok, missing,
    /// bad or failed.
    pub status: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct ReplicaOutcomes {
    pub items: Vec<ReplicaOutcome>,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct SeUsage {
    pub se: String,
    pub replicas: i64,
    pub bytes: i64,
}

#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct DuResponse {
    pub path: String,
    pub files: i64,
    pub bytes: i64,
    /// Replicas and their bytes per storage element, summed over the files below.
    pub storage: Vec<SeUsage>,
}

/// Changes the owner, group and/or mode of a file or directory (and, with `recursive`,
/// of everything below a directory). Only the owner or an admin may.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PermissionsRequest {
    pub path: String,
    /// Mode bits, e.g. 488 (0o750); files keep only the `rw` bits.
    #[serde(default)]
    pub mode: Option<i32>,
    #[serde(default)]
    pub owner: Option<String>,
    #[serde(default)]
    pub group: Option<String>,
    #[serde(default)]
    pub recursive: bool,
}

/// What was changed.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct PermissionsResponse {
    pub path: String,
    /// Directories and files changed.
    pub changed: u64,
}

/// Who the server takes the caller for.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct WhoAmI {
    pub user: String,
    pub groups: Vec<String>,
    pub admin: bool,
    /// Authenticated with a runner token.
    pub runner: bool,
    /// The server's auth mode: open, token, x509 or token,x509.
    pub auth: String,
}

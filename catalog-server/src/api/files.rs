use actix_web::{post, web};
use catalog_core::api::{
    AddParentsRequest, AddParentsResponse, DeleteResponse, LfnsRequest, LineageRequest,
    LineageResponse, MetadataResponse, RegisterRequest, RegisterResponse, ReplicasResponse,
    StatResponse,
};

use crate::app::AppState;
use crate::auth::{access, Caller, Guard, Need};
use crate::error::Result;
use crate::provenance::{self, Direction};
use crate::search::Change;
use crate::{deletion, files, metadata, replicas};

/// Register up to 10,000 files with replicas, checksums, metadata and parents: all or nothing.
#[utoipa::path(post, path = "/api/v1/files", request_body = RegisterRequest,
    responses((status = 200, body = RegisterResponse), (status = 400, body = catalog_core::api::Problem), (status = 404), (status = 413)))]
#[post("/files")]
pub async fn register(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<RegisterRequest>,
) -> Result<web::Json<RegisterResponse>> {
    let resp = state
        .db
        .write(move |c| {
            access::check_create(c, &caller, req.files.iter().map(|f| f.lfn.as_str()))?;
            files::register(c, &req, &caller.name)
        })
        .await?;
    state.db.grew(resp.items.len() as u64);
    registered(&state, resp.items.iter().map(|i| i.lfn.clone()).collect()).await;
    Ok(web::Json(resp))
}

/// After files are registered (and committed): the search index learns them, and watching
/// jobs get new subjobs for those that match their query.
pub async fn registered(state: &AppState, lfns: Vec<String>) {
    if lfns.is_empty() {
        return;
    }
    state
        .metrics
        .files_registered
        .fetch_add(lfns.len() as u64, std::sync::atomic::Ordering::Relaxed);
    state.search.changed(vec![Change::Lfns(lfns.clone())]);
    // Most catalogues have no watching job: then registration costs nothing more.
    if !matches!(state.db.read(crate::jobs::any_watching).await, Ok(true)) {
        return;
    }
    let watched = state
        .db
        .write(move |c| {
            let ids: Vec<i64> = files::ids_by_paths(c, &lfns)?.into_values().collect();
            crate::jobs::watch_new_files(c, &ids)
        })
        .await;
    match watched {
        Ok(0) => {}
        Ok(n) => tracing::info!(files = n, "new inputs for watching jobs"),
        Err(e) => tracing::error!(error = %e, "watching jobs could not take the new files"),
    }
}

#[derive(serde::Deserialize, utoipa::IntoParams)]
pub struct StatQuery {
    /// `error` (default): a 404 naming the LFNs not in the catalogue; `ignore`: leave
    /// them out of the answer.
    missing: Option<String>,
}

/// Attributes of up to 10,000 files.
#[utoipa::path(post, path = "/api/v1/files/stat", request_body = LfnsRequest, params(StatQuery), responses((status = 200, body = StatResponse), (status = 404)))]
#[post("/files/stat")]
pub async fn stat(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LfnsRequest>,
    query: web::Query<StatQuery>,
) -> Result<web::Json<StatResponse>> {
    let rows: Vec<files::FileRow> = match query.missing.as_deref() {
        None | Some("error") => state.db.read(move |c| files::require(c, &req.lfns)).await?,
        Some("ignore") => {
            let mut found = state
                .db
                .read(move |c| files::by_paths(c, &req.lfns))
                .await?;
            let mut rows: Vec<_> = found.drain().map(|(_, f)| f).collect();
            rows.sort_by(|a, b| a.path.cmp(&b.path));
            rows
        }
        Some(other) => {
            return Err(crate::error::Error::bad(format!(
                "missing={other:?}: expected error or ignore"
            )))
        }
    };
    let rows = readable(&state, caller, rows, Need::Read).await?;
    Ok(web::Json(StatResponse {
        files: rows.iter().map(files::FileRow::info).collect(),
    }))
}

/// Remove files: the bytes of each replica, then the entries.
#[utoipa::path(post, path = "/api/v1/files/delete", request_body = LfnsRequest, responses((status = 200, body = DeleteResponse), (status = 404), (status = 502)))]
#[post("/files/delete")]
pub async fn delete(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LfnsRequest>,
) -> Result<web::Json<DeleteResponse>> {
    let rows = state.db.read(move |c| files::require(c, &req.lfns)).await?;
    let rows = readable(&state, caller, rows, Need::Write).await?;
    let ids = rows.iter().map(|f| f.id).collect();
    let resp = deletion::remove_files(&state.db, rows).await;
    state.search.changed(vec![Change::Files(ids)]);
    Ok(web::Json(resp?))
}

/// Replicas of up to 10,000 files.
#[utoipa::path(post, path = "/api/v1/files/replicas", request_body = LfnsRequest, responses((status = 200, body = ReplicasResponse), (status = 404)))]
#[post("/files/replicas")]
pub async fn file_replicas(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LfnsRequest>,
) -> Result<web::Json<ReplicasResponse>> {
    Ok(web::Json(ReplicasResponse {
        files: state
            .db
            .read(move |c| {
                let rows = files::require(c, &req.lfns)?;
                Guard::new(&caller).files(c, &rows, Need::Read)?;
                replicas::of_rows(c, rows)
            })
            .await?,
    }))
}

/// Effective metadata (own and inherited) of up to 10,000 files.
#[utoipa::path(post, path = "/api/v1/files/metadata", request_body = LfnsRequest, responses((status = 200, body = MetadataResponse), (status = 404)))]
#[post("/files/metadata")]
pub async fn file_metadata(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LfnsRequest>,
) -> Result<web::Json<MetadataResponse>> {
    let files = state
        .db
        .read(move |c| {
            let rows = files::require(c, &req.lfns)?;
            Guard::new(&caller).files(c, &rows, Need::Read)?;
            metadata::effective(c, &rows)
        })
        .await?;
    Ok(web::Json(MetadataResponse { files }))
}

/// Ancestors of up to 10,000 files, at most `depth` generations up.
#[utoipa::path(post, path = "/api/v1/files/ancestors", request_body = LineageRequest, responses((status = 200, body = LineageResponse), (status = 404)))]
#[post("/files/ancestors")]
pub async fn ancestors(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LineageRequest>,
) -> Result<web::Json<LineageResponse>> {
    let files = state
        .db
        .read(move |c| provenance::lineage(c, &caller, &req.lfns, Direction::Ancestors, req.depth))
        .await?;
    Ok(web::Json(LineageResponse { files }))
}

/// Descendants of up to 10,000 files, at most `depth` generations down.
#[utoipa::path(post, path = "/api/v1/files/descendants", request_body = LineageRequest, responses((status = 200, body = LineageResponse), (status = 404)))]
#[post("/files/descendants")]
pub async fn descendants(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<LineageRequest>,
) -> Result<web::Json<LineageResponse>> {
    let files = state
        .db
        .read(move |c| {
            provenance::lineage(c, &caller, &req.lfns, Direction::Descendants, req.depth)
        })
        .await?;
    Ok(web::Json(LineageResponse { files }))
}

/// Add parent links; a link to a missing file or one that would make a cycle refuses all.
#[utoipa::path(post, path = "/api/v1/files/parents", request_body = AddParentsRequest, responses((status = 200, body = AddParentsResponse), (status = 400)))]
#[post("/files/parents")]
pub async fn add_parents(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<AddParentsRequest>,
) -> Result<web::Json<AddParentsResponse>> {
    let added = state
        .db
        .write(move |c| provenance::add_links(c, &caller, &req.links))
        .await?;
    state.db.grew(added as u64);
    Ok(web::Json(AddParentsResponse { added }))
}

/// `rows` once the caller is checked for `need` on each (all or nothing).
async fn readable(
    state: &AppState,
    caller: Caller,
    rows: Vec<files::FileRow>,
    need: Need,
) -> Result<Vec<files::FileRow>> {
    if caller.admin {
        return Ok(rows);
    }
    state
        .db
        .read(move |c| {
            Guard::new(&caller).files(c, &rows, need)?;
            Ok(rows)
        })
        .await
}

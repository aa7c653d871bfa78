use actix_web::{delete, get, post, web, HttpResponse};
use catalog_core::api::{
    DuResponse, ReplicaOutcomes, ReplicaSetRequest, ReplicateRequest, StorageElementInfo,
};
use serde::Deserialize;

use super::check_files;
use crate::app::AppState;
use crate::auth::{access, Caller, Need};
use crate::error::{Error, Result};
use crate::{replicas, replication, storage};

/// Copy files to another storage element (verified) and register the new replicas.
#[utoipa::path(post, path = "/api/v1/replicas/replicate", request_body = ReplicateRequest, responses((status = 200, body = ReplicaOutcomes), (status = 404)))]
#[post("/replicas/replicate")]
pub async fn replicate(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<ReplicateRequest>,
) -> Result<web::Json<ReplicaOutcomes>> {
    let req = req.into_inner();
    check_files(&state, &caller, &req.lfns, Need::Write).await?;
    Ok(web::Json(
        replication::replicate(&state.db, req.lfns, req.to).await?,
    ))
}

/// Remove each file's replica on one storage element (bytes, then the entry of the replica).
#[utoipa::path(post, path = "/api/v1/replicas/remove", request_body = ReplicaSetRequest, responses((status = 200, body = ReplicaOutcomes), (status = 404)))]
#[post("/replicas/remove")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<ReplicaSetRequest>,
) -> Result<web::Json<ReplicaOutcomes>> {
    let req = req.into_inner();
    check_files(&state, &caller, &req.lfns, Need::Write).await?;
    let se = req
        .se
        .ok_or_else(|| Error::bad("give the storage element ('se') whose replicas to remove"))?;
    Ok(web::Json(
        replication::remove(&state.db, req.lfns, se).await?,
    ))
}

/// Check that each replica's bytes are there with the catalogue's size and checksum.
#[utoipa::path(post, path = "/api/v1/replicas/verify", request_body = ReplicaSetRequest, responses((status = 200, body = ReplicaOutcomes), (status = 404)))]
#[post("/replicas/verify")]
pub async fn verify(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<ReplicaSetRequest>,
) -> Result<web::Json<ReplicaOutcomes>> {
    let req = req.into_inner();
    // Marking bad replicas changes the files; checking them only reads.
    let need = if req.mark_bad {
        Need::Write
    } else {
        Need::Read
    };
    check_files(&state, &caller, &req.lfns, need).await?;
    Ok(web::Json(
        replication::verify(&state.db, req.lfns, req.se, req.mark_bad).await?,
    ))
}

#[derive(Debug, Deserialize, utoipa::IntoParams)]
pub struct DuQuery {
    /// A directory (or a file).
    pub path: String,
    /// Only this storage element.
    pub se: Option<String>,
}

/// Files and bytes below a directory, and replicas and bytes per storage element.
#[utoipa::path(get, path = "/api/v1/du", params(DuQuery), responses((status = 200, body = DuResponse), (status = 404)))]
#[get("/du")]
pub async fn du(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<DuQuery>,
) -> Result<web::Json<DuResponse>> {
    let dir = q.path.clone();
    state
        .db
        .read(move |c| access::check_path(c, &caller, &dir, Need::Read))
        .await?;
    Ok(web::Json(
        state
            .db
            .read(move |c| replicas::du(c, &q.path, q.se.as_deref()))
            .await?,
    ))
}

/// One storage element with its usage.
#[utoipa::path(get, path = "/api/v1/se/{name}", params(("name" = String, Path, description = "the storage element")), responses((status = 200, body = StorageElementInfo), (status = 404)))]
#[get("/se/{name}")]
pub async fn show(
    state: web::Data<AppState>,
    _caller: Caller,
    name: web::Path<String>,
) -> Result<web::Json<StorageElementInfo>> {
    Ok(web::Json(
        state.db.read(move |c| storage::show(c, &name)).await?,
    ))
}

/// Remove a storage element; refused while it holds replicas.
#[utoipa::path(delete, path = "/api/v1/se/{name}", params(("name" = String, Path, description = "the storage element")), responses((status = 204), (status = 404), (status = 409)))]
#[delete("/se/{name}")]
pub async fn remove_se(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    access::admin(&caller, "remove storage elements")?;
    state.db.write(move |c| storage::remove(c, &name)).await?;
    Ok(HttpResponse::NoContent().finish())
}

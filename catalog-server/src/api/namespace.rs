use actix_web::{delete, get, post, web, HttpResponse};
use catalog_core::api::{
    DeleteResponse, DirInfo, Entry, Listing, MkdirRequest, MoveRequest, PermissionsRequest,
    PermissionsResponse,
};
use serde::Deserialize;
use utoipa::IntoParams;

use crate::app::AppState;
use crate::auth::{access, Caller};
use crate::error::{Error, Result};
use crate::search::Change;
use crate::{deletion, namespace};

#[derive(Deserialize, IntoParams)]
pub struct PathQuery {
    /// An absolute LFN.
    pub path: String,
}

#[derive(Deserialize, IntoParams)]
pub struct ListQuery {
    pub path: String,
    #[serde(default)]
    pub recursive: bool,
    /// `next_cursor` of the previous page.
    pub cursor: Option<String>,
    /// Entries per page (default 1000, at most 10000).
    pub limit: Option<usize>,
}

#[derive(Deserialize, IntoParams)]
pub struct RmdirQuery {
    pub path: String,
    /// Remove everything below, files (and their bytes) included.
    #[serde(default)]
    pub recursive: bool,
}

/// Create a directory.
#[utoipa::path(post, path = "/api/v1/dirs", request_body = MkdirRequest, responses((status = 200, body = DirInfo), (status = 404), (status = 409)))]
#[post("/dirs")]
pub async fn mkdir(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<MkdirRequest>,
) -> Result<web::Json<DirInfo>> {
    let dir = state
        .db
        .write(move |c| {
            access::check_create(c, &caller, [req.path.as_str()])?;
            namespace::mkdir(c, &req.path, req.parents, &caller.name)
        })
        .await?;
    Ok(web::Json(dir.info()))
}

/// Remove a directory: an empty one, or with `recursive` everything below it.
#[utoipa::path(delete, path = "/api/v1/dirs", params(RmdirQuery), responses((status = 200, body = DeleteResponse), (status = 409)))]
#[delete("/dirs")]
pub async fn rmdir(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<RmdirQuery>,
) -> Result<web::Json<DeleteResponse>> {
    let q = q.into_inner();
    if q.path == "/" {
        return Err(Error::bad("cannot remove the root directory"));
    }
    let path = q.path.clone();
    let (dir, below) = state
        .db
        .read(move |c| {
            let dir = namespace::get_dir(c, &path)?;
            access::check_create(c, &caller, [path.as_str()])?;
            access::check_subtree(c, &caller, &dir)?;
            let below = if q.recursive {
                namespace::files_below(c, &dir)?
            } else {
                Vec::new()
            };
            Ok((dir, below))
        })
        .await?;
    let mut response = DeleteResponse {
        deleted: Vec::new(),
    };
    if q.recursive {
        response = deletion::remove_files(&state.db, below).await?;
    }
    state
        .db
        .write(move |c| {
            if !namespace::is_empty(c, &dir)? && !q.recursive {
                return Err(Error::conflict(format!(
                    "directory not empty: {} (use rmdir -r)",
                    dir.path
                )));
            }
            if !namespace::files_below(c, &dir)?.is_empty() {
                return Err(Error::conflict(format!(
                    "files were added below {} meanwhile; nothing more removed",
                    dir.path
                )));
            }
            namespace::delete_subtree(c, &dir)
        })
        .await?;
    response.deleted.push(q.path);
    Ok(web::Json(response))
}

/// The file or directory at a path.
#[utoipa::path(get, path = "/api/v1/namespace/stat", params(PathQuery), responses((status = 200, body = Entry), (status = 404)))]
#[get("/namespace/stat")]
pub async fn stat(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PathQuery>,
) -> Result<web::Json<Entry>> {
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                access::check_visible(c, &caller, &q.path)?;
                namespace::stat(c, &q.path)
            })
            .await?,
    ))
}

/// One page of a directory listing, directories first, in path order.
#[utoipa::path(get, path = "/api/v1/namespace/list", params(ListQuery), responses((status = 200, body = Listing), (status = 404)))]
#[get("/namespace/list")]
pub async fn list(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<ListQuery>,
) -> Result<web::Json<Listing>> {
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                namespace::list(
                    c,
                    &caller,
                    &q.path,
                    q.recursive,
                    q.cursor.as_deref(),
                    q.limit,
                )
            })
            .await?,
    ))
}

/// Move or rename a file or a directory.
#[utoipa::path(post, path = "/api/v1/namespace/move", request_body = MoveRequest, responses((status = 200, body = Entry), (status = 404), (status = 409)))]
#[post("/namespace/move")]
pub async fn move_path(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<MoveRequest>,
) -> Result<HttpResponse> {
    let dst = req.dst.clone();
    let entry = state
        .db
        .write(move |c| namespace::move_path(c, &caller, &req.src, &req.dst))
        .await?;
    state.search.changed(vec![Change::Below(dst)]);
    Ok(HttpResponse::Ok().json(entry))
}

/// Change the owner, group or mode of a file or directory (chown, chgrp, chmod).
#[utoipa::path(post, path = "/api/v1/namespace/permissions", request_body = PermissionsRequest, responses((status = 200, body = PermissionsResponse), (status = 403), (status = 404)))]
#[post("/namespace/permissions")]
pub async fn permissions(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<PermissionsRequest>,
) -> Result<web::Json<PermissionsResponse>> {
    let known_names = !state.auth.is_open();
    Ok(web::Json(
        state
            .db
            .write(move |c| crate::auth::permissions::change(c, &caller, &req, known_names))
            .await?,
    ))
}

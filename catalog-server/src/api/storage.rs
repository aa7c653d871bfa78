use actix_web::http::header;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use catalog_core::api::{NewStorageElement, StorageElementInfo, UploadResponse};
use tokio_util::io::ReaderStream;

use crate::app::AppState;
use crate::error::{Error, Result};
use crate::{objects, storage};

/// Storage elements with their usage.
#[utoipa::path(get, path = "/api/v1/se", responses((status = 200, body = Vec<StorageElementInfo>)))]
#[get("/se")]
pub async fn list(state: web::Data<AppState>) -> Result<web::Json<Vec<StorageElementInfo>>> {
    Ok(web::Json(state.db.read(storage::list).await?))
}

/// Add a storage element.
#[utoipa::path(post, path = "/api/v1/se", request_body = NewStorageElement, responses((status = 200, body = StorageElementInfo), (status = 409)))]
#[post("/se")]
pub async fn add(
    state: web::Data<AppState>,
    req: web::Json<NewStorageElement>,
) -> Result<web::Json<StorageElementInfo>> {
    Ok(web::Json(
        state.db.write(move |c| storage::add(c, &req)).await?,
    ))
}

async fn local_path(state: &AppState, se: String, pfn: &str) -> Result<std::path::PathBuf> {
    let se = state.db.read(move |c| storage::get(c, &se)).await?;
    se.local_path(pfn)
}

/// Stream bytes to a new object; answers its size and adler32. Never overwrites.
#[utoipa::path(put, path = "/api/v1/se/{se}/data/{pfn}", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("se" = String, Path), ("pfn" = String, Path)), responses((status = 200, body = UploadResponse), (status = 409)))]
#[put("/se/{se}/data/{pfn:.*}")]
pub async fn upload(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<web::Json<UploadResponse>> {
    let (se, pfn) = path.into_inner();
    let target = local_path(&state, se.clone(), &pfn).await?;
    let expected = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let (size, adler32) = objects::write_new(&target, body, expected).await?;
    Ok(web::Json(UploadResponse {
        se,
        pfn,
        size: size as i64,
        adler32,
    }))
}

/// Stream an object's bytes.
#[utoipa::path(get, path = "/api/v1/se/{se}/data/{pfn}", params(("se" = String, Path), ("pfn" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404)))]
#[get("/se/{se}/data/{pfn:.*}")]
pub async fn download(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (se, pfn) = path.into_inner();
    let target = local_path(&state, se.clone(), &pfn).await?;
    let file = tokio::fs::File::open(&target)
        .await
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => {
                Error::not_found(format!("no object {pfn} on storage element {se}"))
            }
            _ => Error::Storage(format!("cannot open {}: {e}", target.display())),
        })?;
    let len = file
        .metadata()
        .await
        .map_err(|e| Error::Storage(e.to_string()))?
        .len();
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(len)
        .streaming(ReaderStream::with_capacity(file, 256 * 1024)))
}

/// Remove an object (not its catalogue entry: used to undo an upload whose registration failed).
#[utoipa::path(delete, path = "/api/v1/se/{se}/data/{pfn}", params(("se" = String, Path), ("pfn" = String, Path)), responses((status = 204)))]
#[delete("/se/{se}/data/{pfn:.*}")]
pub async fn remove(
    state: web::Data<AppState>,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (se, pfn) = path.into_inner();
    let target = local_path(&state, se.clone(), &pfn).await?;
    let registered = state
        .db
        .read(move |c| storage::is_registered(c, &se, &pfn))
        .await?;
    if registered {
        return Err(Error::conflict(
            "the object is a registered replica; remove the file with rm instead",
        ));
    }
    objects::remove(&target).await?;
    Ok(HttpResponse::NoContent().finish())
}

use actix_web::http::header;
use actix_web::{delete, get, post, put, web, HttpRequest, HttpResponse};
use catalog_core::api::{NewStorageElement, StorageElementInfo, UploadResponse};

use crate::app::AppState;
use crate::auth::{access, Caller, Need};
use crate::error::{Error, Result};
use crate::storage;
use crate::stores::Store;

/// Storage elements with their usage.
#[utoipa::path(get, path = "/api/v1/se", responses((status = 200, body = Vec<StorageElementInfo>)))]
#[get("/se")]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<web::Json<Vec<StorageElementInfo>>> {
    Ok(web::Json(state.db.read(storage::list).await?))
}

/// Add a storage element.
#[utoipa::path(post, path = "/api/v1/se", request_body = NewStorageElement, responses((status = 200, body = StorageElementInfo), (status = 409)))]
#[post("/se")]
pub async fn add(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<NewStorageElement>,
) -> Result<web::Json<StorageElementInfo>> {
    access::admin(&caller, "add storage elements")?;
    let se = storage::check_new(&req)?;
    Store::open(&se)?.probe().await?;
    Ok(web::Json(
        state.db.write(move |c| storage::insert(c, &se)).await?,
    ))
}

/// The store of `se`, once `caller` is found to have `need` on object `pfn` there.
async fn store(
    state: &AppState,
    caller: Caller,
    se: String,
    pfn: &str,
    need: Need,
) -> Result<Store> {
    let pfn = pfn.to_owned();
    let se = state
        .db
        .read(move |c| {
            access::check_object(c, &caller, &se, &pfn, need)?;
            storage::get(c, &se)
        })
        .await?;
    Store::open(&se)
}

/// Stream bytes to a new object; answers its size and adler32. Never overwrites.
#[utoipa::path(put, path = "/api/v1/se/{se}/data/{pfn}", request_body(content = Vec<u8>, content_type = "application/octet-stream"),
    params(("se" = String, Path), ("pfn" = String, Path)), responses((status = 200, body = UploadResponse), (status = 409)))]
#[put("/se/{se}/data/{pfn:.*}")]
pub async fn upload(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
    req: HttpRequest,
    body: web::Payload,
) -> Result<web::Json<UploadResponse>> {
    let (se, pfn) = path.into_inner();
    let target = store(&state, caller, se.clone(), &pfn, Need::Write).await?;
    let expected = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse().ok());
    let sums = target
        .write_new(&pfn, body, expected, state.checksums)
        .await?;
    Ok(web::Json(UploadResponse {
        se,
        pfn,
        size: sums.size as i64,
        adler32: sums.adler32,
        md5: sums.md5,
        sha256: sums.sha256,
    }))
}

/// Stream an object's bytes.
#[utoipa::path(get, path = "/api/v1/se/{se}/data/{pfn}", params(("se" = String, Path), ("pfn" = String, Path)),
    responses((status = 200, content_type = "application/octet-stream"), (status = 404)))]
#[get("/se/{se}/data/{pfn:.*}")]
pub async fn download(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (se, pfn) = path.into_inner();
    let (len, stream) = store(&state, caller, se.clone(), &pfn, Need::Read)
        .await?
        .read(&pfn)
        .await?
        .ok_or_else(|| Error::not_found(format!("no object {pfn} on storage element {se}")))?;
    Ok(HttpResponse::Ok()
        .content_type("application/octet-stream")
        .no_chunking(len)
        .streaming(stream))
}

/// Remove an object (not its catalogue entry: used to undo an upload whose registration failed).
#[utoipa::path(delete, path = "/api/v1/se/{se}/data/{pfn}", params(("se" = String, Path), ("pfn" = String, Path)), responses((status = 204)))]
#[delete("/se/{se}/data/{pfn:.*}")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    path: web::Path<(String, String)>,
) -> Result<HttpResponse> {
    let (se, pfn) = path.into_inner();
    let target = store(&state, caller, se.clone(), &pfn, Need::Write).await?;
    let registered = state
        .db
        .read({
            let pfn = pfn.clone();
            move |c| storage::is_registered(c, &se, &pfn)
        })
        .await?;
    if registered {
        return Err(Error::conflict(
            "the object is a registered replica; remove the file with rm instead",
        ));
    }
    target.remove(&pfn).await?;
    Ok(HttpResponse::NoContent().finish())
}

use actix_web::{delete, get, post, web, HttpResponse};
use catalog_core::api::{
    DatasetChange, DatasetInfo, DatasetMetadataRequest, DatasetsResponse, LfnsRequest, NewDataset,
};

use crate::app::AppState;
use crate::auth::{Caller, Guard, Need};
use crate::datasets;
use crate::db::DbConn;
use crate::error::Result;
use crate::search::Change;

/// Create a dataset: dynamic (a query) or frozen (a query evaluated now, or a list of files).
#[utoipa::path(post, path = "/api/v1/datasets", request_body = NewDataset,
    responses((status = 200, body = DatasetInfo), (status = 400, body = catalog_core::api::Problem), (status = 409)))]
#[post("/datasets")]
pub async fn create(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<NewDataset>,
) -> Result<web::Json<DatasetInfo>> {
    let name = req.name.clone();
    let create = move |c: &mut DbConn, _: &str| datasets::create(c, &req, &caller.name);
    Ok(web::Json(write_dataset(&state, None, name, create).await?))
}

/// Only a dataset's owner (or an admin) changes it.
fn owns(c: &mut DbConn, caller: &Caller, name: &str) -> Result<()> {
    let owner = datasets::show(c, name)?.owner;
    Guard::new(caller).owns(&format!("dataset {name}"), &owner)
}

/// Runs a change to dataset `name` (once `owner`, when given, is found to own it), then
/// tells the search index about it.
async fn write_dataset<R, F>(
    state: &AppState,
    owner: Option<Caller>,
    name: String,
    f: F,
) -> Result<R>
where
    R: Send + 'static,
    F: FnOnce(&mut DbConn, &str) -> Result<R> + Send + 'static,
{
    let n = name.clone();
    let r = state
        .db
        .write(move |c| {
            if let Some(caller) = &owner {
                owns(c, caller, &n)?;
            }
            f(c, &n)
        })
        .await?;
    state.search.changed(vec![Change::Dataset(name)]);
    Ok(r)
}

/// Every dataset (without counts).
#[utoipa::path(get, path = "/api/v1/datasets", responses((status = 200, body = DatasetsResponse)))]
#[get("/datasets")]
pub async fn list(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<web::Json<DatasetsResponse>> {
    Ok(web::Json(DatasetsResponse {
        datasets: state.db.read(datasets::list).await?,
    }))
}

/// A dataset with its file count, total size and content hash.
#[utoipa::path(get, path = "/api/v1/datasets/{name}", params(("name" = String, Path, description = "the dataset")), responses((status = 200, body = DatasetInfo), (status = 404)))]
#[get("/datasets/{name}")]
pub async fn show(
    state: web::Data<AppState>,
    _caller: Caller,
    name: web::Path<String>,
) -> Result<web::Json<DatasetInfo>> {
    Ok(web::Json(
        state.db.read(move |c| datasets::show(c, &name)).await?,
    ))
}

/// Add files to a frozen dataset.
#[utoipa::path(post, path = "/api/v1/datasets/{name}/add", params(("name" = String, Path, description = "the dataset")), request_body = LfnsRequest,
    responses((status = 200, body = DatasetChange), (status = 400), (status = 404)))]
#[post("/datasets/{name}/add")]
pub async fn add(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: web::Json<LfnsRequest>,
) -> Result<web::Json<DatasetChange>> {
    change(state, caller, name.into_inner(), req.into_inner(), true).await
}

/// Remove files from a frozen dataset.
#[utoipa::path(post, path = "/api/v1/datasets/{name}/remove", params(("name" = String, Path, description = "the dataset")), request_body = LfnsRequest,
    responses((status = 200, body = DatasetChange), (status = 400), (status = 404)))]
#[post("/datasets/{name}/remove")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: web::Json<LfnsRequest>,
) -> Result<web::Json<DatasetChange>> {
    change(state, caller, name.into_inner(), req.into_inner(), false).await
}

async fn change(
    state: web::Data<AppState>,
    caller: Caller,
    name: String,
    req: LfnsRequest,
    adding: bool,
) -> Result<web::Json<DatasetChange>> {
    let resp = state
        .db
        .write(move |c| {
            owns(c, &caller, &name)?;
            if adding && !caller.admin {
                let rows = crate::files::require(c, &req.lfns)?;
                Guard::new(&caller).files(c, &rows, Need::Read)?;
            }
            let changed = if adding {
                datasets::add_files(c, &name, &req.lfns)?
            } else {
                datasets::remove_files(c, &name, &req.lfns)?
            };
            Ok(DatasetChange {
                changed,
                dataset: datasets::show(c, &name)?,
            })
        })
        .await?;
    Ok(web::Json(resp))
}

/// Freeze a dynamic dataset with the files that match its query now.
#[utoipa::path(post, path = "/api/v1/datasets/{name}/freeze", params(("name" = String, Path, description = "the dataset")), responses((status = 200, body = DatasetInfo), (status = 404), (status = 409)))]
#[post("/datasets/{name}/freeze")]
pub async fn freeze(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<web::Json<DatasetInfo>> {
    Ok(web::Json(
        write_dataset(&state, Some(caller), name.into_inner(), datasets::freeze).await?,
    ))
}

/// Set metadata on a dataset.
#[utoipa::path(post, path = "/api/v1/datasets/{name}/metadata", params(("name" = String, Path, description = "the dataset")), request_body = DatasetMetadataRequest,
    responses((status = 200, body = DatasetInfo), (status = 400), (status = 404)))]
#[post("/datasets/{name}/metadata")]
pub async fn set_metadata(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
    req: web::Json<DatasetMetadataRequest>,
) -> Result<web::Json<DatasetInfo>> {
    let write = move |c: &mut DbConn, n: &str| datasets::set_metadata(c, n, &req.metadata);
    Ok(web::Json(
        write_dataset(&state, Some(caller), name.into_inner(), write).await?,
    ))
}

/// Remove a dataset (its files stay).
#[utoipa::path(delete, path = "/api/v1/datasets/{name}", params(("name" = String, Path, description = "the dataset")), responses((status = 204), (status = 404), (status = 409)))]
#[delete("/datasets/{name}")]
pub async fn remove_dataset(
    state: web::Data<AppState>,
    caller: Caller,
    name: web::Path<String>,
) -> Result<HttpResponse> {
    write_dataset(&state, Some(caller), name.into_inner(), datasets::delete).await?;
    Ok(HttpResponse::NoContent().finish())
}

use actix_web::{get, post, web};
use catalog_core::api::{
    FieldInfo, FieldsResponse, NewField, PathMetadata, SetMetadataRequest, UnsetMetadataRequest,
};

use super::namespace::PathQuery;
use crate::app::AppState;
use crate::auth::{access, Caller, Need};
use crate::error::Result;
use crate::metadata;
use crate::search::Change;

/// Declared metadata fields.
#[utoipa::path(get, path = "/api/v1/metadata/fields", responses((status = 200, body = FieldsResponse)))]
#[get("/metadata/fields")]
pub async fn fields(
    state: web::Data<AppState>,
    _caller: Caller,
) -> Result<web::Json<FieldsResponse>> {
    Ok(web::Json(FieldsResponse {
        fields: state.db.read(metadata::list_fields).await?,
    }))
}

/// Declare a field with its type (every field is indexed).
#[utoipa::path(post, path = "/api/v1/metadata/fields", request_body = NewField, responses((status = 200, body = FieldInfo), (status = 409)))]
#[post("/metadata/fields")]
pub async fn declare(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<NewField>,
) -> Result<web::Json<FieldInfo>> {
    access::admin(&caller, "declare metadata fields")?;
    Ok(web::Json(
        state.db.write(move |c| metadata::declare(c, &req)).await?,
    ))
}

/// Metadata of a file or directory, inherited values marked with where they come from.
#[utoipa::path(get, path = "/api/v1/metadata", params(PathQuery), responses((status = 200, body = PathMetadata), (status = 404)))]
#[get("/metadata")]
pub async fn get(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PathQuery>,
) -> Result<web::Json<PathMetadata>> {
    Ok(web::Json(
        state
            .db
            .read(move |c| {
                access::check_path(c, &caller, &q.path, Need::Read)?;
                metadata::of_path(c, &q.path)
            })
            .await?,
    ))
}

/// Set values on a file or directory; undeclared fields are declared from their values.
#[utoipa::path(post, path = "/api/v1/metadata/set", request_body = SetMetadataRequest, responses((status = 200, body = PathMetadata), (status = 400)))]
#[post("/metadata/set")]
pub async fn set(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<SetMetadataRequest>,
) -> Result<web::Json<PathMetadata>> {
    let path = req.path.clone();
    let resp = state
        .db
        .write(move |c| {
            access::check_path(c, &caller, &req.path, Need::Write)?;
            metadata::set(c, &req.path, &req.values)
        })
        .await?;
    state.search.changed(vec![Change::Below(path)]);
    Ok(web::Json(resp))
}

/// Remove fields from a file or directory.
#[utoipa::path(post, path = "/api/v1/metadata/unset", request_body = UnsetMetadataRequest, responses((status = 200, body = PathMetadata), (status = 404)))]
#[post("/metadata/unset")]
pub async fn unset(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<UnsetMetadataRequest>,
) -> Result<web::Json<PathMetadata>> {
    let path = req.path.clone();
    let resp = state
        .db
        .write(move |c| {
            access::check_path(c, &caller, &req.path, Need::Write)?;
            metadata::unset(c, &req.path, &req.fields)
        })
        .await?;
    state.search.changed(vec![Change::Below(path)]);
    Ok(web::Json(resp))
}

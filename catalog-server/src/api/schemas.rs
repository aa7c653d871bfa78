use actix_web::{delete, get, post, web, HttpResponse};
use catalog_core::api::{SchemaInfo, SetSchemaRequest};

use super::namespace::PathQuery;
use crate::app::AppState;
use crate::auth::{access, Caller};
use crate::error::Result;
use crate::schemas;

/// Attach a JSON Schema to a directory (replacing any); files below that violate it refuse it.
#[utoipa::path(post, path = "/api/v1/schemas", request_body = SetSchemaRequest,
    responses((status = 200, body = SchemaInfo), (status = 400, body = catalog_core::api::Problem), (status = 404)))]
#[post("/schemas")]
pub async fn set(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<SetSchemaRequest>,
) -> Result<web::Json<SchemaInfo>> {
    access::admin(&caller, "set schemas")?;
    Ok(web::Json(
        state
            .db
            .write(move |c| schemas::set(c, &req.path, &req.schema))
            .await?,
    ))
}

/// The JSON Schema of a directory.
#[utoipa::path(get, path = "/api/v1/schemas", params(PathQuery), responses((status = 200, body = SchemaInfo), (status = 404)))]
#[get("/schemas")]
pub async fn get(
    state: web::Data<AppState>,
    _caller: Caller,
    q: web::Query<PathQuery>,
) -> Result<web::Json<SchemaInfo>> {
    Ok(web::Json(
        state.db.read(move |c| schemas::get(c, &q.path)).await?,
    ))
}

/// Detach the JSON Schema of a directory.
#[utoipa::path(delete, path = "/api/v1/schemas", params(PathQuery), responses((status = 204), (status = 404)))]
#[delete("/schemas")]
pub async fn remove(
    state: web::Data<AppState>,
    caller: Caller,
    q: web::Query<PathQuery>,
) -> Result<HttpResponse> {
    access::admin(&caller, "remove schemas")?;
    state.db.write(move |c| schemas::remove(c, &q.path)).await?;
    Ok(HttpResponse::NoContent().finish())
}

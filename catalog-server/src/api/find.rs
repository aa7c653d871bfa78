use actix_web::{post, web};
use catalog_core::api::{CountResponse, ExplainResponse, FindRequest, FindResponse};

use crate::app::AppState;
use crate::error::Result;
use crate::query;

/// Files matching a query, a page at a time in a stable order (`order by`, then file id).
#[utoipa::path(post, path = "/api/v1/find", request_body = FindRequest,
    responses((status = 200, body = FindResponse), (status = 400, body = catalog_core::api::Problem), (status = 404)))]
#[post("/find")]
pub async fn find(
    state: web::Data<AppState>,
    req: web::Json<FindRequest>,
) -> Result<web::Json<FindResponse>> {
    let resp = state
        .db
        .read(move |c| {
            let q = query::read_request(c, &req)?;
            query::find(c, &q, req.cursor.as_deref(), req.page_size)
        })
        .await?;
    Ok(web::Json(resp))
}

/// How many files match a query, and their total size.
#[utoipa::path(post, path = "/api/v1/find/count", request_body = FindRequest,
    responses((status = 200, body = CountResponse), (status = 400, body = catalog_core::api::Problem)))]
#[post("/find/count")]
pub async fn count(
    state: web::Data<AppState>,
    req: web::Json<FindRequest>,
) -> Result<web::Json<CountResponse>> {
    let resp = state
        .db
        .read(move |c| {
            let q = query::read_request(c, &req)?;
            query::count(c, &q)
        })
        .await?;
    Ok(web::Json(resp))
}

/// The normalised query, its SQL and the database's plan for it.
#[utoipa::path(post, path = "/api/v1/find/explain", request_body = FindRequest,
    responses((status = 200, body = ExplainResponse), (status = 400, body = catalog_core::api::Problem)))]
#[post("/find/explain")]
pub async fn explain(
    state: web::Data<AppState>,
    req: web::Json<FindRequest>,
) -> Result<web::Json<ExplainResponse>> {
    let resp = state
        .db
        .read(move |c| {
            let q = query::read_request(c, &req)?;
            query::explain(c, &q)
        })
        .await?;
    Ok(web::Json(resp))
}

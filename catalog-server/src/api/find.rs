use actix_web::{post, web};
use catalog_core::api::{CountResponse, ExplainResponse, FindRequest, FindResponse, LfnPage};

use crate::app::AppState;
use crate::auth::Caller;
use crate::db::DbConn;
use crate::error::Result;
use crate::query;
use catalog_core::query::Query;

/// Reads and checks the request's query, then runs `op` on it, on a read connection.
async fn on_query<R: Send + 'static>(
    state: &AppState,
    caller: Caller,
    req: FindRequest,
    op: fn(&mut DbConn, &Caller, &FindRequest, &Query) -> Result<R>,
) -> Result<R> {
    state
        .db
        .read(move |c| {
            let q = query::read_request(c, &req)?;
            op(c, &caller, &req, &q)
        })
        .await
}

/// Files matching a query, a page at a time in a stable order (`order by`, then file id).
#[utoipa::path(post, path = "/api/v1/find", request_body = FindRequest,
    responses((status = 200, body = FindResponse), (status = 400, body = catalog_core::api::Problem), (status = 404)))]
#[post("/find")]
pub async fn find(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<FindRequest>,
) -> Result<web::Json<FindResponse>> {
    let find = |c: &mut DbConn, v: &Caller, r: &FindRequest, q: &Query| {
        query::find(c, v, q, r.cursor.as_deref(), r.page_size)
    };
    Ok(web::Json(
        on_query(&state, caller, req.into_inner(), find).await?,
    ))
}

/// The LFNs of the files matching a query, a page at a time, in the same order and with the
/// same cursors as `find`; without attributes, so a lighter answer.
#[utoipa::path(post, path = "/api/v1/find/lfns", request_body = FindRequest,
    responses((status = 200, body = LfnPage), (status = 400, body = catalog_core::api::Problem), (status = 404)))]
#[post("/find/lfns")]
pub async fn lfns(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<FindRequest>,
) -> Result<web::Json<LfnPage>> {
    let page = |c: &mut DbConn, v: &Caller, r: &FindRequest, q: &Query| {
        query::find_lfns(c, v, q, r.cursor.as_deref(), r.page_size)
    };
    Ok(web::Json(
        on_query(&state, caller, req.into_inner(), page).await?,
    ))
}

/// How many files match a query, and their total size.
#[utoipa::path(post, path = "/api/v1/find/count", request_body = FindRequest,
    responses((status = 200, body = CountResponse), (status = 400, body = catalog_core::api::Problem)))]
#[post("/find/count")]
pub async fn count(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<FindRequest>,
) -> Result<web::Json<CountResponse>> {
    Ok(web::Json(
        on_query(&state, caller, req.into_inner(), |c, v, _, q| {
            query::count(c, v, q)
        })
        .await?,
    ))
}

/// The normalised query, its SQL and the database's plan for it.
#[utoipa::path(post, path = "/api/v1/find/explain", request_body = FindRequest,
    responses((status = 200, body = ExplainResponse), (status = 400, body = catalog_core::api::Problem)))]
#[post("/find/explain")]
pub async fn explain(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<FindRequest>,
) -> Result<web::Json<ExplainResponse>> {
    Ok(web::Json(
        on_query(&state, caller, req.into_inner(), |c, v, _, q| {
            query::explain(c, v, q)
        })
        .await?,
    ))
}

use actix_web::{post, web};
use catalog_core::api::{SearchRequest, SearchResponse};

use crate::app::AppState;
use crate::auth::Caller;
use crate::error::Result;

/// Full-text search over paths, names, string metadata and datasets, ranked; optionally
/// only files that match a query.
#[utoipa::path(post, path = "/api/v1/search", request_body = SearchRequest,
    responses((status = 200, body = SearchResponse), (status = 400, body = catalog_core::api::Problem)))]
#[post("/search")]
pub async fn search(
    state: web::Data<AppState>,
    caller: Caller,
    req: web::Json<SearchRequest>,
) -> Result<web::Json<SearchResponse>> {
    let index = state.search.clone();
    Ok(web::Json(
        state
            .db
            .read(move |c| index.search(c, &caller, &req))
            .await?,
    ))
}

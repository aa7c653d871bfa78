use actix_web::{get, web, HttpResponse};
use catalog_core::api::Health;

use crate::app::AppState;
use crate::error::Result;

/// Liveness and database reachability.
#[utoipa::path(get, path = "/healthz", responses((status = 200, body = Health), (status = 503, body = catalog_core::api::Problem)))]
#[get("/healthz")]
pub async fn healthz(state: web::Data<AppState>) -> Result<HttpResponse> {
    state
        .db
        .read(|c| Ok(crate::namespace::find_dir(c, "/")?.is_some()))
        .await?;
    Ok(HttpResponse::Ok().json(Health {
        status: "ok".to_owned(),
        database: state.db.url.backend_name().to_owned(),
        version: env!("CARGO_PKG_VERSION").to_owned(),
        checksums: state.checksums.names(),
    }))
}

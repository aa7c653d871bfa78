//! The HTTP API under `/api/v1`: thin handlers that extract, call a domain function and
//! answer JSON. Every route is listed in `routes`.

pub mod auth;
pub mod datasets;
pub mod files;
pub mod find;
pub mod health;
pub mod jobs;
pub mod metadata;
pub mod namespace;
pub mod openapi;
pub mod replicas;
pub mod routes;
pub mod schemas;
pub mod search;
pub mod storage;

use actix_web::{error::InternalError, web, HttpResponse, ResponseError};

use crate::error::Error;

/// Largest JSON body accepted (a full batch of 10,000 files with metadata fits easily).
pub const MAX_JSON_BYTES: usize = 64 * 1024 * 1024;

fn reply(e: Error) -> actix_web::Error {
    let resp: HttpResponse = e.error_response();
    InternalError::from_response(e, resp).into()
}

pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(MAX_JSON_BYTES)
        .error_handler(|err, _req| {
            use actix_web::error::JsonPayloadError as J;
            let e = match &err {
                J::Overflow { limit } | J::OverflowKnownLength { limit, .. } => {
                    Error::TooLarge(format!("request body larger than {limit} bytes"))
                }
                J::ContentType => {
                    Error::bad("expected a JSON body (Content-Type: application/json)")
                }
                J::Deserialize(d) => Error::bad(format!("malformed JSON: {d}")),
                other => Error::bad(format!("malformed JSON: {other}")),
            };
            reply(e)
        })
}

pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default()
        .error_handler(|err, _req| reply(Error::bad(format!("invalid query string: {err}"))))
}

pub fn path_config() -> web::PathConfig {
    web::PathConfig::default()
        .error_handler(|err, _req| reply(Error::bad(format!("invalid path: {err}"))))
}

/// Refuses unless `caller` has `need` on every file of `lfns` (a missing one: not found).
pub async fn check_files(
    state: &crate::app::AppState,
    caller: &crate::auth::Caller,
    lfns: &[String],
    need: crate::auth::Need,
) -> crate::error::Result<()> {
    if caller.admin {
        return Ok(());
    }
    let (caller, lfns) = (caller.clone(), lfns.to_vec());
    state
        .db
        .read(move |c| {
            let rows = crate::files::require(c, &lfns)?;
            crate::auth::Guard::new(&caller).files(c, &rows, need)
        })
        .await
}

use actix_web::{get, HttpResponse};
use utoipa::OpenApi;

use super::{
    auth, datasets, files, find, health, jobs, metadata, namespace, replicas, schemas, search,
    storage,
};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "catalog",
        description = "Metadata file catalogue: namespace, replicas, typed metadata and provenance"
    ),
    paths(
        health::healthz,
        health::metrics,
        namespace::mkdir,
        namespace::rmdir,
        namespace::stat,
        namespace::list,
        namespace::move_path,
        namespace::permissions,
        auth::whoami,
        files::register,
        files::stat,
        files::delete,
        files::file_replicas,
        files::file_metadata,
        files::ancestors,
        files::descendants,
        files::add_parents,
        metadata::fields,
        metadata::declare,
        metadata::get,
        metadata::set,
        metadata::unset,
        schemas::set,
        schemas::get,
        schemas::remove,
        find::find,
        find::count,
        find::lfns,
        find::explain,
        search::search,
        datasets::create,
        datasets::list,
        datasets::show,
        datasets::add,
        datasets::remove,
        datasets::freeze,
        datasets::set_metadata,
        datasets::remove_dataset,
        jobs::submit,
        jobs::list,
        jobs::status,
        jobs::info,
        jobs::kill,
        jobs::resubmit,
        jobs::claim,
        jobs::heartbeat,
        jobs::complete,
        jobs::fail,
        replicas::replicate,
        replicas::remove,
        replicas::verify,
        replicas::du,
        replicas::show,
        replicas::remove_se,
        storage::list,
        storage::add,
        storage::upload,
        storage::download,
        storage::remove,
    ),
    modifiers(&Credentials)
)]
pub struct ApiDoc;

/// Declares how callers authenticate when auth is `token` or `x509`: a bearer token, or a
/// TLS client certificate (which OpenAPI 3.0 cannot describe; see the README).
struct Credentials;

impl utoipa::Modify for Credentials {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{
            HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme,
        };
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        openapi.security = Some(vec![SecurityRequirement::new(
            "bearer",
            Vec::<String>::new(),
        )]);
    }
}

/// The OpenAPI document of this API.
#[get("/openapi.json")]
pub async fn document() -> HttpResponse {
    HttpResponse::Ok().json(ApiDoc::openapi())
}

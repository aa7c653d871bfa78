//! Every route of the server, on one screen.

use actix_web::web;

use super::{
    auth, datasets, files, find, health, jobs, metadata, namespace, openapi, replicas, schemas,
    search, storage,
};

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(health::healthz)
        .service(health::metrics)
        .service(
            web::scope("/api/v1")
                .service(openapi::document)
                .service(auth::whoami)
                // namespace
                .service(namespace::mkdir)
                .service(namespace::rmdir)
                .service(namespace::stat)
                .service(namespace::list)
                .service(namespace::move_path)
                .service(namespace::permissions)
                // files, replicas, provenance (bulk)
                .service(files::register)
                .service(files::stat)
                .service(files::delete)
                .service(files::file_replicas)
                .service(files::file_metadata)
                .service(files::ancestors)
                .service(files::descendants)
                .service(files::add_parents)
                // metadata
                .service(metadata::fields)
                .service(metadata::declare)
                .service(metadata::get)
                .service(metadata::set)
                .service(metadata::unset)
                .service(schemas::set)
                .service(schemas::get)
                .service(schemas::remove)
                // finding files
                .service(find::find)
                .service(find::count)
                .service(find::lfns)
                .service(find::explain)
                .service(search::search)
                // datasets
                .service(datasets::create)
                .service(datasets::list)
                .service(datasets::show)
                .service(datasets::add)
                .service(datasets::remove)
                .service(datasets::freeze)
                .service(datasets::set_metadata)
                .service(datasets::remove_dataset)
                // jobs and runners
                .service(jobs::submit)
                .service(jobs::list)
                .service(jobs::status)
                .service(jobs::info)
                .service(jobs::kill)
                .service(jobs::resubmit)
                .service(jobs::claim)
                .service(jobs::heartbeat)
                .service(jobs::complete)
                .service(jobs::fail)
                // storage elements and their bytes
                .service(replicas::replicate)
                .service(replicas::remove)
                .service(replicas::verify)
                .service(replicas::du)
                .service(replicas::show)
                .service(replicas::remove_se)
                .service(storage::list)
                .service(storage::add)
                .service(storage::upload)
                .service(storage::download)
                .service(storage::remove),
        );
}

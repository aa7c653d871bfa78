use actix_web::{get, web, HttpResponse};
use catalog_core::api::Health;

use crate::app::AppState;
use crate::error::Result;
use std::fmt::Write;

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

/// Counters and gauges in Prometheus' text format: requests and their latency per route,
/// files registered, database connections in use, subjobs by state. Answers while the
/// database is away too, with `catalog_database_up 0`.
#[utoipa::path(get, path = "/metrics", responses((status = 200, description = "Prometheus text format", content_type = "text/plain")))]
#[get("/metrics")]
pub async fn metrics(state: web::Data<AppState>) -> HttpResponse {
    let subjobs = state.db.read(crate::jobs::subjobs_by_state).await;
    let mut out = String::with_capacity(8192);
    state.metrics.write_requests(&mut out);
    out.push_str(
        "# HELP catalog_db_connections Database connections by pool: open, idle and the pool's size.\n\
         # TYPE catalog_db_connections gauge\n",
    );
    for (pool, s) in state.db.pools() {
        let _ = write!(
            out,
            "catalog_db_connections{{pool=\"{pool}\",state=\"open\"}} {}\n\
             catalog_db_connections{{pool=\"{pool}\",state=\"idle\"}} {}\n\
             catalog_db_connections{{pool=\"{pool}\",state=\"max\"}} {}\n",
            s.open, s.idle, s.max
        );
    }
    out.push_str(
        "# HELP catalog_db_waiting Requests waiting for a database connection, by pool.\n\
         # TYPE catalog_db_waiting gauge\n",
    );
    for (pool, s) in state.db.pools() {
        let _ = writeln!(out, "catalog_db_waiting{{pool=\"{pool}\"}} {}", s.waiting);
    }
    if let crate::db::DbUrl::Sqlite(_) = state.db.url {
        let (now, most) = crate::db::sqlite_memory();
        let _ = write!(
            out,
            "# HELP catalog_sqlite_memory_bytes Heap memory SQLite holds (its page caches, mostly): now, and the most since start.\n\
             # TYPE catalog_sqlite_memory_bytes gauge\n\
             catalog_sqlite_memory_bytes{{state=\"now\"}} {now}\n\
             catalog_sqlite_memory_bytes{{state=\"most\"}} {most}\n"
        );
    }
    if let Some((in_use, free)) = crate::metrics::heap_bytes() {
        let _ = write!(
            out,
            "# HELP catalog_heap_bytes The process's malloc heap: bytes in use, and bytes freed but not yet given back to the system.\n\
             # TYPE catalog_heap_bytes gauge\n\
             catalog_heap_bytes{{state=\"in_use\"}} {in_use}\n\
             catalog_heap_bytes{{state=\"free\"}} {free}\n"
        );
    }
    let _ = write!(
        out,
        "# HELP catalog_database_up Whether the database answered this scrape.\n\
         # TYPE catalog_database_up gauge\n\
         catalog_database_up {}\n",
        u8::from(subjobs.is_ok())
    );
    if let Ok(subjobs) = subjobs {
        out.push_str(
            "# HELP catalog_subjobs Subjobs by state; waiting is the queue runners take from.\n\
             # TYPE catalog_subjobs gauge\n",
        );
        for (s, n) in subjobs {
            let _ = writeln!(out, "catalog_subjobs{{state=\"{s}\"}} {n}");
        }
    }
    HttpResponse::Ok()
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(out)
}

//! The running server: shared state and start-up.

use actix_web::{middleware, web, App, HttpServer};
use catalog_core::checksum::Algorithms;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use crate::auth::audit::AuditLog;
use crate::auth::tls::{self, Peer, PeerVerifier};
use crate::auth::Modes;
use crate::config::Config;
use crate::db::Db;
use crate::metrics::Metrics;
use crate::search::Search;
use crate::{api, storage};

/// What every handler can reach.
#[derive(Clone)]
pub struct AppState {
    pub db: Db,
    /// Which credentials are accepted (`open`: none, one local user).
    pub auth: Modes,
    /// Where writes are recorded (started with the server).
    pub audit: Option<AuditLog>,
    /// Credentials recently looked up.
    pub callers: Arc<crate::auth::CallerCache>,
    pub search: Search,
    /// Checksums computed on transfers besides adler32.
    pub checksums: Algorithms,
    pub metrics: Arc<Metrics>,
}

/// How long a client may take to send a request's line and headers.
pub const HEAD_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(10);
/// How long an idle kept-alive connection stays open.
pub const KEEP_ALIVE: std::time::Duration = std::time::Duration::from_secs(30);
/// Open connections each worker thread accepts; beyond, new ones wait in the backlog.
pub const MAX_CONNECTIONS_PER_WORKER: usize = 4096;

/// Name of the storage element made in the data directory.
pub const DEFAULT_SE: &str = "local";

/// Opens the database (migrating it) and makes sure the default storage element exists.
pub fn open(config: &Config) -> anyhow::Result<AppState> {
    std::fs::create_dir_all(&config.data_dir)?;
    let db = Db::open(&config.database_url).map_err(|e| {
        anyhow::anyhow!(
            "cannot open database {}: {e}",
            config.database_url.redacted()
        )
    })?;
    let se_dir: PathBuf = config.data_dir.join("storage").join(DEFAULT_SE);
    storage::ensure_default(&mut *db.write_conn()?, DEFAULT_SE, &se_dir)?;
    let search = Search::open(&config.data_dir.join("search"))?;
    Ok(AppState {
        db,
        auth: config.auth,
        audit: None,
        callers: Arc::default(),
        search,
        checksums: config.checksums,
        metrics: Arc::default(),
    })
}

/// Whether every address `bind` resolves to is a loopback one.
fn loopback_only(bind: &str) -> anyhow::Result<bool> {
    use std::net::ToSocketAddrs;
    let addrs: Vec<SocketAddr> = bind
        .to_socket_addrs()
        .map_err(|e| anyhow::anyhow!("cannot resolve {bind}: {e}"))?
        .collect();
    Ok(!addrs.is_empty() && addrs.iter().all(|a| a.ip().is_loopback()))
}

/// Refuses set-ups that would expose the catalogue: `open` mode (everyone is the local
/// admin) or bearer tokens over plain HTTP, on an address other machines can reach, unless
/// the operator said `--insecure`.
fn check_exposure(config: &Config, insecure: bool) -> anyhow::Result<()> {
    if loopback_only(&config.bind)? {
        return Ok(());
    }
    let risk = if config.auth.is_open() {
        Some("auth is open: anyone who reaches it has every right")
    } else if config.tls.is_none() {
        Some("it would take credentials over plain HTTP (give --tls-cert and --tls-key)")
    } else {
        None
    };
    match (risk, insecure) {
        (None, _) => Ok(()),
        (Some(why), false) => anyhow::bail!(
            "refusing to listen on {} because {why}; use a loopback address, set auth = token or x509 with TLS, or start with --insecure",
            config.bind
        ),
        (Some(why), true) => {
            tracing::warn!(bind = %config.bind, "--insecure: listening where others can reach it, although {why}");
            Ok(())
        }
    }
}

/// Serves until SIGTERM or ctrl-c, then finishes the requests under way.
pub async fn serve(config: Config, mut state: AppState, insecure: bool) -> anyhow::Result<()> {
    check_exposure(&config, insecure)?;
    let acceptor = match &config.tls {
        Some(files) => Some(tls::acceptor(files, config.auth.x509)?),
        None => None,
    };
    let verifier = match (&config.tls, config.auth.x509) {
        (
            Some(tls::TlsFiles {
                ca_dir: Some(dir), ..
            }),
            true,
        ) => Some(Arc::new(PeerVerifier::new(dir)?)),
        _ => None,
    };
    state.audit = Some(AuditLog::start(state.db.clone()));
    state.search.start_indexer(state.db.clone());
    // A missing or stale index (a crash between a commit and its indexing, or a deleted
    // index directory) is rebuilt in the background; search answers meanwhile.
    let (db, search) = (state.db.clone(), state.search.clone());
    tokio::spawn(async move {
        let s = search.clone();
        match db.read(move |c| s.looks_complete(c)).await {
            Ok(true) => {}
            Ok(false) => {
                tracing::info!("rebuilding the search index");
                match db.read(move |c| search.rebuild(c, &|_, _| {})).await {
                    Ok(n) => tracing::info!(files = n, "search index rebuilt"),
                    Err(e) => tracing::error!(error = %e, "search index rebuild failed"),
                }
            }
            Err(e) => tracing::error!(error = %e, "cannot check the search index"),
        }
    });
    // Leftover uploads of subjobs that ended while the server was going down.
    tokio::spawn(crate::leftovers::sweep_recent(state.db.clone()));
    // Scheduled jobs: every second, those due take the files that matched since their last run.
    let db = state.db.clone();
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(std::time::Duration::from_secs(1));
        loop {
            tick.tick().await;
            match db
                .write(|c| crate::jobs::run_schedules(c, crate::namespace::now()))
                .await
            {
                Ok(0) => {}
                Ok(n) => tracing::info!(files = n, "scheduled jobs took new files"),
                Err(e) => tracing::error!(error = %e, "scheduled jobs could not run"),
            }
        }
    });
    let data = web::Data::new(state);
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2)
        .max(2);
    let server = HttpServer::new(move || {
        App::new()
            .app_data(data.clone())
            .app_data(api::json_config())
            .app_data(api::query_config())
            .app_data(api::path_config())
            // The last wrapped runs first: the access log sees the request id set inside it,
            // the audit log the request id set by `observe`.
            .wrap(middleware::from_fn(crate::auth::audit::record))
            .wrap(middleware::from_fn(crate::metrics::observe))
            .wrap(middleware::Logger::new(
                "%a \"%r\" %s %b %Dms id=%{x-request-id}o",
            ))
            .configure(api::routes::configure)
    })
    .workers(workers)
    // A client that sends its request head slowly, or idles on a kept-alive connection,
    // is cut off instead of holding a connection; the number of connections is bounded.
    // A slow body holds only its own connection: no thread or database connection is
    // taken before the whole body is read.
    .client_request_timeout(HEAD_TIMEOUT)
    .keep_alive(KEEP_ALIVE)
    .max_connections(MAX_CONNECTIONS_PER_WORKER)
    .shutdown_timeout(10)
    // Each TLS connection's client certificate is verified once, when it is accepted.
    .on_connect(move |conn, ext| {
        let Some(v) = &verifier else { return };
        type Tls = actix_tls::accept::openssl::TlsStream<actix_web::rt::net::TcpStream>;
        if let Some(stream) = conn.downcast_ref::<Tls>() {
            let ssl = stream.ssl();
            if let Some(leaf) = ssl.peer_certificate() {
                ext.insert::<Peer>(v.verify(&leaf, ssl.peer_cert_chain()));
            }
        }
    });
    let server = match acceptor {
        Some(a) => server.bind_openssl(&config.bind, a),
        None => server.bind(&config.bind),
    }
    .map_err(|e| anyhow::anyhow!("cannot listen on {}: {e}", config.bind))?;
    let scheme = if config.tls.is_some() {
        "https"
    } else {
        "http"
    };
    let addrs: Vec<SocketAddr> = server.addrs();
    for a in &addrs {
        tracing::info!(addr = %a, auth = config.auth.describe(), database = %config.database_url.redacted(), data_dir = %config.data_dir.display(), "listening");
        // On stdout, for people and for scripts that started the server on port 0.
        println!("catalog-server listening on {scheme}://{a}");
    }
    server.run().await?;
    tracing::info!("stopped");
    Ok(())
}

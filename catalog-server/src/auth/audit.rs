//! The audit log: every write request (who, what, when, from where, and how it ended),
//! recorded by a middleware and written in batches by one background task, queryable by
//! admins with `catalog-server admin audit`.

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::Method;
use actix_web::middleware::Next;
use actix_web::HttpMessage;
use chrono::NaiveDateTime;
use diesel::prelude::*;
use std::time::Duration;
use tokio::sync::mpsc;

use crate::db::schema::audit_log;
use crate::db::{Db, DbConn};
use crate::error::Result;
use crate::metrics::RequestId;
use crate::namespace::now;

/// Entries written per transaction at most.
const BATCH: usize = 1000;

/// POST routes that only read (their bodies are too big for a query string).
const READING_POSTS: &[&str] = &[
    "/api/v1/files/stat",
    "/api/v1/files/replicas",
    "/api/v1/files/metadata",
    "/api/v1/files/ancestors",
    "/api/v1/files/descendants",
    "/api/v1/find",
    "/api/v1/find/lfns",
    "/api/v1/find/count",
    "/api/v1/find/explain",
    "/api/v1/search",
];

#[derive(Debug, Clone, Queryable, Selectable, Insertable)]
#[diesel(table_name = audit_log)]
pub struct Entry {
    #[diesel(skip_insertion)]
    pub id: i64,
    pub at: NaiveDateTime,
    pub who: String,
    /// Method and route, e.g. `POST /api/v1/files`.
    pub action: String,
    /// The request's query string (the paths and names it acted on), if any.
    pub target: String,
    pub status: i32,
    pub remote: String,
    pub request_id: String,
}

/// The name of the authenticated caller, set by the `Caller` extractor for the audit log.
#[derive(Clone)]
pub struct Who(pub String);

/// Where the middleware sends entries; the writer task drains it.
#[derive(Clone)]
pub struct AuditLog {
    tx: mpsc::UnboundedSender<Entry>,
}

impl AuditLog {
    /// Starts the writer: entries are written as they come, up to `BATCH` per transaction.
    pub fn start(db: Db) -> AuditLog {
        let (tx, mut rx) = mpsc::unbounded_channel::<Entry>();
        tokio::spawn(async move {
            let mut batch = Vec::new();
            while rx.recv_many(&mut batch, BATCH).await > 0 {
                let entries = std::sync::Arc::new(std::mem::take(&mut batch));
                let n = entries.len();
                // The database may be away for a while: keep the entries and retry.
                let mut written = false;
                for attempt in 0..60 {
                    let these = entries.clone();
                    match db.write(move |c| insert(c, &these)).await {
                        Ok(()) => {
                            written = true;
                            break;
                        }
                        Err(e) => {
                            tracing::warn!(entries = n, attempt, error = %e, "audit entries not written yet");
                            tokio::time::sleep(Duration::from_secs(1)).await;
                        }
                    }
                }
                if !written {
                    tracing::error!(entries = n, "audit entries lost: the database stayed away");
                }
            }
        });
        AuditLog { tx }
    }

    fn send(&self, e: Entry) {
        if self.tx.send(e).is_err() {
            tracing::error!("audit log writer has stopped");
        }
    }
}

fn insert(conn: &mut DbConn, entries: &[Entry]) -> Result<()> {
    // One row per statement: a batch is a few rows, and one transaction.
    for e in entries {
        diesel::insert_into(audit_log::table)
            .values(e)
            .execute(conn)?;
    }
    Ok(())
}

/// Middleware: records each request that may write (any method but GET, HEAD and OPTIONS,
/// and the POSTs that only read), allowed or refused.
pub async fn record(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let reads = matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS)
        || *req.method() == Method::POST && READING_POSTS.contains(&req.path());
    let writes = !reads;
    let log = req
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .and_then(|s| s.audit.clone());
    let (Some(log), true) = (log, writes) else {
        return next.call(req).await;
    };
    let action = format!("{} {}", req.method(), req.path());
    let target = req.query_string().to_owned();
    let remote = req
        .peer_addr()
        .map(|a| a.ip().to_string())
        .unwrap_or_default();
    let request_id = req
        .extensions()
        .get::<RequestId>()
        .map(|r| r.0.clone())
        .unwrap_or_default();
    let res = next.call(req).await?;
    let who = res
        .request()
        .extensions()
        .get::<Who>()
        .map(|w| w.0.clone())
        .unwrap_or_else(|| "anonymous".to_owned());
    log.send(Entry {
        id: 0,
        at: now(),
        who,
        action,
        target,
        status: i32::from(res.status().as_u16()),
        remote,
        request_id,
    });
    Ok(res)
}

/// Entries since `since`, oldest first, optionally of one user, at most `limit`.
pub fn list(
    conn: &mut DbConn,
    since: NaiveDateTime,
    who: Option<&str>,
    limit: i64,
) -> Result<Vec<Entry>> {
    let mut q = audit_log::table
        .filter(audit_log::at.ge(since))
        .order((audit_log::at.asc(), audit_log::id.asc()))
        .limit(limit)
        .select(Entry::as_select())
        .into_boxed();
    if let Some(w) = who {
        q = q.filter(audit_log::who.eq(w.to_owned()));
    }
    Ok(q.load(conn)?)
}

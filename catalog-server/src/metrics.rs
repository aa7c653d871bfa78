//! What the server counts, served at `/metrics` in Prometheus' text format, and the request
//! id every response carries (`x-request-id`, also in each access-log line).

use actix_web::body::MessageBody;
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::middleware::Next;
use std::collections::BTreeMap;
use std::fmt::Write;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::Instant;

/// The header a request id travels in, both ways.
pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Upper bounds of the latency histogram's buckets, in seconds.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 10.0,
];

/// The label of a request that matched no route: paths a client makes up are not labels.
const UNMATCHED: &str = "unmatched";

/// What is counted of one route and method.
#[derive(Default)]
struct Series {
    /// Requests answered, by status.
    statuses: BTreeMap<u16, u64>,
    /// Requests per latency bucket (not cumulative; summed when written).
    buckets: [u64; BUCKETS.len()],
    count: u64,
    sum: f64,
}

/// Counters shared by every worker.
#[derive(Default)]
pub struct Metrics {
    /// (method, route pattern) -> its requests: one lock and one lookup per request.
    series: Mutex<BTreeMap<(String, String), Series>>,
    /// Files registered (by the bulk API, uploads and job outputs), for a registration rate.
    pub files_registered: AtomicU64,
}

impl Metrics {
    fn observe(&self, method: &str, route: &str, status: u16, seconds: f64) {
        let mut series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        let s = series
            .entry((method.to_owned(), route.to_owned()))
            .or_default();
        *s.statuses.entry(status).or_default() += 1;
        if let Some(i) = BUCKETS.iter().position(|b| seconds <= *b) {
            s.buckets[i] += 1;
        }
        s.count += 1;
        s.sum += seconds;
    }

    /// The request counters and latency histograms, in the text format.
    pub fn write_requests(&self, out: &mut String) {
        let series = self.series.lock().unwrap_or_else(|p| p.into_inner());
        out.push_str(
            "# HELP catalog_http_requests_total Requests answered, by method, route and status.\n\
             # TYPE catalog_http_requests_total counter\n",
        );
        for ((method, route), s) in series.iter() {
            for (status, n) in &s.statuses {
                let _ = writeln!(
                    out,
                    "catalog_http_requests_total{{method=\"{method}\",route=\"{}\",status=\"{status}\"}} {n}",
                    escape(route)
                );
            }
        }
        out.push_str(
            "# HELP catalog_http_request_duration_seconds Time from a request's arrival to its answer's headers, by method and route.\n\
             # TYPE catalog_http_request_duration_seconds histogram\n",
        );
        for ((method, route), s) in series.iter() {
            let labels = format!("method=\"{method}\",route=\"{}\"", escape(route));
            let mut cumulative = 0;
            for (bound, n) in BUCKETS.iter().zip(s.buckets) {
                cumulative += n;
                let _ = writeln!(
                    out,
                    "catalog_http_request_duration_seconds_bucket{{{labels},le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "catalog_http_request_duration_seconds_bucket{{{labels},le=\"+Inf\"}} {}\n\
                 catalog_http_request_duration_seconds_sum{{{labels}}} {}\n\
                 catalog_http_request_duration_seconds_count{{{labels}}} {}",
                s.count, s.sum, s.count
            );
        }
        let _ = write!(
            out,
            "# HELP catalog_files_registered_total Files registered since the server started.\n\
             # TYPE catalog_files_registered_total counter\n\
             catalog_files_registered_total {}\n",
            self.files_registered.load(Ordering::Relaxed)
        );
    }
}

/// The heap glibc's malloc keeps for the server (and for SQLite and libpq, which allocate
/// through it): bytes in use (live objects, and freed small blocks each thread keeps for
/// reuse), and bytes free but not yet given back to the system. Growth in the first is
/// memory kept; in the second, memory the allocator holds on to.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn heap_bytes() -> Option<(usize, usize)> {
    // SAFETY: mallinfo2 only reads malloc's statistics, taking each arena's lock.
    #[allow(unsafe_code)]
    let m = unsafe { libc::mallinfo2() };
    Some((m.uordblks + m.hblkhd, m.fordblks))
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn heap_bytes() -> Option<(usize, usize)> {
    None
}

/// A label value as the text format quotes it.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// A request's id, in its extensions for the middlewares inside `observe` (the audit log).
#[derive(Debug, Clone)]
pub struct RequestId(pub String);

/// The id of a request: the client's `x-request-id` when it is a sane one (up to 64
/// letters, digits, `-`, `_`, `.`), so a client can follow its own ids through our logs;
/// otherwise a fresh UUID.
fn request_id(req: &ServiceRequest) -> String {
    req.headers()
        .get(&REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|v| {
            !v.is_empty()
                && v.len() <= 64
                && v.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
        })
        .map_or_else(|| uuid::Uuid::new_v4().to_string(), str::to_owned)
}

/// Middleware: gives each request its id (in the response header and in a tracing span
/// around its handling) and counts it, with its latency, under its route's pattern.
pub async fn observe(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let started = Instant::now();
    let id = request_id(&req);
    actix_web::HttpMessage::extensions_mut(&req).insert(RequestId(id.clone()));
    let metrics = req
        .app_data::<actix_web::web::Data<crate::app::AppState>>()
        .map(|s| s.metrics.clone());
    let method = req.method().as_str().to_owned();
    let span = tracing::info_span!("request", id = %id);
    let mut res = tracing::Instrument::instrument(next.call(req), span).await?;
    if let Some(m) = metrics {
        // Known once routing has matched the request to a resource.
        let route = res
            .request()
            .match_pattern()
            .unwrap_or_else(|| UNMATCHED.to_owned());
        m.observe(
            &method,
            &route,
            res.status().as_u16(),
            started.elapsed().as_secs_f64(),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&id) {
        res.headers_mut().insert(REQUEST_ID, v);
    }
    Ok(res)
}

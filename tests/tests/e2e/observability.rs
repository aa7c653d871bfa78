//! Every answer carries a request id (the client's own when it sends a sane one), found again
//! in the access log; `/metrics` counts requests and their latency per route, files
//! registered, database connections and subjobs, in Prometheus' text format.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;

on_both_databases!(request_ids_and_metrics);

/// The value of the sample `name{labels}` (exactly as written) in a metrics page.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

fn request_ids_and_metrics(backend: Backend) {
    let s = TestServer::start(backend);

    // A fresh id on every answer, errors included.
    let a = s.http_with("GET", "/healthz", &[], None);
    let b = s.http_with("GET", "/api/v1/no/such/route", &[], None);
    assert_eq!(b.status, 404);
    let (ia, ib) = (
        a.header("x-request-id").expect("an id on 200"),
        b.header("x-request-id").expect("an id on 404"),
    );
    assert_eq!(ia.len(), 36, "{ia}");
    assert_ne!(ia, ib);
    // The client's own id comes back, so it can follow its requests through our logs; one
    // that is not a plain token is replaced rather than echoed.
    let mine = s.http_with(
        "GET",
        "/healthz",
        &[("X-Request-Id", "run-42.step_7")],
        None,
    );
    assert_eq!(mine.header("x-request-id"), Some("run-42.step_7"));
    let odd = s.http_with("GET", "/healthz", &[("X-Request-Id", "a<b>\"c")], None);
    let replaced = odd.header("x-request-id").expect("id");
    assert_eq!(replaced.len(), 36, "{replaced}");

    // Three files registered, one of them looked up twice, one lookup refused.
    s.ok(&["mkdir", "-p", "/m"]);
    let files: Vec<_> = (0..3)
        .map(|i| {
            json!({"lfn": format!("/m/f{i}"), "size": 10, "adler32": "00000001",
                   "replicas": [{"se": "local", "pfn": format!("m/f{i}")}]})
        })
        .collect();
    let (status, body) = s.post_json("/api/v1/files", &json!({ "files": files }));
    assert_eq!(status, 200, "{body}");
    for _ in 0..2 {
        let (status, _) = s.post_json("/api/v1/files/stat", &json!({"lfns": ["/m/f1"]}));
        assert_eq!(status, 200);
    }
    let (status, _) = s.post_json("/api/v1/files/stat", &json!({"lfns": ["/m/nope"]}));
    assert_eq!(status, 404);

    let m = s.http_with("GET", "/metrics", &[], None);
    assert_eq!(m.status, 200);
    assert!(
        m.header("content-type")
            .is_some_and(|c| c.starts_with("text/plain")),
        "{}",
        m.head
    );
    let page = &m.body;
    let stat = r#"method="POST",route="/api/v1/files/stat""#;
    assert_eq!(
        sample(
            page,
            &format!("catalog_http_requests_total{{{stat},status=\"200\"}}")
        ),
        Some(2.0),
        "{page}"
    );
    assert_eq!(
        sample(
            page,
            &format!("catalog_http_requests_total{{{stat},status=\"404\"}}")
        ),
        Some(1.0),
        "{page}"
    );
    assert_eq!(
        sample(
            page,
            &format!("catalog_http_request_duration_seconds_count{{{stat}}}")
        ),
        Some(3.0),
        "{page}"
    );
    assert_eq!(
        sample(
            page,
            &format!("catalog_http_request_duration_seconds_bucket{{{stat},le=\"+Inf\"}}")
        ),
        Some(3.0),
        "{page}"
    );
    // A path nobody routes is counted under one label, not under the path a client made up.
    assert!(
        sample(
            page,
            r#"catalog_http_requests_total{method="GET",route="unmatched",status="404"}"#
        )
        .is_some(),
        "{page}"
    );
    assert!(!page.contains("no/such/route"), "{page}");
    assert_eq!(
        sample(page, "catalog_files_registered_total"),
        Some(3.0),
        "{page}"
    );
    assert_eq!(sample(page, "catalog_database_up"), Some(1.0), "{page}");
    assert!(page.contains("# TYPE catalog_subjobs gauge"), "{page}");
    let pool = match backend {
        Backend::Sqlite => "write",
        Backend::Postgres => "shared",
    };
    assert!(
        sample(
            page,
            &format!("catalog_db_connections{{pool=\"{pool}\",state=\"max\"}}")
        )
        .is_some_and(|n| n >= 1.0),
        "{page}"
    );
    assert_eq!(
        sample(page, &format!("catalog_db_waiting{{pool=\"{pool}\"}}")),
        Some(0.0),
        "{page}"
    );
    // SQLite's page caches are counted on SQLite only.
    let sqlite_heap = sample(page, r#"catalog_sqlite_memory_bytes{state="now"}"#);
    match backend {
        Backend::Sqlite => assert!(sqlite_heap.is_some_and(|b| b > 0.0), "{page}"),
        Backend::Postgres => assert_eq!(sqlite_heap, None, "{page}"),
    }
    // The malloc heap: some in use, some freed and kept (never negative).
    let in_use = sample(page, r#"catalog_heap_bytes{state="in_use"}"#);
    let free = sample(page, r#"catalog_heap_bytes{state="free"}"#);
    assert!(
        matches!((in_use, free), (Some(u), Some(f)) if u > 0.0 && f >= 0.0),
        "{page}"
    );
    // Every line is a comment or a sample with a number.
    for line in page.lines().filter(|l| !l.starts_with('#')) {
        let value = line.rsplit_once(' ').map(|(_, v)| v).unwrap_or_default();
        assert!(value.parse::<f64>().is_ok(), "not a sample: {line}");
    }

    // The request id is in the access log line of its request.
    let log = std::fs::read_to_string(s.dir.path().join("server.log")).expect("server log");
    assert!(
        log.lines()
            .any(|l| l.contains("/healthz") && l.contains("id=run-42.step_7")),
        "no access-log line with the client's request id:\n{log}"
    );
}

//! The documented limits (README, "Limits"): each refused with a clear error, and slow
//! clients cut off without holding up anyone else.

use catalog_tests::{Backend, TestServer};
use serde_json::json;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

#[test]
fn oversized_requests_are_refused_by_name() {
    let s = TestServer::start(Backend::Sqlite);
    // A body over 64 MiB is refused from its Content-Length, before it is read.
    let addr = s.url.trim_start_matches("http://").to_owned();
    let mut c = TcpStream::connect(&addr).expect("connect");
    c.set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        c,
        "POST /api/v1/files HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{{",
        64 * 1024 * 1024 + 1
    )
    .expect("send head");
    let mut answer = vec![0u8; 4096];
    let n = c.read(&mut answer).expect("an answer without the body");
    let answer = String::from_utf8_lossy(&answer[..n]);
    assert!(answer.starts_with("HTTP/1.1 413"), "{answer}");
    assert!(answer.contains("larger than 67108864 bytes"), "{answer}");

    // A query over 256 KiB.
    let long = format!("a = \"{}\"", "x".repeat(300 * 1024));
    let (status, body) = s.post_json("/api/v1/find", &json!({ "query": long }));
    assert_eq!(status, 400, "{body}");
    assert!(
        body["detail"]
            .as_str()
            .is_some_and(|d| d.contains("at most 262144 bytes")),
        "{body}"
    );
    // Nesting deeper than 64.
    let deep = format!("{}a = 1{}", "(".repeat(100), ")".repeat(100));
    let (status, body) = s.post_json("/api/v1/find", &json!({ "query": deep }));
    assert_eq!(status, 400, "{body}");
    assert!(body.to_string().contains("nesting"), "{body}");
    // More than 10,000 LFNs in one call.
    let lfns: Vec<String> = (0..10_001).map(|i| format!("/x/f{i}")).collect();
    let (status, body) = s.post_json("/api/v1/files/stat", &json!({ "lfns": lfns }));
    assert_eq!(status, 413, "{body}");
    assert!(body.to_string().contains("at most 10000"), "{body}");
    // A page of more than 10,000.
    let (status, body) = s.post_json("/api/v1/find", &json!({"query": "", "page_size": 50_000}));
    assert_eq!(status, 400, "{body}");
    assert!(
        body.to_string()
            .contains("page_size must be between 1 and 10000"),
        "{body}"
    );
}

#[test]
fn slow_clients_are_cut_off_and_hold_up_nobody() {
    let s = TestServer::start(Backend::Sqlite);
    let addr = s.url.trim_start_matches("http://").to_owned();
    // Many clients that start a request and never finish its head.
    let mut slow: Vec<TcpStream> = (0..64)
        .map(|_| {
            let mut c = TcpStream::connect(&addr).expect("connect");
            write!(c, "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-Slow: ").expect("half a head");
            c
        })
        .collect();
    // Others are answered at once meanwhile.
    let t = Instant::now();
    let (status, _) = s.http("GET", "/healthz", None);
    assert_eq!(status, 200);
    assert!(
        t.elapsed() < Duration::from_secs(5),
        "a normal request waited {:?} behind slow clients",
        t.elapsed()
    );
    // Each slow client is cut off once its head has taken 10 s (408 or a closed connection).
    for c in &mut slow {
        c.set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut buf = Vec::new();
        if let Err(e) = c.read_to_end(&mut buf) {
            assert!(
                !matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ),
                "a slow client's connection is still open after {:?}",
                t.elapsed()
            );
        }
        let text = String::from_utf8_lossy(&buf);
        assert!(
            text.is_empty() || text.starts_with("HTTP/1.1 408"),
            "a slow client got: {text}"
        );
    }
    assert!(
        t.elapsed() < Duration::from_secs(30),
        "slow clients held their connections {:?}",
        t.elapsed()
    );
}

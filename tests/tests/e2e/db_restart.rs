//! PostgreSQL stopped and started again under a running catalogue and a steady load: while
//! the database is away every request is answered 503 with a message, promptly (never a
//! 500, never a hang); once it is back the server reconnects by itself and writes work.
//!
//! Needs the PostgreSQL server binaries (initdb, postgres, pg_ctl: apt-get install
//! postgresql): the test runs a PostgreSQL server of its own, as it stops it.

use catalog_tests::postgres::{Cluster, Database};
use catalog_tests::TestServer;
use serde_json::json;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The longest a request may take while the database is away: the server's 3 s wait for a
/// connection, and slack for a loaded machine.
const PROMPT: Duration = Duration::from_secs(8);

/// One answer of the load, with the phase of the database when its request began.
struct Answer {
    began: &'static str,
    ended: &'static str,
    name: &'static str,
    status: u16,
    took: Duration,
    body: String,
}

#[test]
fn postgres_restarted_under_load() {
    let cluster = Cluster::init().expect(
        "this test runs a PostgreSQL server of its own: install the PostgreSQL server binaries \
         (apt-get install postgresql)",
    );
    cluster.start();
    let s = TestServer::start_on(Database::create_on(&cluster.url()));
    s.ok(&["mkdir", "-p", "/r"]);
    let register = |from: usize| {
        let files: Vec<_> = (from..from + 10)
            .map(|i| {
                json!({"lfn": format!("/r/f{i}"), "size": 1, "adler32": "00000001",
                       "replicas": [{"se": "local", "pfn": format!("r/f{i}")}]})
            })
            .collect();
        s.post_json("/api/v1/files", &json!({ "files": files }))
    };
    assert_eq!(register(0).0, 200);

    // Four clients: stat, find, list and register, each in a loop, each answer logged with
    // the time it took and the phase it began in.
    let phase = Mutex::new("up");
    let stop = AtomicBool::new(false);
    let answers: Mutex<Vec<Answer>> = Mutex::new(Vec::new());
    let requests: [(&'static str, &str, &str, Option<String>); 4] = [
        (
            "stat",
            "POST",
            "/api/v1/files/stat",
            Some(json!({"lfns": ["/r/f1"]}).to_string()),
        ),
        (
            "find",
            "POST",
            "/api/v1/find",
            Some(json!({"query": "size = 1"}).to_string()),
        ),
        ("list", "GET", "/api/v1/namespace/list?path=/r", None),
        ("healthz", "GET", "/healthz", None),
    ];
    let (outage, back) = std::thread::scope(|scope| {
        for (name, method, path, body) in &requests {
            let (phase, stop, answers, s) = (&phase, &stop, &answers, &s);
            scope.spawn(move || {
                while !stop.load(Ordering::Relaxed) {
                    let began = *phase.lock().expect("phase");
                    let t = Instant::now();
                    let r = s.http_with(method, path, &[], body.as_deref().map(str::as_bytes));
                    answers.lock().expect("answers").push(Answer {
                        began,
                        ended: *phase.lock().expect("phase"),
                        name,
                        status: r.status,
                        took: t.elapsed(),
                        body: r.body,
                    });
                    std::thread::sleep(Duration::from_millis(20));
                }
            });
        }
        std::thread::sleep(Duration::from_secs(1));
        *phase.lock().expect("phase") = "stopping";
        cluster.stop();
        *phase.lock().expect("phase") = "away";
        let down = Instant::now();
        std::thread::sleep(Duration::from_secs(6));
        *phase.lock().expect("phase") = "starting";
        cluster.start();
        let outage = down.elapsed();
        *phase.lock().expect("phase") = "back";
        // Back to normal: a registration and a stat answered 200 again.
        let restarted = Instant::now();
        loop {
            if register(restarted.elapsed().as_millis() as usize * 100 + 1000).0 == 200 {
                break;
            }
            assert!(
                restarted.elapsed() < Duration::from_secs(30),
                "no registration succeeded within 30 s of the database's return"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        let back = restarted.elapsed();
        std::thread::sleep(Duration::from_millis(500));
        stop.store(true, Ordering::Relaxed);
        (outage, back)
    });

    let answers = answers.into_inner().expect("answers");
    // Requests made and answered while the database was down (one that began then may
    // get its connection, and a 200, once the database is back).
    let away: Vec<_> = answers
        .iter()
        .filter(|a| a.began == "away" && a.ended == "away")
        .collect();
    let slowest = away.iter().map(|a| a.took).max().unwrap_or_default();
    eprintln!(
        "{} answers; database away {outage:?}, {} requests made and answered then (slowest {slowest:?}); \
         writes worked again {back:?} after its return",
        answers.len(),
        away.len()
    );
    for a in &answers {
        let Answer {
            began,
            ended: _,
            name,
            status,
            took,
            body,
        } = a;
        assert!(
            *status == 200 || *status == 503,
            "{name} began while the database was {began}: {status} {body}"
        );
        assert!(
            *took < PROMPT,
            "{name} began while the database was {began} and took {took:?}"
        );
        if *status == 503 {
            assert!(
                body.contains("the database is not reachable"),
                "{name}: a 503 without the reason: {body}"
            );
        }
    }
    assert!(
        !away.is_empty(),
        "no request was made while the database was away"
    );
    assert!(
        away.iter().all(|a| a.status == 503),
        "answered 200 without a database: {:?}",
        away.iter()
            .filter(|a| a.status != 503)
            .map(|a| (a.name, a.status))
            .collect::<Vec<_>>()
    );
    // Every kind of request is answered 200 again once the database is back.
    for name in ["stat", "find", "list", "healthz"] {
        let (status, _) = match name {
            "stat" => s.post_json("/api/v1/files/stat", &json!({"lfns": ["/r/f1"]})),
            "find" => s.post_json("/api/v1/find", &json!({"query": "size = 1"})),
            "list" => (
                s.http("GET", "/api/v1/namespace/list?path=/r", None).0,
                json!(null),
            ),
            _ => (s.http("GET", "/healthz", None).0, json!(null)),
        };
        assert_eq!(status, 200, "{name} after the database came back");
    }
}

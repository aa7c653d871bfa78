//! Full-text search: a term of a string metadata value and a path component are found
//! (polled, within a second as a rule; the deadline here is generous), `--where` filters,
//! datasets are found by name, and `catalog-server reindex` rebuilds the index.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;
use std::time::{Duration, Instant};

use super::fixtures::{line, manifest};

on_both_databases!(
    search_finds_new_files_and_filters,
    reindex_rebuilds_the_index
);

/// The names `catalog search` prints, waiting (up to 10 s) until `expect` holds.
fn search_until(s: &TestServer, args: &[&str], expect: impl Fn(&[String]) -> bool) -> Vec<String> {
    let start = Instant::now();
    loop {
        let mut all = vec!["search"];
        all.extend_from_slice(args);
        let out = s.json(&all);
        let names: Vec<String> = out
            .as_array()
            .expect("hits")
            .iter()
            .map(|h| h["name"].as_str().expect("name").to_owned())
            .collect();
        if expect(&names) || start.elapsed() > Duration::from_secs(10) {
            return names;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn register(s: &TestServer, name: &str, lines: &[serde_json::Value]) {
    let path = manifest(s, name, lines);
    s.ok(&["register", "-p", "--from", path.to_str().expect("path")]);
}

fn search_finds_new_files_and_filters(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["meta", "index", "run", "int"]);
    register(
        &s,
        "a.jsonl",
        &[
            line(
                "/obs/cygnus/frame1.dat",
                10,
                json!({"target": "Cygnus X-1 flare", "run": 1}),
                &[],
            ),
            line(
                "/obs/cygnus/frame2.dat",
                20,
                json!({"target": "quiet sky", "run": 2}),
                &[],
            ),
            line(
                "/obs/vela/frame3.dat",
                30,
                json!({"target": "Vela pulsar", "run": 3}),
                &[],
            ),
        ],
    );
    // A term of a string metadata value.
    let hits = search_until(&s, &["flare"], |h| !h.is_empty());
    assert_eq!(hits, ["/obs/cygnus/frame1.dat"]);
    // A path component.
    let hits = search_until(&s, &["cygnus"], |h| h.len() == 2);
    assert_eq!(hits.len(), 2, "{hits:?}");
    assert!(
        hits.contains(&"/obs/cygnus/frame2.dat".to_owned()),
        "{hits:?}"
    );
    // Every word must appear; a filter query narrows the files.
    assert_eq!(
        search_until(&s, &["pulsar", "vela"], |h| !h.is_empty()),
        ["/obs/vela/frame3.dat"]
    );
    assert_eq!(
        s.json(&["search", "cygnus", "--where", "run >= 2"])
            .as_array()
            .expect("hits")
            .len(),
        1
    );
    assert_eq!(
        s.ok(&["search", "-o", "lfn", "cygnus", "--where", "run >= 2"]),
        "/obs/cygnus/frame2.dat\n"
    );

    // A file registered now is found shortly after; one removed no longer is.
    register(
        &s,
        "b.jsonl",
        &[line(
            "/obs/crab/new.dat",
            5,
            json!({"target": "Crab nebula"}),
            &[],
        )],
    );
    assert_eq!(
        search_until(&s, &["nebula"], |h| !h.is_empty()),
        ["/obs/crab/new.dat"]
    );
    s.ok(&["mv", "/obs/crab", "/obs/m1"]);
    assert_eq!(
        search_until(&s, &["m1"], |h| !h.is_empty()),
        ["/obs/m1/new.dat"]
    );
    s.ok(&["meta", "set", "/obs/m1", "site=Paranal"]);
    assert_eq!(
        search_until(&s, &["paranal"], |h| !h.is_empty()),
        ["/obs/m1/new.dat"]
    );
    s.ok(&["rm", "/obs/m1/new.dat"]);
    assert!(search_until(&s, &["nebula"], |h| h.is_empty()).is_empty());

    // Datasets are found by name.
    s.ok(&[
        "dataset",
        "create",
        "cygnus-flares",
        "--query",
        "under \"/obs/cygnus\"",
    ]);
    let hits = s.json(&["search", "flares"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let mut hits = hits;
    while hits
        .as_array()
        .expect("hits")
        .iter()
        .all(|h| h["kind"] != "dataset")
        && Instant::now() < deadline
    {
        std::thread::sleep(Duration::from_millis(50));
        hits = s.json(&["search", "flares"]);
    }
    assert!(
        hits.as_array()
            .expect("hits")
            .iter()
            .any(|h| h["kind"] == "dataset" && h["name"] == "cygnus-flares"),
        "{hits}"
    );

    // Bad input is refused clearly.
    let err = s.fails(&["search", "flare", "--where", "run >"]);
    assert!(err.contains("line 1, column 6"), "{err}");
    let err = s.fails(&["search", "flare", "--limit", "0"]);
    assert!(err.contains("limit must be between"), "{err}");
    let (status, body) = s.post_json("/api/v1/search", &json!({"text": "(unbalanced"}));
    assert_eq!(status, 400, "{body}");
}

fn reindex_rebuilds_the_index(backend: Backend) {
    let mut s = TestServer::start(backend);
    register(
        &s,
        "a.jsonl",
        &[line("/r/alpha.dat", 1, json!({"note": "xylophone"}), &[])],
    );
    assert_eq!(
        search_until(&s, &["xylophone"], |h| !h.is_empty()),
        ["/r/alpha.dat"]
    );
    // The index is in use while the server runs.
    let out = s.server_command(&["reindex"]);
    assert!(!out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("in use"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    s.stop();
    std::fs::remove_dir_all(s.dir.path().join("data").join("search")).expect("remove index");
    let out = s.server_command(&["reindex"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("search index rebuilt: 1 files"));
    s.restart();
    assert_eq!(s.json(&["search", "xylophone"])[0]["name"], "/r/alpha.dat");
    // A missing index is rebuilt at start-up too.
    s.stop();
    std::fs::remove_dir_all(s.dir.path().join("data").join("search")).expect("remove index");
    s.restart();
    assert_eq!(
        search_until(&s, &["xylophone"], |h| !h.is_empty()),
        ["/r/alpha.dat"]
    );
}

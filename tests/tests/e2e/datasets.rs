//! Datasets: dynamic ones follow new files, frozen ones do not; the content hash is stable
//! and changes exactly with the set of files.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;

use super::finding::{found, register_fixture};
use super::fixtures::{line, manifest};

on_both_databases!(dynamic_follows_frozen_stays, dataset_errors_change_nothing);

fn show(s: &TestServer, name: &str) -> (i64, i64, String, bool) {
    let d = s.json(&["dataset", "show", name]);
    (
        d["files"].as_i64().expect("files"),
        d["size"].as_i64().expect("size"),
        d["hash"].as_str().expect("hash").to_owned(),
        d["frozen"].as_bool().expect("frozen"),
    )
}

fn register(s: &TestServer, name: &str, lfn: &str, size: i64) {
    let path = manifest(s, name, &[line(lfn, size, json!({"run": 7}), &[])]);
    s.ok(&["register", "--from", path.to_str().expect("path")]);
}

fn dynamic_follows_frozen_stays(backend: Backend) {
    let s = TestServer::start(backend);
    register_fixture(&s);
    s.ok(&[
        "dataset",
        "create",
        "live",
        "--query",
        "under \"/q/a\"",
        "--meta",
        "purpose=calibration",
    ]);
    s.ok(&[
        "dataset",
        "create",
        "kept",
        "--frozen",
        "--query",
        "under \"/q/a\"",
    ]);
    let (n, size, live_hash, frozen) = show(&s, "live");
    assert_eq!((n, size, frozen), (4, 100 + 2000 + 3_000_000 + 400, false));
    let (n, _, kept_hash, frozen) = show(&s, "kept");
    assert_eq!((n, frozen), (4, true));
    assert_eq!(live_hash, kept_hash, "same files, same hash");
    assert_eq!(show(&s, "kept").2, kept_hash, "hash is stable");

    register(&s, "f7.jsonl", "/q/a/f7", 70);
    assert_eq!(show(&s, "live").0, 5, "dynamic follows new files");
    assert_eq!(show(&s, "kept").0, 4, "frozen does not");
    assert_eq!(show(&s, "kept").2, kept_hash);
    let live5 = show(&s, "live").2;
    assert_ne!(live5, live_hash);

    // Adding the same file to the frozen one gives the same content, hence the same hash.
    s.ok(&["dataset", "add", "kept", "/q/a/f7"]);
    assert_eq!(show(&s, "kept").2, live5);
    s.ok(&["dataset", "remove", "kept", "/q/a/f7"]);
    assert_eq!(show(&s, "kept").2, kept_hash);
    // Metadata changes are not content changes; a moved file is the same file.
    s.ok(&["meta", "set", "/q/a/f1", "run=99"]);
    s.ok(&["mv", "/q/a/f2", "/q/b/f2moved"]);
    assert_eq!(show(&s, "kept").2, kept_hash);
    assert_eq!(
        found(&s, "dataset = \"kept\""),
        ["f1", "f3", "f4", "f2moved"]
    );
    assert_eq!(found(&s, "dataset = \"live\""), ["f1", "f7", "f3", "f4"]);
    assert_eq!(
        found(&s, "dataset = \"kept\" and not dataset = \"live\""),
        ["f2moved"]
    );
    assert_eq!(s.ok(&["dataset", "files", "kept"]).lines().count(), 4);

    // Freezing keeps today's files, with the same hash.
    let (n, size, hash, _) = show(&s, "live");
    assert_eq!((n, size), (4, 100 + 70 + 3_000_000 + 400));
    s.ok(&["dataset", "freeze", "live"]);
    register(&s, "f8.jsonl", "/q/a/f8", 80);
    assert_eq!(show(&s, "live"), (4, size, hash, true));

    // From a list of LFNs, with metadata.
    let list = s.scratch("lists").join("two.txt");
    std::fs::write(&list, "# calibration pair\n/q/b/f5\n\n/q/b/f6\n").expect("list");
    s.ok(&[
        "dataset",
        "create",
        "pair",
        "--from",
        list.to_str().expect("path"),
    ]);
    assert_eq!(found(&s, "dataset = \"pair\""), ["f5", "f6"]);
    s.ok(&["dataset", "meta", "set", "pair", "run=5", "note=two files"]);
    let d = s.json(&["dataset", "show", "pair"]);
    assert_eq!(d["metadata"], json!({"run": 5, "note": "two files"}));
    let d = s.json(&["dataset", "show", "live"]);
    assert_eq!(d["metadata"], json!({"purpose": "calibration"}));
    assert_eq!(d["query"], "under \"/q/a\"");

    // A dataset naming another one.
    s.ok(&[
        "dataset",
        "create",
        "pair-big",
        "--query",
        "dataset = \"pair\" and size > 1GB",
    ]);
    assert_eq!(found(&s, "dataset = \"pair-big\""), ["f5"]);
    let err = s.fails(&["dataset", "rm", "pair"]);
    assert!(
        err.contains("used by the query of dataset(s) pair-big"),
        "{err}"
    );
    s.ok(&["dataset", "rm", "pair-big"]);
    s.ok(&["dataset", "rm", "pair"]);
    let names: Vec<String> = s
        .json(&["dataset", "ls"])
        .as_array()
        .expect("list")
        .iter()
        .map(|d| d["name"].as_str().expect("name").to_owned())
        .collect();
    assert_eq!(names, ["kept", "live"]);
    // Files of a removed dataset stay.
    assert_eq!(found(&s, "under \"/q/b\""), ["f2moved", "f5", "f6"]);
}

fn dataset_errors_change_nothing(backend: Backend) {
    let s = TestServer::start(backend);
    register_fixture(&s);
    s.ok(&["dataset", "create", "d", "--query", "run > 1"]);
    let before = s.snapshot();
    let before_ds = s.json(&["dataset", "ls"]);
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["dataset", "create", "d", "--query", "run > 2"],
            "exists",
        ),
        (
            vec!["dataset", "create", "bad name", "--query", "run > 2"],
            "invalid dataset name",
        ),
        (
            vec!["dataset", "create", "e", "--query", "run >"],
            "line 1, column 6",
        ),
        (
            vec!["dataset", "create", "e", "--query", "run > 1 limit 3"],
            "cannot have 'order by' or 'limit'",
        ),
        (
            vec!["dataset", "create", "e", "--query", "dataset = \"e\""],
            "no such dataset: e",
        ),
        (vec!["dataset", "add", "d", "/q/a/f1"], "is dynamic"),
        (vec!["dataset", "show", "nothing"], "no such dataset"),
        (vec!["dataset", "freeze", "nothing"], "no such dataset"),
        (
            vec!["dataset", "meta", "set", "d", "run=abc"],
            "field run is int",
        ),
    ];
    for (args, what) in cases {
        let err = s.fails(&args);
        assert!(err.contains(what), "{args:?}: {err}");
    }
    s.ok(&["dataset", "create", "f", "--frozen", "--query", "run = 1"]);
    let err = s.fails(&["dataset", "add", "f", "/q/a/f2", "/q/nowhere"]);
    assert!(err.contains("/q/nowhere"), "{err}");
    assert_eq!(found(&s, "dataset = \"f\""), ["f1"]);
    s.ok(&["dataset", "rm", "f"]);
    assert_eq!(s.json(&["dataset", "ls"]), before_ds);
    assert_eq!(s.snapshot(), before);
}

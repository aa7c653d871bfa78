//! Bad input of each kind: a clear 4xx naming the problem, and the catalogue exactly as it was.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;

use super::fixtures::{line, manifest};

on_both_databases!(
    wrong_type_for_a_declared_field_is_refused,
    duplicate_lfn_refuses_the_whole_batch,
    missing_parent_is_refused,
    cycle_is_refused,
    malformed_json_is_refused,
    lfns_that_are_not_absolute_normalised_paths_are_refused,
    registering_into_a_missing_directory_needs_parents,
    get_of_altered_bytes_fails_and_leaves_no_file,
    api_errors_are_problem_json,
);

/// A catalogue with a little of everything, for the refusals to leave untouched.
fn seeded(backend: Backend) -> TestServer {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/d/sub"]);
    s.ok(&["meta", "index", "run", "int"]);
    s.ok(&["meta", "set", "/d", "site=cern"]);
    let lines = vec![
        line("/d/a", 10, json!({"run": 1, "energy": 2.5}), &[]),
        line("/d/b", 20, json!({"run": 2}), &["/d/a"]),
    ];
    s.ok(&[
        "register",
        "--from",
        manifest(&s, "seed.jsonl", &lines).to_str().unwrap(),
    ]);
    s
}

/// Runs `attempt`, which must fail with a message containing `expected`, and checks nothing changed.
fn refused(s: &TestServer, args: &[&str], expected: &str) {
    let before = s.snapshot();
    let err = s.fails(args);
    assert!(
        err.contains(expected),
        "catalog {args:?}: expected {expected:?} in:\n{err}"
    );
    assert_eq!(
        s.snapshot(),
        before,
        "catalog {args:?} changed the catalogue"
    );
}

fn wrong_type_for_a_declared_field_is_refused(backend: Backend) {
    let s = seeded(backend);
    refused(
        &s,
        &["meta", "set", "/d/a", "run=abc"],
        r#"field run is int, got "abc""#,
    );
    refused(
        &s,
        &["meta", "set", "/d", "run=1.5"],
        r#"field run is int, got "1.5""#,
    );
    let bad = manifest(
        &s,
        "bad.jsonl",
        &[
            line("/d/c", 1, json!({"run": 3}), &[]),
            line("/d/e", 1, json!({"run": "three"}), &[]),
        ],
    );
    refused(
        &s,
        &["register", "--from", bad.to_str().unwrap()],
        r#"field run is int, got "three""#,
    );
    // A field first seen as a float stays a float.
    refused(
        &s,
        &["meta", "set", "/d/b", "energy=high"],
        r#"field energy is float, got "high""#,
    );
    let before = s.snapshot();
    let (status, body) = s.post_json(
        "/api/v1/metadata/set",
        &json!({"path": "/d/a", "values": {"run": "7"}}),
    );
    assert_eq!(status, 400);
    assert_eq!(body["detail"].as_str().unwrap(), "metadata change refused, nothing changed: 1 bad item(s); first: item 0 (/d/a): field run is int, got \"7\"");
    assert_eq!(s.snapshot(), before);
}

fn duplicate_lfn_refuses_the_whole_batch(backend: Backend) {
    let s = seeded(backend);
    let inside = manifest(
        &s,
        "dup.jsonl",
        &[
            line("/d/new1", 1, json!({}), &[]),
            line("/d/new2", 1, json!({}), &[]),
            line("/d/new1", 1, json!({}), &[]),
        ],
    );
    refused(
        &s,
        &["register", "--from", inside.to_str().unwrap()],
        "item 2 (/d/new1): duplicate LFN in the batch (also item 0)",
    );
    let against = manifest(
        &s,
        "dup2.jsonl",
        &[
            line("/d/new3", 1, json!({}), &[]),
            line("/d/a", 1, json!({}), &[]),
        ],
    );
    let err = s.fails(&["register", "--from", against.to_str().unwrap()]);
    assert!(
        err.contains("item 1 (/d/a): file exists") && err.contains("manifest line 2"),
        "{err}"
    );
    assert!(s.fails(&["stat", "/d/new3"]).contains("no such file"));
    refused(
        &s,
        &["register", "--from", against.to_str().unwrap()],
        "file exists",
    );
    // A directory is no file either.
    let dir = manifest(&s, "dup3.jsonl", &[line("/d/sub", 1, json!({}), &[])]);
    refused(
        &s,
        &["register", "--from", dir.to_str().unwrap()],
        "a directory exists at this path",
    );
}

fn missing_parent_is_refused(backend: Backend) {
    let s = seeded(backend);
    let m = manifest(
        &s,
        "orphan.jsonl",
        &[line("/d/c", 1, json!({}), &["/d/nope"])],
    );
    refused(
        &s,
        &["register", "--from", m.to_str().unwrap()],
        "no such parent file: /d/nope",
    );
    refused(
        &s,
        &["parents", "add", "/d/b", "/d/ghost"],
        "no such parent file: /d/ghost",
    );
    refused(
        &s,
        &["parents", "add", "/d/ghost", "/d/a"],
        "no such file: /d/ghost",
    );
}

fn cycle_is_refused(backend: Backend) {
    let s = seeded(backend);
    refused(
        &s,
        &["parents", "add", "/d/a", "/d/b"],
        "link would make a cycle: /d/a would be its own ancestor",
    );
    refused(
        &s,
        &["parents", "add", "/d/a", "/d/a"],
        "a file cannot be its own parent",
    );
    let m = manifest(
        &s,
        "loop.jsonl",
        &[
            line("/d/x", 1, json!({}), &["/d/y"]),
            line("/d/y", 1, json!({}), &["/d/x"]),
        ],
    );
    refused(&s, &["register", "--from", m.to_str().unwrap()], "cycle");
}

fn malformed_json_is_refused(backend: Backend) {
    let s = seeded(backend);
    let before = s.snapshot();
    for (body, expected) in [
        (r#"{"files": [{"lfn": "/d/z", "size": 1"#, "malformed JSON"),
        (
            r#"{"files": [{"lfn": "/d/z", "size": 1, "adlr32": "00000001"}]}"#,
            "unknown field `adlr32`",
        ),
        (
            r#"{"files": [{"lfn": "/d/z", "size": "big", "adler32": "00000001"}]}"#,
            "malformed JSON",
        ),
        (r#"[1, 2]"#, "malformed JSON"),
        (
            r#"{"files": [{"lfn": "/d/z", "size": 1, "adler32": "XYZ"}]}"#,
            "adler32 \"XYZ\" is not 8 lowercase hex digits",
        ),
    ] {
        let (status, text) = s.http("POST", "/api/v1/files", Some(body.as_bytes()));
        assert_eq!(status, 400, "{body}: {text}");
        let problem: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(problem["type"], "urn:catalog:bad-request");
        assert!(
            problem["detail"].as_str().unwrap().contains(expected),
            "{body}: expected {expected:?} in {text}"
        );
    }
    let bad = s.scratch("m").join("broken.jsonl");
    std::fs::write(
        &bad,
        format!("{}\n{{\"lfn\": \n", line("/d/ok", 1, json!({}), &[])),
    )
    .unwrap();
    refused(
        &s,
        &["register", "--from", bad.to_str().unwrap()],
        "broken.jsonl:2: invalid manifest line",
    );
    assert_eq!(s.snapshot(), before);
}

fn lfns_that_are_not_absolute_normalised_paths_are_refused(backend: Backend) {
    let s = seeded(backend);
    let before = s.snapshot();
    for (lfn, expected) in [
        ("/d/../d/x", "'.' and '..' are not allowed"),
        ("/d//x", "empty name"),
        ("/d/x/", "empty name"),
        ("d/x", "must be absolute"),
        ("", "must be absolute"),
        ("/d/x\u{0}y", "NUL or control character"),
    ] {
        let file = |lfn: &str| json!({"lfn": lfn, "size": 1, "adler32": "00000001", "replicas": [{"se": "local", "pfn": "x/y"}]});
        let (status, body) = s.post_json(
            "/api/v1/files",
            &json!({"files": [file("/d/fine"), file(lfn)]}),
        );
        assert_eq!(status, 400, "{lfn:?}");
        assert!(
            body["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains(expected),
            "{lfn:?}: {body}"
        );
        assert_eq!(body["errors"][0]["index"], 1);
        let (status, body) = s.post_json("/api/v1/dirs", &json!({"path": lfn, "parents": true}));
        assert_eq!(status, 400, "{lfn:?}");
        assert!(
            body["detail"].as_str().unwrap().contains(expected),
            "{lfn:?}: {body}"
        );
    }
    for lfn in ["/d/../x", "/d//x", "rel/x"] {
        assert!(
            s.fails(&["mkdir", "-p", lfn]).contains("invalid path"),
            "{lfn}"
        );
        assert!(s.fails(&["stat", lfn]).contains("invalid path"), "{lfn}");
    }
    assert_eq!(s.snapshot(), before);
}

fn registering_into_a_missing_directory_needs_parents(backend: Backend) {
    let s = seeded(backend);
    let m = manifest(
        &s,
        "nodir.jsonl",
        &[
            line("/d/c", 1, json!({}), &[]),
            line("/elsewhere/deep/f", 1, json!({}), &[]),
        ],
    );
    refused(
        &s,
        &["register", "--from", m.to_str().unwrap()],
        "no such directory: /elsewhere/deep (create it with mkdir -p)",
    );
    refused(
        &s,
        &["mkdir", "/elsewhere/deep"],
        "no such directory: /elsewhere (use mkdir -p to create parents)",
    );
    s.ok(&["register", "-p", "--from", m.to_str().unwrap()]);
    assert_eq!(
        s.ok(&["ls", "-r", "/elsewhere"]),
        "/elsewhere/deep/\n/elsewhere/deep/f\n"
    );
}

fn get_of_altered_bytes_fails_and_leaves_no_file(backend: Backend) {
    let s = TestServer::start(backend);
    let local = s.scratch("up").join("frame.txt");
    std::fs::write(&local, b"cluster data 0123456789\n").unwrap();
    s.ok(&["put", local.to_str().unwrap(), "/frames/frame.txt"]);
    std::fs::write(
        s.local_se_dir().join("frames/frame.txt"),
        b"cluster data 0123456780\n",
    )
    .unwrap();
    let down = s.scratch("down");
    let err = s.fails(&["get", "/frames/frame.txt", &format!("{}/", down.display())]);
    assert!(
        err.contains("cannot get /frames/frame.txt: checksum mismatch on local"),
        "{err}"
    );
    assert_eq!(
        std::fs::read_dir(&down).unwrap().count(),
        0,
        "no output file, no partial file"
    );
}

fn api_errors_are_problem_json(backend: Backend) {
    let s = seeded(backend);
    let (status, text) = s.http("GET", "/api/v1/namespace/stat?path=/d/none", None);
    assert_eq!(status, 404);
    let p: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(p["type"], "urn:catalog:not-found");
    assert_eq!(p["detail"], "no such file or directory: /d/none");
    let (status, _) = s.http("GET", "/api/v1/openapi.json", None);
    assert_eq!(status, 200);
    let (status, body) = s.post_json(
        "/api/v1/files/ancestors",
        &json!({"lfns": ["/d/b"], "depth": 0}),
    );
    assert_eq!(
        (status, body["detail"].as_str().unwrap()),
        (400, "depth must be between 1 and 1000, got 0")
    );
    let too_many: Vec<String> = (0..10_001).map(|i| format!("/d/f{i}")).collect();
    let (status, _) = s.post_json("/api/v1/files/stat", &json!({"lfns": too_many}));
    assert_eq!(status, 413);
}

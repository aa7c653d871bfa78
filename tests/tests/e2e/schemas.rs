//! JSON Schemas on directories: valid and invalid registrations and metadata changes, a
//! bulk batch refused whole with the bad item named, and schemas agreeing with declarations.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::{json, Value};

use super::fixtures::{line, manifest};

on_both_databases!(
    schemas_check_registrations_and_changes,
    schemas_and_declarations_agree
);

fn write_schema(s: &TestServer, name: &str, schema: &Value) -> String {
    let path = s.scratch("schemas").join(name);
    std::fs::write(&path, schema.to_string()).expect("schema file");
    path.to_str().expect("path").to_owned()
}

fn register(s: &TestServer, name: &str, lines: &[Value]) -> std::process::Output {
    let path = manifest(s, name, lines);
    s.catalog(&["register", "-p", "--from", path.to_str().expect("path")])
}

fn schemas_check_registrations_and_changes(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/s/raw"]);
    s.ok(&["meta", "index", "run", "int"]);
    s.ok(&["meta", "index", "det", "string"]);
    let schema = json!({
        "type": "object",
        "required": ["run"],
        "properties": {"run": {"type": "integer", "minimum": 1}, "det": {"type": "string", "enum": ["A", "B"]}}
    });
    let file = write_schema(&s, "s.json", &schema);
    s.ok(&["schema", "set", "/s", &file]);
    assert_eq!(
        serde_json::from_str::<Value>(&s.ok(&["schema", "get", "/s"])).expect("json"),
        schema
    );

    let out = register(
        &s,
        "good.jsonl",
        &[line("/s/raw/ok1", 1, json!({"run": 1, "det": "A"}), &[])],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    let before = s.snapshot();
    // One bad item refuses the whole batch, each violation named with its place and reason.
    let out = register(
        &s,
        "mixed.jsonl",
        &[
            line("/s/raw/a", 1, json!({"run": 2}), &[]),
            line("/s/raw/b", 1, json!({"det": "Z"}), &[]),
            line("/s/raw/c", 1, json!({"run": 3, "det": "B"}), &[]),
        ],
    );
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("item 1 (/s/raw/b)"), "{err}");
    assert!(
        err.contains("schema of /s: /: \"run\" is a required property"),
        "{err}"
    );
    assert!(err.contains("/det: \"Z\" is not one of"), "{err}");
    assert_eq!(s.snapshot(), before, "a refused batch registers nothing");

    // Through the API, the refusal lists the item.
    let (status, body) = s.post_json(
        "/api/v1/files",
        &json!({"files": [{"lfn": "/s/raw/d", "size": 1, "adler32": "00000001", "metadata": {"run": 0}}]}),
    );
    assert_eq!(status, 400, "{body}");
    assert_eq!(body["errors"][0]["lfn"], "/s/raw/d");
    assert!(
        body["errors"][0]["message"]
            .as_str()
            .expect("message")
            .contains("/run: 0 is less than the minimum of 1"),
        "{body}"
    );

    // Metadata changes of a file are checked too, and a refused one changes nothing.
    let err = s.fails(&["meta", "set", "/s/raw/ok1", "det=Z"]);
    assert!(err.contains("/det"), "{err}");
    let err = s.fails(&["meta", "rm", "/s/raw/ok1", "run"]);
    assert!(err.contains("\"run\" is a required property"), "{err}");
    // Inherited values count: a directory value satisfies "required" for the files below...
    s.ok(&["meta", "set", "/s/raw", "run=5"]);
    s.ok(&["meta", "rm", "/s/raw/ok1", "run"]);
    // ...and a directory value that would make a file below invalid is refused.
    let err = s.fails(&["meta", "set", "/s/raw", "run=0"]);
    assert!(
        err.contains("/s/raw/ok1") && err.contains("minimum"),
        "{err}"
    );
    let meta = s.json(&["meta", "get", "/s/raw/ok1"]);
    let run = meta["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .find(|e| e["field"] == "run")
        .expect("run")
        .clone();
    assert_eq!(run["value"], 5);

    // A put of a file with invalid sidecar metadata is refused and leaves nothing behind.
    let local = s.scratch("put").join("x.dat");
    std::fs::write(&local, b"bytes").expect("local file");
    let err = s.fails(&[
        "put",
        "--meta",
        "det=C",
        local.to_str().expect("path"),
        "/s/raw/x.dat",
    ]);
    assert!(err.contains("/det"), "{err}");
    assert!(s.fails(&["stat", "/s/raw/x.dat"]).contains("no such"));

    // A schema that files below already violate is refused; removing the schema lifts it.
    let strict = write_schema(&s, "strict.json", &json!({"required": ["quality"]}));
    let err = s.fails(&["schema", "set", "/s/raw", &strict]);
    assert!(
        err.contains("/s/raw/ok1") && err.contains("quality"),
        "{err}"
    );
    s.ok(&["schema", "rm", "/s"]);
    assert!(s
        .fails(&["schema", "get", "/s"])
        .contains("no schema on /s"));
    let out = register(
        &s,
        "free.jsonl",
        &[line("/s/raw/free", 1, json!({"det": "Z"}), &[])],
    );
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn schemas_and_declarations_agree(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/s"]);
    s.ok(&["meta", "index", "det", "string"]);
    let bad = write_schema(
        &s,
        "bad.json",
        &json!({"properties": {"det": {"type": "integer"}}}),
    );
    let err = s.fails(&["schema", "set", "/s", &bad]);
    assert!(
        err.contains("the schema says 'det' is integer, but the field is declared string"),
        "{err}"
    );
    let ok = write_schema(
        &s,
        "ok.json",
        &json!({"properties": {"det": {"type": "string"}, "quality": {"type": "number"}}}),
    );
    s.ok(&["schema", "set", "/s", &ok]);
    let err = s.fails(&["meta", "index", "quality", "string"]);
    assert!(err.contains("'quality' is number"), "{err}");
    s.ok(&["meta", "index", "quality", "float"]);
    let invalid = write_schema(&s, "invalid.json", &json!({"type": 5}));
    let err = s.fails(&["schema", "set", "/s", &invalid]);
    assert!(err.contains("not a valid JSON Schema"), "{err}");
    let not_json = s.scratch("schemas").join("broken.json");
    std::fs::write(&not_json, "{").expect("write");
    let err = s.fails(&["schema", "set", "/s", not_json.to_str().expect("path")]);
    assert!(err.contains("is not JSON"), "{err}");
    let err = s.fails(&["schema", "set", "/nowhere", &ok]);
    assert!(err.contains("no such directory"), "{err}");
}

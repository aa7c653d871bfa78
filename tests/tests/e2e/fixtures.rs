//! Manifests and local files the tests register.

use catalog_tests::TestServer;
use serde_json::{json, Value};
use std::path::PathBuf;

/// Writes a manifest (one JSON object a line) into the server's scratch area.
pub fn manifest(server: &TestServer, name: &str, lines: &[Value]) -> PathBuf {
    let path = server.scratch("manifests").join(name);
    let text: String = lines.iter().map(|l| format!("{l}\n")).collect();
    std::fs::write(&path, text).expect("write manifest");
    path
}

/// One manifest line for a file on the `local` storage element.
pub fn line(lfn: &str, size: i64, metadata: Value, parents: &[&str]) -> Value {
    json!({
        "lfn": lfn,
        "size": size,
        "adler32": format!("{:08x}", (size * 7 + 1) & 0xffff_ffff),
        "se": "local",
        "pfn": lfn.trim_start_matches('/'),
        "metadata": metadata,
        "parents": parents,
    })
}

/// The LFN of file `i` of the 1,000-file fixture: 200 files in each of /exp/d0 ... /exp/d4.
pub fn lfn_of(i: usize) -> String {
    format!("/exp/d{}/f{i:04}", i / 200)
}

/// Makes the 5 directories and registers the 1,000-file fixture with three typed fields
/// per file and one field on /exp that every file inherits.
pub fn register_thousand(server: &TestServer) {
    server.ok(&["mkdir", "-p", "/exp/d0"]);
    server.ok(&["mkdir", "/exp/d1", "/exp/d2", "/exp/d3", "/exp/d4"]);
    server.ok(&["meta", "index", "run", "int"]);
    let lines: Vec<Value> = (0..1000)
        .map(|i| line(&lfn_of(i), 1000 + i as i64, json!({ "run": (i % 50) as i64, "energy": i as f64 * 0.5 + 0.25, "detector": format!("B0{}", i % 3) }), &[]))
        .collect();
    let path = manifest(server, "thousand.jsonl", &lines);
    let out = server.ok(&["register", "--from", path.to_str().expect("path")]);
    assert!(out.starts_with("registered 1000 file(s)"), "{out}");
    server.ok(&["meta", "set", "/exp", "campaign=2016A"]);
}

pub fn relatives(v: &Value) -> Vec<(String, u64)> {
    v.as_array()
        .expect("files")
        .iter()
        .flat_map(|f| f["relatives"].as_array().expect("relatives").iter())
        .map(|r| {
            (
                r["lfn"].as_str().expect("lfn").to_owned(),
                r["depth"].as_u64().expect("depth"),
            )
        })
        .collect()
}

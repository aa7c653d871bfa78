//! At 100,000 files, a selective two-field query is answered from the metadata indexes:
//! checked from the database's own plan (`find --explain`), on both databases.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;

on_both_databases!(selective_query_uses_the_metadata_indexes);

const FILES: usize = 100_000;
const BATCH: usize = 10_000;
const PARITY: [&str; 2] = ["even", "odd"];

fn selective_query_uses_the_metadata_indexes(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/big"]);
    s.ok(&["meta", "index", "run", "int"]);
    s.ok(&["meta", "index", "detector", "string"]);
    s.ok(&["meta", "index", "parity", "string"]);
    for start in (0..FILES).step_by(BATCH) {
        let files: Vec<_> = (start..start + BATCH)
            .map(|i| {
                json!({
                    "lfn": format!("/big/d{}/f{i:06}", i / 10_000),
                    "size": i,
                    "adler32": "00000001",
                    "replicas": [{"se": "local", "pfn": format!("big/f{i:06}")}],
                    "metadata": {"run": (i % 1000) as i64, "detector": format!("D{:03}", i % 997), "energy": i as f64, "parity": PARITY[i % 2]},
                })
            })
            .collect();
        let (status, body) = s.post_json(
            "/api/v1/files",
            &json!({"files": files, "create_dirs": true}),
        );
        assert_eq!(status, 200, "batch at {start}: {body}");
    }
    let q = "run = 17 and detector = \"D017\"";
    // 17 + 997,000k... : files with i % 1000 == 17 and i % 997 == 17, i.e. i = 17 + 997000 k.
    assert_eq!(s.ok(&["find", "-o", "lfn", q]), "/big/d0/f000017\n");
    assert_eq!(s.ok(&["find", "--count", "run = 17"]).trim(), "100");

    let explain = s.json(&["find", "--explain", q]);
    let plan: Vec<String> = explain["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|l| l.as_str().expect("line").to_owned())
        .collect();
    let text = plan.join("\n");
    eprintln!("{} plan for {q}:\n{text}", explain["database"]);
    assert!(
        text.contains("file_meta_ival"),
        "the int field's index is not used:\n{text}"
    );
    // The second test probes the files the first one found, by the (file, field) key, or
    // through its own value index: either way an index, never a scan.
    assert!(
        [
            "file_meta_sval",
            "file_meta_pkey",
            "sqlite_autoindex_file_meta_1"
        ]
        .iter()
        .any(|i| text.contains(i)),
        "the string field is tested without an index:\n{text}"
    );
    match backend {
        Backend::Sqlite => {
            assert!(
                !plan.iter().any(|l| l.trim_start().starts_with("SCAN")),
                "a table is scanned:\n{text}"
            );
        }
        Backend::Postgres => {
            assert!(!text.contains("Seq Scan"), "a table is scanned:\n{text}");
        }
    }
    // Of two equality tests, the one matching fewer files drives whichever comes first:
    // here `run` (100 files) and not `parity` (50,000), so the string index is not read.
    let q2 = "parity = \"odd\" and run = 17";
    assert_eq!(s.ok(&["find", "--count", q2]).trim(), "100");
    let explain = s.json(&["find", "--explain", q2]);
    let text = explain["plan"]
        .as_array()
        .expect("plan")
        .iter()
        .map(|l| l.as_str().expect("line"))
        .collect::<Vec<_>>()
        .join("\n");
    eprintln!("plan for {q2}:\n{text}");
    assert!(
        text.contains("file_meta_ival"),
        "run does not drive:\n{text}"
    );
    if backend == Backend::Sqlite {
        // The driving test is the list SQLite reads first; the other is probed per file.
        let list = text
            .lines()
            .skip_while(|l| !l.starts_with("LIST SUBQUERY"))
            .nth(1)
            .unwrap_or_default();
        assert!(
            list.contains("file_meta_ival"),
            "the 50,000 files of parity = \"odd\" drive the query:\n{text}"
        );
    }
    // The table output of --explain names the same plan.
    let out = s.ok(&["find", "--explain", q]);
    assert!(out.starts_with(&format!("query:    {q}\n")), "{out}");
    assert!(out.contains("file_meta_ival"), "{out}");
}

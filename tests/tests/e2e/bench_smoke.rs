//! CI's smoke run of the benchmark: `catalog-bench` at 1,000 files on SQLite must finish,
//! check its own hit counts, and write JSON in the DFC kit's layout. Never a timed assertion.

use catalog_tests::bin_dir;

#[test]
fn catalog_bench_runs_at_1000_files() {
    let dir = tempfile::tempdir().expect("tempdir");
    let out = dir.path().join("bench.json");
    let run = std::process::Command::new(bin_dir().join("catalog-bench"))
        .args(["--files", "1000", "--reps", "2", "--single-reps", "3"])
        .arg("--out")
        .arg(&out)
        .output()
        .expect("run catalog-bench");
    assert!(
        run.status.success(),
        "catalog-bench failed:\n{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let table = String::from_utf8_lossy(&run.stdout);
    assert!(table.contains("| q2_int_str:"), "{table}");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&out).expect("json written")).expect("json");
    assert_eq!(doc["errors"], serde_json::json!([]), "{doc}");
    let r = &doc["results"];
    assert_eq!(r["addFile"]["files"], 1000);
    assert!(r["addFile"]["files_per_s"].as_f64().expect("rate") > 0.0);
    for q in [
        "q1_int_gt",
        "q1_str_eq",
        "q2_int_str",
        "q3_int_str_float",
        "q3_int_str_date",
    ] {
        let q = &r["findFilesByMetadata"][q];
        assert_eq!(q["hits"], q["expected_hits"], "{q}");
        assert!(q["median_ms"].as_f64().is_some(), "{q}");
    }
    assert_eq!(r["addFileAncestors"]["links"], 750);
    assert_eq!(
        r["ancestry_queries"]["getFileAncestors_bulk1000_all"]["relatives"],
        750
    );
    assert_eq!(r["listDirectory"]["listDirectory"]["files_in_dir"], 100);
    assert!(doc["memory"]["server_peak_mib"].as_f64().is_some(), "{doc}");
    assert!(
        doc["db_stats"]["size_mib_total"].as_f64().is_some(),
        "{doc}"
    );
}

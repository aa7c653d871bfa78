//! Crash safety: the server killed with SIGKILL in the middle of a 300,000-file bulk
//! registration from a manifest. After a restart on the same data every registered file is
//! whole (replica, checksum, every metadata value), the files registered are exactly whole
//! batches from the manifest's start, storage usage is the sum over those files, the CLI
//! said which batches landed, and `register --resume` completes the run without a duplicate.
//!
//! `CATALOG_CRASH_FILES` changes the number of files (default 300,000).

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::json;
use std::io::Write;
use std::process::Stdio;
use std::time::{Duration, Instant};

on_both_databases!(killed_mid_registration_leaves_whole_batches);

/// The CLI's default batch: what lands or not as one transaction.
const BATCH: usize = 10_000;

fn files() -> usize {
    std::env::var("CATALOG_CRASH_FILES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(300_000)
}

/// Manifest line `i`: size `i`, adler32 the hex of `i`, three metadata fields.
fn line(i: usize) -> serde_json::Value {
    json!({
        "lfn": format!("/crash/d{:03}/f{i:06}", i / 1000),
        "size": i,
        "adler32": format!("{i:08x}"),
        "se": "local",
        "pfn": format!("crash/f{i:06}"),
        "metadata": {"seq": i, "run": i % 97, "tag": format!("t{}", i % 7)},
    })
}

fn count(s: &TestServer, query: &str) -> usize {
    s.ok(&["find", "--count", query])
        .trim()
        .parse()
        .unwrap_or_else(|e| panic!("count of {query}: {e}"))
}

/// The files registered so far, or `None` while the server does not answer.
fn registered(s: &TestServer) -> Option<i64> {
    let out = s.catalog(&["--output", "json", "du", "/crash"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).ok()?;
    v["files"].as_i64()
}

/// The catalogue holds exactly manifest lines 0..n, each whole.
fn assert_whole_prefix(s: &TestServer, n: usize) {
    assert_eq!(count(s, "seq >= 0"), n, "files with their seq value");
    assert_eq!(
        count(s, &format!("seq < {n}")),
        n,
        "not the manifest's first {n}"
    );
    assert_eq!(
        count(
            s,
            "has(seq) and has(run) and has(tag) and replica_at = \"local\""
        ),
        n,
        "a registered file lacks a metadata value or its replica"
    );
    let bytes = (n as i64) * (n as i64 - 1) / 2;
    let (files, total, per_se) = s.du("/crash");
    assert_eq!((files, total), (n as i64, bytes), "du of /crash");
    assert_eq!(
        per_se,
        vec![("local".to_owned(), n as i64, bytes)],
        "storage usage is not the sum over the files"
    );
    // Sizes and checksums as the manifest gave them, on a sample across the whole range.
    let sample: Vec<String> = (0..n)
        .step_by((n / 500).max(1))
        .map(|i| line(i)["lfn"].as_str().expect("lfn").to_owned())
        .collect();
    let (status, stat) = s.post_json("/api/v1/files/stat", &json!({ "lfns": sample }));
    assert_eq!(status, 200, "{stat}");
    for f in stat["files"].as_array().expect("files") {
        // "/crash/dNNN/f" and the number.
        let i: usize = f["lfn"].as_str().expect("lfn")[13..]
            .parse()
            .expect("number");
        assert_eq!(f["size"], json!(i));
        assert_eq!(f["adler32"], json!(format!("{i:08x}")));
    }
}

fn killed_mid_registration_leaves_whole_batches(backend: Backend) {
    let total = files();
    let mut s = TestServer::start(backend);
    let manifest = s.dir.path().join("manifest.jsonl");
    {
        let mut w = std::io::BufWriter::new(std::fs::File::create(&manifest).expect("manifest"));
        for i in 0..total {
            writeln!(w, "{}", line(i)).expect("write manifest");
        }
    }
    let manifest = manifest.display().to_string();
    s.ok(&["meta", "index", "seq", "int"]);
    s.ok(&["meta", "index", "run", "int"]);
    s.ok(&["meta", "index", "tag", "string"]);

    // Kill the server once a fifth of the files are in.
    let cli = s
        .catalog_command(&["register", "--from", &manifest, "-p"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start catalog register");
    let started = Instant::now();
    let seen = loop {
        let n = registered(&s).unwrap_or(0);
        if n >= (total / 5) as i64 {
            break n;
        }
        assert!(
            started.elapsed() < Duration::from_secs(600),
            "only {n} files registered after 10 minutes"
        );
        std::thread::sleep(Duration::from_millis(200));
    };
    s.kill_server();
    let out = cli.wait_with_output().expect("catalog register");
    let stderr = String::from_utf8_lossy(&out.stderr);
    eprintln!("killed the server at >= {seen} files; the CLI said:\n{stderr}");
    assert!(
        !out.status.success(),
        "the CLI did not notice the server died"
    );
    assert!(
        stderr.contains("got no answer: it may or may not have been registered")
            && stderr.contains("--resume"),
        "the CLI does not say what landed and how to go on:\n{stderr}"
    );

    // Restarted on the same data: whole batches only, each file whole.
    s.restart();
    s.wait_healthy(Duration::from_secs(60));
    let n = registered(&s).expect("du after restart") as usize;
    assert!(
        n >= seen as usize,
        "{n} files after the restart, {seen} before the kill"
    );
    assert_eq!(n % BATCH, 0, "{n} files: a batch landed in part");
    assert_whole_prefix(&s, n);
    // The CLI's count of what landed is the batches it saw acknowledged (the one in
    // flight may have landed too).
    let said: usize = stderr
        .lines()
        .find_map(|l| {
            l.split(" file(s) of the manifest's first ")
                .next()?
                .parse()
                .ok()
        })
        .unwrap_or_else(|| panic!("no count of registered files in:\n{stderr}"));
    assert!(
        said == n || said + BATCH == n,
        "the CLI said {said} registered, the catalogue has {n}"
    );

    // Resuming registers the rest, skipping what is there, and refuses nothing.
    let out = s.ok(&["register", "--from", &manifest, "-p", "--resume"]);
    assert!(
        out.contains(&format!("registered {} file(s)", total - n)),
        "{out}"
    );
    assert!(
        out.contains(&format!(
            "{n} already registered with the same size and checksum, skipped"
        )),
        "{out}"
    );
    assert_whole_prefix(&s, total);
}

//! Transfers as a user sees them: a `put` killed in the middle and run again, md5 and
//! sha256 when the server is configured for them, and one progress bar on a terminal.

use catalog_tests::{bin_dir, on_both_databases, Backend, TestServer};
use std::path::Path;
use std::time::{Duration, Instant};

on_both_databases!(
    interrupted_put_registers_nothing_and_a_rerun_completes,
    configured_md5_and_sha256_are_computed_stored_and_checked
);

/// Names of the files below `dir` (recursively), sorted.
fn files_below(dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else {
            continue;
        };
        for e in entries.flatten() {
            if e.path().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.file_name().to_string_lossy().into_owned());
            }
        }
    }
    out.sort();
    out
}

fn count_all(s: &TestServer) -> String {
    s.ok(&["find", "--count", "under \"/\""]).trim().to_owned()
}

fn interrupted_put_registers_nothing_and_a_rerun_completes(backend: Backend) {
    let s = TestServer::start(backend);
    let src = s.scratch("run");
    for i in 0..5 {
        std::fs::write(
            src.join(format!("a{i}.dat")),
            format!("small {i}").repeat(100),
        )
        .expect("small file");
    }
    // Big enough that the upload is still streaming when it is killed.
    let big: Vec<u8> = (0..300u32 << 20).map(|i| (i % 251) as u8).collect();
    std::fs::write(src.join("z-big.dat"), &big).expect("big file");
    drop(big);

    let src_arg = src.to_str().expect("path");
    let mut child = s
        .catalog_command(&["put", "-r", "--jobs", "1", src_arg, "/run"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start catalog put");
    let se = s.local_se_dir();
    let deadline = Instant::now() + Duration::from_secs(120);
    // Files go in name order with --jobs 1: the small ones are on storage (not yet
    // registered: a batch registers once all its bytes are there) when the big one starts.
    loop {
        if files_below(&se)
            .iter()
            .any(|n| n.contains("z-big.dat.part"))
        {
            break;
        }
        if let Ok(Some(status)) = child.try_wait() {
            panic!(
                "put finished ({status}) before it could be interrupted; make the big file bigger"
            );
        }
        assert!(Instant::now() < deadline, "the big upload never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().expect("kill catalog put");
    child.wait().expect("reap catalog put");

    // Nothing registered for bytes that did not all arrive, nor for the batch around them.
    assert_eq!(count_all(&s), "0");
    // The server drops the partial object once it sees the connection gone.
    let deadline = Instant::now() + Duration::from_secs(30);
    while files_below(&se).iter().any(|n| n.contains(".part")) {
        assert!(
            Instant::now() < deadline,
            "partial upload left behind: {:?}",
            files_below(&se)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert!(
        !files_below(&se).contains(&"z-big.dat".to_owned()),
        "the interrupted object must not appear under its name"
    );

    // Run again: everything arrives once; the earlier run's unregistered leftovers are
    // replaced, not duplicated or refused.
    let out = s.catalog(&["put", "-r", src_arg, "/run"]);
    assert!(
        out.status.success(),
        "rerun failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(count_all(&s), "6");
    let objects = files_below(&se);
    assert_eq!(objects.len(), 6, "one object per file: {objects:?}");
    let verify = s.ok(&["verify", "--query", "under \"/run\""]);
    assert_eq!(
        verify.lines().filter(|l| l.contains(" ok")).count(),
        6,
        "{verify}"
    );
    let replicas = s.json(&["replicas", "/run/z-big.dat"]);
    assert_eq!(
        replicas[0]["replicas"].as_array().expect("replicas").len(),
        1
    );

    // And again: all already there, nothing moved, nothing added.
    let out = s.catalog(&["put", "-r", src_arg, "/run"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("6 already there"), "{err}");
    assert_eq!(count_all(&s), "6");

    // A local file changed since: refused by name before a byte moves.
    std::fs::write(src.join("a0.dat"), "changed").expect("rewrite");
    let err = s.fails(&["put", "-r", src_arg, "/run"]);
    assert!(
        err.contains("/run/a0.dat") && err.contains("other content"),
        "{err}"
    );
    assert_eq!(files_below(&se).len(), 6);
}

/// `md5sum`/`sha256sum` output's first word.
fn coreutils_sum(tool: &str, path: &Path) -> String {
    let out = std::process::Command::new(tool)
        .arg(path)
        .output()
        .unwrap_or_else(|e| panic!("{tool} (coreutils) is needed: {e}"));
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .expect("sum")
        .to_owned()
}

fn configured_md5_and_sha256_are_computed_stored_and_checked(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_CHECKSUMS", "md5,sha256")]);
    let health = s.http("GET", "/healthz", None).1;
    assert!(
        health.contains("\"md5\"") && health.contains("\"sha256\""),
        "{health}"
    );
    let src = s.scratch("sums");
    let path = src.join("f.dat");
    std::fs::write(&path, "checksummed ".repeat(50_000)).expect("file");
    s.ok(&["put", path.to_str().expect("path"), "/sums/f.dat"]);
    let stat = s.json(&["stat", "/sums/f.dat"]);
    assert_eq!(
        stat[0]["md5"],
        coreutils_sum("md5sum", &path).as_str(),
        "{stat}"
    );
    assert_eq!(
        stat[0]["sha256"],
        coreutils_sum("sha256sum", &path).as_str(),
        "{stat}"
    );

    // Replicated and verified with them too.
    let disk2 = s.scratch("disk2");
    s.ok(&[
        "se",
        "add",
        "disk2",
        "--path",
        disk2.to_str().expect("path"),
    ]);
    s.ok(&["replicate", "--to", "disk2", "/sums/f.dat"]);
    let verify = s.ok(&["verify", "/sums/f.dat"]);
    assert_eq!(
        verify.lines().filter(|l| l.contains(" ok")).count(),
        2,
        "{verify}"
    );

    // A file registered with a wrong md5 (but the right adler32): verify names the md5,
    // and get refuses the bytes rather than hand them out.
    let bytes = std::fs::read(&path).expect("read");
    let wrong = serde_json::json!({"files": [{
        "lfn": "/sums/g.dat", "size": bytes.len(), "adler32": catalog_tests::adler32(&bytes),
        "md5": "0".repeat(32),
        "replicas": [{"se": "disk2", "pfn": "copy-of-f"}]
    }], "create_dirs": true});
    std::fs::write(disk2.join("copy-of-f"), &bytes).expect("object");
    let (status, body) = s.post_json("/api/v1/files", &wrong);
    assert_eq!(status, 200, "{body}");
    let out = s.catalog(&["-o", "json", "verify", "/sums/g.dat"]);
    assert!(!out.status.success());
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(items[0]["status"], "bad", "{items}");
    assert!(
        items[0]["message"]
            .as_str()
            .is_some_and(|m| m.contains("md5")),
        "verify should name the md5: {items}"
    );
    let got = s.scratch("got");
    let err = s.fails(&["get", "/sums/g.dat", &format!("{}/", got.display())]);
    assert!(err.contains("md5"), "{err}");
    assert!(
        files_below(&got).is_empty(),
        "no output file left: {:?}",
        files_below(&got)
    );
}

#[test]
fn put_on_a_terminal_draws_one_bar_for_the_whole_transfer() {
    let s = TestServer::start(Backend::Sqlite);
    let src = s.scratch("tty");
    for i in 0..64 {
        std::fs::write(src.join(format!("f{i:02}")), vec![i as u8; 1 << 20]).expect("file");
    }
    // `script` gives the CLI a terminal, as a user at a shell would have.
    let cmd = format!(
        "{} put -r --jobs 4 {} /tty",
        bin_dir().join("catalog").display(),
        src.display()
    );
    let out = std::process::Command::new("script")
        .args(["-qec", &cmd, "/dev/null"])
        .env("CATALOG_URL", &s.url)
        .output()
        .expect("script (util-linux) is needed to give the CLI a terminal");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(out.status.success(), "{text}");
    let totals: Vec<&str> = text
        .split("uploading [")
        .skip(1)
        .filter_map(|drawn| {
            let after = drawn.split_once("] ")?.1;
            let total = after.split_once('/')?.1;
            total
                .split("  ")
                .next()
                .map(|t| t.split(" B").next().unwrap_or(t))
        })
        .collect();
    assert!(!totals.is_empty(), "no progress bar drawn:\n{text}");
    assert!(
        totals.iter().all(|t| t.starts_with("64.00 Mi")),
        "one bar for the whole 64 MiB, not one per file: {totals:?}"
    );
    assert_eq!(count_all(&s), "64");
}

//! The job runner with real processes: the typical session (frames in, clusters out, with
//! metadata and provenance), retries, failures, two runners sharing work, kill, watch mode,
//! GPU matching, lost runners, and bad specs.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::{json, Value};
use std::collections::{BTreeSet, HashSet};
use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::{Duration, Instant};

use super::fixtures::{line, manifest};

on_both_databases!(
    typical_session_registers_outputs_with_metadata_and_provenance,
    failed_attempts_are_retried_and_reasons_kept,
    two_runners_share_the_work,
    killing_a_job_stops_its_processes,
    watch_mode_takes_new_files_once,
    gpu_subjobs_wait_for_a_gpu_runner,
    a_lost_runner_is_replaced_and_outputs_registered_once,
    bad_specs_are_refused_and_change_nothing,
    merge_step_runs_last_on_every_output,
    scheduled_jobs_take_new_files_only,
);

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

fn ok(out: Output, what: &str) -> String {
    assert!(
        out.status.success(),
        "{what} failed:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn job_status(s: &TestServer, job: i64) -> Value {
    let out = ok(
        s.job_runner(&["--json", "status", &job.to_string()]),
        "job-runner status",
    );
    serde_json::from_str(&out).expect("status JSON")
}

pub fn wait_for(what: &str, deadline: Duration, mut f: impl FnMut() -> bool) {
    let start = Instant::now();
    while !f() {
        assert!(start.elapsed() < deadline, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

pub fn wait_job_state(s: &TestServer, job: i64, state: &str) -> Value {
    let mut last = Value::Null;
    wait_for(
        &format!("job {job} to be {state}"),
        Duration::from_secs(60),
        || {
            last = job_status(s, job);
            last["job"]["state"] == state
        },
    );
    last
}

/// Writes a spec (and the files it ships) into a scratch directory; returns its path.
fn spec(s: &TestServer, name: &str, toml: &str, files: &[(&str, &str)]) -> String {
    let dir = s.scratch(&format!("spec-{name}"));
    for (f, content) in files {
        std::fs::write(dir.join(f), content).expect("spec file");
    }
    let path = dir.join("job.toml");
    std::fs::write(&path, toml).expect("spec");
    path.to_str().expect("path").to_owned()
}

pub fn submit(s: &TestServer, spec: &str) -> i64 {
    let out = ok(s.job_runner(&["submit", spec]), "job-runner submit");
    out.split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no job id in {out:?}"))
}

/// `n` demo frames registered under /cernatschool/frames with their sidecar metadata.
fn frames(s: &TestServer, n: usize) -> PathBuf {
    let dir = s.scratch("frames");
    let out = std::process::Command::new(repo().join("scripts/demo-frames.sh"))
        .arg(&dir)
        .arg(n.to_string())
        .output()
        .expect("demo-frames");
    ok(out, "demo-frames.sh");
    s.ok(&["meta", "index", "start_time", "int"]);
    s.ok(&[
        "put",
        "-r",
        "--sidecar",
        ".json",
        dir.to_str().expect("dir"),
        "/cernatschool/frames",
    ]);
    dir
}

/// The largest cluster (8-connected pixels) of a frame file, computed here independently.
fn max_cluster(path: &Path) -> usize {
    let text = std::fs::read_to_string(path).expect("frame");
    let pixels: HashSet<(i64, i64)> = text
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace().map(|v| v.parse::<i64>().ok());
            Some((w.next()??, w.next()??))
        })
        .collect();
    let mut seen = HashSet::new();
    let mut biggest = 0;
    for &p in &pixels {
        if !seen.insert(p) {
            continue;
        }
        let (mut stack, mut size) = (vec![p], 0);
        while let Some((x, y)) = stack.pop() {
            size += 1;
            for dx in -1..=1 {
                for dy in -1..=1 {
                    let q = (x + dx, y + dy);
                    if pixels.contains(&q) && seen.insert(q) {
                        stack.push(q);
                    }
                }
            }
        }
        biggest = biggest.max(size);
    }
    biggest
}

fn typical_session_registers_outputs_with_metadata_and_provenance(backend: Backend) {
    let s = TestServer::start(backend);
    let dir = frames(&s, 50);
    let toml = std::fs::read_to_string(repo().join("examples/cluster-finder/job.toml"))
        .expect("example job")
        .replace(
            "and start_time >= 1700000000 and start_time < 1700003000",
            "",
        );
    let finder = std::fs::read_to_string(repo().join("examples/cluster-finder/find_clusters.sh"))
        .expect("finder");
    let path = spec(&s, "clusters", &toml, &[("find_clusters.sh", &finder)]);
    let out = ok(
        s.job_runner(&["run", &path, "--slots", "2"]),
        "job-runner run",
    );
    assert!(
        out.contains("completed: 5 subjobs (5 done), 50 input files"),
        "{out}"
    );

    let mut expected = BTreeSet::new();
    for i in 0..50 {
        if max_cluster(&dir.join(format!("frame_{i:04}.txt"))) > 30 {
            expected.insert(format!("/cernatschool/clusters/frame_{i:04}.clusters.json"));
        }
    }
    assert!(
        !expected.is_empty() && expected.len() < 50,
        "the fixture should have some big clusters: {expected:?}"
    );
    let found: BTreeSet<String> = s
        .ok(&["find", "-o", "lfn", "max_cluster_size > 30"])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(found, expected);
    assert_eq!(
        s.ok(&["find", "--count", "under \"/cernatschool/clusters\""])
            .trim(),
        "50",
        "one output per frame, sidecars not registered"
    );

    for i in [0usize, 17, 49] {
        let lfn = format!("/cernatschool/clusters/frame_{i:04}.clusters.json");
        let anc = s.json(&["ancestors", &lfn]);
        assert_eq!(
            anc[0]["relatives"],
            json!([{"lfn": format!("/cernatschool/frames/frame_{i:04}.txt"), "depth": 1}])
        );
        let meta = s.json(&["meta", "get", &lfn]);
        let value = |f: &str| {
            meta["entries"]
                .as_array()
                .expect("entries")
                .iter()
                .find(|e| e["field"] == f)
                .map(|e| e["value"].clone())
        };
        assert_eq!(
            value("start_time"),
            Some(json!(1_700_000_000 + 60 * i as i64)),
            "templated from the input, typed int"
        );
        assert_eq!(value("kind"), Some(json!("clusters")));
        assert_eq!(
            value("max_cluster_size"),
            Some(json!(max_cluster(&dir.join(format!("frame_{i:04}.txt")))))
        );
        assert!(value("n_clusters").is_some_and(|v| v.as_i64().is_some_and(|n| n >= 1)));
    }
    // The logs of each attempt are registered files too.
    let st = job_status(&s, 1);
    let logs: Vec<&str> = st["subjobs"]
        .as_array()
        .expect("subjobs")
        .iter()
        .flat_map(|x| x["logs"].as_array().expect("logs"))
        .filter_map(Value::as_str)
        .collect();
    assert_eq!(logs.len(), 5, "one attempt each: {st}");
    assert!(
        logs[0].starts_with("/jobs/find-clusters.1/logs/subjob-0001.attempt-1.log"),
        "{logs:?}"
    );
    ok(
        s.job_runner(&["logs", "1", "--subjob", "2"]),
        "job-runner logs",
    );
}

fn failed_attempts_are_retried_and_reasons_kept(backend: Backend) {
    let s = TestServer::start(backend);
    let local = s.scratch("bytes").join("a.dat");
    std::fs::write(&local, b"x").expect("bytes");
    s.ok(&["put", local.to_str().expect("path"), "/in/a.dat"]);
    // Fails on attempts 1 and 2, succeeds on the third.
    let flaky = r#"
name = "flaky"
[input]
query = 'name = "a.dat"'
[run]
command = ["sh", "-c", "echo attempt $CATALOG_ATTEMPT; [ $CATALOG_ATTEMPT -ge 3 ] || exit 3; echo done > result.txt"]
max_attempts = 3
[[output]]
glob = "result.txt"
lfn = "/out/{job}/{subjob}/{name}"
"#;
    let flaky = flaky.replace(
        "query = 'name = \"a.dat\"'",
        "query = 'name = \"a.dat\"'\nfiles_per_subjob = 1",
    );
    let path = spec(&s, "flaky", &flaky, &[]);
    let out = ok(
        s.job_runner(&["run", &path, "--slots", "1"]),
        "job-runner run",
    );
    assert!(out.contains("completed"), "{out}");
    let st = job_status(&s, 1);
    assert_eq!(st["subjobs"][0]["state"], "done");
    assert_eq!(st["subjobs"][0]["attempts"], 3);
    assert_eq!(st["subjobs"][0]["logs"].as_array().expect("logs").len(), 3);
    let logs = ok(s.job_runner(&["logs", "1"]), "logs");
    assert!(
        logs.contains("attempt 1") && logs.contains("attempt 3"),
        "{logs}"
    );
    assert_eq!(
        s.ok(&["find", "-o", "lfn", "under \"/out\""]),
        "/out/1/1/result.txt\n"
    );

    // Always failing: the job fails with the reason; resubmit puts it back in the queue.
    let failing = flaky
        .replace("[ $CATALOG_ATTEMPT -ge 3 ] || exit 3", "exit 3")
        .replace("max_attempts = 3", "max_attempts = 2")
        .replace("flaky", "failing");
    let out = s.job_runner(&["run", &spec(&s, "failing", &failing, &[]), "--slots", "1"]);
    assert!(!out.status.success());
    let st = job_status(&s, 2);
    assert_eq!(st["job"]["state"], "failed");
    assert_eq!(st["subjobs"][0]["reason"], "exit code 3");
    assert_eq!(st["subjobs"][0]["attempts"], 2);
    ok(s.job_runner(&["resubmit", "2", "--failed"]), "resubmit");
    let st = job_status(&s, 2);
    assert_eq!(
        (
            st["job"]["state"].as_str(),
            st["subjobs"][0]["state"].as_str(),
            st["subjobs"][0]["attempts"].as_i64(),
            st["subjobs"][0]["max_attempts"].as_i64()
        ),
        (Some("running"), Some("waiting"), Some(2), Some(4))
    );
    // Its new attempts run, numbered on from the last: 3 and 4, and it fails again.
    let mut again = s.spawn_runner(&["--slots", "1", "--name", "again"], "again.log");
    let st = wait_job_state(&s, 2, "failed");
    again.kill();
    assert_eq!(st["subjobs"][0]["attempts"], 4, "{st}");
    let numbers: Vec<i64> = st["subjobs"][0]["history"]
        .as_array()
        .map(|h| h.iter().filter_map(|a| a["attempt"].as_i64()).collect())
        .unwrap_or_default();
    assert_eq!(numbers, [1, 2, 3, 4], "{st}");

    // A missing declared output and a bad sidecar fail the attempt with their reason.
    let missing = flaky
        .replace(
            "[ $CATALOG_ATTEMPT -ge 3 ] || exit 3; echo done > result.txt",
            "true",
        )
        .replace("max_attempts = 3", "max_attempts = 1")
        .replace("flaky", "missing");
    assert!(!s
        .job_runner(&["run", &spec(&s, "missing", &missing, &[]), "--slots", "1"])
        .status
        .success());
    assert!(job_status(&s, 3)["subjobs"][0]["reason"]
        .as_str()
        .expect("reason")
        .contains("missing output: no file matches"));
    let sidecar = missing
        .replace(
            "; true\"",
            "; echo x > result.txt; echo not-json > result.txt.meta.json\"",
        )
        .replace(
            "lfn = \"/out/{job}/{subjob}/{name}\"",
            "lfn = \"/out/{job}/{subjob}/{name}\"\nmetadata_from = \"{path}.meta.json\"",
        )
        .replace("missing", "sidecar");
    assert!(!s
        .job_runner(&["run", &spec(&s, "sidecar", &sidecar, &[]), "--slots", "1"])
        .status
        .success());
    assert!(
        job_status(&s, 4)["subjobs"][0]["reason"]
            .as_str()
            .expect("reason")
            .contains("bad sidecar"),
        "{}",
        job_status(&s, 4)
    );
    assert_eq!(
        s.ok(&["find", "-o", "lfn", "under \"/out\""]),
        "/out/1/1/result.txt\n",
        "failed attempts register no output"
    );
    // A command running past its timeout is stopped, and the attempt fails saying so.
    let slow = flaky
        .replace(
            "[ $CATALOG_ATTEMPT -ge 3 ] || exit 3; echo done > result.txt",
            "exec sleep 30",
        )
        .replace("max_attempts = 3", "max_attempts = 1\ntimeout = \"1s\"")
        .replace("flaky", "slow");
    let started = Instant::now();
    assert!(!s
        .job_runner(&["run", &spec(&s, "slow", &slow, &[]), "--slots", "1"])
        .status
        .success());
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "the timeout did not stop the command"
    );
    assert_eq!(
        job_status(&s, 5)["subjobs"][0]["reason"],
        "timeout after 1s"
    );
}

/// A job of `n` subjobs, one per input file under /many, whose command runs `cmd`.
pub fn many_inputs_job(s: &TestServer, n: usize, name: &str, cmd: &str, extra: &str) -> String {
    let dir = s.scratch(&format!("many-{name}"));
    for i in 0..n {
        std::fs::write(dir.join(format!("m{i:03}.dat")), format!("{i}\n")).expect("input");
    }
    if s.catalog(&["stat", "/many"]).status.success() {
        // Inputs already there.
    } else {
        s.ok(&["put", "-r", dir.to_str().expect("dir"), "/many"]);
    }
    let toml = format!(
        r#"
name = "{name}"
[input]
query = 'under "/many"'
{extra}
[run]
command = ["sh", "-c", "{cmd}", "sh", "{{inputs}}"]
max_attempts = 3
[[output]]
glob = "*.out"
lfn = "/results/{name}/{{name}}"
"#
    );
    spec(s, name, &toml, &[])
}

fn two_runners_share_the_work(backend: Backend) {
    let s = TestServer::start(backend);
    let shared = s.scratch("shared").join("ran.txt");
    let cmd = format!("sleep 0.2; echo $CATALOG_SUBJOB >> {}; for f in \\\"$@\\\"; do cp $f $(basename $f).out; done", shared.display());
    let path = many_inputs_job(&s, 12, "shared", &cmd, "");
    let job = submit(&s, &path);
    let mut a = s.spawn_runner(&["--slots", "2", "--name", "runner-a"], "runner-a.log");
    let mut b = s.spawn_runner(&["--slots", "2", "--name", "runner-b"], "runner-b.log");
    let st = wait_job_state(&s, job, "completed");
    a.kill();
    b.kill();
    let ran: Vec<String> = std::fs::read_to_string(&shared)
        .expect("ran")
        .lines()
        .map(str::to_owned)
        .collect();
    let unique: BTreeSet<&String> = ran.iter().collect();
    assert_eq!(ran.len(), 12, "every subjob ran exactly once: {ran:?}");
    assert_eq!(unique.len(), 12);
    let runners: BTreeSet<&str> = st["subjobs"]
        .as_array()
        .expect("subjobs")
        .iter()
        .filter_map(|x| x["runner"].as_str())
        .collect();
    assert_eq!(
        runners,
        BTreeSet::from(["runner-a", "runner-b"]),
        "both runners took work"
    );
    assert_eq!(
        s.ok(&["find", "--count", "under \"/results/shared\""])
            .trim(),
        "12"
    );
}

fn killing_a_job_stops_its_processes(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_LEASE_SECONDS", "3")]);
    let pids = s.scratch("pids");
    let cmd = format!(
        "echo $$ > {}/$CATALOG_SUBJOB.pid; exec sleep 60",
        pids.display()
    );
    let path = many_inputs_job(&s, 2, "sleepy", &cmd, "");
    let job = submit(&s, &path);
    let mut runner = s.spawn_runner(&["--slots", "2"], "runner.log");
    wait_for("both subjobs to start", Duration::from_secs(30), || {
        std::fs::read_dir(&pids)
            .map(|d| d.count() == 2)
            .unwrap_or(false)
    });
    let pid_list: Vec<String> = (1..=2)
        .map(|n| {
            std::fs::read_to_string(pids.join(format!("{n}.pid")))
                .unwrap_or_default()
                .trim()
                .to_owned()
        })
        .collect();
    ok(s.job_runner(&["kill", &job.to_string()]), "job-runner kill");
    wait_for("the processes to stop", Duration::from_secs(20), || {
        pid_list
            .iter()
            .all(|p| !Path::new(&format!("/proc/{p}")).exists())
    });
    let st = job_status(&s, job);
    assert_eq!(st["job"]["state"], "killed");
    assert!(
        st["subjobs"]
            .as_array()
            .expect("subjobs")
            .iter()
            .all(|x| x["state"] == "killed"),
        "{st}"
    );
    runner.kill();
    assert_eq!(
        s.ok(&["find", "--count", "path ~ \"/results/*\""]).trim(),
        "0"
    );
}

fn watch_mode_takes_new_files_once(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/incoming"]);
    let toml = r#"
name = "watcher"
[input]
query = 'under "/incoming"'
watch = true
[run]
command = ["sh", "-c", "for f in \"$@\"; do cp $f $(basename $f).out; done", "sh", "{inputs}"]
[[output]]
glob = "*.out"
lfn = "/processed/{name}"
"#;
    let job = submit(&s, &spec(&s, "watch", toml, &[]));
    let mut runner = s.spawn_runner(&["--slots", "2"], "runner.log");
    let local = s.scratch("incoming");
    std::fs::write(local.join("a.dat"), b"a").expect("a");
    std::fs::write(local.join("b.dat"), b"b").expect("b");
    s.ok(&[
        "put",
        local.join("a.dat").to_str().expect("p"),
        "/incoming/a.dat",
    ]);
    wait_for("a.dat to be processed", Duration::from_secs(30), || {
        s.catalog(&["stat", "/processed/a.dat.out"])
            .status
            .success()
    });
    // The same file again is already there: nothing is registered, so nothing is processed
    // again (the subjob count below stays at one per file).
    let again = s.catalog(&[
        "put",
        local.join("a.dat").to_str().expect("p"),
        "/incoming/a.dat",
    ]);
    assert!(
        String::from_utf8_lossy(&again.stderr).contains("1 already there"),
        "{again:?}"
    );
    s.ok(&[
        "put",
        local.join("b.dat").to_str().expect("p"),
        "/incoming/b.dat",
    ]);
    wait_for("b.dat to be processed", Duration::from_secs(30), || {
        s.catalog(&["stat", "/processed/b.dat.out"])
            .status
            .success()
    });
    let st = job_status(&s, job);
    assert_eq!(st["job"]["state"], "running", "a watching job stays open");
    assert_eq!(st["job"]["inputs"], 2);
    assert_eq!(st["subjobs"].as_array().expect("subjobs").len(), 2);
    assert_eq!(
        s.ok(&["find", "--count", "under \"/processed\""]).trim(),
        "2"
    );
    runner.kill();
}

fn gpu_subjobs_wait_for_a_gpu_runner(backend: Backend) {
    let s = TestServer::start(backend);
    let path = many_inputs_job(
        &s,
        1,
        "gpu",
        "for f in \\\"$@\\\"; do cp $f $(basename $f).out; done",
        "",
    )
    .to_owned();
    let text = std::fs::read_to_string(&path).expect("spec").replace(
        "max_attempts = 3",
        "max_attempts = 3\nresources = { gpus = 1 }",
    );
    std::fs::write(&path, text).expect("spec");
    let job = submit(&s, &path);
    let mut cpu_only = s.spawn_runner(&["--slots", "2", "--name", "cpu-only"], "cpu.log");
    std::thread::sleep(Duration::from_secs(2));
    let st = job_status(&s, job);
    assert_eq!(
        st["subjobs"][0]["state"], "waiting",
        "a runner without GPUs must not take it: {st}"
    );
    cpu_only.kill();
    let mut gpu = s.spawn_runner(
        &["--slots", "1", "--gpus", "1", "--name", "with-gpu"],
        "gpu.log",
    );
    let st = wait_job_state(&s, job, "completed");
    assert_eq!(st["subjobs"][0]["runner"], "with-gpu");
    gpu.kill();
}

fn a_lost_runner_is_replaced_and_outputs_registered_once(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_LEASE_SECONDS", "2")]);
    let started = s.scratch("started");
    let cmd = format!("touch {}/$CATALOG_ATTEMPT; sleep 3; for f in \\\"$@\\\"; do cp $f $(basename $f).out; done", started.display());
    let path = many_inputs_job(&s, 1, "lost", &cmd, "");
    let job = submit(&s, &path);
    // Runner A dies (SIGKILL) in the middle of the subjob.
    let mut a = s.spawn_runner(&["--slots", "1", "--name", "doomed"], "a.log");
    wait_for(
        "the first attempt to start",
        Duration::from_secs(30),
        || started.join("1").exists(),
    );
    a.kill();
    // Runner B takes the subjob once the lease expires.
    let mut b = s.spawn_runner(&["--slots", "1", "--name", "rescuer"], "b.log");
    let st = wait_job_state(&s, job, "completed");
    b.kill();
    assert_eq!(st["subjobs"][0]["runner"], "rescuer");
    assert_eq!(st["subjobs"][0]["attempts"], 2);
    assert_eq!(
        s.ok(&["find", "-o", "lfn", "under \"/results\""]),
        "/results/lost/m000.dat.out\n"
    );

    // A runner that uploaded but never completed: its late "complete" is refused as stale,
    // nothing is registered twice, and its upload is removed once the subjob is done.
    let body = json!({"runner": "ghost", "cpus": 1, "memory": 1u64 << 30, "gpus": 0, "max": 1});
    let path2 = many_inputs_job(
        &s,
        1,
        "ghostly",
        "for f in \\\"$@\\\"; do cp $f $(basename $f).out; done",
        "",
    );
    let job2 = submit(&s, &path2);
    let (status, claimed) = s.post_json("/api/v1/runners/claim", &body);
    assert_eq!(status, 200, "{claimed}");
    let lease = &claimed["leases"][0];
    let ghost_dir = format!("jobs/{job2}/{}.{}", lease["subjob"], lease["attempt"]);
    let ghost_pfn = format!("{ghost_dir}/m000.dat.out");
    let (status, answer) = s.http(
        "PUT",
        &format!("/api/v1/se/local/data/{ghost_pfn}"),
        Some(b"half"),
    );
    assert_eq!(status, 200, "{answer}");
    let ghost_file = s.local_se_dir().join(&ghost_pfn);
    assert!(ghost_file.is_file(), "{}", ghost_file.display());
    let stale = json!({"lease": {"job": job2, "subjob": lease["subjob"], "token": lease["token"]}, "exit_code": 0,
        "outputs": [{"lfn": "/results/ghostly/m000.dat.out", "size": 4, "adler32": "00000001", "replicas": []}]});
    std::thread::sleep(Duration::from_secs(3));
    let mut c = s.spawn_runner(&["--slots", "1", "--name", "finisher"], "c.log");
    wait_job_state(&s, job2, "completed");
    c.kill();
    let (status, answer) = s.post_json("/api/v1/runners/complete", &stale);
    assert_eq!(status, 409, "{answer}");
    assert!(
        answer["detail"].as_str().expect("detail").contains("stale"),
        "{answer}"
    );
    assert_eq!(
        s.ok(&["find", "--count", "under \"/results/ghostly\""])
            .trim(),
        "1"
    );
    wait_for(
        "the ghost's upload to be removed",
        Duration::from_secs(30),
        || !s.local_se_dir().join(&ghost_dir).exists(),
    );
    // The finisher's output, in its own attempt's directory, is still whole.
    s.ok(&["verify", "--query", "under \"/results/ghostly\""]);
    // The successful completion, repeated, answers the same and registers nothing new.
    let st = job_status(&s, job2);
    assert_eq!(
        st["subjobs"][0]["outputs"],
        json!(["/results/ghostly/m000.dat.out"])
    );
}

fn bad_specs_are_refused_and_change_nothing(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["meta", "index", "start_time", "int"]);
    let lines = vec![line("/in/a.dat", 1, json!({"start_time": 5}), &[])];
    let m = manifest(&s, "in.jsonl", &lines);
    s.ok(&["register", "-p", "--from", m.to_str().expect("path")]);
    let before = s.snapshot();
    let good = r#"
name = "good"
[input]
query = 'under "/in"'
[run]
command = ["sh", "x.sh", "{inputs}"]
files = ["x.sh"]
[[output]]
glob = "*.out"
lfn = "/o/{input.stem}.out"
metadata = { start_time = "{input.meta.start_time}", kind = "k" }
"#;
    let cases: Vec<(String, &str)> = vec![
        (
            good.replace("[run]", "[run]\nbogus = 1"),
            "unknown field `bogus`",
        ),
        (
            good.replace("under \"/in\"", "under \"/in\" and"),
            "input.query: line 1, column",
        ),
        (
            good.replace("under \"/in\"", "nosuch = 3"),
            "unknown field 'nosuch'",
        ),
        (
            good.replace("{input.meta.start_time}", "{input.meta.stop_time}"),
            "no metadata field 'stop_time' is declared",
        ),
        (
            good.replace("kind = \"k\"", "start_time = \"k\"")
                .replace("start_time = \"{input.meta.start_time}\", ", ""),
            "field start_time is int",
        ),
        (
            good.replace("{inputs}", "{inptus}"),
            "unknown placeholder {inptus}",
        ),
        (
            good.replace("\"x.sh\"]\n", "\"missing.sh\"]\n"),
            "cannot read",
        ),
        (
            good.replace("under \"/in\"", "under \"/nowhere\""),
            "no such directory",
        ),
        (
            good.replace("under \"/in\"", "size > 1GB"),
            "no file matches",
        ),
        (
            good.replace("name = \"good\"", "name = \"good\"\nmax_attempts = 2"),
            "unknown field `max_attempts`",
        ),
        (
            format!("{good}[schedule]\nevery = \"soon\"\n"),
            "schedule.every",
        ),
        (
            format!("{good}[schedule]\ncron = \"61 * * * *\"\n"),
            "schedule.cron: minute",
        ),
    ];
    for (i, (toml, what)) in cases.iter().enumerate() {
        let path = spec(&s, &format!("bad{i}"), toml, &[("x.sh", "true")]);
        let out = s.job_runner(&["submit", &path]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "case {i} accepted:\n{toml}");
        assert!(err.contains(what), "case {i}: expected {what:?} in:\n{err}");
    }
    let jobs: Value =
        serde_json::from_str(&ok(s.job_runner(&["--json", "ls"]), "ls")).expect("json");
    assert_eq!(jobs, json!([]));
    assert_eq!(s.snapshot(), before);
}

fn merge_step_runs_last_on_every_output(backend: Backend) {
    let s = TestServer::start(backend);
    let path = many_inputs_job(
        &s,
        4,
        "merged",
        "for f in \\\"$@\\\"; do cp $f $(basename $f).out; done",
        "files_per_subjob = 2",
    );
    let text = std::fs::read_to_string(&path).expect("spec")
        + "[merge]\ncommand = [\"sh\", \"-c\", \"cat \\\"$@\\\" > summary.txt\", \"sh\", \"{outputs}\"]\noutput = { lfn = \"/summary/{job}.txt\", file = \"summary.txt\", metadata = { kind = \"summary\" } }\n";
    std::fs::write(&path, text).expect("spec");
    let out = ok(
        s.job_runner(&["run", &path, "--slots", "2"]),
        "job-runner run",
    );
    assert!(out.contains("completed: 3 subjobs (3 done)"), "{out}");
    let st = job_status(&s, 1);
    let last = st["subjobs"]
        .as_array()
        .expect("subjobs")
        .last()
        .expect("merge")
        .clone();
    assert_eq!(last["subjob"], 0, "the merge step is listed last: {st}");
    assert_eq!(last["outputs"], json!(["/summary/1.txt"]));
    let anc = s.json(&["ancestors", "/summary/1.txt"]);
    let parents: BTreeSet<&str> = anc[0]["relatives"]
        .as_array()
        .expect("relatives")
        .iter()
        .filter_map(|r| r["lfn"].as_str())
        .collect();
    assert_eq!(
        parents,
        (0..4)
            .map(|i| format!("/results/merged/m{i:03}.dat.out"))
            .collect::<BTreeSet<_>>()
            .iter()
            .map(String::as_str)
            .collect()
    );
    let got = s.scratch("got");
    s.ok(&["get", "/summary/1.txt", &format!("{}/", got.display())]);
    assert_eq!(
        std::fs::read_to_string(got.join("1.txt")).expect("summary"),
        "0\n1\n2\n3\n"
    );
    assert_eq!(
        s.ok(&["find", "-o", "lfn", "kind = \"summary\""]),
        "/summary/1.txt\n"
    );
}

fn scheduled_jobs_take_new_files_only(backend: Backend) {
    let s = TestServer::start(backend);
    let local = s.scratch("sched");
    for n in ["a", "b"] {
        std::fs::write(local.join(format!("{n}.dat")), n).expect("file");
    }
    s.ok(&[
        "put",
        local.join("a.dat").to_str().expect("p"),
        "/sched/a.dat",
    ]);
    let toml = r#"
name = "nightly"
[input]
query = 'under "/sched"'
[run]
command = ["sh", "-c", "for f in \"$@\"; do cp $f $(basename $f).out; done", "sh", "{inputs}"]
[[output]]
glob = "*.out"
lfn = "/sched-out/{name}"
[schedule]
every = "1s"
"#;
    let job = submit(&s, &spec(&s, "sched", toml, &[]));
    let _runner = s.spawn_runner(&["--slots", "1"], "runner.log");
    wait_for("the first run", Duration::from_secs(30), || {
        s.catalog(&["stat", "/sched-out/a.dat.out"])
            .status
            .success()
    });
    s.ok(&[
        "put",
        local.join("b.dat").to_str().expect("p"),
        "/sched/b.dat",
    ]);
    wait_for("the next scheduled run", Duration::from_secs(30), || {
        s.catalog(&["stat", "/sched-out/b.dat.out"])
            .status
            .success()
    });
    std::thread::sleep(Duration::from_millis(2500));
    let st = job_status(&s, job);
    assert_eq!(st["job"]["inputs"], 2, "each file taken once: {st}");
    assert_eq!(st["job"]["state"], "running", "a scheduled job stays open");
    assert_eq!(
        s.ok(&["find", "--count", "under \"/sched-out\""]).trim(),
        "2"
    );
    ok(s.job_runner(&["kill", &job.to_string()]), "kill");
}

//! Runner and server faults: a 200-subjob job while runners and the server itself are killed
//! with SIGKILL at random moments (a fixed seed picks when, which runner, and how long the
//! server stays away), runners replaced and
//! the server restarted on the same data and address. At the end every subjob is done by
//! exactly one attempt, the job has exactly one registered output per input (each with its
//! input as parent, its bytes whole), and no attempt that did not finish registered anything.
//!
//! `CATALOG_FAULT_SUBJOBS` (default 200), `CATALOG_FAULT_SEED` (default 7) and
//! `CATALOG_FAULT_KILLS` (default 12) change the run; the seed and the kills made are
//! printed, so a failing run can be rerun as it was.

use catalog_tests::{on_both_databases, Backend, Runner, TestServer};
use serde_json::Value;
use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use super::jobs::submit;

on_both_databases!(runners_and_server_killed_at_random_points);

fn setting(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// SplitMix64: the same faults for the same seed.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [lo, hi) milliseconds.
    fn millis(&mut self, lo: u64, hi: u64) -> Duration {
        Duration::from_millis(lo + self.next() % (hi - lo))
    }
}

fn job_json(s: &TestServer, job: i64) -> Option<Value> {
    let out = s.job_runner(&["--json", "status", &job.to_string()]);
    serde_json::from_slice(&out.stdout).ok()
}

fn runners_and_server_killed_at_random_points(backend: Backend) {
    let subjobs = setting("CATALOG_FAULT_SUBJOBS", 200) as usize;
    let seed = setting("CATALOG_FAULT_SEED", 7);
    let kills = setting("CATALOG_FAULT_KILLS", 12);
    let mut dice = Dice(seed);
    let mut s = TestServer::start_with_env(backend, &[("CATALOG_LEASE_SECONDS", "3")]);
    let inputs = s.scratch("inputs");
    for i in 0..subjobs {
        std::fs::write(inputs.join(format!("in{i:04}.dat")), format!("input {i}\n"))
            .expect("input");
    }
    s.ok(&["put", "-r", inputs.to_str().expect("path"), "/faults/in"]);
    let ran = s.scratch("ran").join("ran.txt");
    let spec_dir = s.scratch("spec");
    let spec = spec_dir.join("job.toml");
    std::fs::write(
        &spec,
        format!(
            r#"
name = "faults"
[input]
query = 'under "/faults/in"'
files_per_subjob = 1
[run]
command = ["sh", "-c", "echo $CATALOG_SUBJOB.$CATALOG_ATTEMPT >> {ran}; sleep 0.$(($CATALOG_SUBJOB % 5)); for f in \"$@\"; do cp $f $(basename $f).out; done", "sh", "{{inputs}}"]
max_attempts = 20
[[output]]
glob = "*.out"
lfn = "/faults/out/{{name}}"
"#,
            ran = ran.display()
        ),
    )
    .expect("spec");
    let job = submit(&s, spec.to_str().expect("path"));

    let spawn = |s: &TestServer, n: usize| -> Runner {
        s.spawn_runner(
            &["--slots", "4", "--name", &format!("runner-{n}")],
            &format!("runner-{n}.log"),
        )
    };
    let mut runners: Vec<Runner> = (0..2).map(|n| spawn(&s, n)).collect();
    let mut next_runner = 2;
    let mut faults = Vec::new();
    let start = Instant::now();
    let done = |s: &TestServer| {
        job_json(s, job)
            .is_some_and(|v| matches!(v["job"]["state"].as_str(), Some("completed" | "failed")))
    };
    while (faults.len() as u64) < kills && !done(&s) {
        std::thread::sleep(dice.millis(300, 1500));
        // Two runner kills, then a server kill, and again; when, which runner and how long
        // the server stays away are the dice's.
        if faults.len() % 3 != 2 {
            let victim = (dice.next() % runners.len() as u64) as usize;
            runners[victim].kill();
            runners[victim] = spawn(&s, next_runner);
            faults.push(format!(
                "{:.1} s: runner killed, runner-{next_runner} started",
                start.elapsed().as_secs_f64()
            ));
            next_runner += 1;
        } else {
            s.kill_server();
            let away = dice.millis(0, 2000);
            std::thread::sleep(away);
            s.restart();
            faults.push(format!(
                "{:.1} s: server killed, restarted after {} ms",
                start.elapsed().as_secs_f64(),
                away.as_millis()
            ));
        }
    }
    // Generous: the whole suite runs beside it.
    let mut st = Value::Null;
    let deadline = Instant::now() + Duration::from_secs(240);
    while st["job"]["state"] != "completed" {
        if Instant::now() > deadline {
            let unfinished: Vec<&Value> = st["subjobs"]
                .as_array()
                .map(|l| l.iter().filter(|x| x["state"] != "done").collect())
                .unwrap_or_default();
            panic!(
                "the job did not complete within 240 s after {faults:?}; job: {}; subjobs not done: {unfinished:?}",
                st["job"]
            );
        }
        std::thread::sleep(Duration::from_millis(250));
        st = job_json(&s, job).unwrap_or(Value::Null);
    }
    for r in &mut runners {
        r.kill();
    }
    eprintln!(
        "seed {seed}, {subjobs} subjobs, {} faults in {:.1} s:\n  {}",
        faults.len(),
        start.elapsed().as_secs_f64(),
        faults.join("\n  ")
    );

    // Every subjob done, by exactly one attempt; the others lost or failed.
    let list = st["subjobs"].as_array().expect("subjobs");
    assert_eq!(list.len(), subjobs);
    let mut histories = BTreeMap::new();
    for sj in list {
        assert_eq!(sj["state"], "done", "{sj}");
        let history = sj["history"].as_array().expect("history");
        let done: Vec<&Value> = history.iter().filter(|a| a["state"] == "done").collect();
        assert_eq!(
            done.len(),
            1,
            "subjob {} done by {} attempts: {sj}",
            sj["subjob"],
            done.len()
        );
        *histories.entry(history.len()).or_insert(0) += 1;
        assert_eq!(sj["outputs"].as_array().map(Vec::len), Some(1), "{sj}");
    }
    let executions = std::fs::read_to_string(&ran).expect("ran").lines().count();
    eprintln!("attempts per subjob (attempts: subjobs): {histories:?}; the command ran {executions} times");

    // Exactly one registered output per input, each made from its input, bytes whole.
    let outputs = s.ok(&["find", "-o", "lfn", "under \"/faults/out\""]);
    let expected: String = (0..subjobs)
        .map(|i| format!("/faults/out/in{i:04}.dat.out\n"))
        .collect();
    assert_eq!(outputs, expected);
    let with_parent = s.ok(&[
        "find",
        "--count",
        "under \"/faults/out\" and parent(under \"/faults/in\")",
    ]);
    assert_eq!(with_parent.trim(), subjobs.to_string());
    let verified = s.catalog(&["verify", "--query", "under \"/faults/out\""]);
    assert!(
        verified.status.success(),
        "verify: {}{}",
        String::from_utf8_lossy(&verified.stdout),
        String::from_utf8_lossy(&verified.stderr)
    );
    let (files, _, per_se) = s.du("/faults/out");
    assert_eq!(files, subjobs as i64);
    assert_eq!(per_se.len(), 1, "{per_se:?}");

    // What killed attempts uploaded and never registered is removed once their subjob is
    // done: the job's storage holds its registered outputs and logs, nothing else.
    let (logs, _, _) = s.du(&format!("/jobs/faults.{job}/logs"));
    // Each attempt reported done came with its log: a log upload cut off by a server kill is
    // sent again, after removing what the cut-off try stored (once it met "object exists").
    assert!(
        logs >= subjobs as i64,
        "{logs} logs registered for {subjobs} subjobs done"
    );
    let uploads = s.local_se_dir().join(format!("jobs/{job}"));
    let deadline = Instant::now() + Duration::from_secs(60);
    let mut on_storage = files_below(&uploads);
    while on_storage.len() as i64 != files + logs {
        assert!(
            Instant::now() < deadline,
            "{} objects on storage, {files} outputs and {logs} logs registered: {on_storage:#?}",
            on_storage.len()
        );
        std::thread::sleep(Duration::from_millis(250));
        on_storage = files_below(&uploads);
    }
    let on_storage = on_storage.len();
    // The server logs `objects=N` for each sweep that removed some.
    let log = std::fs::read_to_string(s.dir.path().join("server.log")).unwrap_or_default();
    let swept: i64 = without_colours(&log)
        .lines()
        .filter(|l| l.contains("removed uploads no attempt registered"))
        .filter_map(|l| {
            l.split("objects=")
                .nth(1)?
                .split_whitespace()
                .next()?
                .parse::<i64>()
                .ok()
        })
        .sum();
    eprintln!(
        "{on_storage} objects on storage: {files} outputs and {logs} logs; {swept} leftover uploads removed"
    );
}

/// `text` without its terminal colour codes (ESC [ ... m).
fn without_colours(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\u{1b}' {
            for c in chars.by_ref() {
                if c == 'm' {
                    break;
                }
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// Every file below `dir`, at any depth.
fn files_below(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        match e.file_type() {
            Ok(t) if t.is_dir() => found.extend(files_below(&e.path())),
            Ok(_) => found.push(e.path()),
            Err(_) => {}
        }
    }
    found
}

//! Replicas across storage elements: replicate, du after each step, verify (and a damaged
//! replica found), get falling back to a good replica, removing one replica, removing an SE.

use catalog_tests::{on_both_databases, Backend, TestServer};
use serde_json::Value;

on_both_databases!(replicate_verify_fall_back_and_remove);

fn replicate_verify_fall_back_and_remove(backend: Backend) {
    let s = TestServer::start(backend);
    let tree = s.scratch("tree");
    let mut total = 0i64;
    for i in 0..20 {
        let sub = tree.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&sub).expect("dir");
        let body = format!("file {i} ").repeat(10 + i);
        total += body.len() as i64;
        std::fs::write(sub.join(format!("f{i:02}.dat")), body).expect("file");
    }
    s.ok(&["put", "-r", tree.to_str().expect("path"), "/data"]);
    let disk2 = s.scratch("disk2");
    s.ok(&[
        "se",
        "add",
        "disk2",
        "--path",
        disk2.to_str().expect("path"),
    ]);
    assert_eq!(
        s.du("/data"),
        (20, total, vec![("local".into(), 20, total)])
    );

    let lfns: Vec<String> = s
        .ok(&["find", "-o", "lfn", "under \"/data\""])
        .lines()
        .map(str::to_owned)
        .collect();
    let mut args = vec!["replicate", "--to", "disk2"];
    args.extend(lfns.iter().map(String::as_str));
    s.ok(&args);
    assert_eq!(
        s.du("/data"),
        (
            20,
            total,
            vec![("disk2".into(), 20, total), ("local".into(), 20, total)]
        )
    );
    // Again: nothing to copy.
    let again = s.json(&args);
    assert!(again
        .as_array()
        .expect("items")
        .iter()
        .all(|o| o["status"] == "present"));
    assert_eq!(s.json(&["se", "show", "disk2"])["replicas"], 20);

    let out = s.ok(&["verify", "--query", "under \"/data\""]);
    assert_eq!(
        out.lines().filter(|l| l.contains(" ok")).count(),
        40,
        "{out}"
    );

    // Damage one object on disk2: verify names it, get falls back to the good replica.
    let damaged = disk2.join("data/d1/f05.dat");
    std::fs::write(&damaged, b"not the bytes").expect("damage");
    let out = s.catalog(&["-o", "json", "verify", "/data/d1/f05.dat"]);
    assert!(!out.status.success());
    let items: Value = serde_json::from_slice(&out.stdout).expect("json");
    let by_se: Vec<(&str, &str)> = items
        .as_array()
        .expect("items")
        .iter()
        .map(|o| {
            (
                o["se"].as_str().expect("se"),
                o["status"].as_str().expect("status"),
            )
        })
        .collect();
    assert_eq!(by_se, [("local", "ok"), ("disk2", "bad")]);
    let got = s.scratch("got");
    let dest = format!("{}/", got.display());
    let out = s.catalog(&[
        "get",
        "-v",
        "--se-order",
        "disk2,local",
        "/data/d1/f05.dat",
        &dest,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("<- local"),
        "fell back to local: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(got.join("f05.dat")).expect("got"),
        std::fs::read(tree.join("d1/f05.dat")).expect("orig")
    );
    // Marked bad, it is tried last (no failed attempt first).
    assert!(!s
        .catalog(&["verify", "--mark-bad", "--se", "disk2", "/data/d1/f05.dat"])
        .status
        .success());
    let reps = s.json(&["replicas", "/data/d1/f05.dat"]);
    let statuses: Vec<&str> = reps[0]["replicas"]
        .as_array()
        .expect("reps")
        .iter()
        .map(|r| r["status"].as_str().expect("status"))
        .collect();
    assert_eq!(statuses, ["ok", "bad"]);

    // Remove the disk2 replicas: the files stay, du follows.
    let mut rm = vec!["rm", "--replica", "disk2"];
    rm.extend(lfns.iter().map(String::as_str));
    s.ok(&rm);
    assert_eq!(
        s.du("/data"),
        (20, total, vec![("local".into(), 20, total)])
    );
    assert_eq!(s.du("/data/d1").0, 5);
    assert!(
        std::fs::read_dir(disk2.join("data/d0"))
            .map(|d| d.count() == 0)
            .unwrap_or(true),
        "disk2 bytes removed"
    );
    assert_eq!(s.ok(&["find", "--count", "under \"/data\""]).trim(), "20");
    // An SE with replicas cannot go; an empty one can.
    let err = s.fails(&["se", "rm", "local"]);
    assert!(err.contains("holds 20 replica(s)"), "{err}");
    s.ok(&["se", "rm", "disk2"]);
    assert!(s
        .fails(&["se", "show", "disk2"])
        .contains("no such storage element"));
    assert!(s
        .fails(&["replicate", "--to", "nowhere", "/data/d0/f00.dat"])
        .contains("no such storage element"));
    assert!(s
        .fails(&["du", "/nowhere"])
        .contains("no such file or directory"));
}

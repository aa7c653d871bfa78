//! S3 and WebDAV storage elements against real servers on loopback (s3s-fs and rclone,
//! started by scripts/s3-server.sh and scripts/webdav-server.sh): a tree of 200 files put,
//! replicated to S3 and WebDAV, verified, one S3 object damaged (verify names it, get falls
//! back), a replica removed, du after each step; wrong credentials, an unreachable server
//! and put/get straight through the server to S3.

use catalog_tests::storage_servers::{self, S3_ACCESS_KEY, S3_SECRET_KEY};
use catalog_tests::{on_both_databases, Backend, TestServer};

on_both_databases!(s3_and_webdav_replicas);

fn s3_and_webdav_replicas(backend: Backend) {
    let s = TestServer::start_with_env(
        backend,
        &[
            ("CATALOG_SE_S3_LAB_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("CATALOG_SE_S3_LAB_SECRET_ACCESS_KEY", S3_SECRET_KEY),
            ("CATALOG_SE_S3_WRONG_ACCESS_KEY_ID", S3_ACCESS_KEY),
            ("CATALOG_SE_S3_WRONG_SECRET_ACCESS_KEY", "not-the-secret"),
        ],
    );
    let s3 = storage_servers::s3(&s.scratch("s3"), "frames");
    let dav = storage_servers::webdav(&s.scratch("dav"));

    // Bad storage elements are refused, naming the problem, and nothing is added.
    let err = s.fails(&[
        "se",
        "add",
        "s3-wrong",
        "--kind",
        "s3",
        "--url",
        "s3://frames",
        "--endpoint",
        &s3.endpoint,
        "--path-style",
    ]);
    assert!(
        err.contains("cannot reach storage element s3-wrong"),
        "{err}"
    );
    let err = s.fails(&[
        "se",
        "add",
        "dav-down",
        "--kind",
        "webdav",
        "--url",
        "http://127.0.0.1:9/nothing",
    ]);
    assert!(
        err.contains("cannot reach storage element dav-down"),
        "{err}"
    );
    let err = s.fails(&["se", "add", "bad", "--kind", "s3", "--url", "frames"]);
    assert!(err.contains("expected s3://BUCKET"), "{err}");
    assert_eq!(s.json(&["se", "ls"]).as_array().expect("ses").len(), 1);

    s.ok(&[
        "se",
        "add",
        "s3-lab",
        "--kind",
        "s3",
        "--url",
        "s3://frames/cat",
        "--endpoint",
        &s3.endpoint,
        "--path-style",
    ]);
    let dav_url = format!("{}/store", dav.endpoint);
    s.ok(&["se", "add", "dav", "--kind", "webdav", "--url", &dav_url]);
    let shown = s.ok(&["se", "show", "s3-lab"]);
    assert!(shown.contains("s3://frames/cat"), "{shown}");
    assert!(
        !shown.contains(S3_ACCESS_KEY),
        "credentials never shown: {shown}"
    );
    let listed = s.ok(&["-o", "json", "se", "ls"]);
    assert!(!listed.contains(S3_ACCESS_KEY) && !listed.contains(S3_SECRET_KEY));

    // 200 files on the local SE.
    let tree = s.scratch("tree");
    let mut total = 0i64;
    for i in 0..200 {
        let sub = tree.join(format!("d{}", i % 4));
        std::fs::create_dir_all(&sub).expect("dir");
        let body = format!("frame {i} ").repeat(20 + i);
        total += body.len() as i64;
        std::fs::write(sub.join(format!("f{i:03}.dat")), body).expect("file");
    }
    s.ok(&[
        "put",
        "-r",
        "-j",
        "8",
        tree.to_str().expect("path"),
        "/data",
    ]);
    assert_eq!(
        s.du("/data"),
        (200, total, vec![("local".into(), 200, total)])
    );

    // Replicate everything to S3 and to WebDAV.
    let lfns: Vec<String> = s
        .ok(&["find", "-o", "lfn", "under \"/data\""])
        .lines()
        .map(str::to_owned)
        .collect();
    assert_eq!(lfns.len(), 200);
    for se in ["s3-lab", "dav"] {
        let mut args = vec!["replicate", "--to", se];
        args.extend(lfns.iter().map(String::as_str));
        s.ok(&args);
    }
    assert_eq!(
        s.du("/data"),
        (
            200,
            total,
            vec![
                ("dav".into(), 200, total),
                ("local".into(), 200, total),
                ("s3-lab".into(), 200, total)
            ]
        )
    );
    // The bytes are on the servers, under the prefix and the URL's path.
    let key = "data/d1/f005.dat";
    let original = std::fs::read(tree.join("d1/f005.dat")).expect("orig");
    assert_eq!(
        std::fs::read(s3.dir.join("frames/cat").join(key)).expect("on s3"),
        original
    );
    assert_eq!(
        std::fs::read(dav.dir.join("store").join(key)).expect("on dav"),
        original
    );
    let out = s.ok(&["verify", "--query", "under \"/data\""]);
    assert_eq!(
        out.lines().filter(|l| l.contains(" ok")).count(),
        600,
        "{out}"
    );

    // Damage the S3 copy: verify names it; get prefers S3 but falls back.
    std::fs::write(s3.dir.join("frames/cat").join(key), b"damaged").expect("damage");
    let out = s.catalog(&[
        "-o",
        "json",
        "verify",
        "--se",
        "s3-lab",
        "/data/d1/f005.dat",
    ]);
    assert!(!out.status.success());
    let items: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
    assert_eq!(items[0]["status"], "bad", "{items}");
    let got = s.scratch("got");
    let dest = format!("{}/", got.display());
    // Without the local copy, so that the order is s3-lab then dav.
    s.ok(&["rm", "--replica", "local", "/data/d1/f005.dat"]);
    let out = s.catalog(&[
        "get",
        "-v",
        "--se-order",
        "s3-lab,dav",
        "/data/d1/f005.dat",
        &dest,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(stderr.contains("<- dav"), "fell back to dav: {stderr}");
    assert_eq!(std::fs::read(got.join("f005.dat")).expect("got"), original);

    // Remove the WebDAV replicas of d0: bytes gone, entries stay, du follows.
    let d0: Vec<&str> = lfns
        .iter()
        .filter(|l| l.contains("/d0/"))
        .map(String::as_str)
        .collect();
    let d0_bytes: i64 = (0..200)
        .filter(|i| i % 4 == 0)
        .map(|i| format!("frame {i} ").len() as i64 * (20 + i))
        .sum();
    let mut rm = vec!["rm", "--replica", "dav"];
    rm.extend(d0.iter());
    s.ok(&rm);
    assert!(!dav.dir.join("store/data/d0/f000.dat").exists());
    let f005 = original.len() as i64;
    assert_eq!(
        s.du("/data"),
        (
            200,
            total,
            vec![
                ("dav".into(), 150, total - d0_bytes),
                ("local".into(), 199, total - f005),
                ("s3-lab".into(), 200, total)
            ]
        )
    );

    // put and get straight through the server to and from S3; rm removes the object.
    let one = s.scratch("one").join("direct.dat");
    std::fs::write(&one, b"straight to s3").expect("file");
    s.ok(&[
        "put",
        "--se",
        "s3-lab",
        one.to_str().expect("path"),
        "/direct/direct.dat",
    ]);
    assert!(s3.dir.join("frames/cat/direct/direct.dat").is_file());
    let out = s.catalog(&["get", "-v", "/direct/direct.dat", &dest]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(got.join("direct.dat")).expect("got"),
        b"straight to s3"
    );
    s.ok(&["rm", "/direct/direct.dat"]);
    assert!(!s3.dir.join("frames/cat/direct/direct.dat").exists());

    // With the S3 server gone: replicate to it fails naming it and registers nothing; rm of
    // its replica fails and the replica stays registered; get falls back to another replica.
    let late = s.scratch("late").join("late.dat");
    std::fs::write(&late, b"after the outage").expect("file");
    s.ok(&["put", late.to_str().expect("path"), "/late/late.dat"]);
    drop(s3);
    let out = s.catalog(&["replicate", "--to", "s3-lab", "/late/late.dat"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("s3-lab"), "names the storage element: {text}");
    let reps = s.json(&["replicas", "/late/late.dat"]);
    assert_eq!(
        reps[0]["replicas"].as_array().expect("reps").len(),
        1,
        "{reps}"
    );
    let out = s.catalog(&["rm", "--replica", "s3-lab", "/data/d2/f002.dat"]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(!out.status.success(), "{text}");
    assert!(text.contains("stays registered"), "{text}");
    assert_eq!(s.du("/data").2[2], ("s3-lab".into(), 200, total));
    let out = s.catalog(&[
        "get",
        "-v",
        "--force",
        "--se-order",
        "s3-lab,dav",
        "/data/d2/f002.dat",
        &dest,
    ]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        stderr.contains("<- local") || stderr.contains("<- dav"),
        "{stderr}"
    );
}

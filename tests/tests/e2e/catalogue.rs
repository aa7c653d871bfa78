//! What a user does with the catalogue, read back exactly.

use catalog_tests::{adler32, on_both_databases, Backend, TestServer};
use serde_json::json;

use super::fixtures::{lfn_of, line, manifest, register_thousand, relatives};

on_both_databases!(
    manifest_of_a_thousand_files_reads_back_exactly,
    put_then_get_returns_the_same_bytes,
    provenance_three_generations_deep,
    move_and_remove_keep_the_namespace_consistent,
    listing_follows_cursors_across_pages,
);

fn manifest_of_a_thousand_files_reads_back_exactly(backend: Backend) {
    let s = TestServer::start(backend);
    register_thousand(&s);

    let stat = s.json(&["stat", &lfn_of(650)]);
    let f = &stat[0];
    assert_eq!(f["kind"], "file");
    assert_eq!(f["lfn"], "/exp/d3/f0650");
    assert_eq!(f["size"], 1650);
    assert_eq!(f["adler32"], format!("{:08x}", 1650 * 7 + 1));
    assert_eq!(f["guid"].as_str().map(str::len), Some(36));

    let long = s.ok(&["ls", "-l", "/exp/d2"]);
    let rows: Vec<&str> = long.lines().collect();
    assert_eq!(rows.len(), 200);
    let first: Vec<&str> = rows[0].split_whitespace().collect();
    assert_eq!(first[0], "-rw-rw-r--");
    // The local user's files, in the group of the directories above (the root's: admin).
    assert_eq!(&first[1..4], &["local", "admin", "1400"]);
    assert_eq!(first[6], "f0400");
    assert_eq!(s.ok(&["ls", "/exp"]), "d0/\nd1/\nd2/\nd3/\nd4/\n");

    let meta = s.ok(&["meta", "get", &lfn_of(650)]);
    let rows: Vec<Vec<&str>> = meta
        .lines()
        .map(|l| l.split_whitespace().collect())
        .collect();
    assert_eq!(
        rows,
        vec![
            vec!["FIELD", "TYPE", "VALUE", "SOURCE"],
            vec!["campaign", "string", "2016A", "inherited", "from", "/exp"],
            vec!["detector", "string", "B02", "own"],
            vec!["energy", "float", "325.25", "own"],
            vec!["run", "int", "0", "own"],
        ]
    );
    let typed = s.json(&["meta", "get", &lfn_of(651)]);
    assert_eq!(
        typed["entries"][0],
        json!({"field": "campaign", "type": "string", "value": "2016A", "inherited_from": "/exp"})
    );
    assert_eq!(
        typed["entries"][3],
        json!({"field": "run", "type": "int", "value": 1})
    );

    let fields = s.json(&["meta", "fields"]);
    let declared: Vec<(String, String)> = fields
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_owned(),
                f["type"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        declared,
        vec![
            ("campaign".into(), "string".into()),
            ("detector".into(), "string".into()),
            ("energy".into(), "float".into()),
            ("run".into(), "int".into())
        ]
    );

    let reps = s.json(&["replicas", &lfn_of(0), &lfn_of(999)]);
    assert_eq!(reps[0]["lfn"], "/exp/d0/f0000");
    assert_eq!(reps[0]["replicas"][0]["se"], "local");
    assert_eq!(reps[0]["replicas"][0]["pfn"], "exp/d0/f0000");
    assert_eq!(reps[1]["replicas"][0]["pfn"], "exp/d4/f0999");
    let table = s.ok(&["replicas", &lfn_of(5)]);
    assert!(
        table
            .lines()
            .nth(1)
            .unwrap()
            .starts_with("/exp/d0/f0005  local  ok      file://"),
        "{table}"
    );

    let ses = s.json(&["se", "ls"]);
    assert_eq!(ses[0]["replicas"], 1000);
    assert_eq!(ses[0]["bytes"], (0..1000).map(|i| 1000 + i).sum::<i64>());
}

fn put_then_get_returns_the_same_bytes(backend: Backend) {
    let s = TestServer::start(backend);
    let local = s.scratch("up").join("blob.bin");
    let bytes: Vec<u8> = (0..700_000u32)
        .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
        .collect();
    std::fs::write(&local, &bytes).unwrap();
    let out = s.ok(&[
        "put",
        local.to_str().unwrap(),
        "/data/run1/blob.bin",
        "--meta",
        "run=7",
        "--meta",
        "quality=good",
    ]);
    assert_eq!(out, "/data/run1/blob.bin\n");

    let stat = s.json(&["stat", "/data/run1/blob.bin"]);
    assert_eq!(stat[0]["size"], 700_000);
    assert_eq!(stat[0]["adler32"], adler32(&bytes));
    let meta = s.json(&["meta", "get", "/data/run1/blob.bin"]);
    assert_eq!(
        meta["entries"],
        json!([{"field": "quality", "type": "string", "value": "good"}, {"field": "run", "type": "int", "value": 7}])
    );
    assert_eq!(
        std::fs::read(s.local_se_dir().join("data/run1/blob.bin")).unwrap(),
        bytes
    );

    let down = s.scratch("down");
    let dest = format!("{}/", down.display());
    s.ok(&["get", "/data/run1/blob.bin", &dest]);
    assert_eq!(std::fs::read(down.join("blob.bin")).unwrap(), bytes);
    // Existing local files are not replaced unless asked.
    assert!(s
        .fails(&["get", "/data/run1/blob.bin", &dest])
        .contains("exists (use --force"));
    s.ok(&["get", "--force", "/data/run1/blob.bin", &dest]);

    // A tree with per-file sidecar metadata.
    let tree = s.scratch("frames");
    for i in 0..3 {
        std::fs::write(tree.join(format!("frame_{i}.txt")), format!("frame {i}\n")).unwrap();
        std::fs::write(
            tree.join(format!("frame_{i}.txt.json")),
            json!({"start_time": 1450000000 + i}).to_string(),
        )
        .unwrap();
    }
    s.ok(&[
        "put",
        "-r",
        tree.to_str().unwrap(),
        "/frames",
        "--sidecar",
        ".json",
        "--meta",
        "kind=frame",
    ]);
    assert_eq!(
        s.ok(&["ls", "/frames"]),
        "frame_0.txt\nframe_1.txt\nframe_2.txt\n"
    );
    let meta = s.json(&["meta", "get", "/frames/frame_2.txt"]);
    assert_eq!(
        meta["entries"],
        json!([{"field": "kind", "type": "string", "value": "frame"}, {"field": "start_time", "type": "int", "value": 1450000002}])
    );
}

fn provenance_three_generations_deep(backend: Backend) {
    let s = TestServer::start(backend);
    s.ok(&["mkdir", "-p", "/p"]);
    let lines = vec![
        line("/p/a", 1, json!({}), &[]),
        line("/p/a2", 1, json!({}), &[]),
        line("/p/b", 1, json!({}), &["/p/a"]),
        line("/p/c", 1, json!({}), &["/p/b"]),
    ];
    s.ok(&[
        "register",
        "--from",
        manifest(&s, "gen.jsonl", &lines).to_str().unwrap(),
    ]);
    s.ok(&[
        "register",
        "--from",
        manifest(&s, "gen3.jsonl", &[line("/p/d", 1, json!({}), &[])])
            .to_str()
            .unwrap(),
    ]);
    assert_eq!(
        s.ok(&["parents", "add", "/p/d", "/p/c"]),
        "1 new link(s) to /p/d\n"
    );
    assert_eq!(
        s.ok(&["parents", "add", "/p/b", "/p/a2", "/p/a"]),
        "1 new link(s) to /p/b\n"
    );

    let one = s.json(&["ancestors", "/p/d", "--depth", "1"]);
    assert_eq!(relatives(&one), vec![("/p/c".to_owned(), 1)]);
    let three = s.json(&["ancestors", "/p/d", "--depth", "3"]);
    assert_eq!(
        relatives(&three),
        vec![
            ("/p/c".into(), 1),
            ("/p/b".into(), 2),
            ("/p/a".into(), 3),
            ("/p/a2".into(), 3)
        ]
    );
    let two = s.json(&["ancestors", "/p/d", "--depth", "2"]);
    assert_eq!(
        relatives(&two),
        vec![("/p/c".into(), 1), ("/p/b".into(), 2)]
    );
    let down = s.json(&["descendants", "/p/a", "--depth", "3"]);
    assert_eq!(
        relatives(&down),
        vec![("/p/b".into(), 1), ("/p/c".into(), 2), ("/p/d".into(), 3)]
    );
    let down1 = s.json(&["descendants", "/p/a", "/p/a2"]);
    assert_eq!(
        relatives(&down1),
        vec![("/p/b".into(), 1), ("/p/b".into(), 1)]
    );
    let table = s.ok(&["ancestors", "/p/c", "--depth", "3"]);
    assert_eq!(
        table,
        "LFN   DEPTH  ANCESTOR\n/p/c  1      /p/b\n/p/c  2      /p/a\n/p/c  2      /p/a2\n"
    );
}

fn move_and_remove_keep_the_namespace_consistent(backend: Backend) {
    let s = TestServer::start(backend);
    let lines = vec![
        line("/m/x/one", 1, json!({}), &[]),
        line("/m/x/y/two", 2, json!({}), &[]),
    ];
    s.ok(&[
        "register",
        "-p",
        "--from",
        manifest(&s, "m.jsonl", &lines).to_str().unwrap(),
    ]);
    s.ok(&["meta", "set", "/m/x", "site=cern"]);
    s.ok(&["mkdir", "/n"]);
    assert_eq!(s.ok(&["mv", "/m/x", "/n"]), "/m/x -> /n/x\n");
    let all: Vec<String> = s
        .json(&["ls", "-r", "/"])
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().or(e["lfn"].as_str()).unwrap().to_owned())
        .collect();
    assert_eq!(
        all,
        vec!["/m", "/n", "/n/x", "/n/x/y", "/n/x/one", "/n/x/y/two"]
    );
    let meta = s.json(&["meta", "get", "/n/x/y/two"]);
    assert_eq!(
        meta["entries"],
        json!([{"field": "site", "type": "string", "value": "cern", "inherited_from": "/n/x"}])
    );
    // Inheritance follows the new place: /m no longer passes anything down.
    s.ok(&["meta", "set", "/m", "site=fnal"]);
    assert_eq!(
        s.json(&["meta", "get", "/n/x/one"])["entries"][0]["value"],
        "cern"
    );
    s.ok(&["mv", "/n/x/one", "/m/uno"]);
    assert_eq!(
        s.json(&["meta", "get", "/m/uno"])["entries"][0]["value"],
        "fnal"
    );
    assert!(s
        .fails(&["mv", "/n", "/n/x/inside"])
        .contains("into itself"));
    assert!(s
        .fails(&["rmdir", "/n"])
        .contains("directory not empty: /n"));
    assert_eq!(
        s.ok(&["rmdir", "-r", "/n"]),
        "removed /n and 1 file(s) below it\n"
    );
    assert_eq!(s.ok(&["rm", "/m/uno"]), "removed 1 file(s)\n");
    assert_eq!(s.ok(&["ls", "-r", "/"]), "/m/\n");
    assert!(s
        .fails(&["stat", "/n/x/y/two"])
        .contains("no such file or directory: /n/x/y/two"));
}

fn listing_follows_cursors_across_pages(backend: Backend) {
    let s = TestServer::start(backend);
    register_thousand(&s);
    let all = s.json(&["ls", "-r", "/"]);
    let paths: Vec<&str> = all
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["path"].as_str().or(e["lfn"].as_str()).unwrap())
        .collect();
    assert_eq!(paths.len(), 1 + 5 + 1000);
    assert_eq!(
        &paths[..6],
        &["/exp", "/exp/d0", "/exp/d1", "/exp/d2", "/exp/d3", "/exp/d4"]
    );
    assert_eq!(paths[6], "/exp/d0/f0000");
    assert_eq!(paths[1005], "/exp/d4/f0999");
    let (status, page) = s.http("GET", "/api/v1/namespace/list?path=/exp/d1&limit=150", None);
    assert_eq!(status, 200);
    let page: serde_json::Value = serde_json::from_str(&page).unwrap();
    assert_eq!(page["entries"].as_array().unwrap().len(), 150);
    let cursor = page["next_cursor"].as_str().unwrap().to_owned();
    let (_, next) = s.http(
        "GET",
        &format!(
            "/api/v1/namespace/list?path=/exp/d1&limit=150&cursor={}",
            cursor.replace('/', "%2F")
        ),
        None,
    );
    let next: serde_json::Value = serde_json::from_str(&next).unwrap();
    assert_eq!(next["entries"].as_array().unwrap().len(), 50);
    assert_eq!(next["entries"][0]["lfn"], "/exp/d1/f0350");
    assert!(next["next_cursor"].is_null());
    assert_eq!(
        s.ok(&["ls", "--limit", "3", "/exp/d4"]),
        "f0800\nf0801\nf0802\n"
    );
}

//! Who may do what: the open mode's bind refusal, bearer tokens, X.509 certificates and
//! RFC 3820 proxies over TLS, the authorization matrix of every endpoint, and queries that
//! hide the files of unreadable directories.

use catalog_tests::pki::{self, Kind, Pki};
use catalog_tests::{bin_dir, on_both_databases, Backend, TestServer};
use serde_json::{json, Value};
use std::process::Command;

on_both_databases!(
    tokens_valid_revoked_expired_malformed,
    certificates_and_proxies,
    authorization_matrix,
    queries_hide_unreadable_files,
    jobs_run_as_their_submitter,
);

#[test]
fn open_mode_refuses_a_public_address() {
    let dir = tempfile::tempdir().unwrap();
    let out = Command::new(bin_dir().join("catalog-server"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--bind", "0.0.0.0:0"])
        .env_remove("CATALOG_AUTH")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("refusing to listen on 0.0.0.0:0") && err.contains("--insecure"),
        "{err}"
    );
    // With --insecure it starts (and says so in its log).
    let mut child = Command::new(bin_dir().join("catalog-server"))
        .args(["--data-dir"])
        .arg(dir.path())
        .args(["--bind", "0.0.0.0:0", "--insecure"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let mut line = String::new();
    std::io::BufRead::read_line(
        &mut std::io::BufReader::new(child.stdout.take().unwrap()),
        &mut line,
    )
    .unwrap();
    let _ = child.kill();
    let _ = child.wait();
    assert!(
        line.starts_with("catalog-server listening on http://0.0.0.0:"),
        "{line}"
    );
    let mut log = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut log).unwrap();
    assert!(log.contains("--insecure"), "{log}");
}

/// `(status, body)` of a request with `token` (none: anonymous).
fn call(
    s: &TestServer,
    token: Option<&str>,
    method: &str,
    path: &str,
    body: Option<&Value>,
) -> (u16, String) {
    let auth = token.map(|t| format!("Bearer {t}"));
    let headers: Vec<(&str, &str)> = auth.iter().map(|a| ("Authorization", a.as_str())).collect();
    let body = body.map(|b| b.to_string());
    let r = s.http_with(method, path, &headers, body.as_deref().map(str::as_bytes));
    (r.status, r.body)
}

fn tokens_valid_revoked_expired_malformed(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_AUTH", "token")]);
    s.admin(&["user", "add", "alice"]);
    let t = s.admin(&["token", "create", "alice"]);
    assert!(t.starts_with("cat_") && t.len() > 40, "{t}");
    let (st, body) = call(&s, Some(&t), "GET", "/api/v1/whoami", None);
    assert_eq!(st, 200, "{body}");
    assert!(body.contains("\"user\":\"alice\""), "{body}");
    // The CLI takes it from the environment and from the token file.
    let out = s
        .catalog_command(&["whoami"])
        .env("CATALOG_TOKEN", &t)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stdout).starts_with("alice"),
        "{out:?}"
    );
    std::fs::create_dir_all(s.dir.path().join("config/catalog")).unwrap();
    std::fs::write(s.dir.path().join("config/catalog/token"), format!("{t}\n")).unwrap();
    assert!(s.ok(&["whoami"]).starts_with("alice"));
    std::fs::remove_file(s.dir.path().join("config/catalog/token")).unwrap();

    // Anonymous, malformed, unknown.
    let (st, body) = call(&s, None, "GET", "/api/v1/whoami", None);
    assert_eq!(st, 401);
    assert!(body.contains("authentication required"), "{body}");
    for header in ["Basic YWxpY2U6eA==", "Bearer", "Bearer two words"] {
        let r = s.http_with("GET", "/api/v1/whoami", &[("Authorization", header)], None);
        assert_eq!(r.status, 401, "{header}: {}", r.body);
        assert!(
            r.body.contains("malformed Authorization header"),
            "{}",
            r.body
        );
    }
    let (st, body) = call(&s, Some("cat_not-a-token"), "GET", "/api/v1/whoami", None);
    assert_eq!((st, body.contains("unknown token")), (401, true), "{body}");
    let err = String::from_utf8_lossy(
        &s.catalog_command(&["whoami", "--token", "cat_wrong"])
            .output()
            .unwrap()
            .stderr,
    )
    .into_owned();
    assert!(err.contains("unknown token"), "{err}");

    // Revoked: refused within the server's credential cache time (2 s).
    let id = s.admin(&["token", "revoke", &t]);
    assert!(id.contains("revoked"), "{id}");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let (st, body) = loop {
        let (st, body) = call(&s, Some(&t), "GET", "/api/v1/whoami", None);
        if st != 200 || std::time::Instant::now() > deadline {
            break (st, body);
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    assert_eq!(st, 401);
    assert!(body.contains("was revoked"), "{body}");

    // Expired.
    let short = s.admin(&["token", "create", "alice", "--expires", "1s"]);
    std::thread::sleep(std::time::Duration::from_millis(1500));
    let (st, body) = call(&s, Some(&short), "GET", "/api/v1/whoami", None);
    assert_eq!(st, 401);
    assert!(body.contains("expired at"), "{body}");

    // The database holds no token text, only hashes.
    let stored = s.sql_strings("SELECT hash AS v FROM tokens");
    assert_eq!(stored.len(), 2);
    for h in &stored {
        assert!(h.starts_with("sha256:") && h.len() == 71, "{h}");
        assert!(!h.contains(&t[4..]) && !h.contains(&short[4..]));
    }
    let ls = s.admin(&["token", "ls"]);
    assert!(ls.contains("revoked") && !ls.contains(&t), "{ls}");
}

fn certificates_and_proxies(backend: Backend) {
    let pki = Pki::new();
    let s = TestServer::start_secure(backend, &pki, "x509");
    assert!(s.url.starts_with("https://"), "{}", s.url);
    s.admin(&["user", "add", "alice", "--dn", &Pki::dn("Alice")]);
    s.admin(&["user", "add", "bob", "--dn", &Pki::dn("Bob")]);
    let dir = pki.dir.path();
    let whoami = |cert: &std::path::Path, key: Option<&std::path::Path>| {
        let mut args = vec![
            "whoami".to_owned(),
            "--cert".into(),
            cert.display().to_string(),
        ];
        if let Some(k) = key {
            args.extend(["--key".into(), k.display().to_string()]);
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = s.catalog(&args);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).into_owned()
                + &String::from_utf8_lossy(&out.stderr),
        )
    };
    // A user certificate with its (PKCS#1) key beside it.
    let alice = pki.user("Alice");
    let (cert, key) = alice.write_pair(dir, "alice");
    let (ok, out) = whoami(&cert, Some(&key));
    assert!(ok && out.starts_with("alice"), "{out}");
    // A proxy, and a proxy of the proxy, from X509_USER_PROXY as grid tools set it.
    let proxy = pki::proxy(&alice);
    let p1 = proxy.write_proxy_file(&dir.join("x509up_1"));
    let p2 = pki::proxy(&proxy).write_proxy_file(&dir.join("x509up_2"));
    for p in [&p1, &p2] {
        let out = s
            .catalog_command(&["whoami"])
            .env("X509_USER_PROXY", p)
            .output()
            .unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(
            out.status.success() && text.starts_with("alice"),
            "{}: {text}",
            p.display()
        );
    }
    // Refused, each with what is wrong.
    let expired = pki::issue(&Pki::dn("Alice"), Some(&pki.ca), Kind::User, -30, -1);
    let (c, k) = expired.write_pair(dir, "expired");
    let (ok, out) = whoami(&c, Some(&k));
    assert!(!ok && out.contains("certificate has expired"), "{out}");
    let future = pki::issue(&Pki::dn("Alice"), Some(&pki.ca), Kind::User, 2, 30);
    let (c, k) = future.write_pair(dir, "future");
    let (ok, out) = whoami(&c, Some(&k));
    assert!(!ok && out.contains("not yet valid"), "{out}");
    let other_ca = pki::issue(
        &format!("{}/CN=Other CA", pki::BASE),
        None,
        Kind::Ca,
        -1,
        30,
    );
    let stranger = pki::issue(&Pki::dn("Alice"), Some(&other_ca), Kind::User, -1, 30);
    let (c, k) = stranger.write_pair(dir, "stranger");
    let (ok, out) = whoami(&c, Some(&k));
    assert!(!ok && out.contains("client certificate refused"), "{out}");
    // A "proxy" of Alice's name signed by Bob's certificate.
    let bob = pki.user("Bob");
    let mut forged = pki::issue(
        &format!("{}/CN=4242", Pki::dn("Alice")),
        Some(&bob),
        Kind::Proxy,
        -1,
        1,
    );
    forged.chain = vec![bob.cert.clone()];
    let f = forged.write_proxy_file(&dir.join("forged"));
    let (ok, out) = whoami(&f, None);
    assert!(!ok && out.contains("client certificate refused"), "{out}");
    // A good certificate whose DN no user has.
    let carol = pki.user("Carol");
    let (c, k) = carol.write_pair(dir, "carol");
    let (ok, out) = whoami(&c, Some(&k));
    assert!(!ok && out.contains("is not mapped to a user"), "{out}");
    // A runner host's certificate: a runner user, which may claim but not read the catalogue.
    s.admin(&[
        "user",
        "add",
        "host1",
        "--runner",
        "--dn",
        &Pki::dn("runner-host"),
    ]);
    let host = pki.user("runner-host");
    let (c, k) = host.write_pair(dir, "host");
    let (ok, out) = whoami(&c, Some(&k));
    assert!(ok && out.contains("role: runner"), "{out}");
    let out = s.catalog(&[
        "ls",
        "/",
        "--cert",
        &c.display().to_string(),
        "--key",
        &k.display().to_string(),
    ]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("is a job runner"),
        "{err}"
    );
    // No certificate at all.
    let (st, body) = call(&s, None, "GET", "/api/v1/whoami", None);
    assert_eq!(st, 401, "{body}");
    assert!(body.contains("send a client certificate"), "{body}");
}

/// The callers of the matrix.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Who {
    Anonymous,
    Other,
    Member,
    Owner,
    Admin,
}

const CALLERS: [Who; 5] = [
    Who::Anonymous,
    Who::Other,
    Who::Member,
    Who::Owner,
    Who::Admin,
];

impl Who {
    fn tag(self) -> &'static str {
        match self {
            Who::Anonymous => "anon",
            Who::Other => "other",
            Who::Member => "member",
            Who::Owner => "owner",
            Who::Admin => "admin",
        }
    }
}

/// Who may, by kind of operation, on the fixture: /m/d owned by the owner, group phys (the
/// member is in it, the other user not), mode 750.
#[derive(Debug, Clone, Copy)]
enum May {
    /// Any authenticated caller.
    Anyone,
    /// `r` in /m/d: owner, group member, admin.
    Read,
    /// `w` in /m/d, or owning the thing: owner, admin.
    Write,
    /// The admin role.
    Admin,
}

impl May {
    fn allows(self, w: Who) -> bool {
        match (self, w) {
            (_, Who::Anonymous) => false,
            (May::Anyone, _) | (_, Who::Admin) => true,
            (May::Read, Who::Member | Who::Owner) => true,
            (May::Write, Who::Owner) => true,
            _ => false,
        }
    }
}

struct Matrix<'a> {
    s: &'a TestServer,
    tokens: Vec<(Who, String)>,
}

impl Matrix<'_> {
    fn token(&self, w: Who) -> Option<&str> {
        self.tokens
            .iter()
            .find(|(x, _)| *x == w)
            .map(|(_, t)| t.as_str())
    }

    /// Everything a request could change, seen by the admin.
    fn fingerprint(&self) -> String {
        let admin = self.token(Who::Admin);
        let mut all = String::new();
        for p in [
            "/api/v1/namespace/list?path=/&recursive=true&limit=10000",
            "/api/v1/metadata/fields",
            "/api/v1/se",
            "/api/v1/datasets",
            "/api/v1/jobs",
            "/api/v1/schemas?path=/m",
        ] {
            all.push_str(&call(self.s, admin, "GET", p, None).1);
        }
        let lfns: Value = serde_json::from_str(
            &call(
                self.s,
                admin,
                "POST",
                "/api/v1/find/lfns",
                Some(&json!({"query": "", "page_size": 10000})),
            )
            .1,
        )
        .unwrap();
        let body = json!({ "lfns": lfns["lfns"] });
        for p in ["/api/v1/files/metadata", "/api/v1/files/replicas"] {
            all.push_str(&call(self.s, admin, "POST", p, Some(&body)).1);
        }
        all.push_str(
            &call(
                self.s,
                admin,
                "POST",
                "/api/v1/files/ancestors",
                Some(&json!({"lfns": lfns["lfns"], "depth": 5})),
            )
            .1,
        );
        all
    }

    /// Runs one operation as every caller and checks who was let through.
    fn check(
        &self,
        name: &str,
        may: May,
        method: &str,
        path: &dyn Fn(Who) -> String,
        body: &dyn Fn(Who) -> Option<Value>,
    ) {
        // The callers refused come first in CALLERS: the state is compared once, before the
        // first and after the last of them.
        let refused: Vec<Who> = CALLERS.into_iter().filter(|w| !may.allows(*w)).collect();
        assert!(
            CALLERS[..refused.len()] == refused[..],
            "{name}: refusals first"
        );
        let before = self.fingerprint();
        for w in CALLERS {
            let (st, text) = call(self.s, self.token(w), method, &path(w), body(w).as_ref());
            if may.allows(w) {
                assert!(
                    st != 401 && st != 403 && st < 500,
                    "{name} as {w:?} should be allowed: {st} {text}"
                );
                continue;
            }
            let want = if w == Who::Anonymous { 401 } else { 403 };
            assert_eq!(
                st, want,
                "{name} as {w:?} should be refused with {want}: {text}"
            );
            let problem: Value = serde_json::from_str(&text)
                .unwrap_or_else(|_| panic!("{name}: no problem body: {text}"));
            assert!(
                !problem["detail"].as_str().unwrap_or("").is_empty(),
                "{name}: {text}"
            );
            if refused.last() == Some(&w) {
                assert_eq!(
                    before,
                    self.fingerprint(),
                    "{name} was refused to {refused:?} but changed something"
                );
            }
        }
    }
}

fn user_tokens(s: &TestServer) -> Vec<(Who, String)> {
    s.admin(&["user", "add", "root", "--admin"]);
    for u in ["alice", "bob", "carol"] {
        s.admin(&["user", "add", u]);
    }
    s.admin(&["user", "add", "runner1"]);
    s.admin(&["group", "add", "phys"]);
    s.admin(&["group", "add-member", "phys", "alice"]);
    s.admin(&["group", "add-member", "phys", "bob"]);
    vec![
        (Who::Other, s.admin(&["token", "create", "carol"])),
        (Who::Member, s.admin(&["token", "create", "bob"])),
        (Who::Owner, s.admin(&["token", "create", "alice"])),
        (Who::Admin, s.admin(&["token", "create", "root"])),
    ]
}

/// `catalog ARGS` as the holder of `token`.
fn as_user(s: &TestServer, token: &str, args: &[&str]) -> String {
    let out = s
        .catalog_command(args)
        .env("CATALOG_TOKEN", token)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "catalog {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn authorization_matrix(backend: Backend) {
    let pki = Pki::new();
    let s = TestServer::start_secure(backend, &pki, "token,x509");
    let tokens = user_tokens(&s);
    let m = Matrix { s: &s, tokens };
    let admin = m.token(Who::Admin).unwrap().to_owned();
    let owner = m.token(Who::Owner).unwrap().to_owned();
    let runner = s.admin(&["token", "create", "runner1", "--runner"]);
    // The fixture, as the admin and the owner would make it with the CLI.
    as_user(&s, &admin, &["meta", "index", "quality", "string"]);
    as_user(&s, &admin, &["mkdir", "-p", "/m", "/m2"]);
    as_user(&s, &admin, &["chown", "alice:phys", "/m"]);
    as_user(&s, &admin, &["chmod", "750", "/m"]);
    as_user(
        &s,
        &admin,
        &[
            "se",
            "add",
            "se2",
            "--path",
            &s.scratch("se2").display().to_string(),
        ],
    );
    call(
        &s,
        Some(&admin),
        "POST",
        "/api/v1/schemas",
        Some(&json!({"path": "/m2", "schema": {"type": "object"}})),
    );
    as_user(&s, &owner, &["mkdir", "/m/d"]);
    as_user(&s, &owner, &["chmod", "750", "/m/d"]);
    let local = s.scratch("up");
    let mut names = vec!["f1".to_owned(), "f2".to_owned()];
    for w in CALLERS {
        for p in ["del", "mv", "un", "rr"] {
            names.push(format!("{p}-{}", w.tag()));
        }
        as_user(&s, &owner, &["mkdir", &format!("/m/d/gone-{}", w.tag())]);
    }
    for n in &names {
        std::fs::write(local.join(n), format!("bytes of {n}")).unwrap();
    }
    as_user(
        &s,
        &owner,
        &["put", "-r", &local.display().to_string(), "/m/d"],
    );
    for w in CALLERS {
        as_user(
            &s,
            &owner,
            &[
                "meta",
                "set",
                &format!("/m/d/un-{}", w.tag()),
                "quality=good",
            ],
        );
        as_user(
            &s,
            &owner,
            &["replicate", &format!("/m/d/rr-{}", w.tag()), "--to", "se2"],
        );
        call(
            &s,
            Some(&owner),
            "POST",
            "/api/v1/datasets",
            Some(&json!({"name": format!("dsdel-{}", w.tag()), "query": "under \"/m/d\""})),
        );
    }
    call(
        &s,
        Some(&owner),
        "POST",
        "/api/v1/datasets",
        Some(&json!({"name": "ds-alice", "query": "under \"/m/d\""})),
    );
    let made = call(
        &s,
        Some(&owner),
        "POST",
        "/api/v1/datasets",
        Some(&json!({"name": "ds-list", "frozen": true, "files": ["/m/d/f1"]})),
    );
    assert_eq!(made.0, 200, "{}", made.1);
    let spec = |out: &str| {
        json!({"spec": {"name": "j", "input": {"query": "under \"/m/d\""}, "run": {"command": ["true"]},
        "output": [{"glob": "*.out", "lfn": format!("{out}/{{input.stem}}.out")}]}})
    };
    let (st, job) = call(
        &s,
        Some(&owner),
        "POST",
        "/api/v1/jobs",
        Some(&spec("/m/d/out")),
    );
    assert_eq!(st, 200, "{job}");
    let job: i64 = serde_json::from_str::<Value>(&job).unwrap()["id"]
        .as_i64()
        .unwrap();
    let mut kill_jobs = Vec::new();
    for w in CALLERS {
        let (_, j) = call(
            &s,
            Some(&owner),
            "POST",
            "/api/v1/jobs",
            Some(&spec("/m/d/out")),
        );
        kill_jobs.push((
            w,
            serde_json::from_str::<Value>(&j).unwrap()["id"]
                .as_i64()
                .unwrap(),
        ));
    }
    let kill_job = |w: Who| kill_jobs.iter().find(|(x, _)| *x == w).unwrap().1;

    let none = |_: Who| None;
    let fixed = |p: &'static str| move |_: Who| p.to_owned();
    let t = |w: Who| w.tag();
    // Namespace.
    m.check(
        "list",
        May::Read,
        "GET",
        &fixed("/api/v1/namespace/list?path=/m/d"),
        &none,
    );
    m.check(
        "stat",
        May::Read,
        "GET",
        &fixed("/api/v1/namespace/stat?path=/m/d/f1"),
        &none,
    );
    m.check("mkdir", May::Write, "POST", &fixed("/api/v1/dirs"), &|w| {
        Some(json!({"path": format!("/m/d/new-{}", t(w))}))
    });
    m.check(
        "rmdir",
        May::Write,
        "DELETE",
        &|w| format!("/api/v1/dirs?path=/m/d/gone-{}", t(w)),
        &none,
    );
    m.check(
        "move",
        May::Write,
        "POST",
        &fixed("/api/v1/namespace/move"),
        &|w| {
            Some(json!({"src": format!("/m/d/mv-{}", t(w)), "dst": format!("/m/d/moved-{}", t(w))}))
        },
    );
    m.check(
        "chmod",
        May::Write,
        "POST",
        &fixed("/api/v1/namespace/permissions"),
        &|_| Some(json!({"path": "/m/d/f2", "mode": 0o640})),
    );
    // Files, replicas, provenance.
    m.check("register", May::Write, "POST", &fixed("/api/v1/files"), &|w| Some(json!({"files": [{"lfn": format!("/m/d/reg-{}", t(w)), "size": 1, "adler32": "00620062"}]})));
    let f1 = |_: Who| Some(json!({"lfns": ["/m/d/f1"]}));
    m.check(
        "files stat",
        May::Read,
        "POST",
        &fixed("/api/v1/files/stat"),
        &f1,
    );
    m.check(
        "replicas",
        May::Read,
        "POST",
        &fixed("/api/v1/files/replicas"),
        &f1,
    );
    m.check(
        "file metadata",
        May::Read,
        "POST",
        &fixed("/api/v1/files/metadata"),
        &f1,
    );
    m.check(
        "ancestors",
        May::Read,
        "POST",
        &fixed("/api/v1/files/ancestors"),
        &f1,
    );
    m.check(
        "descendants",
        May::Read,
        "POST",
        &fixed("/api/v1/files/descendants"),
        &f1,
    );
    m.check(
        "add parents",
        May::Write,
        "POST",
        &fixed("/api/v1/files/parents"),
        &|_| Some(json!({"links": [{"child": "/m/d/f2", "parents": ["/m/d/f1"]}]})),
    );
    m.check(
        "delete",
        May::Write,
        "POST",
        &fixed("/api/v1/files/delete"),
        &|w| Some(json!({"lfns": [format!("/m/d/del-{}", t(w))]})),
    );
    m.check(
        "verify",
        May::Read,
        "POST",
        &fixed("/api/v1/replicas/verify"),
        &f1,
    );
    m.check(
        "replicate",
        May::Write,
        "POST",
        &fixed("/api/v1/replicas/replicate"),
        &|_| Some(json!({"lfns": ["/m/d/f1"], "to": "se2"})),
    );
    m.check(
        "remove replica",
        May::Write,
        "POST",
        &fixed("/api/v1/replicas/remove"),
        &|w| Some(json!({"lfns": [format!("/m/d/rr-{}", t(w))], "se": "se2"})),
    );
    m.check(
        "du",
        May::Read,
        "GET",
        &fixed("/api/v1/du?path=/m/d"),
        &none,
    );
    // Metadata and schemas.
    m.check(
        "fields",
        May::Anyone,
        "GET",
        &fixed("/api/v1/metadata/fields"),
        &none,
    );
    m.check(
        "declare",
        May::Admin,
        "POST",
        &fixed("/api/v1/metadata/fields"),
        &|w| Some(json!({"name": format!("f_{}", t(w)), "type": "int"})),
    );
    m.check(
        "get metadata",
        May::Read,
        "GET",
        &fixed("/api/v1/metadata?path=/m/d/f1"),
        &none,
    );
    m.check(
        "set metadata",
        May::Write,
        "POST",
        &fixed("/api/v1/metadata/set"),
        &|_| Some(json!({"path": "/m/d/f1", "values": {"quality": "best"}})),
    );
    m.check(
        "unset metadata",
        May::Write,
        "POST",
        &fixed("/api/v1/metadata/unset"),
        &|w| Some(json!({"path": format!("/m/d/un-{}", t(w)), "fields": ["quality"]})),
    );
    m.check(
        "get schema",
        May::Anyone,
        "GET",
        &fixed("/api/v1/schemas?path=/m2"),
        &none,
    );
    m.check(
        "set schema",
        May::Admin,
        "POST",
        &fixed("/api/v1/schemas"),
        &|_| Some(json!({"path": "/m", "schema": {"type": "object"}})),
    );
    m.check(
        "remove schema",
        May::Admin,
        "DELETE",
        &fixed("/api/v1/schemas?path=/m2"),
        &none,
    );
    // Finding (filtered, so open to all: what each sees is checked in its own test).
    let q = |_: Who| Some(json!({"query": "quality = \"good\""}));
    m.check("find", May::Anyone, "POST", &fixed("/api/v1/find"), &q);
    m.check(
        "find lfns",
        May::Anyone,
        "POST",
        &fixed("/api/v1/find/lfns"),
        &q,
    );
    m.check(
        "count",
        May::Anyone,
        "POST",
        &fixed("/api/v1/find/count"),
        &q,
    );
    m.check(
        "explain",
        May::Anyone,
        "POST",
        &fixed("/api/v1/find/explain"),
        &q,
    );
    m.check(
        "search",
        May::Anyone,
        "POST",
        &fixed("/api/v1/search"),
        &|_| Some(json!({"text": "f1"})),
    );
    // Datasets: anyone makes their own; only the owner changes one.
    m.check(
        "create dataset",
        May::Anyone,
        "POST",
        &fixed("/api/v1/datasets"),
        &|w| Some(json!({"name": format!("ds-{}", t(w)), "query": "under \"/m/d\""})),
    );
    m.check(
        "list datasets",
        May::Anyone,
        "GET",
        &fixed("/api/v1/datasets"),
        &none,
    );
    m.check(
        "show dataset",
        May::Anyone,
        "GET",
        &fixed("/api/v1/datasets/ds-alice"),
        &none,
    );
    let f2 = |_: Who| Some(json!({"lfns": ["/m/d/f2"]}));
    m.check(
        "dataset add",
        May::Write,
        "POST",
        &fixed("/api/v1/datasets/ds-list/add"),
        &f2,
    );
    m.check(
        "dataset remove",
        May::Write,
        "POST",
        &fixed("/api/v1/datasets/ds-list/remove"),
        &f2,
    );
    m.check(
        "freeze",
        May::Write,
        "POST",
        &fixed("/api/v1/datasets/ds-alice/freeze"),
        &none,
    );
    m.check(
        "dataset metadata",
        May::Write,
        "POST",
        &fixed("/api/v1/datasets/ds-alice/metadata"),
        &|_| Some(json!({"metadata": {"k": "v"}})),
    );
    m.check(
        "delete dataset",
        May::Write,
        "DELETE",
        &|w| format!("/api/v1/datasets/dsdel-{}", t(w)),
        &none,
    );
    // Jobs: only the submitter (or an admin) sees and steers one; runners' calls need a runner token.
    m.check(
        "submit",
        May::Write,
        "POST",
        &fixed("/api/v1/jobs"),
        &|_| Some(spec("/m/d/out")),
    );
    m.check(
        "list jobs",
        May::Anyone,
        "GET",
        &fixed("/api/v1/jobs"),
        &none,
    );
    m.check(
        "job status",
        May::Write,
        "GET",
        &|_| format!("/api/v1/jobs/{job}"),
        &none,
    );
    m.check(
        "job info",
        May::Write,
        "GET",
        &|_| format!("/api/v1/jobs/{job}/info"),
        &none,
    );
    m.check(
        "resubmit",
        May::Write,
        "POST",
        &|_| format!("/api/v1/jobs/{job}/resubmit"),
        &|_| Some(json!({"failed_only": false})),
    );
    m.check(
        "kill",
        May::Write,
        "POST",
        &|w| format!("/api/v1/jobs/{}/kill", kill_job(w)),
        &none,
    );
    let claim = json!({"runner": "r1", "cpus": 1, "memory": 1000000, "gpus": 0, "max": 0});
    m.check(
        "claim",
        May::Admin,
        "POST",
        &fixed("/api/v1/runners/claim"),
        &|_| Some(claim.clone()),
    );
    let lease = json!({"runner": "r1", "leases": [{"job": job, "subjob": 1, "token": "x"}]});
    // A user may run subjobs of their own jobs (job-runner run), not of others'.
    m.check(
        "heartbeat",
        May::Write,
        "POST",
        &fixed("/api/v1/runners/heartbeat"),
        &|_| Some(lease.clone()),
    );
    // Storage elements and bytes.
    m.check("list SEs", May::Anyone, "GET", &fixed("/api/v1/se"), &none);
    m.check(
        "show SE",
        May::Anyone,
        "GET",
        &fixed("/api/v1/se/local"),
        &none,
    );
    m.check("add SE", May::Admin, "POST", &fixed("/api/v1/se"), &|w| Some(json!({"name": format!("se-{}", t(w)), "kind": "file", "path": s.scratch(&format!("se-{}", t(w))).display().to_string()})));
    m.check(
        "remove SE",
        May::Admin,
        "DELETE",
        &fixed("/api/v1/se/se-none"),
        &none,
    );
    m.check(
        "upload",
        May::Write,
        "PUT",
        &|w| format!("/api/v1/se/local/data/m/d/up-{}", t(w)),
        &|_| Some(json!("some bytes")),
    );
    m.check(
        "remove object",
        May::Write,
        "DELETE",
        &|w| format!("/api/v1/se/local/data/m/d/up-{}", t(w)),
        &none,
    );
    m.check(
        "download",
        May::Read,
        "GET",
        &fixed("/api/v1/se/local/data/m/d/f1"),
        &none,
    );
    m.check(
        "whoami",
        May::Anyone,
        "GET",
        &fixed("/api/v1/whoami"),
        &none,
    );

    // A runner token claims and nothing else; a user token does not claim.
    let (st, body) = call(
        &s,
        Some(&runner),
        "POST",
        "/api/v1/runners/claim",
        Some(&claim),
    );
    assert_eq!(st, 200, "{body}");
    for (method, path) in [
        ("GET", "/api/v1/namespace/list?path=/"),
        ("GET", "/api/v1/jobs"),
    ] {
        let (st, body) = call(&s, Some(&runner), method, path, None);
        assert_eq!(st, 403, "{path}: {body}");
        assert!(body.contains("is a job runner"), "{body}");
    }
    // Every write was audited, allowed or refused, with who and from where.
    let audit = s.admin(&["audit", "--since", "1h"]);
    assert!(
        audit.contains("\tcarol\t127.0.0.1\t403\tPOST /api/v1/dirs"),
        "{audit}"
    );
    assert!(
        audit.contains("\talice\t127.0.0.1\t200\tPOST /api/v1/dirs"),
        "{audit}"
    );
    assert!(audit.contains("\tanonymous\t127.0.0.1\t401\t"), "{audit}");
    let mine = s.admin(&["audit", "--since", "1h", "--user", "bob", "--json"]);
    assert!(
        mine.lines().all(|l| l.contains("\"who\":\"bob\"")) && !mine.is_empty(),
        "{mine}"
    );
}

fn queries_hide_unreadable_files(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_AUTH", "token")]);
    let tokens = user_tokens(&s);
    let token = |w: Who| tokens.iter().find(|(x, _)| *x == w).unwrap().1.clone();
    let (admin, alice, carol) = (token(Who::Admin), token(Who::Owner), token(Who::Other));
    as_user(&s, &admin, &["mkdir", "-p", "/open", "/private"]);
    as_user(&s, &admin, &["chown", "alice", "/open", "/private"]);
    as_user(&s, &alice, &["chmod", "700", "/private"]);
    as_user(&s, &alice, &["mkdir", "/private/deep"]);
    // The tag is on the private directory: its files match only by inheritance.
    as_user(&s, &alice, &["meta", "set", "/private", "campaign=c7"]);
    as_user(&s, &alice, &["meta", "set", "/open", "campaign=c7"]);
    let local = s.scratch("files");
    for n in ["a.txt", "b.txt"] {
        std::fs::write(local.join(n), n).unwrap();
    }
    as_user(
        &s,
        &alice,
        &[
            "put",
            &local.join("a.txt").display().to_string(),
            "/private/deep/secret-a.txt",
        ],
    );
    as_user(
        &s,
        &alice,
        &[
            "put",
            &local.join("b.txt").display().to_string(),
            "/open/b.txt",
        ],
    );
    // The open file was made from the private one.
    as_user(
        &s,
        &alice,
        &[
            "parents",
            "add",
            "/open/b.txt",
            "/private/deep/secret-a.txt",
        ],
    );
    for (who, tok, want) in [
        ("alice", &alice, 2),
        ("admin", &admin, 2),
        ("carol", &carol, 1),
    ] {
        for q in [
            "campaign = \"c7\"",
            "under \"/\"",
            "ancestor(campaign = \"c7\") or campaign = \"c7\"",
        ] {
            let lfns = as_user(&s, tok, &["find", "-o", "lfn", q]);
            let n = lfns.lines().count();
            let expect = if q.starts_with("ancestor") && who == "carol" {
                1
            } else {
                want
            };
            assert_eq!(n, expect, "{who} finds {q}: {lfns}");
            if who == "carol" {
                assert!(!lfns.contains("secret"), "{lfns}");
            }
            let count = as_user(&s, tok, &["find", "--count", q]);
            assert_eq!(count.trim(), expect.to_string(), "{who} counts {q}");
        }
        let hits = as_user(&s, tok, &["search", "secret"]);
        assert_eq!(
            hits.contains("secret-a.txt"),
            who != "carol",
            "{who} searches: {hits}"
        );
    }
    // Carol sees neither the file's listing nor its ancestry.
    let out = s
        .catalog_command(&["ls", "/private/deep"])
        .env("CATALOG_TOKEN", &carol)
        .output()
        .unwrap();
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("carol may not read /private/deep"),
        "{out:?}"
    );
    let anc = as_user(&s, &carol, &["ancestors", "/open/b.txt"]);
    assert!(!anc.contains("secret"), "{anc}");
    let rec = as_user(&s, &carol, &["ls", "-r", "/"]);
    assert!(!rec.contains("secret") && rec.contains("b.txt"), "{rec}");
    // chmod -R closes the open tree too: directories get the mode, files its rw bits.
    as_user(&s, &alice, &["chmod", "-R", "750", "/open"]);
    let n = as_user(&s, &carol, &["find", "--count", "campaign = \"c7\""]);
    assert_eq!(n.trim(), "0");
    let l = as_user(&s, &alice, &["ls", "-l", "/open"]);
    assert!(l.starts_with("-rw-r-----"), "{l}");
}

/// `job-runner ARGS` with `token`.
fn runner_command(s: &TestServer, token: &str, args: &[&str]) -> Command {
    let mut c = s.job_runner_command(args);
    c.env("CATALOG_TOKEN", token);
    c
}

fn job_state(s: &TestServer, token: &str, job: &str) -> Value {
    let out = runner_command(s, token, &["--json", "status", job])
        .output()
        .unwrap();
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

const COPY_JOB: &str = r#"name = "copy"
[input]
query = 'under "/a/in"'
files_per_subjob = 2
[run]
command = ["sh", "-c", "for f in \"$@\"; do cp $f $(basename $f).out; done", "sh", "{inputs}"]
[[output]]
glob = "*.out"
lfn = "OUT/{name}"
"#;

fn jobs_run_as_their_submitter(backend: Backend) {
    let s = TestServer::start_with_env(backend, &[("CATALOG_AUTH", "token")]);
    let tokens = user_tokens(&s);
    let token = |w: Who| tokens.iter().find(|(x, _)| *x == w).unwrap().1.clone();
    let (admin, alice, carol) = (token(Who::Admin), token(Who::Owner), token(Who::Other));
    let runner = s.admin(&["token", "create", "runner1", "--runner"]);
    as_user(&s, &admin, &["mkdir", "-p", "/a", "/c"]);
    as_user(&s, &admin, &["chown", "alice", "/a"]);
    as_user(&s, &admin, &["chown", "carol", "/c"]);
    as_user(&s, &alice, &["chmod", "700", "/a"]);
    let inputs = s.scratch("inputs");
    for i in 0..4 {
        std::fs::write(inputs.join(format!("in{i}.dat")), format!("{i}\n")).unwrap();
    }
    as_user(
        &s,
        &alice,
        &["put", "-r", &inputs.display().to_string(), "/a/in"],
    );
    let spec = |out: &str| {
        let path = s
            .scratch("spec")
            .join(format!("{}.toml", out.replace('/', "_")));
        std::fs::write(&path, COPY_JOB.replace("OUT", out)).unwrap();
        path.display().to_string()
    };
    // Where the submitter may not write is refused at submission, not after the work.
    let out = runner_command(&s, &alice, &["submit", &spec("/c/out")])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("alice may not write /c/out"), "{err}");
    let out = runner_command(&s, &alice, &["submit", &spec("/a/out")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let job = String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .nth(1)
        .unwrap()
        .to_owned();
    // Another user does not see the job.
    let out = runner_command(&s, &carol, &["status", &job])
        .output()
        .unwrap();
    assert!(!out.status.success(), "{out:?}");
    // A runner token claims; staging and outputs happen as alice, in her private directory.
    let mut work = s.spawn_runner_with(
        runner_command(&s, &runner, &[]),
        &["--slots", "2"],
        "runner.log",
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(90);
    let mut st = Value::Null;
    while std::time::Instant::now() < deadline {
        st = job_state(&s, &alice, &job);
        if st["job"]["state"] == "completed" || st["job"]["state"] == "failed" {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    work.kill();
    let runner_log = std::fs::read_to_string(s.dir.path().join("runner.log")).unwrap_or_default();
    assert_eq!(st["job"]["state"], "completed", "{st}\n{runner_log}");
    let listing: Value =
        serde_json::from_str(&as_user(&s, &alice, &["-o", "json", "ls", "/a/out"])).unwrap();
    let owners: Vec<&str> = listing
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["owner"].as_str().unwrap())
        .collect();
    assert_eq!(owners, vec!["alice"; 4], "{listing}");
    let anc = as_user(&s, &alice, &["ancestors", "/a/out/in0.dat.out"]);
    assert!(anc.contains("/a/in/in0.dat"), "{anc}");
    // A user runs their own job's subjobs with their own token (job-runner run).
    let out = runner_command(&s, &alice, &["run", &spec("/a/out2")])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let n = as_user(&s, &alice, &["find", "--count", "under \"/a/out2\""]);
    assert_eq!(n.trim(), "4");
    // A lease nobody holds is no credential.
    let bearer = format!("Bearer {runner}");
    let fake = format!("{job}:1:not-the-token");
    let r = s.http_with(
        "GET",
        "/api/v1/metadata/fields",
        &[("Authorization", &bearer), ("x-catalog-lease", &fake)],
        None,
    );
    assert_eq!(r.status, 401, "{}", r.body);
    assert!(
        r.body.contains("cannot act for the job's submitter"),
        "{}",
        r.body
    );
}

//! Helpers for the end-to-end tests: start the real `catalog-server` on a fresh database
//! (SQLite file, or a new PostgreSQL database), run the real `catalog` CLI against it.

pub mod pki;
pub mod postgres;
pub mod storage_servers;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

/// Generates `mod NAME { fn sqlite(); fn postgres(); }` running the body `NAME(Backend)`
/// on each database.
#[macro_export]
macro_rules! on_both_databases {
    ($($name:ident),* $(,)?) => {
        $(
            mod $name {
                #[test]
                fn sqlite() {
                    super::$name($crate::Backend::Sqlite)
                }
                #[test]
                fn postgres() {
                    super::$name($crate::Backend::Postgres)
                }
            }
        )*
    };
}

/// The directory holding the built binaries (`target/debug` beside this test executable).
pub fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("current exe");
    let dir = exe
        .parent()
        .and_then(Path::parent)
        .expect("target dir")
        .to_path_buf();
    for bin in ["catalog-server", "catalog"] {
        assert!(
            dir.join(bin).is_file(),
            "{} is missing: build the binaries before the tests (cargo build --bins; scripts/test.sh does both)",
            dir.join(bin).display()
        );
    }
    dir
}

/// A running server on its own database and data directory, stopped (and its database
/// dropped) when dropped.
pub struct TestServer {
    pub backend: Backend,
    pub url: String,
    pub dir: tempfile::TempDir,
    child: Child,
    pg_database: Option<postgres::Database>,
    /// For an https server: the CA file its certificate is checked with.
    pub tls_ca: Option<PathBuf>,
}

impl TestServer {
    pub fn start(backend: Backend) -> TestServer {
        Self::start_with_env(backend, &[])
    }

    /// Starts a server with extra environment (e.g. `CATALOG_LEASE_SECONDS`).
    pub fn start_with_env(backend: Backend, env: &[(&str, &str)]) -> TestServer {
        let pg_database = match backend {
            Backend::Sqlite => None,
            Backend::Postgres => Some(postgres::Database::create()),
        };
        Self::launch(backend, env, pg_database)
    }

    /// Starts a server on PostgreSQL database `db` (for example on a [`postgres::Cluster`]
    /// of the test's own).
    pub fn start_on(db: postgres::Database) -> TestServer {
        Self::launch(Backend::Postgres, &[], Some(db))
    }

    fn launch(
        backend: Backend,
        env: &[(&str, &str)],
        pg_database: Option<postgres::Database>,
    ) -> TestServer {
        let dir = tempfile::tempdir().expect("tempdir");
        let env: Vec<(String, String)> = env
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        std::fs::write(
            dir.path().join("server.env"),
            serde_json::to_string(&env).expect("env"),
        )
        .expect("env file");
        let (child, url) = spawn_server(
            dir.path(),
            pg_database.as_ref().map(|d| d.url.as_str()),
            "127.0.0.1:0",
        );
        TestServer {
            backend,
            url,
            dir,
            child,
            pg_database,
            tls_ca: None,
        }
    }

    /// Starts a server over TLS with `auth` (token, x509 or token,x509), its certificate
    /// and CA directory from `pki`.
    pub fn start_secure(backend: Backend, pki: &pki::Pki, auth: &str) -> TestServer {
        let cert = pki.server_cert.display().to_string();
        let key = pki.server_key.display().to_string();
        let ca = pki.ca_dir.display().to_string();
        let mut s = Self::start_with_env(
            backend,
            &[
                ("CATALOG_AUTH", auth),
                ("CATALOG_TLS_CERT", &cert),
                ("CATALOG_TLS_KEY", &key),
                ("CATALOG_CA_DIR", &ca),
            ],
        );
        let ca_file = pki.path("ca.pem");
        std::fs::write(&ca_file, pki.ca.cert.to_pem().expect("pem")).expect("ca file");
        s.tls_ca = Some(ca_file);
        s
    }

    /// Runs `catalog-server admin ARGS...` on this server's database; its stdout.
    pub fn admin(&self, args: &[&str]) -> String {
        let mut all = vec!["admin"];
        all.extend_from_slice(args);
        let out = self.server_command(&all);
        assert!(
            out.status.success(),
            "catalog-server admin {args:?} failed:\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf-8")
            .trim()
            .to_owned()
    }

    /// The text values of a one-column query, run on the server's database directly.
    pub fn sql_strings(&self, sql: &str) -> Vec<String> {
        use diesel::{Connection, QueryableByName, RunQueryDsl};
        #[derive(QueryableByName)]
        struct Row {
            #[diesel(sql_type = diesel::sql_types::Text)]
            v: String,
        }
        let q = diesel::sql_query(sql);
        let rows: Vec<Row> = match &self.pg_database {
            Some(db) => {
                let mut c = diesel::PgConnection::establish(&db.url).expect("connect");
                q.load(&mut c).expect("query")
            }
            None => {
                let path = self.dir.path().join("data").join("catalog.db");
                let mut c =
                    diesel::SqliteConnection::establish(&path.display().to_string()).expect("open");
                q.load(&mut c).expect("query")
            }
        };
        rows.into_iter().map(|r| r.v).collect()
    }

    /// The options that point `catalog-server` at this server's data and database.
    fn location_args(&self) -> Vec<String> {
        let mut args = vec![
            "--data-dir".to_owned(),
            self.dir.path().join("data").display().to_string(),
        ];
        if let Some(db) = &self.pg_database {
            args.extend(["--database-url".to_owned(), db.url.clone()]);
        }
        args
    }

    /// Stops the server (SIGTERM, as an operator would) and waits for it to exit.
    pub fn stop(&mut self) {
        if let Ok(pid) = i32::try_from(self.child.id()) {
            use nix::sys::signal::{kill, Signal};
            let _ = kill(nix::unistd::Pid::from_raw(pid), Signal::SIGTERM);
        }
        let _ = self.child.wait();
    }

    /// Kills the server at once (SIGKILL), as a crash or a power cut would, and waits for it.
    pub fn kill_server(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }

    /// Starts the server again on the same data, database and address (after
    /// [`TestServer::stop`] or [`TestServer::kill_server`]), as an operator restarting it would,
    /// so clients that were talking to it find it again.
    pub fn restart(&mut self) {
        let address = self
            .url
            .strip_prefix("http://")
            .or_else(|| self.url.strip_prefix("https://"))
            .unwrap_or(&self.url)
            .to_owned();
        let (child, url) = spawn_server(
            self.dir.path(),
            self.pg_database.as_ref().map(|d| d.url.as_str()),
            &address,
        );
        self.child = child;
        self.url = url;
    }

    /// Runs `catalog-server ARGS...` on this server's data and database.
    pub fn server_command(&self, args: &[&str]) -> Output {
        Command::new(bin_dir().join("catalog-server"))
            .args(args)
            .args(self.location_args())
            .env_remove("CATALOG_CONFIG")
            .env_remove("CATALOG_DATABASE_URL")
            .output()
            .expect("run catalog-server")
    }

    /// The storage directory of the default `local` storage element.
    pub fn local_se_dir(&self) -> PathBuf {
        self.dir.path().join("data").join("storage").join("local")
    }

    /// A scratch directory for local files.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join("scratch").join(name);
        std::fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    /// The `catalog` CLI set up against this server, to spawn.
    pub fn catalog_command(&self, args: &[&str]) -> Command {
        self.client_command("catalog", args)
    }

    /// `job-runner ARGS...` set up against this server, to spawn.
    pub fn job_runner_command(&self, args: &[&str]) -> Command {
        self.client_command("job-runner", args)
    }

    /// A client binary run in this server's directory, pointed at it, with only the
    /// credentials a test gives it.
    fn client_command(&self, bin: &str, args: &[&str]) -> Command {
        let mut cmd = Command::new(bin_dir().join(bin));
        cmd.args(args)
            .env("CATALOG_URL", &self.url)
            .current_dir(self.dir.path())
            .stdin(Stdio::null());
        // Only the credentials a test gives: none from the machine running the tests.
        for var in [
            "CATALOG_TOKEN",
            "X509_USER_PROXY",
            "X509_USER_CERT",
            "X509_USER_KEY",
            "X509_CERT_DIR",
        ] {
            cmd.env_remove(var);
        }
        cmd.env("XDG_CONFIG_HOME", self.dir.path().join("config"));
        if let Some(ca) = &self.tls_ca {
            cmd.env(
                "X509_CERT_DIR",
                ca.parent().expect("ca dir").join("certificates"),
            );
        }
        cmd
    }

    /// Runs the `catalog` CLI against this server.
    pub fn catalog(&self, args: &[&str]) -> Output {
        self.catalog_command(args).output().expect("run catalog")
    }

    /// Runs `job-runner ARGS...` against this server, in its directory.
    pub fn job_runner(&self, args: &[&str]) -> Output {
        self.job_runner_command(args)
            .output()
            .expect("run job-runner")
    }

    /// Starts a `job-runner work` daemon against this server; its log goes to `log`. It is
    /// killed when the returned guard is dropped (also when a test fails).
    pub fn spawn_runner(&self, args: &[&str], log: &str) -> Runner {
        self.spawn_runner_with(self.job_runner_command(&[]), args, log)
    }

    /// [`TestServer::spawn_runner`] from a command set up by the caller (e.g. its token).
    pub fn spawn_runner_with(&self, mut cmd: Command, args: &[&str], log: &str) -> Runner {
        let log = std::fs::File::create(self.dir.path().join(log)).expect("runner log");
        cmd.arg("work")
            .args(args)
            .stdout(log.try_clone().expect("log"))
            .stderr(log)
            .spawn()
            .map(Runner)
            .expect("start job-runner work")
    }

    /// Runs the CLI and returns its stdout, failing the test if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.catalog(args);
        assert!(
            out.status.success(),
            "catalog {args:?} failed ({}):\n{}",
            out.status,
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).expect("utf-8 stdout")
    }

    /// Runs the CLI and returns its parsed JSON output (`--output json`).
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        let mut all = vec!["--output", "json"];
        all.extend_from_slice(args);
        let out = self.ok(&all);
        serde_json::from_str(&out)
            .unwrap_or_else(|e| panic!("catalog {args:?} printed no JSON ({e}):\n{out}"))
    }

    /// Runs the CLI expecting failure; returns stderr.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.catalog(args);
        let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
        assert!(
            !out.status.success(),
            "catalog {args:?} should have failed; stdout:\n{}",
            String::from_utf8_lossy(&out.stdout)
        );
        assert!(
            !stderr.contains("panicked"),
            "catalog {args:?} panicked:\n{stderr}"
        );
        stderr
    }

    /// One HTTP request to the server; returns the status and the body.
    pub fn http(&self, method: &str, path: &str, body: Option<&[u8]>) -> (u16, String) {
        let r = self.http_with(method, path, &[], body);
        (r.status, r.body)
    }

    /// One HTTP request with extra header lines; the status, the response's headers and body.
    pub fn http_with(
        &self,
        method: &str,
        path: &str,
        headers: &[(&str, &str)],
        body: Option<&[u8]>,
    ) -> HttpAnswer {
        let addr = self
            .url
            .trim_start_matches("http://")
            .trim_start_matches("https://");
        let tcp = TcpStream::connect(addr).expect("connect");
        tcp.set_read_timeout(Some(Duration::from_secs(60)))
            .expect("timeout");
        let mut stream: Box<dyn ReadWrite> = match &self.tls_ca {
            None => Box::new(tcp),
            Some(ca) => {
                let mut b =
                    openssl::ssl::SslConnector::builder(openssl::ssl::SslMethod::tls_client())
                        .expect("tls");
                b.set_ca_file(ca).expect("ca file");
                let host = addr.rsplit_once(':').map_or(addr, |(h, _)| h);
                Box::new(b.build().connect(host, tcp).expect("TLS handshake"))
            }
        };
        let body = body.unwrap_or_default();
        let extra: String = headers
            .iter()
            .map(|(k, v)| format!("{k}: {v}\r\n"))
            .collect();
        let head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{extra}Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        stream.write_all(head.as_bytes()).expect("write head");
        stream.write_all(body).expect("write body");
        let mut raw = Vec::new();
        stream.read_to_end(&mut raw).expect("read response");
        let text = String::from_utf8_lossy(&raw).into_owned();
        let status: u16 = text
            .split_whitespace()
            .nth(1)
            .and_then(|s| s.parse().ok())
            .expect("status line");
        let (head, body) = text
            .split_once("\r\n\r\n")
            .map(|(h, b)| (h.to_owned(), b.to_owned()))
            .unwrap_or_default();
        let body = if text
            .to_ascii_lowercase()
            .contains("transfer-encoding: chunked")
        {
            dechunk(&body)
        } else {
            body
        };
        HttpAnswer { status, head, body }
    }

    /// POSTs JSON and parses the JSON answer.
    pub fn post_json(&self, path: &str, body: &serde_json::Value) -> (u16, serde_json::Value) {
        let (status, text) = self.http("POST", path, Some(body.to_string().as_bytes()));
        (
            status,
            serde_json::from_str(&text)
                .unwrap_or_else(|e| panic!("no JSON from {path} ({e}): {text}")),
        )
    }

    /// Everything the catalogue holds, as one comparable value: the namespace with every
    /// attribute, declared fields, and each file's metadata, replicas and ancestors.
    pub fn snapshot(&self) -> serde_json::Value {
        let entries = self.json(&["ls", "-r", "/"]);
        let lfns: Vec<String> = entries
            .as_array()
            .expect("listing")
            .iter()
            .filter(|e| e["kind"] == "file")
            .map(|e| e["lfn"].as_str().expect("lfn").to_owned())
            .collect();
        let fields = self.json(&["meta", "fields"]);
        let ses = self.json(&["se", "ls"]);
        let mut per_file = serde_json::Value::Null;
        if !lfns.is_empty() {
            let body = serde_json::json!({ "lfns": lfns });
            let (_, meta) = self.post_json("/api/v1/files/metadata", &body);
            let (_, reps) = self.post_json("/api/v1/files/replicas", &body);
            let (_, anc) = self.post_json(
                "/api/v1/files/ancestors",
                &serde_json::json!({ "lfns": lfns, "depth": 100 }),
            );
            per_file = serde_json::json!({ "metadata": meta, "replicas": reps, "ancestors": anc });
        }
        serde_json::json!({ "entries": entries, "fields": fields, "ses": ses, "files": per_file })
    }

    /// `catalog du PATH`: (files, bytes, [(se, replicas, bytes)]).
    pub fn du(&self, path: &str) -> (i64, i64, Vec<(String, i64, i64)>) {
        let d = self.json(&["du", path]);
        let per = d["storage"]
            .as_array()
            .expect("storage")
            .iter()
            .map(|x| {
                (
                    x["se"].as_str().expect("se").to_owned(),
                    x["replicas"].as_i64().expect("n"),
                    x["bytes"].as_i64().expect("bytes"),
                )
            })
            .collect();
        (
            d["files"].as_i64().expect("files"),
            d["bytes"].as_i64().expect("bytes"),
            per,
        )
    }

    /// Waits until the server answers /healthz (used after restarts).
    pub fn wait_healthy(&self, deadline: Duration) {
        let start = Instant::now();
        while start.elapsed() < deadline {
            if let Ok((200, _)) = std::panic::catch_unwind(|| self.http("GET", "/healthz", None)) {
                return;
            }
            std::thread::sleep(Duration::from_millis(100));
        }
        panic!("server not healthy after {deadline:?}");
    }
}

/// An HTTP answer: status, the status line and headers as sent, and the body.
pub struct HttpAnswer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

impl HttpAnswer {
    /// The value of header `name` (case-insensitive), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|l| {
            let (k, v) = l.split_once(':')?;
            k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
        })
    }
}

/// A `job-runner work` process, killed (SIGKILL) when dropped.
pub struct Runner(pub Child);

impl Runner {
    /// Kills the runner at once (SIGKILL), as a crash would.
    pub fn kill(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Drop for Runner {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Starts `catalog-server` on `dir`/data (and PostgreSQL database `pg`, if any), on a free
/// port; returns the process and its URL.
fn spawn_server(dir: &Path, pg: Option<&str>, bind: &str) -> (Child, String) {
    let mut cmd = Command::new(bin_dir().join("catalog-server"));
    let env: Vec<(String, String)> = std::fs::read_to_string(dir.join("server.env"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default();
    cmd.envs(env);
    cmd.arg("--data-dir")
        .arg(dir.join("data"))
        .arg("--bind")
        .arg(bind);
    if let Some(url) = pg {
        cmd.arg("--database-url").arg(url);
    }
    for var in [
        "CATALOG_CONFIG",
        "CATALOG_DATABASE_URL",
        "CATALOG_BIND",
        "CATALOG_DATA_DIR",
    ] {
        cmd.env_remove(var);
    }
    let log = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("server.log"))
        .expect("log file");
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .expect("start catalog-server");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("catalog-server listening on ") {
                let _ = tx.send(url.to_owned());
            }
        }
    });
    match rx.recv_timeout(Duration::from_secs(60)) {
        Ok(url) => (child, url),
        Err(_) => {
            let _ = child.kill();
            let log = std::fs::read_to_string(dir.join("server.log")).unwrap_or_default();
            panic!("catalog-server did not start within 60 s; its log:\n{log}");
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        if std::thread::panicking() {
            let log =
                std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default();
            let tail: Vec<&str> = log
                .lines()
                .rev()
                .take(40)
                .collect::<Vec<_>>()
                .into_iter()
                .rev()
                .collect();
            eprintln!(
                "--- last lines of the server log ({:?}) ---\n{}",
                self.backend,
                tail.join("\n")
            );
        }
        self.pg_database.take();
    }
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, tail)) = rest.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || tail.len() < n {
            break;
        }
        out.push_str(&tail[..n]);
        rest = tail[n..].trim_start_matches("\r\n");
    }
    out
}

/// adler32 of bytes as the catalogue stores it.
pub fn adler32(bytes: &[u8]) -> String {
    let mut a = adler2::Adler32::new();
    a.write_slice(bytes);
    format!("{:08x}", a.checksum())
}

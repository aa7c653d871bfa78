//! A PostgreSQL database per test: on the server that answers at `CATALOG_TEST_PG_URL`
//! (default: the machine's server at 127.0.0.1:5432), or else on a throwaway server started
//! once per test run from the installed PostgreSQL binaries. Never a silent skip.

use diesel::connection::SimpleConnection;
use diesel::{Connection, PgConnection};
use std::path::PathBuf;
use std::process::Command;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

const DEFAULT_ADMIN_URL: &str = "postgres://postgres@127.0.0.1:5432/postgres";

/// The URL of a database the tests may create databases from.
fn admin_url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url =
            std::env::var("CATALOG_TEST_PG_URL").unwrap_or_else(|_| DEFAULT_ADMIN_URL.to_owned());
        match PgConnection::establish(&url) {
            Ok(_) => url,
            Err(e) => throwaway_server(&url, &e.to_string()),
        }
    })
}

fn find_initdb() -> Option<PathBuf> {
    if let Ok(out) = Command::new("sh")
        .args(["-c", "command -v initdb"])
        .output()
    {
        let p = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if !p.is_empty() {
            return Some(PathBuf::from(p));
        }
    }
    let mut found: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin").join("initdb"))
        .filter(|p| p.is_file())
        .collect();
    found.sort();
    found.pop()
}

/// Starts a private PostgreSQL server that stops when this test process ends.
fn throwaway_server(tried: &str, why: &str) -> String {
    let cluster = Cluster::init().unwrap_or_else(|| {
        panic!(
            "PostgreSQL tests need a PostgreSQL server: none answers at {tried} ({why}), and no PostgreSQL \
             binaries (initdb) are installed to start a throwaway one. Install them (apt-get install postgresql) \
             or point CATALOG_TEST_PG_URL at a server."
        )
    });
    cluster.start();
    let url = cluster.url();
    eprintln!("started a throwaway PostgreSQL at {url} (none answered at {tried})");
    std::mem::forget(cluster);
    url
}

/// A PostgreSQL server of a test's own, from the installed binaries, in a temporary
/// directory: for the throwaway server, and for tests that stop and start the database
/// under a running catalogue. Its server stops when the test process ends.
pub struct Cluster {
    bin: PathBuf,
    dir: PathBuf,
    port: u16,
    as_root: bool,
}

impl Cluster {
    /// `initdb` of a new cluster; `None` when no PostgreSQL binaries are installed.
    pub fn init() -> Option<Cluster> {
        static N: AtomicUsize = AtomicUsize::new(0);
        let bin = find_initdb()?.parent().expect("bin dir").to_path_buf();
        let dir = std::env::temp_dir().join(format!(
            "catalog-pgtemp-{}-{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst)
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("pg temp dir");
        let port = {
            let l = std::net::TcpListener::bind("127.0.0.1:0").expect("free port");
            l.local_addr().expect("addr").port()
        };
        // PostgreSQL refuses to run as root: run it as the `postgres` user then.
        let as_root = Command::new("id")
            .arg("-u")
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim() == "0")
            .unwrap_or(false);
        let c = Cluster {
            bin,
            dir,
            port,
            as_root,
        };
        c.run("initdb", "-U postgres --auth=trust -E UTF8", "initdb.log");
        Some(c)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// The URL of its `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    fn shell(&self, cmd: String) -> Command {
        let mut c = Command::new("sh");
        if self.as_root {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &self.dir.display().to_string()])
                .status();
            c.args(["-c", &format!("runuser -u postgres -- sh -c '{cmd}'")]);
        } else {
            c.args(["-c", &cmd]);
        }
        c
    }

    /// Starts the server and waits until it accepts connections.
    pub fn start(&self) {
        // The server is stopped by a watcher when this test process is gone (checked through
        // /proc: `kill -0` is refused across users when the tests run as root).
        let me = std::process::id();
        let script = format!(
            "{bin}/postgres -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off >>{dir}/server.log 2>&1 & pg=$!; \
             while [ -d /proc/{me} ] && [ -d /proc/$pg ]; do sleep 1; done; kill $pg 2>/dev/null",
            bin = self.bin.display(),
            data = self.data().display(),
            port = self.port,
            dir = self.dir.display()
        );
        // Not waited for: the watcher outlives this call and ends with the test process.
        #[allow(clippy::zombie_processes)]
        self.shell(script)
            .spawn()
            .expect("start throwaway postgres");
        let start = Instant::now();
        while PgConnection::establish(&self.url()).is_err() {
            assert!(
                start.elapsed() < Duration::from_secs(60),
                "PostgreSQL did not start; see {}/server.log",
                self.dir.display()
            );
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// Stops the server as an operator restarting it would (`pg_ctl stop -m fast`: open
    /// connections are cut, transactions under way rolled back) and waits until it is down.
    pub fn stop(&self) {
        self.run("pg_ctl", "stop -m fast -w", "server.log");
    }

    /// Runs PostgreSQL's `tool` on the data directory, its output appended to `log`.
    fn run(&self, tool: &str, args: &str, log: &str) {
        let status = self
            .shell(format!(
                "{bin}/{tool} -D {data} {args} >>{dir}/{log} 2>&1",
                bin = self.bin.display(),
                data = self.data().display(),
                dir = self.dir.display()
            ))
            .status()
            .unwrap_or_else(|e| panic!("cannot run {tool}: {e}"));
        assert!(
            status.success(),
            "{tool} {args} failed; see {}/{log}",
            self.dir.display()
        );
    }
}

/// A fresh database, dropped when this is dropped.
pub struct Database {
    pub name: String,
    pub url: String,
    admin: String,
}

impl Database {
    /// On the tests' PostgreSQL server.
    pub fn create() -> Database {
        Self::create_on(admin_url())
    }

    /// On the server whose database `admin` (a URL) it may create databases from.
    pub fn create_on(admin: &str) -> Database {
        static N: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "catalog_test_{}_{}_{}",
            std::process::id(),
            N.fetch_add(1, Ordering::SeqCst),
            nanos()
        );
        let mut conn = PgConnection::establish(admin).expect("admin connection");
        // The name is made here from digits, never from input.
        conn.batch_execute(&format!("CREATE DATABASE {name}"))
            .expect("create test database");
        let base = admin.rsplit_once('/').map(|(b, _)| b).unwrap_or(admin);
        Database {
            url: format!("{base}/{name}"),
            name,
            admin: admin.to_owned(),
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(&self.admin) {
            let _ = conn.batch_execute(&format!(
                "DROP DATABASE IF EXISTS {} WITH (FORCE)",
                self.name
            ));
        }
    }
}

fn nanos() -> u32 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0)
}

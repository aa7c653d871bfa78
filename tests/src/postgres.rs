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
    let initdb = find_initdb().unwrap_or_else(|| {
        panic!(
            "PostgreSQL tests need a PostgreSQL server: none answers at {tried} ({why}), and no PostgreSQL \
             binaries (initdb) are installed to start a throwaway one. Install them (apt-get install postgresql) \
             or point CATALOG_TEST_PG_URL at a server."
        )
    });
    let bin = initdb.parent().expect("bin dir").to_path_buf();
    let dir = std::env::temp_dir().join(format!("catalog-pgtemp-{}", std::process::id()));
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
    let wrap = |cmd: String| -> Command {
        let mut c = Command::new("sh");
        if as_root {
            let _ = Command::new("chown")
                .args(["-R", "postgres", &dir.display().to_string()])
                .status();
            c.args(["-c", &format!("runuser -u postgres -- sh -c '{cmd}'")]);
        } else {
            c.args(["-c", &cmd]);
        }
        c
    };
    let data = dir.join("data");
    let status = wrap(format!(
        "{}/initdb -D {} -U postgres --auth=trust -E UTF8 >{}/initdb.log 2>&1",
        bin.display(),
        data.display(),
        dir.display()
    ))
    .status()
    .expect("run initdb");
    assert!(
        status.success(),
        "initdb failed; see {}/initdb.log",
        dir.display()
    );
    // The server is stopped by a watcher when this test process is gone (checked through /proc:
    // `kill -0` is refused across users when the tests run as root).
    let me = std::process::id();
    let script = format!(
        "{bin}/postgres -D {data} -p {port} -k {dir} -c listen_addresses=127.0.0.1 -c fsync=off >{dir}/server.log 2>&1 & pg=$!; \
         while [ -d /proc/{me} ]; do sleep 1; done; kill $pg",
        bin = bin.display(),
        data = data.display(),
        dir = dir.display()
    );
    // Not waited for: the watcher outlives this call and ends with the test process.
    #[allow(clippy::zombie_processes)]
    wrap(script).spawn().expect("start throwaway postgres");
    let url = format!("postgres://postgres@127.0.0.1:{port}/postgres");
    let start = Instant::now();
    while PgConnection::establish(&url).is_err() {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "throwaway PostgreSQL did not start; see {}/server.log",
            dir.display()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    eprintln!("started a throwaway PostgreSQL at {url} (none answered at {tried})");
    url
}

/// A fresh database, dropped when this is dropped.
pub struct Database {
    pub name: String,
    pub url: String,
}

impl Database {
    pub fn create() -> Database {
        static N: AtomicUsize = AtomicUsize::new(0);
        let admin = admin_url();
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
        }
    }
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Ok(mut conn) = PgConnection::establish(admin_url()) {
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

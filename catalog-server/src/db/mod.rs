//! One diesel code base for SQLite and PostgreSQL: the connection enum, pools, migrations.

pub mod schema;
mod threads;

use diesel::connection::SimpleConnection;
use diesel::prelude::*;
use diesel::r2d2::R2D2Connection;
use diesel_migrations::{embed_migrations, EmbeddedMigrations, MigrationHarness};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use crate::error::Error;

#[derive(diesel::MultiConnection)]
pub enum DbConn {
    Pg(diesel::PgConnection),
    Sqlite(diesel::SqliteConnection),
}

const SQLITE_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/sqlite");
const PG_MIGRATIONS: EmbeddedMigrations = embed_migrations!("../migrations/postgres");

/// Which database a URL names: `postgres://` or `postgresql://` is PostgreSQL; a path or a
/// `sqlite://` URL is SQLite.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DbUrl {
    Postgres(String),
    Sqlite(String),
}

impl DbUrl {
    pub fn parse(url: &str) -> DbUrl {
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            DbUrl::Postgres(url.to_owned())
        } else {
            DbUrl::Sqlite(url.strip_prefix("sqlite://").unwrap_or(url).to_owned())
        }
    }

    pub fn backend_name(&self) -> &'static str {
        match self {
            DbUrl::Postgres(_) => "postgres",
            DbUrl::Sqlite(_) => "sqlite",
        }
    }

    /// The URL with any password replaced, for logs.
    pub fn redacted(&self) -> String {
        match self {
            DbUrl::Sqlite(p) => format!("sqlite://{p}"),
            DbUrl::Postgres(u) => match (u.find("://"), u.rfind('@')) {
                (Some(s), Some(at)) if u[s + 3..at].contains(':') => {
                    let user_end = s + 3 + u[s + 3..at].find(':').unwrap_or(0);
                    format!("{}:***{}", &u[..user_end], &u[at..])
                }
                _ => u.clone(),
            },
        }
    }
}

/// Opens connections of the kind the URL names (never by trying each backend in turn:
/// SQLite would accept a PostgreSQL URL as a file name).
#[derive(Debug, Clone)]
pub struct ConnManager {
    url: DbUrl,
    /// SQLite's page cache (in KiB) and temporary storage per connection. The writer gets a
    /// large cache (bulk registration touches every index) and temporary tables in memory
    /// (bounded by a batch); readers a smaller cache each, as eight of them share the
    /// operating system's file cache, and temporary storage on disk, as a query's sort can
    /// hold half a million rows (measured: 9 x 64 MiB with in-memory temporary storage put
    /// the server at 748 MiB during a 1,000,000-file run).
    cache_pragma: &'static str,
}

impl r2d2::ManageConnection for ConnManager {
    type Connection = DbConn;
    type Error = diesel::r2d2::Error;

    fn connect(&self) -> Result<DbConn, Self::Error> {
        let conn = match &self.url {
            DbUrl::Postgres(u) => DbConn::Pg(
                diesel::PgConnection::establish(u).map_err(diesel::r2d2::Error::ConnectionError)?,
            ),
            DbUrl::Sqlite(p) => {
                let mut c = diesel::SqliteConnection::establish(p)
                    .map_err(diesel::r2d2::Error::ConnectionError)?;
                c.batch_execute(
                    "PRAGMA foreign_keys = ON; PRAGMA busy_timeout = 10000; PRAGMA journal_mode = WAL; \
                     PRAGMA synchronous = NORMAL;",
                )
                .map_err(diesel::r2d2::Error::QueryError)?;
                c.batch_execute(self.cache_pragma)
                    .map_err(diesel::r2d2::Error::QueryError)?;
                DbConn::Sqlite(c)
            }
        };
        Ok(conn)
    }

    fn is_valid(&self, conn: &mut DbConn) -> Result<(), Self::Error> {
        conn.ping().map_err(diesel::r2d2::Error::QueryError)
    }

    fn has_broken(&self, conn: &mut DbConn) -> bool {
        conn.is_broken()
    }
}

pub type Pool = r2d2::Pool<ConnManager>;

/// A connection pool and the gate in front of it. A request takes one of the gate's permits
/// (as many as the pool has connections) before it takes one of the gate's threads, so
/// requests waiting for a connection wait as tasks, not as threads. Without the gate, every
/// request of a burst took a thread to wait on the pool in: under the soak test's 1,000
/// requests/s on PostgreSQL, hiccups of 100 ms set off hundreds of threads at a time, and the
/// server's memory swung between 48 and 75 MiB with the threads' stacks.
#[derive(Clone)]
struct Gated {
    pool: Pool,
    gate: Arc<tokio::sync::Semaphore>,
    /// As many threads as the gate has permits.
    threads: threads::Threads,
    /// Requests waiting at the gate now.
    waiting: Arc<AtomicUsize>,
    /// How long a request waits for a connection before it is answered 503.
    wait: Duration,
}

impl Gated {
    fn new(pool: Pool, wait: Duration, name: &str) -> Result<Gated, Error> {
        Ok(Gated {
            gate: Arc::new(tokio::sync::Semaphore::new(pool.max_size() as usize)),
            threads: threads::Threads::start(pool.max_size(), name)?,
            pool,
            waiting: Arc::default(),
            wait,
        })
    }

    /// Runs `f` with a connection on one of the gate's threads, once a permit is free.
    async fn run<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<R, Error> + Send + 'static,
    {
        self.waiting.fetch_add(1, Ordering::Relaxed);
        let permit = tokio::time::timeout(self.wait, self.gate.clone().acquire_owned()).await;
        self.waiting.fetch_sub(1, Ordering::Relaxed);
        let permit = permit
            .map_err(|_| {
                Error::Unavailable(format!(
                    "the database is busy: no connection came free within {} s; try again shortly",
                    self.wait.as_secs()
                ))
            })?
            .map_err(|_| Error::Internal("the database gate is closed".to_owned()))?;
        let pool = self.pool.clone();
        self.threads
            .run(move || {
                let _permit = permit;
                let mut conn = pool.get()?;
                f(&mut conn)
            })
            .await?
    }

    /// Open and idle connections, the pool's size, and the requests waiting at the gate.
    fn state(&self) -> PoolState {
        let s = self.pool.state();
        PoolState {
            open: s.connections,
            idle: s.idle_connections,
            max: self.pool.max_size(),
            waiting: self.waiting.load(Ordering::Relaxed),
        }
    }
}

/// A pool's state for `/metrics`.
pub struct PoolState {
    pub open: u32,
    pub idle: u32,
    pub max: u32,
    /// Requests waiting for a connection.
    pub waiting: usize,
}

/// The database: a pool for reads and one for writes. On SQLite the write pool has one
/// connection, so writers queue in the server instead of failing on a busy database.
#[derive(Clone)]
pub struct Db {
    pub url: DbUrl,
    read: Gated,
    write: Gated,
    stats: Arc<Stats>,
}

/// Rows added by bulk writes, to keep PostgreSQL's planner statistics fresh.
#[derive(Default)]
struct Stats {
    /// Rows added since the last ANALYZE.
    added: AtomicU64,
    /// Rows added in all, as of the last ANALYZE.
    known: AtomicU64,
    running: AtomicBool,
}

impl Db {
    /// Connects, and applies pending migrations.
    pub fn open(url: &DbUrl) -> Result<Db, Error> {
        // How long a request waits for a connection before it is answered 503: on SQLite,
        // writers queue for the one write connection behind bulk registrations; on
        // PostgreSQL a longer wait means the database is away (or overloaded), and the
        // client is better told so at once than left hanging.
        let wait = Duration::from_secs(match url {
            DbUrl::Sqlite(_) => 10,
            DbUrl::Postgres(_) => 3,
        });
        let build = |size: u32, cache_pragma: &'static str| {
            r2d2::Pool::builder()
                .max_size(size)
                .min_idle(Some(1))
                .connection_timeout(wait)
                .build(ConnManager {
                    url: url.clone(),
                    cache_pragma,
                })
        };
        let (read, write) = match url {
            DbUrl::Sqlite(path) => {
                if let Some(dir) = std::path::Path::new(path)
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                {
                    std::fs::create_dir_all(dir).map_err(|e| {
                        Error::Internal(format!("cannot create {}: {e}", dir.display()))
                    })?;
                }
                let write = build(1, "PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY;")?;
                // Migrate before the readers open, so they see the schema.
                run_migrations(&mut *write.get()?)?;
                let read = build(8, "PRAGMA cache_size = -16384")?;
                (
                    Gated::new(read, wait, "db-read")?,
                    Gated::new(write, wait, "db-write")?,
                )
            }
            // One pool behind one gate, for reads and writes.
            DbUrl::Postgres(_) => {
                let pool = build(16, "")?;
                run_migrations(&mut *pool.get()?)?;
                let gated = Gated::new(pool, wait, "db")?;
                (gated.clone(), gated)
            }
        };
        Ok(Db {
            url: url.clone(),
            read,
            write,
            stats: Arc::default(),
        })
    }

    /// A bulk write added `rows` rows. On PostgreSQL, once the rows added since the last
    /// refresh pass a fifth of all rows added (and at least 1,000), `VACUUM (ANALYZE)` runs
    /// in the background: until autovacuum gets to it, the planner would otherwise plan a
    /// freshly loaded table as if it were empty (measured: the ancestors of 1,000 files went
    /// from 125 ms to 16 ms after ANALYZE at 10,000 files), and without the visibility map
    /// VACUUM sets, the metadata indexes cannot answer index-only (measured at 2,000,000
    /// files: `int > 987 and str = "tag3"` 950-1,260 ms after ANALYZE, 67-99 ms after
    /// VACUUM (ANALYZE), which took 2.6 s).
    ///
    /// Only bulk writes (1,000 rows or more in one call) count: a trickle of small writes is
    /// autovacuum's to follow. Counted, the soak test's single-file registrations set off a
    /// VACUUM of the whole database again and again under full load.
    pub fn grew(&self, rows: u64) {
        if !matches!(self.url, DbUrl::Postgres(_)) || rows < 1000 {
            return;
        }
        let added = self.stats.added.fetch_add(rows, Ordering::Relaxed) + rows;
        let known = self.stats.known.load(Ordering::Relaxed);
        if added < (known / 5).max(1000) || self.stats.running.swap(true, Ordering::AcqRel) {
            return;
        }
        self.stats.added.store(0, Ordering::Relaxed);
        self.stats.known.store(known + added, Ordering::Relaxed);
        let (pool, stats) = (self.read.clone(), self.stats.clone());
        actix_web::rt::spawn(async move {
            let done = pool
                .run(|c| {
                    if let DbConn::Pg(c) = c {
                        c.batch_execute("VACUUM (ANALYZE)")?;
                    }
                    Ok(())
                })
                .await;
            if let Err(e) = done {
                tracing::warn!(error = %e, "VACUUM (ANALYZE) after a bulk write failed");
            }
            stats.running.store(false, Ordering::Release);
        });
    }

    /// Each connection pool by name, with its state.
    pub fn pools(&self) -> Vec<(&'static str, PoolState)> {
        match self.url {
            DbUrl::Sqlite(_) => vec![("read", self.read.state()), ("write", self.write.state())],
            DbUrl::Postgres(_) => vec![("shared", self.read.state())],
        }
    }

    /// Runs `f` with a read connection on the blocking thread pool.
    pub async fn read<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<R, Error> + Send + 'static,
    {
        self.read.run(f).await
    }

    /// Runs `f` inside one transaction on a write connection, on the blocking thread pool.
    pub async fn write<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce(&mut DbConn) -> Result<R, Error> + Send + 'static,
    {
        self.write.run(move |conn| conn.transaction(f)).await
    }

    /// A read connection for tasks outside a request.
    pub fn read_conn(&self) -> Result<r2d2::PooledConnection<ConnManager>, Error> {
        Ok(self.read.pool.get()?)
    }

    /// A write connection for start-up tasks outside a request.
    pub fn write_conn(&self) -> Result<r2d2::PooledConnection<ConnManager>, Error> {
        Ok(self.write.pool.get()?)
    }
}

pub fn run_migrations(conn: &mut DbConn) -> Result<(), Error> {
    let applied = match conn {
        DbConn::Pg(c) => c.run_pending_migrations(PG_MIGRATIONS).map(|v| v.len()),
        DbConn::Sqlite(c) => c.run_pending_migrations(SQLITE_MIGRATIONS).map(|v| v.len()),
    }
    .map_err(|e| Error::Internal(format!("database migration failed: {e}")))?;
    if applied > 0 {
        tracing::info!(applied, "applied database migrations");
    }
    Ok(())
}

/// Bytes SQLite holds on the heap in this process (its page caches, mostly): now, and the
/// most it has held.
pub fn sqlite_memory() -> (i64, i64) {
    // SAFETY: both only read SQLite's process-wide memory statistics, which it guards itself.
    #[allow(unsafe_code)]
    unsafe {
        (
            libsqlite3_sys::sqlite3_memory_used(),
            libsqlite3_sys::sqlite3_memory_highwater(0),
        )
    }
}

/// Most bound values one statement carries: under SQLite's limit of 32766 and PostgreSQL's 65535.
pub const MAX_BINDS: usize = 30_000;

/// Rows of `columns` bound values each that fit in one statement.
pub const fn rows_per_statement(columns: usize) -> usize {
    MAX_BINDS / columns
}

/// Inserts many rows in one statement. Multi-row VALUES is not available through the
/// MultiConnection backend, so this dispatches to the concrete connection; the rows are
/// the same on both.
#[macro_export]
macro_rules! insert_rows {
    ($conn:expr, $table:expr, $rows:expr) => {
        match $conn {
            $crate::db::DbConn::Pg(c) => diesel::insert_into($table).values($rows).execute(c),
            $crate::db::DbConn::Sqlite(c) => diesel::insert_into($table).values($rows).execute(c),
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn url_scheme_chooses_the_backend() {
        assert_eq!(
            DbUrl::parse("postgres://u@h/db"),
            DbUrl::Postgres("postgres://u@h/db".into())
        );
        assert_eq!(DbUrl::parse("postgresql://h/db").backend_name(), "postgres");
        assert_eq!(
            DbUrl::parse("sqlite://x/c.db"),
            DbUrl::Sqlite("x/c.db".into())
        );
        assert_eq!(DbUrl::parse("data/c.db"), DbUrl::Sqlite("data/c.db".into()));
    }

    #[test]
    fn redacts_passwords() {
        assert_eq!(
            DbUrl::parse("postgres://u:secret@h/db").redacted(),
            "postgres://u:***@h/db"
        );
        assert_eq!(
            DbUrl::parse("postgres://u@h/db").redacted(),
            "postgres://u@h/db"
        );
    }

    #[test]
    fn migration_trees_have_the_same_names() {
        let names = |dir: &str| {
            let mut v: Vec<String> = std::fs::read_dir(dir)
                .unwrap_or_else(|e| panic!("{dir}: {e}"))
                .map(|e| {
                    e.map(|e| e.file_name().to_string_lossy().into_owned())
                        .unwrap_or_default()
                })
                .collect();
            v.sort();
            v
        };
        let root = concat!(env!("CARGO_MANIFEST_DIR"), "/../migrations");
        assert_eq!(
            names(&format!("{root}/sqlite")),
            names(&format!("{root}/postgres"))
        );
    }
}

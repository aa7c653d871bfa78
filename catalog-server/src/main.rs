use clap::{Parser, Subcommand};
use tracing_subscriber::EnvFilter;

use catalog_server::config::ConfigArgs;
use catalog_server::{app, backup, db};

/// The metadata file catalogue server. With no subcommand it serves, on an embedded SQLite
/// database and a local storage element in ./catalog-data unless told otherwise.
#[derive(Parser)]
#[command(name = "catalog-server", version)]
struct Cli {
    #[command(flatten)]
    config: ConfigArgs,
    /// Listen on a non-loopback address although auth is open, or tokens would cross plain
    /// HTTP (logged as a warning)
    #[arg(long)]
    insecure: bool,
    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API (the default)
    Serve,
    /// Apply pending database migrations and exit
    Migrate,
    /// Rebuild the full-text search index from the database (stop the server first)
    Reindex,
    /// Users, groups, tokens and the audit log (on the database; the server may be running)
    #[command(subcommand)]
    Admin(catalog_server::admin::AdminCommand),
    /// Write the whole catalogue to FILE (gzip-compressed JSON lines), read in one snapshot
    /// while the server runs: namespace, files, replicas, metadata, fields, schemas,
    /// provenance, datasets, jobs, users, groups, token hashes and the audit log. The bytes on
    /// storage elements are not in it.
    Dump {
        /// Where to write it; `-` for standard output
        file: std::path::PathBuf,
    },
    /// Load a dump into an empty database (of either kind: this is also how to move from
    /// SQLite to PostgreSQL), then rebuild the search index. One transaction: a dump that is
    /// cut short or refused leaves the database as it was.
    Restore {
        /// The dump; `-` for standard input
        file: std::path::PathBuf,
    },
}

fn main() {
    tune_malloc();
    let cli = Cli::parse();
    if let Err(e) = run(cli) {
        eprintln!("catalog-server: {e:#}");
        std::process::exit(1);
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let config = cli.config.resolve()?;
    let filter = EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| EnvFilter::new("info,actix_server=warn,tantivy=warn"));
    let logs = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if config.log_json {
        logs.json().init();
    } else {
        logs.init();
    }
    match cli.command.unwrap_or(Command::Serve) {
        Command::Migrate => {
            let db = db::Db::open(&config.database_url)?;
            drop(db);
            println!("database {} is up to date", config.database_url.redacted());
            Ok(())
        }
        Command::Reindex => reindex(&config, &db::Db::open(&config.database_url)?),
        Command::Admin(cmd) => {
            let db = db::Db::open(&config.database_url)?;
            catalog_server::admin::run(&db, cmd)
        }
        Command::Dump { file } => {
            let db = db::Db::open(&config.database_url)?;
            let summary = backup::dump_to_path(&mut *db.read_conn()?, &file, &table_progress)?;
            let size = match std::fs::metadata(&file) {
                Ok(m) if file.as_os_str() != "-" => format!(", {}", human_bytes(m.len())),
                _ => String::new(),
            };
            eprintln!(
                "dumped {} (schema {}) to {}{size} in {:.1} s",
                summary.describe(),
                summary.schema,
                file.display(),
                summary.seconds
            );
            Ok(())
        }
        Command::Restore { file } => {
            let db = db::Db::open(&config.database_url)?;
            let summary =
                backup::restore_from_path(&mut *db.write_conn()?, &file, &table_progress)?;
            println!(
                "restored {} into {} in {:.1} s",
                summary.describe(),
                config.database_url.redacted(),
                summary.seconds
            );
            reindex(&config, &db)
        }
        Command::Serve => {
            return_freed_memory_periodically();
            let state = app::open(&config)?;
            actix_web::rt::System::new().block_on(app::serve(config, state, cli.insecure))
        }
    }
}

/// Rebuilds the full-text search index from the database.
fn reindex(config: &catalog_server::config::Config, db: &db::Db) -> anyhow::Result<()> {
    let search = catalog_server::search::Search::open(&config.data_dir.join("search"))?;
    let mut conn = db.write_conn()?;
    let tty = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let n = search.rebuild(&mut conn, &|done, total| {
        if tty {
            eprint!("\rindexed {done} of {total} files");
        }
    })?;
    if tty {
        eprintln!();
    }
    println!(
        "search index rebuilt: {n} files, in {}",
        config.data_dir.join("search").display()
    );
    Ok(())
}

/// A line on standard error per table dumped or restored, when it is a terminal.
fn table_progress(table: &str, rows: u64) {
    if std::io::IsTerminal::is_terminal(&std::io::stderr()) {
        eprintln!("  {table}: {rows} rows");
    }
}

fn human_bytes(n: u64) -> String {
    match n {
        n if n >= 1 << 30 => format!("{:.1} GiB", n as f64 / (1u64 << 30) as f64),
        n if n >= 1 << 20 => format!("{:.1} MiB", n as f64 / (1u64 << 20) as f64),
        n if n >= 1 << 10 => format!("{:.1} KiB", n as f64 / 1024.0),
        n => format!("{n} bytes"),
    }
}

/// glibc's malloc, set up for a server that runs for months. Set before any thread starts;
/// a setting given in the environment (`MALLOC_ARENA_MAX`, `MALLOC_MMAP_THRESHOLD_`, or
/// `GLIBC_TUNABLES`) still wins.
///
/// - Two arenas: glibc gives each thread that allocates its own arena (up to 8 per core) and
///   rarely returns their memory. With actix's workers and the blocking pool's threads each
///   parsing 10,000-file registrations, the server's anonymous memory reached 625 MiB in the
///   1,000,000-file benchmark with a 1M-file manifest; with two arenas, 317 MiB (VmHWM 716 ->
///   403 MiB).
/// - Blocks of 128 KiB and more mapped on their own. glibc starts there, but raises the
///   threshold to the size of each mapped block freed (up to 32 MiB), so after the first
///   search index commit the index writer's 1 MiB pages, and a merge's buffers, came from the
///   arenas and left holes there when freed. In the 10-minute PostgreSQL soak the server's
///   anonymous memory swung between 20 and 28 MiB around a level of 21-24 MiB (peak 35);
///   with the threshold fixed it stays at 15-18 MiB (peak 23-25), as such blocks go back to the
///   system when freed.
fn tune_malloc() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let tunables = std::env::var("GLIBC_TUNABLES").unwrap_or_default();
        let given = |var: &str, tunable: &str| {
            std::env::var_os(var).is_some() || tunables.contains(tunable)
        };
        // SAFETY: mallopt only changes a malloc tunable; no thread has started yet.
        #[allow(unsafe_code)]
        unsafe {
            if !given("MALLOC_ARENA_MAX", "glibc.malloc.arena_max") {
                libc::mallopt(libc::M_ARENA_MAX, 2);
            }
            if !given("MALLOC_MMAP_THRESHOLD_", "glibc.malloc.mmap_threshold") {
                libc::mallopt(libc::M_MMAP_THRESHOLD, 128 * 1024);
            }
        }
    }
}

/// glibc's malloc keeps what the server frees (the buffers of a burst of requests, a search
/// index merge's) for reuse rather than giving it back: in the soak test the server's memory
/// rose in steps after such bursts and stayed there. `malloc_trim` every 10 s hands free
/// pages back to the system; memory still in use (a leak) stays counted, so the soak test
/// still sees one.
fn return_freed_memory_periodically() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    std::thread::Builder::new()
        .name("malloc-trim".to_owned())
        .spawn(|| loop {
            std::thread::sleep(std::time::Duration::from_secs(10));
            // SAFETY: malloc_trim only returns free memory to the system; it is thread-safe.
            #[allow(unsafe_code)]
            unsafe {
                libc::malloc_trim(0);
            }
        })
        .map(drop)
        .unwrap_or_else(|e| eprintln!("catalog-server: cannot start the malloc-trim thread: {e}"));
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn verify_cli() {
        Cli::command().debug_assert();
    }
}

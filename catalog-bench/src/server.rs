//! The server under test: started from the `catalog-server` beside the benchmark binary on a
//! fresh data directory, and its memory read from /proc.

use anyhow::{bail, Context};
use catalog_core::Client;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A server this run started; killed when dropped.
pub struct Server {
    pub child: Child,
    pub data_dir: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.data_dir);
    }
}

pub fn sibling(name: &str) -> anyhow::Result<PathBuf> {
    let bin = std::env::current_exe()?.with_file_name(name);
    if !bin.exists() {
        bail!(
            "{} not found: build it first (cargo build --release --bins)",
            bin.display()
        );
    }
    Ok(bin)
}

/// Starts `catalog-server` on a fresh data directory; the server and its URL.
pub fn start_server(database_url: Option<&str>) -> anyhow::Result<(Server, String)> {
    let bin = sibling("catalog-server")?;
    let data_dir = std::env::temp_dir().join(format!("catalog-bench-{}", std::process::id()));
    std::fs::create_dir_all(&data_dir)?;
    let mut cmd = Command::new(&bin);
    cmd.arg("--data-dir")
        .arg(&data_dir)
        .arg("--bind")
        .arg("127.0.0.1:0");
    if let Some(u) = database_url {
        cmd.arg("--database-url").arg(u);
    }
    let log = std::fs::File::create(std::env::temp_dir().join("catalog-bench-server.log"))?;
    let mut child = cmd
        .env("RUST_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(log)
        .spawn()
        .with_context(|| format!("cannot start {}", bin.display()))?;
    let out = child.stdout.take().context("server stdout")?;
    let mut line = String::new();
    std::io::BufRead::read_line(&mut std::io::BufReader::new(out), &mut line)?;
    let server = Server { child, data_dir };
    let url = line
        .trim()
        .strip_prefix("catalog-server listening on ")
        .with_context(|| {
            format!("unexpected server output {line:?} (see the log in the temporary directory)")
        })?
        .to_owned();
    Ok((server, url))
}

/// A line of a process's /proc status (`VmHWM`, `RssAnon`...), in MiB.
pub fn status_mib(pid: &str, key: &str) -> Option<f64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let kb: f64 = status
        .lines()
        .find_map(|l| l.strip_prefix(key)?.strip_prefix(':'))?
        .trim()
        .trim_end_matches("kB")
        .trim()
        .parse()
        .ok()?;
    Some(kb / 1024.0)
}

/// Peak resident memory of a process, in MiB (VmHWM): its own memory and the pages of
/// files it maps (the search index) that were resident at once.
pub fn peak_mib(pid: &str) -> Option<f64> {
    status_mib(pid, "VmHWM")
}

/// Waits up to 30 s for the server behind `client` to answer /healthz.
pub async fn wait_healthy(client: &Client) -> anyhow::Result<()> {
    let deadline = Instant::now() + Duration::from_secs(30);
    while client.health().await.is_err() {
        if Instant::now() > deadline {
            bail!(
                "the server at {} does not answer /healthz",
                client.base_url()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

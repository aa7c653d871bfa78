//! Real storage servers on loopback for the storage tests, started with the project's own
//! scripts: `scripts/s3-server.sh` (s3s-fs) and `scripts/webdav-server.sh` (rclone). Each
//! is killed when its guard is dropped.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// S3 credentials the S3 server is started with.
pub const S3_ACCESS_KEY: &str = "catalog-test";
pub const S3_SECRET_KEY: &str = "catalog-test-secret";

pub struct StorageServer {
    child: Child,
    /// Where the server keeps its objects (S3: one subdirectory per bucket).
    pub dir: PathBuf,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
}

impl Drop for StorageServer {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repository root")
        .to_path_buf()
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// Runs `scripts/SCRIPT DIR PORT` and waits until the port answers. A server that exits
/// at once is started again on another port (another test may have taken the free port
/// between our look and its bind); one that keeps failing fails the test, saying why.
fn start(script: &str, dir: &Path, what: &str) -> StorageServer {
    std::fs::create_dir_all(dir).expect("storage server dir");
    let log = dir.with_extension("log");
    let mut attempt = 0;
    loop {
        attempt += 1;
        let port = free_port();
        let mut child = Command::new(repo_root().join("scripts").join(script))
            .arg(dir)
            .arg(port.to_string())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).expect("log"))
            .stderr(std::fs::File::create(log.with_extension("err")).expect("log"))
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
        // The first start may build or install the server: allow for it.
        let deadline = Instant::now() + Duration::from_secs(600);
        let mut exited = None;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if let Ok(Some(status)) = child.try_wait() {
                exited = Some(status);
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{what} did not listen on port {port} within 10 minutes"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
        match exited {
            None => {
                return StorageServer {
                    child,
                    dir: dir.to_path_buf(),
                    endpoint: format!("http://127.0.0.1:{port}"),
                }
            }
            Some(status) if attempt == 3 => panic!(
                "{what} did not start (scripts/{script} exited {status}); it needs {}:\n{}",
                if script.starts_with("s3") {
                    "cargo and network access to build s3s-fs once into .tools/"
                } else {
                    "rclone (apt-get install rclone)"
                },
                std::fs::read_to_string(log.with_extension("err")).unwrap_or_default()
            ),
            Some(_) => {}
        }
    }
}

/// A real S3 server (s3s-fs) serving `dir`, with bucket `bucket` created.
pub fn s3(dir: &Path, bucket: &str) -> StorageServer {
    std::fs::create_dir_all(dir.join(bucket)).expect("bucket");
    start("s3-server.sh", dir, "the S3 server (s3s-fs)")
}

/// A real WebDAV server (rclone serve webdav) serving `dir`.
pub fn webdav(dir: &Path) -> StorageServer {
    start("webdav-server.sh", dir, "the WebDAV server (rclone)")
}

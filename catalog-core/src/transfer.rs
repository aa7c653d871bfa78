//! Moving bytes between local files and storage elements through the server, with the
//! checksum computed while the bytes stream (never by reading a file twice).

use futures_util::stream;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::api::ReplicaInfo;
use crate::checksum::{Algorithms, StreamSum, Sums};
use crate::{Client, ClientError};

const CHUNK: usize = 256 * 1024;

/// Told the number of bytes of each chunk as it passes (for progress bars).
pub type Progress = Arc<dyn Fn(u64) + Send + Sync>;

pub fn no_progress() -> Progress {
    Arc::new(|_| {})
}

#[derive(Debug, thiserror::Error)]
pub enum TransferError {
    #[error("{path}: {source}")]
    Local {
        path: String,
        source: std::io::Error,
    },
    #[error(transparent)]
    Client(#[from] ClientError),
    #[error("{0}")]
    Damaged(String),
}

impl TransferError {
    /// Whether the transfer failed only because the server was away (see
    /// [`ClientError::is_transient`]): worth trying again.
    pub fn is_transient(&self) -> bool {
        matches!(self, TransferError::Client(c) if c.is_transient())
    }
}

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> TransferError + '_ {
    move |source| TransferError::Local {
        path: path.display().to_string(),
        source,
    }
}

/// Streams `path` to `pfn` on storage element `se`, computing adler32 and `algorithms` on
/// the way; the sums of the bytes sent, checked against those the server stored (which
/// are those the server is configured for). A damaged upload is removed.
pub async fn upload_file(
    client: &Client,
    se: &str,
    pfn: &str,
    path: &Path,
    algorithms: Algorithms,
    progress: Progress,
) -> Result<Sums, TransferError> {
    let file = tokio::fs::File::open(path).await.map_err(local(path))?;
    let size = file.metadata().await.map_err(local(path))?.len();
    let sum = Arc::new(Mutex::new(StreamSum::with(algorithms)));
    let sum_in = sum.clone();
    let body = stream::unfold(file, move |mut file| {
        let (sum, progress) = (sum_in.clone(), progress.clone());
        async move {
            let mut buf = vec![0u8; CHUNK];
            match file.read(&mut buf).await {
                Ok(0) => None,
                Ok(n) => {
                    buf.truncate(n);
                    if let Ok(mut s) = sum.lock() {
                        s.update(&buf);
                    }
                    progress(n as u64);
                    Some((Ok(buf), file))
                }
                Err(e) => Some((Err(e), file)),
            }
        }
    });
    let answer = client.upload(se, pfn, size, body).await?;
    let sent = sum
        .lock()
        .map_err(|_| TransferError::Damaged("checksum state poisoned".into()))?
        .sums();
    if let Some(diff) = answer.sums().mismatch(&sent) {
        let _ = client.delete_object(se, pfn).await;
        return Err(TransferError::Damaged(format!(
            "upload of {} damaged: the storage element holds {diff}",
            path.display()
        )));
    }
    Ok(sent)
}

/// Streams `pfn` on `se` into `dest`; the sums of what arrived.
pub async fn download_file(
    client: &Client,
    se: &str,
    pfn: &str,
    dest: &Path,
    algorithms: Algorithms,
    progress: Progress,
) -> Result<Sums, TransferError> {
    let mut resp = client.download(se, pfn).await?;
    let mut out = tokio::fs::File::create(dest).await.map_err(local(dest))?;
    let mut sum = StreamSum::with(algorithms);
    while let Some(chunk) = resp
        .chunk()
        .await
        .map_err(|source| ClientError::Transport {
            url: client.base_url().to_owned(),
            source,
        })?
    {
        sum.update(&chunk);
        progress(chunk.len() as u64);
        out.write_all(&chunk).await.map_err(local(dest))?;
    }
    // Flushed, not synced: a download is a user's copy, like cp's or curl's; the storage
    // element's own writes are the ones synced.
    out.flush().await.map_err(local(dest))?;
    Ok(sum.sums())
}

/// The sums of a local file, read once; with `copy_to`, its bytes are written there on
/// the way.
pub async fn local_sums(
    path: &Path,
    copy_to: Option<&Path>,
    algorithms: Algorithms,
    progress: Progress,
) -> Result<Sums, TransferError> {
    let mut file = tokio::fs::File::open(path).await.map_err(local(path))?;
    let mut out = match copy_to {
        Some(dest) => Some((
            tokio::fs::File::create(dest).await.map_err(local(dest))?,
            dest,
        )),
        None => None,
    };
    let mut sum = StreamSum::with(algorithms);
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(local(path))?;
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
        if let Some((out, dest)) = &mut out {
            out.write_all(&buf[..n]).await.map_err(local(dest))?;
        }
        progress(n as u64);
    }
    if let Some((out, dest)) = &mut out {
        out.flush().await.map_err(local(dest))?;
    }
    Ok(sum.sums())
}

/// The local path of a `file://` replica URL, when it exists on this machine: such bytes
/// are read directly rather than through the server.
pub fn local_replica(url: &str) -> Option<PathBuf> {
    let p = PathBuf::from(url.strip_prefix("file://")?);
    p.is_file().then_some(p)
}

/// How bytes already on this machine reach the target.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LocalCopy {
    /// Copied (the target can be changed without touching the storage element).
    Copy,
    /// Hard-linked when on the same filesystem (copied otherwise): for read-only use.
    Link,
}

/// Why no replica of a file would do: what went wrong with each, and whether any failed only
/// because the server was away (cut off, restarting, or answering 503), so that trying again
/// later may succeed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchFailed {
    pub tried: Vec<String>,
    pub transient: bool,
}

impl std::fmt::Display for FetchFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.tried.join("; "))
    }
}

/// Fetches a file into `target` from the first of `replicas` (in the order given) whose
/// bytes arrive with the `expected` size and checksums: directly when the replica is on
/// this machine, through the server otherwise. The replica used; or, when none would do,
/// what went wrong with each. Nothing is left at `target` on failure.
pub async fn fetch<'a>(
    client: &Client,
    expected: &Sums,
    replicas: &[&'a ReplicaInfo],
    target: &Path,
    how: LocalCopy,
    progress: Progress,
) -> Result<&'a ReplicaInfo, FetchFailed> {
    let algorithms = Algorithms::of(expected);
    let mut failures = Vec::new();
    let mut transient = false;
    for &r in replicas {
        let got = match local_replica(&r.url) {
            Some(src) => {
                let linked = how == LocalCopy::Link && std::fs::hard_link(&src, target).is_ok();
                let copy_to = (!linked).then_some(target);
                local_sums(&src, copy_to, algorithms, progress.clone()).await
            }
            None => {
                download_file(client, &r.se, &r.pfn, target, algorithms, progress.clone()).await
            }
        };
        match got {
            Ok(sums) => match sums.mismatch(expected) {
                None => return Ok(r),
                Some(diff) => failures.push(format!("checksum mismatch on {}: got {diff}", r.se)),
            },
            Err(e) => {
                transient |= e.is_transient();
                failures.push(format!("{}: {e}", r.se));
            }
        }
        let _ = std::fs::remove_file(target);
    }
    if failures.is_empty() {
        failures.push("it has no replica".to_owned());
    }
    Err(FetchFailed {
        tried: failures,
        transient,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn replica(se: &str, url: &str) -> ReplicaInfo {
        ReplicaInfo {
            se: se.to_owned(),
            pfn: "a/f.dat".to_owned(),
            url: url.to_owned(),
            status: "ok".to_owned(),
        }
    }

    fn sums(size: u64) -> Sums {
        Sums {
            size,
            adler32: "00000001".to_owned(),
            md5: None,
            sha256: None,
        }
    }

    #[tokio::test]
    async fn a_replica_not_fetched_because_the_server_is_away_is_worth_trying_again() {
        let dir = tempfile::tempdir().expect("temp dir");
        // Nothing listens on the port a closed listener had.
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let client = Client::new(&format!("http://127.0.0.1:{port}"));
        let local = dir.path().join("on-disk.dat");
        std::fs::write(&local, b"other bytes").expect("write");
        let (on_disk, remote) = (
            replica("disk", &format!("file://{}", local.display())),
            replica("s3", "s3://bucket/a/f.dat"),
        );
        let target = dir.path().join("f.dat");

        // The local replica's bytes are not the file's: that is not worth trying again.
        let failed = fetch(
            &client,
            &sums(0),
            &[&on_disk],
            &target,
            LocalCopy::Copy,
            no_progress(),
        )
        .await
        .expect_err("bytes that do not match");
        assert!(!failed.transient, "{failed}");
        assert!(
            failed.to_string().contains("checksum mismatch on disk"),
            "{failed}"
        );

        // The remote one could not be reached through the server: that is.
        let failed = fetch(
            &client,
            &sums(0),
            &[&on_disk, &remote],
            &target,
            LocalCopy::Copy,
            no_progress(),
        )
        .await
        .expect_err("no server");
        assert!(failed.transient, "{failed}");
        assert_eq!(failed.tried.len(), 2, "{failed}");
        assert!(
            !target.exists(),
            "a failed fetch leaves nothing at the target"
        );
    }
}

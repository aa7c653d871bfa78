//! Bytes on `file` storage elements: streamed in with the checksum computed on the way,
//! never visible under their final name until complete, and never overwritten.

use catalog_core::checksum::{Algorithms, StreamSum, Sums};
use futures_util::StreamExt;
use std::path::{Path, PathBuf};
use tokio::io::AsyncWriteExt;

use crate::error::{Error, Result};

fn io_err(what: &str, path: &Path, e: std::io::Error) -> Error {
    Error::Storage(format!("{what} {}: {e}", path.display()))
}

/// Writes a stream to `target`, refusing to replace an existing object. Returns the sums
/// (adler32 and `algorithms`) of what was written.
pub async fn write_new<S, E>(
    target: &Path,
    mut body: S,
    expected_len: Option<u64>,
    algorithms: Algorithms,
) -> Result<Sums>
where
    S: futures_util::Stream<Item = std::result::Result<actix_web::web::Bytes, E>> + Unpin,
    E: std::fmt::Display,
{
    if tokio::fs::try_exists(target).await.unwrap_or(false) {
        return Err(Error::conflict(format!(
            "object exists: {}",
            target.display()
        )));
    }
    let dir = target
        .parent()
        .ok_or_else(|| Error::bad("pfn has no directory"))?;
    tokio::fs::create_dir_all(dir)
        .await
        .map_err(|e| io_err("cannot create", dir, e))?;
    let tmp = part_path(target);
    let result = async {
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(|e| io_err("cannot create", &tmp, e))?;
        let mut sum = StreamSum::with(algorithms);
        while let Some(chunk) = body.next().await {
            let chunk = chunk.map_err(|e| Error::bad(format!("upload interrupted: {e}")))?;
            sum.update(&chunk);
            file.write_all(&chunk)
                .await
                .map_err(|e| io_err("cannot write", &tmp, e))?;
        }
        file.sync_all()
            .await
            .map_err(|e| io_err("cannot sync", &tmp, e))?;
        if let Some(len) = expected_len.filter(|l| *l != sum.size()) {
            return Err(Error::bad(format!(
                "upload incomplete: got {} of {len} bytes",
                sum.size()
            )));
        }
        // A hard link never replaces an existing name, so two uploads cannot clobber each other.
        tokio::fs::hard_link(&tmp, target)
            .await
            .map_err(|e| match e.kind() {
                std::io::ErrorKind::AlreadyExists => {
                    Error::conflict(format!("object exists: {}", target.display()))
                }
                _ => io_err("cannot link", target, e),
            })?;
        Ok(sum.sums())
    }
    .await;
    let _ = tokio::fs::remove_file(&tmp).await;
    result
}

fn part_path(target: &Path) -> PathBuf {
    let name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    target.with_file_name(format!(".{name}.part-{}", uuid::Uuid::new_v4().simple()))
}

/// Removes an object; one that is already gone is not an error.
pub async fn remove(path: &Path) -> Result<()> {
    match tokio::fs::remove_file(path).await {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_err("cannot remove", path, e)),
    }
}

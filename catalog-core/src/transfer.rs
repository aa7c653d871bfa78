//! Moving bytes between local files and storage elements through the server, with the
//! checksum computed while the bytes stream (never by reading a file twice).

use futures_util::stream;
use std::path::Path;
use std::sync::{Arc, Mutex};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::checksum::StreamSum;
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

fn local(path: &Path) -> impl FnOnce(std::io::Error) -> TransferError + '_ {
    move |source| TransferError::Local {
        path: path.display().to_string(),
        source,
    }
}

/// Streams `path` to `pfn` on storage element `se`; the size and adler32 the server stored,
/// checked against those of the bytes sent. A damaged upload is removed.
pub async fn upload_file(
    client: &Client,
    se: &str,
    pfn: &str,
    path: &Path,
    progress: Progress,
) -> Result<(u64, String), TransferError> {
    let file = tokio::fs::File::open(path).await.map_err(local(path))?;
    let size = file.metadata().await.map_err(local(path))?.len();
    let sum = Arc::new(Mutex::new(StreamSum::new()));
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
    let (sent, adler32) = {
        let s = sum
            .lock()
            .map_err(|_| TransferError::Damaged("checksum state poisoned".into()))?;
        (s.size(), s.adler32())
    };
    if answer.size as u64 != sent || answer.adler32 != adler32 {
        let _ = client.delete_object(se, pfn).await;
        return Err(TransferError::Damaged(format!(
            "upload of {} damaged: sent {sent} bytes adler32 {adler32}, stored {} bytes adler32 {}",
            path.display(),
            answer.size,
            answer.adler32
        )));
    }
    Ok((sent, adler32))
}

/// Streams `pfn` on `se` into `dest`; the size and adler32 of what arrived.
pub async fn download_file(
    client: &Client,
    se: &str,
    pfn: &str,
    dest: &Path,
    progress: Progress,
) -> Result<(u64, String), TransferError> {
    let mut resp = client.download(se, pfn).await?;
    let mut out = tokio::fs::File::create(dest).await.map_err(local(dest))?;
    let mut sum = StreamSum::new();
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
    out.sync_all().await.map_err(local(dest))?;
    Ok((sum.size(), sum.adler32()))
}

/// The adler32 and size of a local file, read once.
pub async fn local_checksum(path: &Path) -> Result<(u64, String), TransferError> {
    let mut file = tokio::fs::File::open(path).await.map_err(local(path))?;
    let mut sum = StreamSum::new();
    let mut buf = vec![0u8; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(local(path))?;
        if n == 0 {
            break;
        }
        sum.update(&buf[..n]);
    }
    Ok((sum.size(), sum.adler32()))
}

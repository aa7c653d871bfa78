//! Calls to the server tried again while it is away.

use std::time::{Duration, Instant};

/// How long a call is tried again before the attempt gives up on it.
const PATIENCE: Duration = Duration::from_secs(60);

/// `call`, tried again with a growing wait (250 ms doubling to 8 s) for up to a minute while
/// its error is `transient`: the server restarting, or answering 503 with its database away.
/// Giving up on the first failure would spend an attempt on a blip, and giving up on `finish`
/// would leave the subjob leased, its outputs removed, until the lease expired. Other errors
/// (a refused lease, bad input) come back at once.
pub async fn retrying<T, E, F, Fut>(what: &str, call: F, transient: fn(&E) -> bool) -> Result<T, E>
where
    E: std::fmt::Display,
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = Result<T, E>>,
{
    let deadline = Instant::now() + PATIENCE;
    let mut wait = Duration::from_millis(250);
    loop {
        match call().await {
            Err(e) if transient(&e) && Instant::now() + wait < deadline => {
                tracing::warn!(error = %e, "cannot {what} yet; retrying");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(Duration::from_secs(8));
            }
            answer => return answer,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU32, Ordering};

    #[tokio::test]
    async fn transient_errors_are_retried_and_others_are_not() {
        let calls = AtomicU32::new(0);
        let got: Result<u32, String> = retrying(
            "test",
            || async {
                let n = calls.fetch_add(1, Ordering::SeqCst);
                if n < 2 {
                    Err("away".to_owned())
                } else {
                    Ok(n)
                }
            },
            |e: &String| e == "away",
        )
        .await;
        assert_eq!(got, Ok(2));
        let calls = AtomicU32::new(0);
        let got: Result<u32, String> = retrying(
            "test",
            || async {
                calls.fetch_add(1, Ordering::SeqCst);
                Err("refused".to_owned())
            },
            |e: &String| e == "away",
        )
        .await;
        assert_eq!(got, Err("refused".to_owned()));
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

//! The threads database work runs on: a fixed set, started with the pool and kept.
//!
//! Database calls block, so they cannot run on the async workers. They used to run on the
//! blocking pool of whichever actix worker took the request; each worker has its own pool,
//! which starts a thread whenever none of its own is idle and lets it go after 10 s idle. On
//! PostgreSQL, every hiccup of the database set off new threads (the soak test saw 33-39 of
//! them where 16 can work at once), each with its own stack and allocator caches, and the
//! server's memory rose and fell with them. Here there are exactly as many threads as the
//! gate in front of the pool has permits, shared by all workers, so a thread is always free
//! for a request that holds a permit.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::{mpsc, Arc, Mutex};

use crate::error::Error;

type Job = Box<dyn FnOnce() + Send>;

/// A fixed set of threads taking jobs from one queue; they stop when the last handle goes.
#[derive(Clone)]
pub(super) struct Threads {
    queue: mpsc::Sender<Job>,
}

impl Threads {
    /// Starts `n` threads named `name-0`, `name-1`...
    pub(super) fn start(n: u32, name: &str) -> Result<Threads, Error> {
        let (queue, jobs) = mpsc::channel::<Job>();
        let jobs = Arc::new(Mutex::new(jobs));
        for i in 0..n {
            let jobs = jobs.clone();
            std::thread::Builder::new()
                .name(format!("{name}-{i}"))
                .spawn(move || loop {
                    // The lock is held while waiting for a job, not while running one.
                    let next = match jobs.lock() {
                        Ok(jobs) => jobs.recv(),
                        Err(_) => return,
                    };
                    match next {
                        Ok(job) => job(),
                        Err(_) => return,
                    }
                })
                .map_err(|e| Error::Internal(format!("cannot start a database thread: {e}")))?;
        }
        Ok(Threads { queue })
    }

    /// Runs `f` on one of the threads. A panic in `f` is an internal error for this call
    /// only; the thread goes on to the next job.
    pub(super) async fn run<R, F>(&self, f: F) -> Result<R, Error>
    where
        R: Send + 'static,
        F: FnOnce() -> R + Send + 'static,
    {
        let (done, result) = tokio::sync::oneshot::channel();
        self.queue
            .send(Box::new(move || {
                let _ = done.send(catch_unwind(AssertUnwindSafe(f)));
            }))
            .map_err(|_| Error::Internal("the database threads have stopped".to_owned()))?;
        match result.await {
            Ok(Ok(r)) => Ok(r),
            Ok(Err(_)) => Err(Error::Internal("a database call panicked".to_owned())),
            Err(_) => Err(Error::Internal(
                "the database threads have stopped".to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_panicking_job_is_an_error_and_the_thread_takes_the_next_one() {
        let threads = Threads::start(1, "test-db").unwrap();
        let err = threads.run(|| -> u32 { panic!("boom") }).await.unwrap_err();
        assert!(err.to_string().contains("panicked"), "{err}");
        let name = threads
            .run(|| std::thread::current().name().map(str::to_owned))
            .await
            .unwrap();
        assert_eq!(name.as_deref(), Some("test-db-0"));
    }

    #[tokio::test]
    async fn jobs_run_side_by_side_on_as_many_threads_as_started() {
        let threads = Threads::start(3, "test-db").unwrap();
        let barrier = Arc::new(std::sync::Barrier::new(3));
        let calls = (0..3).map(|_| {
            let barrier = barrier.clone();
            threads.run(move || {
                // Passes only when all three jobs run at once.
                barrier.wait();
                std::thread::current().name().map(str::to_owned)
            })
        });
        let mut names: Vec<_> = futures_util::future::join_all(calls)
            .await
            .into_iter()
            .map(|r| r.unwrap().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["test-db-0", "test-db-1", "test-db-2"]);
    }
}

//! Graceful shutdown: the signal that starts it (SIGINT, SIGTERM), the flag
//! that tells every HTTP connection and session the server is stopping, and
//! the count of those tasks the server waits for before it returns.

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use tokio::sync::{Notify, watch};

/// Completes on SIGINT (Ctrl-C) or SIGTERM.
pub async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! {
        () = ctrl_c => {},
        () = term => {},
    }
}

/// The server's side of a graceful shutdown: tells its tasks to stop, and
/// knows when the last of them has ended.
#[derive(Debug)]
pub(crate) struct Shutdown {
    stopping: watch::Sender<bool>,
    live: Arc<LiveTasks>,
}

/// Counts the tasks shutdown must wait for: HTTP connections and sessions.
#[derive(Debug, Default)]
struct LiveTasks {
    active: AtomicUsize,
    all_done: Notify,
}

/// One tracked task; dropping it may wake the shutdown.
#[derive(Debug)]
pub(crate) struct TaskGuard(Arc<LiveTasks>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_done.notify_waiters();
        }
    }
}

impl Shutdown {
    /// Not stopping, with no task tracked.
    pub(crate) fn new() -> Shutdown {
        let (stopping, _) = watch::channel(false);
        Shutdown { stopping, live: Arc::default() }
    }

    /// Counts one task until the guard drops.
    pub(crate) fn track(&self) -> TaskGuard {
        self.live.active.fetch_add(1, Ordering::AcqRel);
        TaskGuard(self.live.clone())
    }

    /// Turns `true` when the server starts shutting down.
    pub(crate) fn subscribe(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }

    /// Completes once the server starts shutting down (at once if it has).
    pub(crate) fn stopped(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut stopping = self.subscribe();
        // The watch guard `wait_for` returns is dropped here, never held
        // across an await of the caller's.
        async move {
            let _ = stopping.wait_for(|stopping| *stopping).await;
        }
    }

    /// How many tracked tasks are running.
    pub(crate) fn open(&self) -> usize {
        self.live.active.load(Ordering::Acquire)
    }

    /// Tells every task that the server is stopping.
    pub(crate) fn begin(&self) {
        let _ = self.stopping.send(true);
    }

    /// Completes when no tracked task is left.
    pub(crate) async fn drained(&self) {
        loop {
            // Registered before the count is read, so a task ending in
            // between still wakes this one.
            let all_done = self.live.all_done.notified();
            if self.open() == 0 {
                break;
            }
            all_done.await;
        }
    }
}

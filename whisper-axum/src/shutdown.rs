//! The application's shutdown, as upgraded sockets see it: axum's graceful
//! shutdown waits for requests, but an upgraded socket is no longer one, so
//! each session is handed this signal and closes with 1001 when it fires.

use std::future::Future;
use std::sync::Arc;

use tokio::sync::watch;

/// A shutdown that has begun or not; cheap to clone, one per application.
#[derive(Clone, Debug)]
pub struct Shutdown {
    begun: Arc<watch::Sender<bool>>,
}

impl Default for Shutdown {
    fn default() -> Self {
        Shutdown::new()
    }
}

impl Shutdown {
    /// Not begun.
    pub fn new() -> Shutdown {
        Shutdown { begun: Arc::new(watch::Sender::new(false)) }
    }

    /// Begins it: every session given [`Shutdown::signal`] closes (1001).
    pub fn begin(&self) {
        self.begun.send_replace(true);
    }

    /// Whether it has begun.
    pub fn is_begun(&self) -> bool {
        *self.begun.borrow()
    }

    /// Resolves once it has begun (at once if it has).
    pub fn signal(&self) -> impl Future<Output = ()> + Send + 'static {
        let mut begun = self.begun.subscribe();
        async move {
            // The sender lives in `self` and its clones; if all are gone,
            // nothing can begin it any more, and waiting is forever.
            if begun.wait_for(|b| *b).await.is_err() {
                std::future::pending::<()>().await;
            }
        }
    }

    /// For `axum::serve(..).with_graceful_shutdown(..)`: waits for
    /// `trigger` (a signal, a channel), then begins the shutdown, so the
    /// server stops taking requests and the sockets close together.
    pub fn after(
        &self,
        trigger: impl Future<Output = ()> + Send + 'static,
    ) -> impl Future<Output = ()> + Send + 'static {
        let this = self.clone();
        async move {
            trigger.await;
            this.begin();
        }
    }
}

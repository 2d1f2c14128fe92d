//! The accept loop: [`Server`] (made with [`Server::builder`]) takes a
//! listener, serves HTTP/1.1 with upgrades on every connection until its
//! shutdown future completes, then stops accepting, tells every connection
//! and session to end, and waits for them within the configured grace.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use whisper_core::Chat;
use whisper_core::broker::Broker;
use whisper_core::store::Store;

use crate::config::Config;
use crate::error::Error;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::state::AppState;

/// A configured server, ready to run on a listener.
#[derive(Debug)]
pub struct Server {
    state: Arc<AppState>,
}

/// Builds a [`Server`]: the store and broker default to what the
/// [`Config`] names, or are the caller's own.
#[derive(Debug)]
#[must_use = "a builder does nothing until `build` is awaited"]
pub struct ServerBuilder {
    config: Config,
    store: Option<Arc<dyn Store>>,
    broker: Option<Arc<dyn Broker>>,
}

impl ServerBuilder {
    /// Hosts the chat on `store` instead of the one the configuration names.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// Makes this server a node of a cluster whose room events go through
    /// `broker`, instead of the one the configuration names (if any).
    pub fn broker(mut self, broker: Arc<dyn Broker>) -> Self {
        self.broker = Some(broker);
        self
    }

    /// Creates the data directory, opens the store (unless given: PostgreSQL
    /// if `database_url` is set, else SQLite in the data directory), loads
    /// the identity secret, and joins the cluster (unless given a broker:
    /// NATS if `nats_url` is set, else none).
    pub async fn build(self) -> Result<Server, Error> {
        let ServerBuilder { config, store, broker } = self;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::io(format!("creating data directory {}", config.data_dir.display()), e))?;
        // The secret before the store: a bad one stops the server before it
        // creates or migrates anything.
        let identity = Identity::load_or_create(&config.data_dir, config.secret.as_deref())
            .map_err(|e| Error::io("loading the identity secret", e))?;
        let store = match store {
            Some(store) => store,
            None => open_store(&config).await?,
        };
        let broker = match (broker, &config.nats_url) {
            (Some(broker), _) => Some(broker),
            (None, Some(url)) => Some(connect_broker(url, &config.nats_subject).await?),
            (None, None) => None,
        };
        let mut metrics = Metrics::new();
        let store = metrics.metered(store);
        let server_id = config
            .server_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        let chat = Chat::builder(store).limits(config.limits()).server_id(server_id);
        let chat = match broker {
            Some(broker) => chat.broker(broker).build().await?,
            None => chat.build(),
        };
        metrics.watch_chat(chat.clone());
        Ok(Server { state: Arc::new(AppState::new(chat, identity, config, Arc::new(metrics))) })
    }
}

/// PostgreSQL if `database_url` is set, else SQLite in the data directory.
async fn open_store(config: &Config) -> Result<Arc<dyn Store>, Error> {
    match &config.database_url {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let store = crate::store::PostgresStore::connect(url)
                .await
                .map_err(|source| Error::Store { context: "connecting to PostgreSQL".into(), source })?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err(Error::NotBuiltIn { option: "--database-url", feature: "postgres" }),
        #[cfg(feature = "sqlite")]
        None => {
            let path = config.data_dir.join("whisper.db");
            let store = crate::store::SqliteStore::open(&path)
                .await
                .map_err(|source| Error::Store { context: format!("opening {}", path.display()), source })?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "sqlite"))]
        None => Err(Error::NoStore),
    }
}

#[cfg(feature = "nats")]
async fn connect_broker(url: &str, subject: &str) -> Result<Arc<dyn Broker>, Error> {
    Ok(Arc::new(crate::broker::NatsBroker::connect(url, subject).await?))
}

#[cfg(not(feature = "nats"))]
async fn connect_broker(_url: &str, _subject: &str) -> Result<Arc<dyn Broker>, Error> {
    Err(Error::NotBuiltIn { option: "--nats-url", feature: "nats" })
}

impl Server {
    /// A builder for a server configured by `config`.
    pub fn builder(config: Config) -> ServerBuilder {
        ServerBuilder { config, store: None, broker: None }
    }

    /// The chat service (to post or read from the embedding program).
    pub fn chat(&self) -> &Chat {
        &self.state.chat
    }

    /// Serves until `shutdown` completes, then stops accepting, closes every
    /// WebSocket with 1001, lets in-flight store writes finish, and returns
    /// within the configured grace.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
        let state = self.state;
        let mut http = hyper::server::conn::http1::Builder::new();
        http.timer(TokioTimer::new())
            .header_read_timeout(Duration::from_secs(state.config.handshake_timeout_secs.max(1)));
        tokio::pin!(shutdown);
        loop {
            tokio::select! {
                accepted = listener.accept() => {
                    let (tcp, peer) = match accepted {
                        Ok(pair) => pair,
                        Err(e) => {
                            // Out of file descriptors, usually: back off instead of spinning.
                            tracing::warn!(error = %e, "accept failed");
                            tokio::time::sleep(Duration::from_millis(50)).await;
                            continue;
                        }
                    };
                    let _ = tcp.set_nodelay(true);
                    let for_requests = state.clone();
                    let service = service_fn(move |req| crate::http::route(req, for_requests.clone(), peer));
                    let conn = http.serve_connection(TokioIo::new(tcp), service).with_upgrades();
                    let task = state.shutdown.track();
                    let stopping = state.stopping();
                    tokio::spawn(async move {
                        tokio::pin!(conn);
                        let result = tokio::select! {
                            result = conn.as_mut() => result,
                            () = stopping => {
                                // Finish the request in flight, then close.
                                conn.as_mut().graceful_shutdown();
                                conn.await
                            }
                        };
                        if let Err(e) = result {
                            tracing::debug!(%peer, error = %e, "http connection ended with an error");
                        }
                        drop(task);
                    });
                }
                () = &mut shutdown => break,
            }
        }
        drop(listener);
        let grace = Duration::from_secs(state.config.shutdown_grace_secs.max(1));
        tracing::info!(open = state.shutdown.open(), "shutting down");
        state.shutdown.begin();
        if tokio::time::timeout(grace, state.shutdown.drained()).await.is_err() {
            tracing::warn!("shutdown grace elapsed with connections still open");
        }
        Ok(())
    }
}

/// Builds a server from `config` and runs it on `listener` until `shutdown`.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    Server::builder(config).build().await?.run(listener, shutdown).await
}

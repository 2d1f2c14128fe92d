//! The accept loop, the state every request shares, and graceful shutdown.

use std::collections::HashMap;
use std::future::Future;
use std::net::IpAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::sync::{Notify, watch};
use whisper_core::Chat;
use whisper_core::broker::Broker;
use whisper_core::store::Store;

use crate::config::Config;
use crate::identity::Identity;
use crate::metrics::Metrics;

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The chat service.
    pub chat: Chat,
    /// Token issuing and checking.
    pub identity: Identity,
    /// The configuration.
    pub config: Config,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    connections_per_ip: Arc<Mutex<HashMap<IpAddr, u32>>>,
    stopping: watch::Sender<bool>,
    live: Arc<LiveTasks>,
}

/// Counts the tasks shutdown must wait for: HTTP connections and sessions.
#[derive(Debug, Default)]
struct LiveTasks {
    active: AtomicUsize,
    all_done: Notify,
}

impl LiveTasks {
    fn enter(self: &Arc<Self>) -> TaskGuard {
        self.active.fetch_add(1, Ordering::AcqRel);
        TaskGuard(self.clone())
    }
}

/// One tracked task; dropping it may wake the shutdown.
#[derive(Debug)]
struct TaskGuard(Arc<LiveTasks>);

impl Drop for TaskGuard {
    fn drop(&mut self) {
        if self.0.active.fetch_sub(1, Ordering::AcqRel) == 1 {
            self.0.all_done.notify_waiters();
        }
    }
}

/// A WebSocket connection's claim on its address's connection allowance.
#[derive(Debug)]
pub struct IpPermit {
    ip: IpAddr,
    table: Arc<Mutex<HashMap<IpAddr, u32>>>,
}

impl Drop for IpPermit {
    fn drop(&mut self) {
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(n) = table.get_mut(&self.ip) {
            *n -= 1;
            if *n == 0 {
                table.remove(&self.ip);
            }
        }
    }
}

/// Marks a session live until dropped; shutdown waits for all of them.
#[derive(Debug)]
pub struct SessionGuard {
    _task: TaskGuard,
    metrics: Arc<Metrics>,
}

impl Drop for SessionGuard {
    fn drop(&mut self) {
        self.metrics.connections.dec();
    }
}

impl AppState {
    /// Claims one connection slot for `ip`, if it has one left.
    pub fn ip_permit(&self, ip: IpAddr) -> Option<IpPermit> {
        let mut table = self.connections_per_ip.lock().unwrap_or_else(|p| p.into_inner());
        let n = table.entry(ip).or_insert(0);
        if *n >= self.config.max_connections_per_ip {
            return None;
        }
        *n += 1;
        Some(IpPermit { ip, table: self.connections_per_ip.clone() })
    }

    /// Counts a live session until the guard drops.
    pub fn session_started(&self) -> SessionGuard {
        self.metrics.connections.inc();
        self.metrics.connections_accepted.inc();
        SessionGuard { _task: self.live.enter(), metrics: self.metrics.clone() }
    }

    /// Turns `true` when the server starts shutting down.
    pub fn shutdown_signal(&self) -> watch::Receiver<bool> {
        self.stopping.subscribe()
    }
}

/// A configured server, ready to run on a listener.
#[derive(Debug)]
pub struct Server {
    state: Arc<AppState>,
}

/// Everything a server needs besides its chat service.
struct Parts {
    config: Config,
    store: Arc<dyn Store>,
    identity: Identity,
    metrics: Metrics,
    server_id: String,
}

impl Parts {
    fn new(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Parts> {
        let identity = Identity::load_or_create(&config.data_dir, config.secret.as_deref())
            .context("loading the identity secret")?;
        let metrics = Metrics::new();
        let store = metrics.metered(store);
        let server_id = config
            .server_id
            .clone()
            .unwrap_or_else(|| format!("node-{}", &uuid::Uuid::new_v4().simple().to_string()[..8]));
        Ok(Parts { config, store, identity, metrics, server_id })
    }

    fn into_server(self, chat: Chat) -> Server {
        let Parts { config, identity, mut metrics, .. } = self;
        metrics.watch_chat(chat.clone());
        let (stopping, _) = watch::channel(false);
        Server {
            state: Arc::new(AppState {
                chat,
                identity,
                config,
                metrics: Arc::new(metrics),
                connections_per_ip: Arc::default(),
                stopping,
                live: Arc::default(),
            }),
        }
    }
}

/// PostgreSQL if `database_url` is set, else SQLite in the data directory.
async fn open_store(config: &Config) -> anyhow::Result<Arc<dyn Store>> {
    match &config.database_url {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let store = crate::store::PostgresStore::connect(url).await.context("connecting to PostgreSQL")?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => anyhow::bail!("--database-url: this server was built without the `postgres` feature"),
        #[cfg(feature = "sqlite")]
        None => {
            let path = config.data_dir.join("whisper.db");
            let store =
                crate::store::SqliteStore::open(&path).await.with_context(|| format!("opening {}", path.display()))?;
            Ok(Arc::new(store))
        }
        #[cfg(not(feature = "sqlite"))]
        None => anyhow::bail!(
            "this server was built without the `sqlite` feature: give --database-url (feature `postgres`), \
             or host the chat on a store of your own with `Server::with_store`"
        ),
    }
}

#[cfg(feature = "nats")]
async fn connect_broker(url: &str, subject: &str) -> anyhow::Result<Arc<dyn Broker>> {
    Ok(Arc::new(crate::broker::NatsBroker::connect(url, subject).await?))
}

#[cfg(not(feature = "nats"))]
async fn connect_broker(_url: &str, _subject: &str) -> anyhow::Result<Arc<dyn Broker>> {
    anyhow::bail!("--nats-url: this server was built without the `nats` feature")
}

impl Server {
    /// Opens the configured store (PostgreSQL if `database_url` is set, else
    /// SQLite in the data directory) and the identity secret.
    pub async fn build(config: Config) -> anyhow::Result<Server> {
        std::fs::create_dir_all(&config.data_dir)
            .with_context(|| format!("creating data directory {}", config.data_dir.display()))?;
        let store = open_store(&config).await?;
        let broker = match &config.nats_url {
            None => None,
            Some(url) => Some(connect_broker(url, &config.nats_subject).await?),
        };
        Server::with_broker(config, store, broker).await
    }

    /// A server on a store of the caller's choosing (a single node).
    pub fn with_store(config: Config, store: Arc<dyn Store>) -> anyhow::Result<Server> {
        let parts = Parts::new(config, store)?;
        let chat =
            Chat::builder(parts.store.clone()).limits(parts.config.limits()).server_id(parts.server_id.clone()).build();
        Ok(parts.into_server(chat))
    }

    /// A server on `store` whose room events also go through `broker` (a
    /// node of a cluster), or a single node without one.
    pub async fn with_broker(
        config: Config,
        store: Arc<dyn Store>,
        broker: Option<Arc<dyn Broker>>,
    ) -> anyhow::Result<Server> {
        let parts = Parts::new(config, store)?;
        let (store, limits, id) = (parts.store.clone(), parts.config.limits(), parts.server_id.clone());
        let chat = match broker {
            Some(broker) => Chat::builder(store).limits(limits).server_id(id).broker(broker).build().await?,
            None => Chat::builder(store).limits(limits).server_id(id).build(),
        };
        Ok(parts.into_server(chat))
    }

    /// The chat service (to post or read from the embedding program).
    pub fn chat(&self) -> &Chat {
        &self.state.chat
    }

    /// Serves until `shutdown` completes, then stops accepting, closes every
    /// WebSocket with 1001, lets in-flight store writes finish, and returns
    /// within the configured grace.
    pub async fn run(self, listener: TcpListener, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
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
                    let task = state.live.enter();
                    let mut stop = state.shutdown_signal();
                    tokio::spawn(async move {
                        tokio::pin!(conn);
                        let result = tokio::select! {
                            result = conn.as_mut() => result,
                            // The watch guard must not live across the await below.
                            () = async { let _ = stop.wait_for(|stopping| *stopping).await; } => {
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
        tracing::info!(open = state.live.active.load(Ordering::Acquire), "shutting down");
        let _ = state.stopping.send(true);
        let drained = async {
            loop {
                let all_done = state.live.all_done.notified();
                if state.live.active.load(Ordering::Acquire) == 0 {
                    break;
                }
                all_done.await;
            }
        };
        if tokio::time::timeout(grace, drained).await.is_err() {
            tracing::warn!("shutdown grace elapsed with connections still open");
        }
        Ok(())
    }
}

/// Builds a server from `config` and runs it on `listener` until `shutdown`.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> anyhow::Result<()> {
    Server::build(config).await?.run(listener, shutdown).await
}

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

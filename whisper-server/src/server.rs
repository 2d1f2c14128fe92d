//! The accept loop: [`Server`] (made with [`Server::builder`]) takes a
//! listener, admits each connection under the connection caps
//! ([`crate::admission`]), serves HTTP/1.1 with upgrades on it until its
//! shutdown future completes, then stops accepting, tells every connection
//! and session to end, and waits for them within the configured grace.
//! With `metrics_bind`, a second listener serves `/metrics` alone.

use std::future::Future;
use std::sync::Arc;
use std::time::Duration;

use hyper::service::service_fn;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use whisper_core::Chat;
use whisper_core::broker::Broker;
use whisper_core::files::FileStore;
use whisper_core::policy::Policy;
use whisper_core::store::Store;
use whisper_store::accounts::AccountStore;

use crate::admission::{self, Admitted, Backoff, Listener};
use crate::config::Config;
use crate::error::Error;
use crate::http::MAX_REQUEST_HEAD_BYTES;
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
    accounts: Option<Arc<dyn AccountStore>>,
    broker: Option<Arc<dyn Broker>>,
    policy: Option<Arc<dyn Policy>>,
    files: Option<Arc<dyn FileStore>>,
}

impl ServerBuilder {
    /// Keeps files' bytes in `files` instead of where the configuration
    /// says (PostgreSQL with `--database-url`, else `<data-dir>/files`).
    pub fn files(mut self, files: Arc<dyn FileStore>) -> Self {
        self.files = Some(files);
        self
    }

    /// Hosts the chat on `store` instead of the one the configuration names.
    pub fn store(mut self, store: Arc<dyn Store>) -> Self {
        self.store = Some(store);
        self
    }

    /// The application's rules, asked before anything is stored or relayed,
    /// on every path: WebSocket frames and the HTTP history and log
    /// (protocol.md §14; default: none).
    pub fn policy(mut self, policy: Arc<dyn Policy>) -> Self {
        self.policy = Some(policy);
        self
    }

    /// Keeps accounts and sign-in sessions in `accounts` (protocol.md §14).
    /// A server on its configured store keeps them there; one given its own
    /// store has accounts only if given this too.
    pub fn accounts(mut self, accounts: Arc<dyn AccountStore>) -> Self {
        self.accounts = Some(accounts);
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
        let ServerBuilder { config, store, accounts, broker, policy, files } = self;
        std::fs::create_dir_all(&config.data_dir)
            .map_err(|e| Error::io(format!("creating data directory {}", config.data_dir.display()), e))?;
        // The secret before the store: a bad one stops the server before it
        // creates or migrates anything.
        let identity = Identity::load_or_create(&config.data_dir, config.secret.as_deref())
            .map_err(|e| Error::io("loading the identity secret", e))?;
        let (store, accounts, files) = match store {
            Some(store) => (store, accounts, files),
            None => {
                let (store, own, own_files) = open_store(&config).await?;
                (store, accounts.or(Some(own)), files.or(own_files))
            }
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
        let mut chat = Chat::builder(store).limits(config.limits()).server_id(server_id);
        if let Some(policy) = policy {
            chat = chat.policy(policy);
        }
        let chat = match broker {
            Some(broker) => chat.broker(broker).build().await?,
            None => chat.build(),
        };
        metrics.watch_chat(chat.clone());
        let descriptors = crate::descriptors::raise_limit();
        let max_connections =
            config.max_connections.unwrap_or_else(|| descriptors.map_or(usize::MAX, crate::descriptors::cap_for));
        tracing::info!(
            descriptors = ?descriptors,
            max_connections,
            health_reserve = crate::descriptors::HEALTH_RESERVE,
            "connection limits"
        );
        let limit = descriptors.and_then(|l| usize::try_from(l).ok()).unwrap_or(usize::MAX);
        if max_connections.saturating_add(crate::descriptors::HEALTH_RESERVE) >= limit {
            tracing::warn!(max_connections, limit, "max_connections is not below the file descriptor limit");
        }
        let accounts = accounts.map(crate::accounts::Accounts::new);
        let jwt = jwt_verifier(&config)?;
        let files = match files {
            Some(files) => files,
            None => open_files(&config).await?,
        };
        let files = crate::files::Files::start(&config, files, &chat)
            .await
            .map_err(|e| Error::io(format!("creating {}", config.data_dir.join("uploads").display()), e))?;
        let mut state = AppState::new(chat, identity, accounts, config, Arc::new(metrics), files, max_connections);
        state.jwt = jwt;
        Ok(Server { state: Arc::new(state) })
    }
}

/// The verifier of `--jwt-secret` or `--jwt-public-key`, if either is set.
fn jwt_verifier(config: &Config) -> Result<Option<crate::accounts::jwt::Jwt>, Error> {
    use crate::accounts::jwt::Jwt;
    match (&config.jwt_secret, &config.jwt_public_key) {
        (Some(_), Some(_)) => Err(Error::Config("give --jwt-secret or --jwt-public-key, not both".into())),
        (Some(secret), None) => {
            if let Some(why) = crate::identity::weakness(secret.as_bytes()) {
                return Err(Error::Config(format!("--jwt-secret {why}")));
            }
            Ok(Some(Jwt::hs256(secret.as_bytes()).map_err(Error::Config)?))
        }
        (None, Some(path)) => {
            let pem = std::fs::read(path).map_err(|e| Error::io(format!("reading {}", path.display()), e))?;
            Ok(Some(Jwt::public_key(&pem).map_err(Error::Config)?))
        }
        (None, None) => Ok(None),
    }
}

/// What [`open_store`] opens: the chat's store, its accounts, and (for
/// PostgreSQL) where files' bytes go.
type Opened = (Arc<dyn Store>, Arc<dyn AccountStore>, Option<Arc<dyn FileStore>>);

/// PostgreSQL if `database_url` is set, else SQLite in the data directory,
/// with the accounts kept beside the chat; files' bytes in PostgreSQL too,
/// so every node serves every file (for SQLite, [`open_files`] decides).
async fn open_store(config: &Config) -> Result<Opened, Error> {
    match &config.database_url {
        #[cfg(feature = "postgres")]
        Some(url) => {
            let store = crate::store::PostgresStore::connect(url)
                .await
                .map_err(|source| Error::Store { context: "connecting to PostgreSQL".into(), source })?;
            let accounts = Arc::new(store.accounts());
            let files: Arc<dyn FileStore> = Arc::new(store.files());
            Ok((Arc::new(store), accounts, Some(files)))
        }
        #[cfg(not(feature = "postgres"))]
        Some(_) => Err(Error::NotBuiltIn { option: "--database-url", feature: "postgres" }),
        #[cfg(feature = "sqlite")]
        None => {
            let path = config.data_dir.join("whisper.db");
            let store = crate::store::SqliteStore::open(&path)
                .await
                .map_err(|source| Error::Store { context: format!("opening {}", path.display()), source })?;
            let accounts = store.accounts().await.map_err(|source| Error::Store {
                context: format!("opening accounts in {}", path.display()),
                source,
            })?;
            Ok((Arc::new(store), Arc::new(accounts), None))
        }
        #[cfg(not(feature = "sqlite"))]
        None => Err(Error::NoStore),
    }
}

/// Files' bytes in `<data-dir>/files`: the default beside SQLite, and for
/// a server given its own store without a file store.
async fn open_files(config: &Config) -> Result<Arc<dyn FileStore>, Error> {
    let dir = config.data_dir.join("files");
    let files = whisper_store::DirectoryFiles::open(&dir)
        .await
        .map_err(|source| Error::Store { context: format!("opening {}", dir.display()), source })?;
    Ok(Arc::new(files))
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
        ServerBuilder { config, store: None, accounts: None, broker: None, policy: None, files: None }
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
        if let Some(addr) = state.config.metrics_bind {
            let metrics =
                TcpListener::bind(addr).await.map_err(|e| Error::io(format!("binding {addr} for /metrics"), e))?;
            let state = state.clone();
            let stopping = state.stopping();
            tokio::spawn(async move {
                tokio::select! {
                    () = accept_loop(metrics, Listener::Metrics, &state) => {}
                    () = stopping => {}
                }
            });
        }
        tokio::select! {
            () = accept_loop(listener, Listener::Main, &state) => {}
            () = shutdown => {}
        }
        let grace = Duration::from_secs(state.config.shutdown_grace_secs.max(1));
        tracing::info!(open = state.shutdown.open(), "shutting down");
        state.shutdown.begin();
        if tokio::time::timeout(grace, state.shutdown.drained()).await.is_err() {
            tracing::warn!("shutdown grace elapsed with connections still open");
        }
        Ok(())
    }
}

/// Accepts connections on `listener` for ever (the caller stops it by
/// dropping it), backing off while accepts fail.
async fn accept_loop(listener: TcpListener, which: Listener, state: &Arc<AppState>) {
    let open = http1(state, false);
    let reserve = http1(state, true);
    let mut backoff = Backoff::default();
    loop {
        let (tcp, peer) = match listener.accept().await {
            Ok(pair) => {
                backoff.succeeded();
                pair
            }
            Err(e) if Backoff::is_transient(&e) => {
                tracing::debug!(error = %e, "a connection went away before it was accepted");
                continue;
            }
            Err(e) => {
                // Out of file descriptors, usually: pause instead of spinning
                // (the pending connections wait in the backlog).
                state.metrics.accept_errors.inc();
                tokio::time::sleep(backoff.failed(&e, state.connections.open())).await;
                continue;
            }
        };
        let Some((tcp, admitted, permit)) = admission::admit(tcp, peer, which, state) else {
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let http = if admitted.reserve { &reserve } else { &open };
        serve(tcp, admitted, permit, http, state);
    }
}

/// The HTTP/1.1 settings of every connection; those of the health reserve
/// serve one request, with less time for its headers.
fn http1(state: &AppState, reserve: bool) -> hyper::server::conn::http1::Builder {
    let mut timeout = Duration::from_secs(state.config.handshake_timeout_secs.max(1));
    if reserve {
        timeout = timeout.min(RESERVE_HEADER_TIMEOUT);
    }
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(timeout)
        // hyper answers a longer head with 431 and closes (protocol.md §10).
        .max_header_size(MAX_REQUEST_HEAD_BYTES)
        .max_buf_size(MAX_REQUEST_HEAD_BYTES)
        .keep_alive(!reserve);
    http
}

/// Time a connection of the health reserve has to send its headers.
const RESERVE_HEADER_TIMEOUT: Duration = Duration::from_secs(2);

/// Serves one admitted connection on a task of its own until it ends or the
/// server stops.
fn serve(
    tcp: tokio::net::TcpStream,
    admitted: Admitted,
    permit: Arc<crate::permits::ConnectionPermit>,
    http: &hyper::server::conn::http1::Builder,
    state: &Arc<AppState>,
) {
    let for_requests = state.clone();
    let service = service_fn(move |req| crate::http::route(req, for_requests.clone(), admitted, permit.clone()));
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
            tracing::debug!(peer = %admitted.peer, error = %e, "http connection ended with an error");
        }
        drop(task);
    });
}

/// Builds a server from `config` and runs it on `listener` until `shutdown`.
pub async fn run(listener: TcpListener, config: Config, shutdown: impl Future<Output = ()>) -> Result<(), Error> {
    Server::builder(config).build().await?.run(listener, shutdown).await
}

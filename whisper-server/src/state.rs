//! What every request handler shares: the chat service, identity tokens, the
//! configuration, metrics, connection permits (the global cap and per
//! address), the read API's limits and the shutdown flag. Built
//! once by [`Server`](crate::Server); handlers hold it as `Arc<AppState>`.

use std::net::IpAddr;
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::Duration;

use tokio::sync::{Semaphore, SemaphorePermit};
use whisper_core::Chat;

use crate::accounts::Accounts;
use crate::config::Config;
use crate::identity::Identity;
use crate::metrics::Metrics;
use crate::permits::{ConnectionsPerIp, IpPermit, OpenConnections};
use crate::read_rate::RequestsPerIp;
use crate::shutdown::{Shutdown, TaskGuard};

/// What every request handler shares.
#[derive(Debug)]
pub struct AppState {
    /// The chat service.
    pub chat: Chat,
    /// Token issuing and checking.
    pub identity: Identity,
    /// Accounts and sign-in sessions, where the store keeps them.
    pub accounts: Option<Accounts>,
    /// The verifier of the application's JWTs, if configured.
    pub jwt: Option<crate::accounts::jwt::Jwt>,
    /// The configuration.
    pub config: Config,
    /// Metrics.
    pub metrics: Arc<Metrics>,
    /// Uploads and where their bytes are kept.
    pub files: crate::files::Files,
    connections_per_ip: ConnectionsPerIp,
    pub(crate) connections: OpenConnections,
    /// Refusals being written now ([`crate::admission`]).
    pub(crate) refusing: Arc<AtomicUsize>,
    requests_per_ip: RequestsPerIp,
    /// Read API requests reading the store at once ([`Config::http_concurrent_reads`]).
    store_reads: Semaphore,
    pub(crate) shutdown: Shutdown,
}

/// How long a read API request waits for its turn at the store before it is
/// answered 503: a queue that long means the store is overwhelmed.
const STORE_READ_WAIT: Duration = Duration::from_secs(10);

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
    /// `max_connections` is the cap in force (the configured one, or the
    /// one derived from the descriptor limit).
    pub(crate) fn new(
        chat: Chat,
        identity: Identity,
        accounts: Option<Accounts>,
        config: Config,
        metrics: Arc<Metrics>,
        files: crate::files::Files,
        max_connections: usize,
    ) -> AppState {
        let connections =
            OpenConnections::new(max_connections, crate::descriptors::HEALTH_RESERVE, metrics.tcp_connections.clone());
        let requests_per_ip = RequestsPerIp::new(config.http_requests_per_second, config.http_request_burst);
        let store_reads = Semaphore::new(config.http_concurrent_reads.max(1));
        AppState {
            chat,
            identity,
            accounts,
            jwt: None,
            config,
            metrics,
            files,
            connections_per_ip: ConnectionsPerIp::default(),
            connections,
            refusing: Arc::default(),
            requests_per_ip,
            store_reads,
            shutdown: Shutdown::new(),
        }
    }

    /// Claims one connection slot for `ip` (grouped as
    /// [`ip_key`](crate::permits::ip_key) does), if it has one left.
    pub fn ip_permit(&self, ip: IpAddr) -> Option<IpPermit> {
        self.connections_per_ip.claim(ip, self.config.max_connections_per_ip)
    }

    /// Takes one read API request from `ip`'s allowance: `Err` with how long
    /// to wait when it has none left (protocol.md §10).
    pub fn read_rate(&self, ip: IpAddr) -> Result<(), Duration> {
        self.requests_per_ip.check(ip)
    }

    /// A turn at the store for a read API request, held while it reads;
    /// `None` if none came free within a while. Sessions (joins, recovery)
    /// never wait for these, so bulk reads leave them readers.
    pub async fn store_read_turn(&self) -> Option<SemaphorePermit<'_>> {
        tokio::time::timeout(STORE_READ_WAIT, self.store_reads.acquire()).await.ok()?.ok()
    }

    /// Counts a live session until the guard drops.
    pub fn session_started(&self) -> SessionGuard {
        self.metrics.connections.inc();
        self.metrics.connections_accepted.inc();
        SessionGuard { _task: self.shutdown.track(), metrics: self.metrics.clone() }
    }

    /// Completes once the server starts shutting down.
    pub fn stopping(&self) -> impl Future<Output = ()> + Send + 'static {
        self.shutdown.stopped()
    }
}

//! A TCP proxy on loopback that a test can cut or stall: the link between a
//! node and its database or its broker, broken on purpose.

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU8, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::{JoinHandle, JoinSet};

/// What the proxy does with traffic.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
#[repr(u8)]
pub enum Mode {
    /// Forwards everything.
    Up = 0,
    /// Refuses new connections; the open ones were cut when it went down.
    Down = 1,
    /// Accepts connections and holds every byte, as a hung server or a
    /// network partition would: nobody hears back.
    Stalled = 2,
}

/// A proxy forwarding connections on [`addr`](Proxy::addr) to an upstream
/// address. Dropping it cuts every link.
#[derive(Debug)]
pub struct Proxy {
    addr: SocketAddr,
    mode: Arc<AtomicU8>,
    links: Arc<Mutex<JoinSet<()>>>,
    accept: JoinHandle<()>,
}

impl Proxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`host:port`). Panics if it cannot bind: it is for tests.
    pub async fn start(upstream: impl Into<String>) -> Proxy {
        let upstream = upstream.into();
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind the proxy");
        let addr = listener.local_addr().expect("proxy address");
        let mode = Arc::new(AtomicU8::new(Mode::Up as u8));
        let links: Arc<Mutex<JoinSet<()>>> = Arc::default();
        let (shared_mode, open) = (mode.clone(), links.clone());
        let accept = tokio::spawn(async move {
            while let Ok((inbound, _)) = listener.accept().await {
                if shared_mode.load(Ordering::SeqCst) == Mode::Down as u8 {
                    // "Refused": closed before a byte is exchanged.
                    drop(inbound);
                    continue;
                }
                let (upstream, mode) = (upstream.clone(), shared_mode.clone());
                let mut links = lock(&open);
                // Forget the links that ended, so the set stays small.
                while links.try_join_next().is_some() {}
                links.spawn(async move {
                    let Ok(outbound) = TcpStream::connect(upstream).await else { return };
                    let (client_read, client_write) = inbound.into_split();
                    let (server_read, server_write) = outbound.into_split();
                    tokio::join!(pump(client_read, server_write, mode.clone()), pump(server_read, client_write, mode));
                });
            }
        });
        Proxy { addr, mode, links, accept }
    }

    /// Where to connect to reach the upstream through the proxy.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// Switches the proxy to `mode`; [`Mode::Down`] also cuts every open
    /// link, as a crashed server would.
    pub fn set(&self, mode: Mode) {
        self.mode.store(mode as u8, Ordering::SeqCst);
        if mode == Mode::Down {
            lock(&self.links).abort_all();
        }
    }

    /// Breaks every link and refuses new ones: `set(Mode::Down)`.
    pub fn cut(&self) {
        self.set(Mode::Down);
    }

    /// Forwards again: `set(Mode::Up)`.
    pub fn restore(&self) {
        self.set(Mode::Up);
    }
}

impl Drop for Proxy {
    fn drop(&mut self) {
        self.accept.abort();
        lock(&self.links).abort_all();
    }
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // Nothing a panic leaves half done in a set of tasks: still usable.
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Copies one direction of a link, holding the bytes while stalled.
async fn pump(mut from: OwnedReadHalf, mut to: OwnedWriteHalf, mode: Arc<AtomicU8>) {
    let mut buf = vec![0u8; 16 * 1024];
    loop {
        let n = match from.read(&mut buf).await {
            Ok(0) | Err(_) => return,
            Ok(n) => n,
        };
        while mode.load(Ordering::SeqCst) == Mode::Stalled as u8 {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        if to.write_all(&buf[..n]).await.is_err() {
            return;
        }
    }
}

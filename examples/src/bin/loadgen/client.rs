//! One load connection: connects (from a chosen source address), reads every
//! frame the server sends, and, if it is a sender, writes messages at its
//! share of the rate (or keeps a window of them in flight).

use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use futures_util::{SinkExt, StreamExt};
use tokio::net::TcpSocket;
use tokio::sync::{Notify, watch};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

use crate::check::{Check, Checked};
use crate::histogram::Histogram;
use crate::protocol::{Protocol, Received};
use crate::tally::{Bits, Inbox};

pub type Socket = WebSocketStream<MaybeTlsStream<tokio::net::TcpStream>>;

/// Where the run is; every connection watches it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    Connecting,
    Sending,
    Draining,
    Done,
}

/// One server (node) the load connects to.
#[derive(Clone, Debug)]
pub struct Target {
    /// Its WebSocket base URL, as given to `--server`.
    pub url: String,
    pub address: SocketAddr,
}

/// What every connection of one process shares.
pub struct Shared {
    pub protocol: Protocol,
    /// The servers from `--server`; a plan's `node` indexes them.
    pub servers: Vec<Target>,
    pub size: usize,
    /// Percent of sends that are edits and reactions (whisper only).
    pub events_percent: u64,
    pub phase: watch::Receiver<Phase>,
    /// Frames that mattered (deliveries and acks), to see when a drain is over.
    pub progress: AtomicU64,
    /// Messages sent whose own copy (or refusal) has not come back to their
    /// sender yet: the drain waits for them rather than for a quiet moment
    /// alone, which a stall on a busy machine could fake.
    pub unanswered: AtomicI64,
    /// With `--check` (whisper only): the history checker.
    pub check: Option<Check>,
}

/// One connection's part in the run.
#[derive(Clone, Debug)]
pub struct Plan {
    pub conn: u32,
    pub room: String,
    /// Which of `Shared::servers` it connects to.
    pub node: usize,
    pub source: Option<IpAddr>,
    pub send: Option<Sending>,
}

#[derive(Clone, Copy, Debug)]
pub enum Sending {
    /// Messages per second, paced in 1 ms ticks, the first one `offset`
    /// seconds in: senders are staggered so that together they send evenly
    /// rather than all in the same tick (which would flatter group commit).
    Rate { per_sec: f64, offset: f64 },
    /// Keep this many messages in flight (sent, own copy not yet delivered).
    Window(u64),
}

/// What one connection saw.
#[derive(Debug, Default)]
pub struct Outcome {
    pub room: String,
    pub conn: u32,
    pub sender: bool,
    pub sent: u64,
    /// Stored (whisper: acked) or, for the baseline, written.
    pub acked: Bits,
    pub refused: u64,
    pub inbox: Inbox,
    pub deliveries: u64,
    pub deliveries_in_window: u64,
    /// Bytes of the text frames that carried deliveries.
    pub delivery_bytes: u64,
    pub delivery: Histogram,
    pub ack: Histogram,
    /// Set when the connection ended before the run did.
    pub dropped: Option<String>,
}

pub fn now_us() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_micros() as u64)
}

/// Opens the WebSocket and waits until the server says the room is joined.
pub async fn connect(shared: &Shared, plan: &Plan) -> anyhow::Result<(Socket, Option<Checked>)> {
    let socket = TcpSocket::new_v4()?;
    if let Some(ip) = plan.source {
        socket.bind(SocketAddr::new(ip, 0)).with_context(|| format!("binding {ip}"))?;
    }
    let server = &shared.servers[plan.node];
    let stream = socket.connect(server.address).await.with_context(|| format!("TCP connect to {}", server.url))?;
    stream.set_nodelay(true)?;
    let url = shared.protocol.url(&server.url, &plan.room, plan.conn);
    let config = WebSocketConfig::default().read_buffer_size(16 * 1024).write_buffer_size(16 * 1024);
    let (mut ws, _) = tokio_tungstenite::client_async_with_config(url, MaybeTlsStream::Plain(stream), Some(config))
        .await
        .context("WebSocket handshake")?;
    let mut checked = None;
    if shared.protocol == Protocol::Whisper {
        // Subscribed only once `joined` arrives; a message sent before would not count.
        let mut user = None;
        loop {
            match ws.next().await {
                Some(Ok(Message::Text(t))) => {
                    if let Some(check) = &shared.check {
                        checked = check.connecting(&t, &mut user, &plan.room);
                    }
                    if t.starts_with(r#"{"type":"joined""#) {
                        break;
                    }
                }
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => anyhow::bail!("closed before joining"),
            }
        }
    }
    Ok((ws, checked))
}

/// Runs a connected socket until the run is done.
pub async fn run(shared: Arc<Shared>, plan: Plan, ws: Socket, checked: Option<Checked>) -> Outcome {
    let (mut sink, mut stream) = ws.split();
    let own_seen = Arc::new((AtomicU64::new(0), Notify::new()));
    // The id of this sender's last acked message: what its events target.
    let last_own: Arc<std::sync::Mutex<Option<String>>> = Arc::default();
    let mut out =
        Outcome { room: plan.room.clone(), conn: plan.conn, sender: plan.send.is_some(), ..Outcome::default() };
    let writer = {
        let shared = shared.clone();
        let own_seen = own_seen.clone();
        let checked = checked.clone();
        let last_own = last_own.clone();
        let room = plan.room.clone();
        async move {
            let mut sent = 0u64;
            if let Some(send) = plan.send {
                let who = checked.as_ref();
                let to = Writing { conn: plan.conn, room: &room, last_own: &last_own };
                if let Err(e) = write(&shared, &to, send, &mut sink, &own_seen, &mut sent, who).await {
                    tracing_error(plan.conn, &e);
                }
            }
            // Stay until the run is done, then close politely.
            let mut phase = shared.phase.clone();
            let _ = phase.wait_for(|p| *p == Phase::Done).await;
            let _ = tokio::time::timeout(Duration::from_secs(2), sink.close()).await;
            sent
        }
    };
    let reader = async {
        let mut phase = shared.phase.clone();
        loop {
            let frame = tokio::select! {
                biased;
                _ = phase.wait_for(|p| *p == Phase::Done) => break,
                frame = stream.next() => frame,
            };
            // Our own close at the end of the run is answered; that is no drop.
            let ended = *phase.borrow() == Phase::Done;
            let text = match frame {
                Some(Ok(Message::Text(text))) => text,
                Some(Ok(_)) if ended => break,
                Some(Ok(Message::Close(close))) => {
                    out.dropped = Some(close.map_or("closed".into(), |c| format!("closed {}: {}", c.code, c.reason)));
                    break;
                }
                Some(Ok(_)) => continue,
                _ if ended => break,
                Some(Err(e)) => {
                    out.dropped = Some(e.to_string());
                    break;
                }
                None => {
                    out.dropped = Some("connection ended".into());
                    break;
                }
            };
            let now = now_us();
            if let (Some(check), Some(who)) = (&shared.check, &checked) {
                check.received(who, &text);
            }
            match shared.protocol.parse(&text) {
                Received::Delivered(seen) => {
                    out.delivery_bytes += text.len() as u64;
                    let in_window = *phase.borrow() == Phase::Sending;
                    for s in seen {
                        out.deliveries += 1;
                        out.deliveries_in_window += u64::from(in_window);
                        out.delivery.record(now.saturating_sub(s.sent_at));
                        out.inbox.receive(s.sender, s.n);
                        if s.sender == plan.conn {
                            if shared.protocol == Protocol::Baseline {
                                out.acked.insert(s.n);
                            }
                            own_seen.0.fetch_add(1, Ordering::Relaxed);
                            own_seen.1.notify_one();
                            shared.unanswered.fetch_sub(1, Ordering::Relaxed);
                        }
                    }
                    shared.progress.fetch_add(1, Ordering::Relaxed);
                }
                Received::Acked { sent_at, n, id } => {
                    out.ack.record(now.saturating_sub(sent_at));
                    out.acked.insert(n);
                    if id.is_some() {
                        *last_own.lock().unwrap_or_else(|p| p.into_inner()) = id;
                    }
                    shared.progress.fetch_add(1, Ordering::Relaxed);
                }
                Received::Refused { .. } => {
                    out.refused += 1;
                    // A refused message is never delivered: free its window slot.
                    own_seen.0.fetch_add(1, Ordering::Relaxed);
                    own_seen.1.notify_one();
                    shared.unanswered.fetch_sub(1, Ordering::Relaxed);
                    shared.progress.fetch_add(1, Ordering::Relaxed);
                }
                Received::Other => {}
            }
        }
    };
    let ((), sent) = tokio::join!(reader, writer);
    out.sent = sent;
    out
}

/// Who writes, and what its events target.
struct Writing<'a> {
    conn: u32,
    room: &'a str,
    last_own: &'a std::sync::Mutex<Option<String>>,
}

impl Writing<'_> {
    /// Send `n` as a frame: a message, or (for `events_percent` of the sends,
    /// spread evenly, once a message of its own is acked) an edit or a
    /// reaction, alternately.
    fn frame(&self, shared: &Shared, n: u64, at: u64) -> String {
        let p = shared.events_percent;
        let event = p > 0 && (n + 1) * p / 100 > n * p / 100;
        let target = if event { self.last_own.lock().unwrap_or_else(|e| e.into_inner()).clone() } else { None };
        match target {
            Some(target) => {
                let edit = (n * p / 100) % 2 == 0;
                Protocol::event(self.conn, n, at, shared.size, self.room, &target, edit)
            }
            None => shared.protocol.message(self.conn, n, at, shared.size),
        }
    }
}

async fn write<S>(
    shared: &Shared,
    to: &Writing<'_>,
    send: Sending,
    sink: &mut S,
    own_seen: &(AtomicU64, Notify),
    sent: &mut u64,
    checked: Option<&Checked>,
) -> anyhow::Result<()>
where
    S: futures_util::Sink<Message, Error = tokio_tungstenite::tungstenite::Error> + Unpin,
{
    let mut phase = shared.phase.clone();
    phase.wait_for(|p| *p != Phase::Connecting).await?;
    let started = tokio::time::Instant::now();
    let mut tick = tokio::time::interval(Duration::from_millis(1));
    loop {
        if *phase.borrow() != Phase::Sending {
            return Ok(());
        }
        let due = match send {
            Sending::Rate { per_sec, offset } => {
                let t = started.elapsed().as_secs_f64() - offset;
                if t < 0.0 { 0 } else { (t * per_sec) as u64 + 1 }
            }
            Sending::Window(w) => own_seen.0.load(Ordering::Relaxed) + w,
        };
        if *sent < due {
            let at = now_us();
            while *sent < due {
                if let (Some(check), Some(who)) = (&shared.check, checked) {
                    check.sent(who, &Protocol::client_id(at, *sent));
                }
                shared.unanswered.fetch_add(1, Ordering::Relaxed);
                sink.feed(Message::text(to.frame(shared, *sent, at))).await?;
                *sent += 1;
            }
            sink.flush().await?;
        }
        tokio::select! {
            _ = phase.changed() => {}
            _ = tick.tick(), if matches!(send, Sending::Rate { .. }) => {}
            () = own_seen.1.notified(), if matches!(send, Sending::Window(_)) => {}
        }
    }
}

fn tracing_error(conn: u32, e: &anyhow::Error) {
    eprintln!("loadgen: sender {conn} stopped: {e:#}");
}

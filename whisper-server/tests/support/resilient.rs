//! A client that survives server crashes the way a real one must: it
//! reconnects with its token, rejoins with `since_seq`, and resends every
//! unacked message and event with the same `client_id`. Every fourth thing
//! it sends is a reaction to one of its own acked messages, so runs check
//! the timeline's events (protocol.md §13) along with messages. Everything it
//! sends and receives goes into a shared [`HistoryChecker`].

#![allow(dead_code)]

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message as WsMessage;
use whisper_core::codec::{AckStatus, ErrorCode, ServerFrame};
use whisper_core::model::{Entry, MessageId, RoomName, Seq, UserId};
use whisper_core::testing::history::{HistoryChecker, SubscriberId};

/// Shared by every client of a run.
pub type History = Arc<Mutex<HistoryChecker>>;

/// What a client did, for the test's own accounting.
#[derive(Debug, Default)]
pub struct ClientStats {
    pub connections: u32,
    pub acked: u64,
    pub refused: u64,
    /// Refusals that said `storage_unavailable`.
    pub unavailable: u64,
}

/// One client: `total` messages to `room`, one every `pace`.
pub struct Resilient {
    pub name: String,
    pub room: RoomName,
    pub total: u64,
    pub pace: Duration,
    history: History,
    sub: SubscriberId,
    user: Option<UserId>,
    token: Option<String>,
    last_seq: Option<Seq>,
    /// Sent and not acked, oldest first.
    unacked: VecDeque<String>,
    /// Refused (the store was down): sent again on the next retry tick.
    retry: Vec<String>,
    /// Reactions sent and not acked: client id and target.
    unacked_events: VecDeque<(String, MessageId)>,
    /// Reactions refused: sent again on the next retry tick.
    retry_events: Vec<(String, MessageId)>,
    /// This client's acked messages, the targets of its reactions.
    own: Vec<MessageId>,
    next: u64,
    stats: ClientStats,
    /// Shared by the clients of a run that counts their connections.
    connected: Option<Arc<std::sync::atomic::AtomicU32>>,
}

/// Once every message is acked (so `stored` is final): waits, up to
/// `within`, until the history check passes, that is until every client has
/// been delivered every stored message of its room. Broadcasts still in
/// flight are waited for rather than raced with a fixed sleep; what is
/// really lost or duplicated still fails the check the caller makes next.
pub async fn settle(history: &History, stored: &[Entry], within: Duration) {
    let until = tokio::time::Instant::now() + within;
    while !lock(history).check_log(stored).passed() && tokio::time::Instant::now() < until {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the run is over (without holding the watch's guard across an await).
async fn wait_done(done: &mut watch::Receiver<bool>) {
    let _ = done.wait_for(|d| *d).await;
}

fn lock(h: &History) -> std::sync::MutexGuard<'_, HistoryChecker> {
    h.lock().unwrap_or_else(|p| p.into_inner())
}

impl Resilient {
    pub fn new(name: &str, room: &RoomName, total: u64, pace: Duration, history: &History) -> Resilient {
        let sub = lock(history).subscriber();
        Resilient {
            name: name.to_owned(),
            room: room.clone(),
            total,
            pace,
            history: history.clone(),
            sub,
            user: None,
            token: None,
            last_seq: None,
            unacked: VecDeque::new(),
            retry: Vec::new(),
            unacked_events: VecDeque::new(),
            retry_events: Vec::new(),
            own: Vec::new(),
            next: 0,
            stats: ClientStats::default(),
            connected: None,
        }
    }

    /// Adds each of this client's connections to `counter` as it opens, so
    /// that a test can wait until every client is back after a crash.
    pub fn counting_connections(mut self, counter: &Arc<std::sync::atomic::AtomicU32>) -> Resilient {
        self.connected = Some(counter.clone());
        self
    }

    /// Whether everything this client means to send is sent and acked.
    pub fn finished(&self) -> bool {
        self.next == self.total && self.unacked.is_empty() && self.unacked_events.is_empty()
    }

    /// Runs until every message is acked and `done` says the run is over
    /// (so that it goes on receiving what others send), reconnecting to
    /// `addr` (read anew each time: a restarted server may move) whenever
    /// the connection fails. `finished` counts clients that have all their
    /// acks.
    pub async fn run(
        mut self,
        addr: watch::Receiver<SocketAddr>,
        finished: Arc<std::sync::atomic::AtomicUsize>,
        mut done: watch::Receiver<bool>,
    ) -> ClientStats {
        let mut counted = false;
        loop {
            if *done.borrow() {
                break;
            }
            let url = self.url(*addr.borrow());
            let socket = tokio::select! {
                s = tokio_tungstenite::connect_async(url.as_str()) => s,
                () = wait_done(&mut done) => break,
            };
            let Ok((ws, _)) = socket else {
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            };
            self.stats.connections += 1;
            if let Some(counter) = &self.connected {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            }
            let (mut tx, mut rx) = ws.split();
            let mut joined = false;
            let mut tick = tokio::time::interval(self.pace);
            let mut retry_tick = tokio::time::interval(Duration::from_millis(200));
            self.retry.clear(); // the rejoin resends everything unacked
            self.retry_events.clear();
            let ended = loop {
                if self.finished() && !counted {
                    counted = true;
                    finished.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                tokio::select! {
                    frame = rx.next() => {
                        let Some(Ok(WsMessage::Text(text))) = frame else {
                            match frame {
                                Some(Ok(_)) => continue,
                                _ => break false, // the server went away
                            }
                        };
                        let Ok(frame) = ServerFrame::decode(&text) else { continue };
                        match frame {
                            ServerFrame::Welcome { user_id, token, .. } => {
                                self.user.get_or_insert(user_id);
                                assert_eq!(self.user, Some(user_id), "the token keeps the identity");
                                self.token = Some(token.into_owned());
                                let join = match self.last_seq {
                                    Some(seq) => json!({"type":"join","room":self.room,"since_seq":seq.0}),
                                    None => json!({"type":"join","room":self.room}),
                                };
                                if tx.send(WsMessage::text(join.to_string())).await.is_err() {
                                    break false;
                                }
                            }
                            ServerFrame::Joined { seq, .. } => {
                                lock(&self.history).joined(self.sub, &self.room, seq);
                                if self.last_seq.is_none() {
                                    self.last_seq = Some(seq);
                                }
                                joined = true;
                                // Everything unacked goes again, same client ids.
                                let pending: Vec<String> = self.unacked.iter().cloned().collect();
                                if !pending.is_empty() && self.send(&mut tx, &pending).await.is_err() {
                                    break false;
                                }
                                let events: Vec<(String, MessageId)> = self.unacked_events.iter().cloned().collect();
                                if self.react(&mut tx, &events).await.is_err() {
                                    break false;
                                }
                            }
                            ServerFrame::Messages { data, .. } => {
                                let mut h = lock(&self.history);
                                for m in data.iter() {
                                    h.delivered(self.sub, m);
                                    self.last_seq = Some(self.last_seq.map_or(m.seq, |s| s.max(m.seq)));
                                }
                            }
                            ServerFrame::Events { data, .. } => {
                                let mut h = lock(&self.history);
                                for e in data.iter() {
                                    h.delivered_event(self.sub, e);
                                    self.last_seq = Some(self.last_seq.map_or(e.seq, |s| s.max(e.seq)));
                                }
                            }
                            ServerFrame::Ack { client_id, status, error, .. } => {
                                if error.as_ref().is_some_and(|e| e.code == ErrorCode::StorageUnavailable) {
                                    self.stats.unavailable += 1;
                                }
                                let user = self.user.expect("welcome first");
                                let id = client_id.as_str();
                                let Some(i) = self.unacked_events.iter().position(|(c, _)| c == id) else { continue };
                                if status == AckStatus::Success {
                                    lock(&self.history).acked(user, id);
                                    self.unacked_events.remove(i);
                                    self.stats.acked += 1;
                                } else {
                                    assert_eq!(
                                        error.as_ref().map(|e| e.code),
                                        Some(ErrorCode::StorageUnavailable),
                                        "a reaction to one's own acked message is refused only by the store: {error:?}"
                                    );
                                    lock(&self.history).refused(user, id);
                                    self.stats.refused += 1;
                                    self.retry_events.push(self.unacked_events[i].clone());
                                }
                            }
                            ServerFrame::MessageIds { status, client_ids, message_ids, error, .. } => {
                                if status == AckStatus::Success {
                                    self.own.extend(message_ids.iter().copied());
                                }
                                if error.as_ref().is_some_and(|e| e.code == ErrorCode::StorageUnavailable) {
                                    self.stats.unavailable += client_ids.len() as u64;
                                }
                                let user = self.user.expect("welcome first");
                                for id in client_ids.iter().flatten() {
                                    let id = id.as_str();
                                    if status == AckStatus::Success {
                                        lock(&self.history).acked(user, id);
                                        self.unacked.retain(|u| u != id);
                                        self.stats.acked += 1;
                                    } else {
                                        // Refused (the store is down, say): keep it
                                        // and resend on the next connection.
                                        lock(&self.history).refused(user, id);
                                        self.stats.refused += 1;
                                        self.retry.push(id.to_owned());
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                    _ = tick.tick(), if joined && self.next < self.total => {
                        let id = format!("{}-{}", self.name, self.next);
                        let reaction = (self.next % 4 == 3).then(|| self.own.last().copied()).flatten();
                        self.next += 1;
                        let sent = match reaction {
                            Some(target) => {
                                self.unacked_events.push_back((id.clone(), target));
                                self.react(&mut tx, &[(id, target)]).await
                            }
                            None => {
                                self.unacked.push_back(id.clone());
                                self.send(&mut tx, &[id]).await
                            }
                        };
                        if sent.is_err() {
                            break false;
                        }
                    }
                    _ = retry_tick.tick(), if joined && !(self.retry.is_empty() && self.retry_events.is_empty()) => {
                        let again = std::mem::take(&mut self.retry);
                        if self.send(&mut tx, &again).await.is_err() {
                            break false;
                        }
                        let again = std::mem::take(&mut self.retry_events);
                        if self.react(&mut tx, &again).await.is_err() {
                            break false;
                        }
                    }
                    () = wait_done(&mut done) => break true,
                }
            };
            if ended {
                let _ = tx.close().await;
                break;
            }
            // Refusals are retried on the next connection; don't spin.
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.stats
    }

    fn url(&self, addr: SocketAddr) -> String {
        let mut url = format!("ws://{addr}/v1/chat/ws?room=&name={}", self.name);
        if let Some(token) = &self.token {
            url.push_str("&token=");
            url.push_str(token);
        }
        url
    }

    /// Sends one reaction per `(client id, target)`: an emoji of its own
    /// (`e` and the client id's number), so that each is a new one.
    async fn react<S>(&self, tx: &mut S, events: &[(String, MessageId)]) -> Result<(), ()>
    where
        S: futures_util::Sink<WsMessage> + Unpin,
    {
        let user = self.user.expect("welcome first");
        for (id, target) in events {
            lock(&self.history).sent(user, &self.room, id);
            let emoji = format!("e{}", id.rsplit('-').next().unwrap_or("0"));
            let frame =
                json!({"type":"react","room":self.room,"id":target.to_string(),"emoji":emoji,"on":true,"client_id":id});
            tx.send(WsMessage::text(frame.to_string())).await.map_err(|_| ())?;
        }
        Ok(())
    }

    async fn send<S>(&self, tx: &mut S, ids: &[String]) -> Result<(), ()>
    where
        S: futures_util::Sink<WsMessage> + Unpin,
    {
        let user = self.user.expect("welcome first");
        for chunk in ids.chunks(50) {
            let data: Vec<_> = chunk
                .iter()
                .map(|id| {
                    lock(&self.history).sent(user, &self.room, id);
                    json!({"content": format!("message {id}"), "client_id": id, "room": self.room})
                })
                .collect();
            let frame = json!({"type":"messages","data":data}).to_string();
            tx.send(WsMessage::text(frame)).await.map_err(|_| ())?;
        }
        Ok(())
    }
}

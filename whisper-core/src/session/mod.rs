//! The session: one connection's conversation, independent of any transport.
//!
//! [`run`] reads client frames from a `Stream` and writes server frames to a
//! `Sink`, so the server drives it with a WebSocket, an embedding application
//! with its own socket type, and tests with channels. It sends `welcome`,
//! answers every frame (acks only after the store committed), forwards the
//! hub's broadcasts with one flush per batch, and closes with the right code
//! when the client breaks the rules or falls behind.

mod state;

use std::borrow::Cow;
use std::future::Future;
use std::net::IpAddr;

use futures_util::future::FusedFuture;
use futures_util::{FutureExt, Sink, SinkExt, Stream, StreamExt};

use crate::chat::Chat;
use crate::codec::EncodedFrame;
use crate::hub::Delivery;
use crate::model::{DisplayName, ExternalId, PrincipalKind, RoomName, UserId};
use state::Session;

/// WebSocket close codes the session uses (RFC 6455 §7.4.1).
pub mod close {
    /// The server is shutting down.
    pub const GOING_AWAY: u16 = 1001;
    /// The client broke the WebSocket protocol (RFC 6455 framing).
    pub const PROTOCOL_ERROR: u16 = 1002;
    /// A binary frame: only text is spoken.
    pub const UNSUPPORTED_DATA: u16 = 1003;
    /// A text frame that is not UTF-8.
    pub const INVALID_PAYLOAD: u16 = 1007;
    /// The client kept flooding past its rate limits.
    pub const POLICY_VIOLATION: u16 = 1008;
    /// A frame over the size limit.
    pub const MESSAGE_TOO_BIG: u16 = 1009;
    /// The client read too slowly (slow consumer, or a write that timed
    /// out); reconnect and recover.
    pub const TRY_AGAIN_LATER: u16 = 1013;
    /// The sign-in session this connection was opened with was revoked (or
    /// signed out): reconnecting with it is refused (protocol.md §14).
    pub const REVOKED: u16 = 4001;
    /// The application disconnected the user (protocol.md §14).
    pub const DISCONNECTED: u16 = 4002;
}

/// What the transport read from the client.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Inbound<T> {
    /// A text frame.
    Text(T),
    /// A binary frame (refused: close 1003).
    Binary,
    /// A frame the transport refused as too large (close 1009).
    TooLarge,
    /// A text frame that was not UTF-8 (close 1007).
    InvalidUtf8,
    /// An answer to a heartbeat ping: the client is alive.
    Pong,
    /// A ping from the client (the transport answers it). Pings take from
    /// the control-frame bucket: a flood of them closes with 1008.
    Ping,
    /// A frame that breaks the WebSocket protocol: reserved bits or opcode,
    /// an unmasked client frame, a stray continuation… (close 1002).
    ProtocolError,
}

impl From<String> for Inbound<String> {
    fn from(text: String) -> Self {
        Inbound::Text(text)
    }
}

impl From<&'static str> for Inbound<&'static str> {
    fn from(text: &'static str) -> Self {
        Inbound::Text(text)
    }
}

/// What the session writes to the transport.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outgoing {
    /// A text frame; its bytes may be shared with other connections.
    Frame(EncodedFrame),
    /// A heartbeat: ping the client (a WebSocket ping); it answers with
    /// [`Inbound::Pong`].
    Ping,
    /// Close the connection with this code and reason; nothing follows.
    Close {
        /// RFC 6455 close code, see [`close`].
        code: u16,
        /// A short reason for the client.
        reason: Cow<'static, str>,
    },
}

/// Who is on the other end, as the transport established it.
#[derive(Clone, Debug)]
pub struct Connection {
    /// The identity (from a verified token, or fresh).
    pub user_id: UserId,
    /// How it proved who it is. Only a guest names itself with `profile`;
    /// the others show the name given here (their stored profile's).
    pub kind: PrincipalKind,
    /// The application's own id of an external principal (then `user_id`
    /// is [`ExternalId::user_id`]).
    pub external_id: Option<ExternalId>,
    /// The sign-in session it was opened with, if any, so that revoking
    /// that session closes it ([`Chat::revoke`]).
    pub session: Option<std::sync::Arc<str>>,
    /// The token to send in `welcome` so the client can keep its identity;
    /// `None` where identities are not kept (`welcome` then carries an empty
    /// token).
    pub token: Option<String>,
    /// The display name to start with; a guest name if none.
    pub name: Option<DisplayName>,
    /// A room to join on connect.
    pub room: Option<RoomName>,
    /// The client's address, the key of its per-address write budgets and
    /// room-creation caps (protocol.md §10; IPv6 grouped by /64); `None`
    /// where the transport knows none (only the per-user budgets apply).
    pub address: Option<IpAddr>,
}

impl Connection {
    /// A guest with no token to give back, joining `room` if any: the
    /// shape tests and embedders that keep no identities start from.
    pub fn guest(user_id: UserId, room: Option<RoomName>) -> Connection {
        Connection {
            user_id,
            kind: PrincipalKind::Guest,
            external_id: None,
            session: None,
            token: None,
            name: None,
            room,
            address: None,
        }
    }

    /// One of the embedding application's users, by its own id and name,
    /// joining `room` if any: the user id is derived from the id.
    pub fn external(id: ExternalId, name: DisplayName, room: Option<RoomName>) -> Connection {
        Connection {
            user_id: id.user_id(),
            kind: PrincipalKind::External,
            external_id: Some(id),
            session: None,
            token: None,
            name: Some(name),
            room,
            address: None,
        }
    }
}

/// Why a session ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SessionEnd {
    /// The client closed or the stream ended.
    ClientGone,
    /// The transport failed to write.
    WriteFailed,
    /// The outbox overflowed, in frames or in bytes (close 1013).
    SlowConsumer,
    /// A write to the client took longer than `write_timeout`: it stopped
    /// reading (close 1013, if the close frame still gets through).
    WriteTimeout,
    /// The client kept sending frames past its control-frame limit
    /// (`flood_refusals` refusals in a row) (close 1008).
    Flooding,
    /// The client pinged faster than its control-frame limit (close 1008).
    PingFlood,
    /// The client broke the WebSocket protocol (close 1002).
    ProtocolError,
    /// A binary frame (close 1003).
    BinaryFrame,
    /// A non-UTF-8 text frame (close 1007).
    InvalidUtf8,
    /// A frame over the size limit (close 1009).
    FrameTooLarge,
    /// The server is shutting down (close 1001).
    Shutdown,
    /// No sign of life for `missed_heartbeats` heartbeats (close 1001).
    Unresponsive,
    /// The sign-in session was revoked (close 4001).
    Revoked,
    /// The application disconnected the user (close 4002).
    Disconnected,
}

impl SessionEnd {
    /// The close frame the session sent for this end, if it sent one.
    pub fn close_code(self) -> Option<u16> {
        match self {
            SessionEnd::ClientGone | SessionEnd::WriteFailed => None,
            SessionEnd::SlowConsumer | SessionEnd::WriteTimeout => Some(close::TRY_AGAIN_LATER),
            SessionEnd::Flooding | SessionEnd::PingFlood => Some(close::POLICY_VIOLATION),
            SessionEnd::ProtocolError => Some(close::PROTOCOL_ERROR),
            SessionEnd::BinaryFrame => Some(close::UNSUPPORTED_DATA),
            SessionEnd::InvalidUtf8 => Some(close::INVALID_PAYLOAD),
            SessionEnd::FrameTooLarge => Some(close::MESSAGE_TOO_BIG),
            SessionEnd::Shutdown | SessionEnd::Unresponsive => Some(close::GOING_AWAY),
            SessionEnd::Revoked => Some(close::REVOKED),
            SessionEnd::Disconnected => Some(close::DISCONNECTED),
        }
    }

    fn reason(self) -> &'static str {
        match self {
            SessionEnd::SlowConsumer => "slow consumer: reconnect and join with since_seq",
            SessionEnd::WriteTimeout => "write timed out: reconnect and join with since_seq",
            SessionEnd::Flooding => "too many refused frames",
            SessionEnd::PingFlood => "too many pings",
            SessionEnd::ProtocolError => "websocket protocol error",
            SessionEnd::BinaryFrame => "binary frames are not supported",
            SessionEnd::InvalidUtf8 => "text frames must be UTF-8",
            SessionEnd::FrameTooLarge => "frame too large",
            SessionEnd::Shutdown => "server shutting down",
            SessionEnd::Unresponsive => "no answer to heartbeats",
            SessionEnd::Revoked => "the session was revoked",
            SessionEnd::Disconnected => "disconnected by the server",
            SessionEnd::ClientGone | SessionEnd::WriteFailed => "",
        }
    }
}

/// Runs one connection's session until the client leaves, breaks a rule that
/// closes the connection, falls behind, or `shutdown` completes.
///
/// Drive it to completion: a session dropped while it awaits the store may
/// leave an acked-later message unacked (it is still stored, and resend is
/// idempotent), but never loses one.
pub fn run<I, T, O, F>(
    chat: Chat,
    conn: Connection,
    inbound: I,
    outgoing: O,
    shutdown: F,
) -> impl Future<Output = SessionEnd>
where
    I: Stream<Item = Inbound<T>> + Unpin,
    T: AsRef<str>,
    O: Sink<Outgoing> + Unpin,
    F: Future<Output = ()>,
{
    // Boxed for the moment it takes to start: an async fn keeps its
    // arguments for as long as it runs, so a `Connection` by value would stay
    // in every idle connection's task; a pointer is all that stays.
    run_session(chat, Box::new(conn), inbound, outgoing, shutdown)
}

async fn run_session<I, T, O, F>(
    chat: Chat,
    conn: Box<Connection>,
    mut inbound: I,
    outgoing: O,
    shutdown: F,
) -> SessionEnd
where
    I: Stream<Item = Inbound<T>> + Unpin,
    T: AsRef<str>,
    O: Sink<Outgoing> + Unpin,
    F: Future<Output = ()>,
{
    let heartbeat = chat.limits().heartbeat_interval.filter(|d| !d.is_zero());
    let missed_limit = chat.limits().missed_heartbeats.max(1);
    // Taken apart so that nothing of it but what the session needs stays in
    // this (long-lived) future: the token goes out in `welcome` and is dropped.
    let Connection { user_id, kind, external_id, session, token, name, room, address } = *conn;
    // Pinned here and lent to the session, so that every write races it too
    // (a write blocked by a client that stopped reading must not hold up the
    // server's shutdown) without an allocation per connection.
    let shutdown = std::pin::pin!(shutdown.fuse());
    let mut session = Session::new(chat, user_id, kind, external_id, session, name, address, outgoing, shutdown);
    // The futures of `start` and `handle` are boxed: inline, they would
    // make every idle connection's task as big as the largest of them.
    let end = match Box::pin(session.start(token, room)).await {
        Err(end) => end,
        Ok(()) => {
            let outbox = session.outbox();
            let mut batch: Vec<Delivery> = Vec::new();
            // With no heartbeat the interval is an hour and never acted on.
            let period = heartbeat.unwrap_or(std::time::Duration::from_secs(3600));
            let mut ticks = tokio::time::interval_at(tokio::time::Instant::now() + period, period);
            ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            let mut silent_ticks = 0u32;
            loop {
                tokio::select! {
                    biased;
                    () = &mut session.shutdown, if !session.shutdown.is_terminated() => break SessionEnd::Shutdown,
                    // Before the outbox: an ack usually precedes the broadcast
                    // of its own messages (not always: see docs/protocol.md §6).
                    Some(posted) = session.posts.next(), if session.posting() => {
                        if let Err(end) = session.ack(posted).await {
                            break end;
                        }
                    }
                    drained = outbox.drain(&mut batch) => match drained {
                        Ok(()) => {
                            if let Err(end) = session.write_deliveries(&mut batch).await {
                                break end;
                            }
                        }
                        Err(closed) => break state::closed_end(closed),
                    },
                    frame = inbound.next(), if session.may_read() => {
                        silent_ticks = 0;
                        let step = match frame {
                            None => Err(SessionEnd::ClientGone),
                            Some(Inbound::Text(text)) => Box::pin(session.handle(text.as_ref())).await,
                            Some(Inbound::Pong) => Ok(()),
                            Some(Inbound::Ping) => session.pinged(),
                            Some(Inbound::ProtocolError) => Err(SessionEnd::ProtocolError),
                            Some(Inbound::Binary) => Err(SessionEnd::BinaryFrame),
                            Some(Inbound::TooLarge) => Err(SessionEnd::FrameTooLarge),
                            Some(Inbound::InvalidUtf8) => Err(SessionEnd::InvalidUtf8),
                        };
                        if let Err(end) = step {
                            break end;
                        }
                    }
                    _ = ticks.tick(), if heartbeat.is_some() => {
                        if silent_ticks >= missed_limit {
                            break SessionEnd::Unresponsive;
                        }
                        silent_ticks += 1;
                        if let Err(end) = session.ping().await {
                            break end;
                        }
                    }
                }
            }
        }
    };
    session.finish(end).await;
    end
}

/// Sends the close frame and closes the sink, waiting at most `timeout`: a
/// client that stopped reading cannot take it, and is dropped without one.
async fn send_close<O: Sink<Outgoing> + Unpin>(out: &mut O, end: SessionEnd, timeout: std::time::Duration) {
    let close = async {
        if let Some(code) = end.close_code() {
            out.send(Outgoing::Close { code, reason: Cow::Borrowed(end.reason()) }).await?;
        }
        out.close().await
    };
    // The client may already be gone; there is nothing more to do then.
    let _ = tokio::time::timeout(timeout, close).await;
}

#[cfg(test)]
mod tests;

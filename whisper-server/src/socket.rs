//! One WebSocket connection, once upgraded: runs a core session over it,
//! translating tungstenite's messages into the session's inbound frames and
//! its outgoing frames into WebSocket frames (shared bytes, fragmented), and
//! ends with the server's shutdown. Holds the connection's permits (its
//! place under the connection cap and its address's slot) and counts it as
//! live until it ends.

use std::net::IpAddr;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::error::{CapacityError, ProtocolError};
use tokio_tungstenite::tungstenite::protocol::frame::Frame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::{CloseCode, Data, OpCode};
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, WebSocketConfig};
use tokio_tungstenite::tungstenite::{Error as WsError, Message, Utf8Bytes};
use whisper_core::session::{self, Connection, Inbound, Outgoing, SessionEnd};

use crate::permits::SessionPermits;
use crate::state::AppState;

/// Frames and messages over this close the socket with 1009 (protocol.md §5, §10).
const MAX_FRAME: usize = 64 * 1024;

/// The limits and buffer sizes of every server-side socket.
pub(crate) fn config() -> WebSocketConfig {
    WebSocketConfig::default()
        .max_message_size(Some(MAX_FRAME))
        .max_frame_size(Some(MAX_FRAME))
        // Small buffers keep an idle socket cheap. Client frames are small
        // (a message is a few hundred bytes); a larger one grows the buffer
        // and is read in 512-byte steps, at most 128 reads for the largest.
        .read_buffer_size(512)
        .write_buffer_size(8 * 1024)
        // Must hold the write buffer plus one largest frame.
        .max_write_buffer_size(8 * 1024 + 2 * MAX_FRAME)
}

/// Runs the session until it ends, translating between WebSocket messages
/// and the session's frames.
pub(crate) async fn serve<S>(
    socket: WebSocketStream<S>,
    state: Arc<AppState>,
    conn: Box<Connection>,
    client: IpAddr,
    permits: SessionPermits,
) where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let _session = state.session_started();
    let user = conn.user_id;
    tracing::info!(%client, %user, "connected");
    let (sink, stream) = socket.split();
    // The state is `None` once the stream must not be read again.
    let mut inbound = Box::pin(futures_util::stream::unfold(Some(stream), |stream| async move {
        let mut stream = stream?;
        loop {
            let inbound = match stream.next().await? {
                Ok(Message::Text(text)) => Inbound::Text(text),
                Ok(Message::Binary(_)) => Inbound::Binary,
                Ok(Message::Pong(_)) => Inbound::Pong,
                // tungstenite answers pings itself; the session counts them
                // (a flood of them costs a write each).
                Ok(Message::Ping(_)) => Inbound::Ping,
                Ok(Message::Frame(_)) => continue,
                Ok(Message::Close(_)) => return None,
                Err(WsError::Capacity(CapacityError::MessageTooLong { .. })) => Inbound::TooLarge,
                Err(WsError::Utf8(_)) => Inbound::InvalidUtf8,
                // The peer hung up without a close frame: it is gone.
                Err(WsError::Protocol(ProtocolError::ResetWithoutClosingHandshake)) => return None,
                // Reserved bits or opcodes, an unmasked frame, a stray
                // continuation, a fragmented or oversized control frame, …
                // What follows cannot be trusted to be framed: read no more.
                Err(WsError::Protocol(_)) => return Some((Inbound::ProtocolError, None)),
                Err(_) => return None,
            };
            return Some((inbound, Some(stream)));
        }
    }));
    let outgoing = sink.with_flat_map(|out: Outgoing| futures_util::stream::iter(WireFrames::of(out)));
    let shutdown = state.stopping();
    // Unboxed only here: until now every future on the way held a pointer,
    // not a copy of the connection each (an async fn keeps its arguments for
    // as long as it runs, and idle sockets pay for every byte).
    let end = session::run(state.chat.clone(), *conn, &mut inbound, Box::pin(outgoing), shutdown).await;
    drop(permits);
    if closed_for_what_it_sent(end) {
        // Read what the client still sends (a flood in flight) before
        // dropping the socket: closing with unread data makes the kernel
        // reset the connection, and the client would lose the close frame
        // that says why. Bounded: the client gets `LINGER` to stop.
        let _ = tokio::time::timeout(LINGER, async { while inbound.next().await.is_some() {} }).await;
    }
    match end {
        SessionEnd::WriteTimeout => {
            state.metrics.write_timeouts.inc();
            tracing::warn!(%client, %user, "write timed out: the client stopped reading");
        }
        SessionEnd::Flooding | SessionEnd::PingFlood | SessionEnd::ProtocolError => {
            state.metrics.abusive_closes.inc();
            tracing::warn!(%client, %user, end = ?end, "closed an abusive client");
        }
        _ => {}
    }
    tracing::info!(%client, %user, end = ?end, "disconnected");
}

/// How long a connection closed for what it sent is read (and discarded)
/// before its socket is dropped.
const LINGER: std::time::Duration = std::time::Duration::from_secs(1);

/// Whether the session ended because of frames the client sent, which may
/// still be arriving.
fn closed_for_what_it_sent(end: SessionEnd) -> bool {
    matches!(
        end,
        SessionEnd::Flooding
            | SessionEnd::PingFlood
            | SessionEnd::ProtocolError
            | SessionEnd::BinaryFrame
            | SessionEnd::InvalidUtf8
            | SessionEnd::FrameTooLarge
    )
}

/// Server frames go out in WebSocket fragments of at most this many bytes:
/// a socket's write buffer keeps the capacity of the largest frame it ever
/// held, so without fragments one big presence list or batch would stay
/// allocated for the life of every connection that received it.
const FRAGMENT: usize = 4 * 1024;

/// The WebSocket frames of one `Outgoing`, made without copying or
/// allocating: a shared frame's fragments are slices of its bytes.
enum WireFrames {
    /// The fragments of a text message still to send, from byte `at`.
    Text { bytes: Bytes, at: usize },
    /// A control frame, until it is taken.
    One(Option<Message>),
}

impl WireFrames {
    fn of(out: Outgoing) -> Self {
        match out {
            Outgoing::Frame(frame) => WireFrames::Text { bytes: Bytes::from(frame), at: 0 },
            Outgoing::Ping => WireFrames::One(Some(Message::Ping(Bytes::new()))),
            Outgoing::Close { code, reason } => WireFrames::One(Some(Message::Close(Some(CloseFrame {
                code: CloseCode::from(code),
                reason: Utf8Bytes::from(&*reason),
            })))),
        }
    }
}

impl Iterator for WireFrames {
    type Item = Result<Message, WsError>;

    fn next(&mut self) -> Option<Self::Item> {
        match self {
            WireFrames::One(message) => message.take().map(Ok),
            WireFrames::Text { bytes, at } => {
                // An empty message is still one (final) frame.
                if *at > 0 && *at >= bytes.len() {
                    return None;
                }
                let end = bytes.len().min(*at + FRAGMENT);
                let opcode = if *at == 0 { Data::Text } else { Data::Continue };
                // The bytes were encoded from a `String`: valid UTF-8 as a
                // whole, which is what RFC 6455 asks of a fragmented message
                // (`Message::Text` would check it again for every recipient).
                let frame = Frame::message(bytes.slice(*at..end), OpCode::Data(opcode), end == bytes.len());
                *at = end.max(1);
                Some(Ok(Message::Frame(frame)))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_frames_are_fragmented_without_copying() {
        let text = "é".repeat(FRAGMENT); // 2 bytes each: fragments split characters
        let frame = Bytes::from(text.clone());
        let frames: Vec<Frame> = WireFrames::Text { bytes: frame.clone(), at: 0 }
            .map(|m| match m.unwrap() {
                Message::Frame(f) => f,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(frames.len(), 2);
        assert_eq!(frames[0].header().opcode, OpCode::Data(Data::Text));
        assert!(!frames[0].header().is_final);
        assert_eq!(frames[1].header().opcode, OpCode::Data(Data::Continue));
        assert!(frames[1].header().is_final);
        let joined: Vec<u8> = frames.iter().flat_map(|f| f.payload().to_vec()).collect();
        assert_eq!(joined, text.as_bytes());
        let small: Vec<_> = WireFrames::Text { bytes: Bytes::from_static(b"{}"), at: 0 }.collect();
        assert_eq!(small.len(), 1);
        let empty: Vec<_> = WireFrames::Text { bytes: Bytes::new(), at: 0 }.collect();
        assert_eq!(empty.len(), 1, "an empty message is one final frame");
    }
}

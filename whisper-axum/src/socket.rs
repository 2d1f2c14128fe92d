//! axum's `WebSocket` as a session's transport: its messages as the
//! session's `Inbound` stream, the session's `Outgoing` as its sink.

use std::future::Future;

use axum::body::Bytes;
use axum::extract::ws::{CloseFrame, Message, WebSocket};
use futures_util::{SinkExt, StreamExt, future};
use whisper_core::Chat;
use whisper_core::session::{self, Connection, Inbound, Outgoing};

/// Runs `conn`'s session on an upgraded socket until either side ends it
/// or `shutdown` resolves (then it closes with 1001).
pub async fn serve_socket(socket: WebSocket, chat: Chat, conn: Connection, shutdown: impl Future<Output = ()>) {
    let (sink, stream) = socket.split();
    // A read error ends the session; axum answers pings itself, and a
    // close frame is followed by the end of the stream.
    let inbound = stream.take_while(|read| future::ready(read.is_ok())).filter_map(|read| {
        future::ready(match read {
            Ok(Message::Text(text)) => Some(Inbound::Text(text.to_string())),
            Ok(Message::Binary(_)) => Some(Inbound::Binary),
            Ok(Message::Pong(_)) => Some(Inbound::Pong),
            _ => None,
        })
    });
    let outgoing = sink.with(|out| {
        future::ok::<_, axum::Error>(match out {
            Outgoing::Frame(frame) => Message::Text(frame.to_text().into()),
            Outgoing::Ping => Message::Ping(Bytes::new()),
            Outgoing::Close { code, reason } => Message::Close(Some(CloseFrame { code, reason: (&*reason).into() })),
        })
    });
    session::run(chat, conn, inbound, outgoing, shutdown).await;
}

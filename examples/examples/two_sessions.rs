//! Two sessions chatting through one in-process `Chat`, with no network: the
//! smallest embedding of whisper-core. Each session is driven over channels,
//! exactly as a server drives it over a WebSocket.
//!
//! Run with: `cargo run -p whisper-examples --example two_sessions`

use std::sync::Arc;

use tokio::sync::mpsc;
use whisper_core::Chat;
use whisper_core::codec::ServerFrame;
use whisper_core::model::{DisplayName, Message, RoomName, UserId};
use whisper_core::session::{self, Connection, Inbound, Outgoing};
use whisper_core::store::MemoryStore;
use whisper_core::testing::{inbound_channel, outgoing_channel};

/// A session's client end: send JSON frames in, read server frames out.
struct Client {
    name: &'static str,
    to_session: mpsc::UnboundedSender<Inbound<String>>,
    from_session: mpsc::UnboundedReceiver<Outgoing>,
}

fn start(chat: &Chat, name: &'static str) -> Client {
    let (to_session, inbound) = inbound_channel();
    let (outgoing, from_session) = outgoing_channel();
    let conn = Connection {
        name: DisplayName::parse(name).ok(),
        ..Connection::guest(UserId::random(), Some(RoomName::lobby()))
    };
    tokio::spawn(session::run(chat.clone(), conn, inbound, outgoing, std::future::pending()));
    Client { name, to_session, from_session }
}

impl Client {
    fn say(&self, content: &str) {
        let frame = serde_json::json!({"type": "messages", "data": [{"content": content}]});
        let _ = self.to_session.send(Inbound::Text(frame.to_string()));
    }

    /// Prints frames until one that `stop` accepts arrives, and returns it
    /// (`None` if the session ended first).
    async fn read_until(&mut self, stop: fn(&ServerFrame<'static>) -> bool) -> Option<ServerFrame<'static>> {
        while let Some(Outgoing::Frame(frame)) = self.from_session.recv().await {
            println!("{:>5} <- {}", self.name, frame.to_text());
            match ServerFrame::decode(frame.to_text()) {
                Ok(f) if stop(&f) => return Some(f),
                _ => {}
            }
        }
        None
    }
}

/// The messages of a `messages` frame.
fn messages(frame: Option<ServerFrame<'static>>) -> Vec<Message> {
    match frame {
        Some(ServerFrame::Messages { data, .. }) => data.into_owned(),
        _ => Vec::new(),
    }
}

/// Ada and Bob join the lobby and Ada greets Bob: returns the messages each
/// of them received.
pub(crate) async fn converse(chat: &Chat) -> (Vec<Message>, Vec<Message>) {
    let mut ada = start(chat, "Ada");
    let mut bob = start(chat, "Bob");
    // Messages reach those in the room when they are sent: wait for both joins.
    ada.read_until(|f| matches!(f, ServerFrame::Joined { .. })).await;
    bob.read_until(|f| matches!(f, ServerFrame::Joined { .. })).await;
    ada.say("Hello, Bob!");
    let to_bob = messages(bob.read_until(|f| matches!(f, ServerFrame::Messages { .. })).await);
    let to_ada = messages(ada.read_until(|f| matches!(f, ServerFrame::Messages { .. })).await);
    (to_ada, to_bob)
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let chat = Chat::builder(Arc::new(MemoryStore::new())).build();
    converse(&chat).await;
}

//! The bot of `examples/bot.rs` against a real whisper-server in this process
//! (SQLite in a temporary directory), with a real WebSocket user.

#[path = "../examples/bot.rs"]
#[allow(dead_code, unreachable_pub)]
mod bot;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use bot::{BotConfig, Prompt, WordCount};
use futures_util::{SinkExt, StreamExt};
use serde_json::json;
use tokio::net::TcpStream;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tokio::time::{Instant, timeout};
use tokio_tungstenite::tungstenite::Message as WsMessage;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};
use whisper_core::codec::{AckStatus, ServerFrame};
use whisper_core::model::{DisplayName, Message, MessageId, RoomName, Seq, UserId};
use whisper_server::{Config, Server};

/// A whisper-server on `addr` over the data in `dir`.
struct TestServer {
    stop: Option<oneshot::Sender<()>>,
    handle: JoinHandle<Result<(), whisper_server::Error>>,
}

impl TestServer {
    async fn start(addr: SocketAddr, dir: &Path) -> (TestServer, SocketAddr) {
        TestServer::start_with(addr, dir, |_| {}).await
    }

    async fn start_with(addr: SocketAddr, dir: &Path, tweak: impl FnOnce(&mut Config)) -> (TestServer, SocketAddr) {
        let listener = tokio::net::TcpListener::bind(addr).await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        let mut config = Config::new(addr, dir);
        tweak(&mut config);
        let server = Server::builder(config).build().await.expect("server builds");
        let (stop, stopped) = oneshot::channel::<()>();
        let handle = tokio::spawn(server.run(listener, async {
            let _ = stopped.await;
        }));
        (TestServer { stop: Some(stop), handle }, addr)
    }

    async fn stop(mut self) {
        let _ = self.stop.take().map(|s| s.send(()));
        let stopped = timeout(Duration::from_secs(15), &mut self.handle).await;
        stopped.expect("the server stops within 15 s").expect("no panic").expect("run returns Ok");
    }
}

/// A person in the room, on a plain WebSocket.
struct User {
    ws: WebSocketStream<MaybeTlsStream<TcpStream>>,
}

/// What the user saw.
#[derive(Debug)]
enum Seen {
    Message(Box<Message>),
    Typing(UserId),
    Presence(Vec<(UserId, String)>),
    Other,
}

impl User {
    async fn connect(addr: SocketAddr, name: &str) -> User {
        let url = format!("ws://{addr}/v1/chat/ws?room=lobby&name={name}");
        let (ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("the user connects");
        User { ws }
    }

    /// The next frame, or `None` if nothing comes by `deadline`.
    async fn next_by(&mut self, deadline: Instant) -> Option<Vec<Seen>> {
        loop {
            let frame = tokio::time::timeout_at(deadline, self.ws.next()).await.ok()?;
            let text = match frame.expect("the connection is open").expect("a valid frame") {
                WsMessage::Text(text) => text,
                WsMessage::Close(frame) => panic!("closed: {frame:?}"),
                _ => continue,
            };
            let seen = match ServerFrame::decode(&text).expect("a protocol frame") {
                ServerFrame::Messages { data, .. } => data.iter().map(|m| Seen::Message(Box::new(m.clone()))).collect(),
                ServerFrame::Typing { user_id, .. } => vec![Seen::Typing(user_id)],
                ServerFrame::Presence { users, .. } => {
                    vec![Seen::Presence(users.iter().map(|u| (u.user_id, u.name.to_string())).collect())]
                }
                // Who arrived (or was renamed) since the last presence frame.
                ServerFrame::PresenceChanges { joined, .. } => {
                    vec![Seen::Presence(joined.iter().map(|u| (u.user_id, u.name.to_string())).collect())]
                }
                ServerFrame::MessageIds { status, error, .. } => {
                    assert_eq!(status, AckStatus::Success, "the user's message is stored: {error:?}");
                    vec![Seen::Other]
                }
                _ => vec![Seen::Other],
            };
            return Some(seen);
        }
    }

    /// Everything seen within `wait`.
    async fn during(&mut self, wait: Duration) -> Vec<Seen> {
        let deadline = Instant::now() + wait;
        let mut all = Vec::new();
        while let Some(seen) = self.next_by(deadline).await {
            all.extend(seen);
        }
        all
    }

    /// Waits until someone called `name` is online; returns their id.
    async fn wait_for(&mut self, name: &str) -> UserId {
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let seen = self.next_by(deadline).await.unwrap_or_else(|| panic!("{name} did not come online"));
            for s in seen {
                if let Seen::Presence(users) = s {
                    if let Some((id, _)) = users.iter().find(|(_, n)| n == name) {
                        return *id;
                    }
                }
            }
        }
    }

    async fn say(&mut self, content: &str, client_id: &str) {
        let frame = json!({"type": "messages", "data": [{"content": content, "client_id": client_id}]});
        self.ws.send(WsMessage::text(frame.to_string())).await.expect("send");
    }

    /// Reads until `want` messages from `author` have come (within 20 s);
    /// returns everything seen, in order.
    async fn until_messages_from(&mut self, author: UserId, want: usize) -> Vec<Seen> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut all = Vec::new();
        let mut got = 0;
        while got < want {
            let seen = self.next_by(deadline).await.unwrap_or_else(|| panic!("only {got} of {want} messages came"));
            got += seen.iter().filter(|s| matches!(s, Seen::Message(m) if m.user_id == author)).count();
            all.extend(seen);
        }
        all
    }

    /// Every message of the room, replayed by a `join` with `since_seq: 0`.
    async fn history(addr: SocketAddr) -> Vec<Message> {
        let url = format!("ws://{addr}/v1/chat/ws?room=");
        let (mut ws, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("connect");
        ws.send(WsMessage::text(json!({"type": "join", "room": "lobby", "since_seq": 0}).to_string()))
            .await
            .expect("join");
        let mut user = User { ws };
        let mut head = None;
        let mut all: Vec<Message> = Vec::new();
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if head.is_some_and(|h| all.last().map_or(Seq::ZERO, |m| m.seq) >= h) {
                return all;
            }
            let frame = timeout(deadline - Instant::now(), user.ws.next()).await.expect("the history in time");
            let Some(Ok(WsMessage::Text(text))) = frame else { continue };
            match ServerFrame::decode(&text).expect("frame") {
                ServerFrame::Joined { seq, recovered, .. } => {
                    assert!(recovered, "the whole history is replayed");
                    head = Some(seq);
                }
                ServerFrame::Messages { data, .. } => all.extend(data.iter().cloned()),
                _ => {}
            }
        }
    }
}

fn texts_from(seen: &[Seen], author: UserId) -> Vec<String> {
    seen.iter()
        .filter_map(|s| match s {
            Seen::Message(m) if m.user_id == author => Some(m.content.to_string()),
            _ => None,
        })
        .collect()
}

fn seq_of(seen: &[Seen], content: &str) -> Seq {
    seen.iter()
        .find_map(|s| match s {
            Seen::Message(m) if &*m.content == content => Some(m.seq),
            _ => None,
        })
        .unwrap_or_else(|| panic!("{content:?} was broadcast"))
}

/// The reply the bot must give Ada for `content` at `seq`.
fn expected(content: &str, seq: Seq) -> Vec<String> {
    WordCount::paragraphs_for(&Prompt {
        room: RoomName::lobby(),
        seq,
        id: MessageId::generate(),
        from: DisplayName::parse("Ada").expect("name"),
        content: content.to_string(),
        bot: "bot".into(),
    })
}

fn start_bot(addr: SocketAddr) -> (oneshot::Sender<()>, JoinHandle<()>) {
    let config = BotConfig {
        server: format!("ws://{addr}"),
        room: RoomName::lobby(),
        name: DisplayName::parse("bot").expect("name"),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let running = tokio::spawn(bot::run(config, Arc::new(WordCount::new(Duration::from_millis(10))), async {
        let _ = stopped.await;
    }));
    (stop, running)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_answers_mentions_in_chunks_and_nothing_else() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, addr) = TestServer::start("127.0.0.1:0".parse().expect("addr"), dir.path()).await;
    let (stop_bot, bot_task) = start_bot(addr);
    let mut ada = User::connect(addr, "Ada").await;
    let bot_id = ada.wait_for("bot").await;

    ada.say("hi @bot tell me something", "ada-1").await;
    let seen = ada.until_messages_from(bot_id, 4).await;
    let seq = seq_of(&seen, "hi @bot tell me something");
    let chunks = texts_from(&seen, bot_id);
    assert_eq!(chunks, expected("hi @bot tell me something", seq), "the reply, chunk by chunk, in order");
    assert_eq!(
        chunks,
        [
            "Ada, you asked me: \"hi tell me something\".",
            "That is 4 words. The longest is \"something\" (9 letters), and from longest to shortest they are: \
             something, tell, hi, me.",
            "While you wait, something true about this room: every message has a seq, one more than the message \
             before it, so whoever has seen seq n has seen everything before it. That is how I answer each \
             question once, even after I lose my connection.",
            &format!("That was my answer to message #{seq}, in four parts."),
        ],
    );
    let bot_messages: Vec<&Message> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Message(m) if m.user_id == bot_id => Some(&**m),
            _ => None,
        })
        .collect();
    assert!(bot_messages.windows(2).all(|w| w[1].seq == w[0].seq.next()), "the chunks are consecutive messages");
    assert!(bot_messages.iter().all(|m| m.client_id.is_some()), "each chunk has a client id");
    let last_chunk = seen.iter().rposition(|s| matches!(s, Seen::Message(m) if m.user_id == bot_id)).expect("chunk");
    let first_typing = seen.iter().position(|s| matches!(s, Seen::Typing(id) if *id == bot_id));
    assert!(first_typing.is_some_and(|t| t < last_chunk), "the bot was typing before its last chunk: {seen:?}");

    // A typing notice sent while the last chunk awaited its ack may still be
    // on its way.
    ada.during(Duration::from_millis(300)).await;

    // No mention, no answer: not a bare name, an address, another name or
    // the bot's own words.
    for (i, text) in
        ["no mention here", "bot, are you there?", "mail me@bot.com", "@botany is a science"].iter().enumerate()
    {
        ada.say(text, &format!("ada-quiet-{i}")).await;
    }
    let quiet = ada.during(Duration::from_millis(1500)).await;
    assert!(
        !quiet
            .iter()
            .any(|s| matches!(s, Seen::Message(m) if m.user_id == bot_id)
                || matches!(s, Seen::Typing(id) if *id == bot_id)),
        "no answer to messages that do not mention the bot: {quiet:?}"
    );

    // The mention matches in any case and anywhere in the message; the reply
    // is to this message, not to the quiet ones.
    ada.say("count these words please, @BOT", "ada-2").await;
    let seen = ada.until_messages_from(bot_id, 4).await;
    let seq = seq_of(&seen, "count these words please, @BOT");
    assert_eq!(texts_from(&seen, bot_id), expected("count these words please, @BOT", seq));
    assert_eq!(texts_from(&seen, bot_id)[0], "Ada, you asked me: \"count these words please,\".");
    let after = ada.during(Duration::from_millis(700)).await;
    assert!(texts_from(&after, bot_id).is_empty(), "each mention is answered once: {after:?}");

    let _ = stop_bot.send(());
    timeout(Duration::from_secs(5), bot_task).await.expect("the bot stops").expect("no panic");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_a_reconnect_the_bot_answers_what_it_missed_and_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, addr) = TestServer::start("127.0.0.1:0".parse().expect("addr"), dir.path()).await;
    let (stop_bot, bot_task) = start_bot(addr);
    let mut ada = User::connect(addr, "Ada").await;
    let bot_id = ada.wait_for("bot").await;
    ada.say("@bot first question", "ada-1").await;
    let seen = ada.until_messages_from(bot_id, 4).await;
    let first_seq = seq_of(&seen, "@bot first question");

    // The server goes away; while the bot is reconnecting, Ada asks again on
    // the restarted server (same port, same data, same secret).
    drop(ada);
    server.stop().await;
    let (server, _) = TestServer::start(addr, dir.path()).await;
    let mut ada = User::connect(addr, "Ada").await;
    ada.say("@bot second question", "ada-2").await;
    let seen = ada.until_messages_from(bot_id, 4).await;
    let second_seq = seq_of(&seen, "@bot second question");
    assert_eq!(texts_from(&seen, bot_id), expected("@bot second question", second_seq), "the missed mention, answered");
    let after = ada.during(Duration::from_millis(1000)).await;
    assert!(texts_from(&after, bot_id).is_empty(), "nothing more: {after:?}");

    // The whole history: one reply per question, by the same bot identity.
    let history = User::history(addr).await;
    let by_bot: Vec<String> = history.iter().filter(|m| m.user_id == bot_id).map(|m| m.content.to_string()).collect();
    let mut want = expected("@bot first question", first_seq);
    want.extend(expected("@bot second question", second_seq));
    assert_eq!(by_bot, want, "each question answered exactly once");

    let _ = stop_bot.send(());
    timeout(Duration::from_secs(5), bot_task).await.expect("the bot stops").expect("no panic");
    server.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_bot_keeps_to_a_tight_rate_limit() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (server, addr) = TestServer::start_with("127.0.0.1:0".parse().expect("addr"), dir.path(), |config| {
        config.messages_per_second = 4;
        config.message_burst = 1;
    })
    .await;
    let (stop_bot, bot_task) = start_bot(addr);
    let mut ada = User::connect(addr, "Ada").await;
    let bot_id = ada.wait_for("bot").await;
    ada.say("@bot slowly", "ada-1").await;
    let seen = ada.until_messages_from(bot_id, 4).await;
    assert_eq!(
        texts_from(&seen, bot_id),
        expected("@bot slowly", seq_of(&seen, "@bot slowly")),
        "every chunk, in order"
    );
    let times: Vec<_> = seen
        .iter()
        .filter_map(|s| match s {
            Seen::Message(m) if m.user_id == bot_id => Some(m.created_at),
            _ => None,
        })
        .collect();
    // One message per 250 ms at most (a little slack for clock rounding).
    assert!(times.windows(2).all(|w| w[1] - w[0] >= Duration::from_millis(200)), "{times:?}");

    let _ = stop_bot.send(());
    timeout(Duration::from_secs(5), bot_task).await.expect("the bot stops").expect("no panic");
    server.stop().await;
}

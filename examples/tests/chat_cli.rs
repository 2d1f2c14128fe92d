//! The terminal client against a real server: what a person typing into it
//! sees, line by line.

#[path = "../examples/chat_cli.rs"]
mod chat_cli;

use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream, Lines};
use tokio_tungstenite::tungstenite::Message;
use whisper_server::{Config, Server};

/// The client's screen, read line by line.
struct Screen(Lines<BufReader<DuplexStream>>);

impl Screen {
    /// Reads lines until one satisfies `want`; returns it.
    async fn until(&mut self, want: impl Fn(&str) -> bool) -> String {
        let read = async {
            loop {
                let line = self.0.next_line().await.expect("screen").expect("the client is still running");
                if want(&line) {
                    return line;
                }
            }
        };
        tokio::time::timeout(Duration::from_secs(10), read).await.expect("the line shows within 10 s")
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rooms_history_sending_and_presence_from_the_terminal() {
    let dir = tempfile::tempdir().expect("temp dir");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
    let addr = listener.local_addr().expect("addr");
    let server = Server::builder(Config::new(addr, dir.path())).build().await.expect("server");
    tokio::spawn(server.run(listener, std::future::pending()));
    let server = format!("ws://{addr}");

    // Bob is already in the lobby and has said something.
    let url = format!("{server}/v1/chat/ws?room=lobby&name=bob");
    let (mut bob, _) = tokio_tungstenite::connect_async(url.as_str()).await.expect("bob connects");
    let said = serde_json::json!({"type": "messages", "data": [{"content": "earlier, from bob"}]});
    bob.send(Message::text(said.to_string())).await.unwrap();
    while !next_text(&mut bob).await.contains("message_ids") {}

    let (mut keyboard, input) = tokio::io::duplex(4096);
    let (output, screen) = tokio::io::duplex(64 * 1024);
    let mut screen = Screen(BufReader::new(screen).lines());
    let client =
        tokio::spawn(
            async move { chat_cli::run(&server, "lobby", Some("ada"), None, BufReader::new(input), output).await },
        );
    // On start: the room's history, then live presence.
    screen.until(|l| l == "* history of lobby: 1 message(s)").await;
    screen.until(|l| l == "[lobby] #1 bob: earlier, from bob").await;
    screen.until(|l| l == "* online in lobby: ada, bob").await;

    keyboard.write_all(b"hello from the terminal\n").await.unwrap();
    screen.until(|l| l == "[lobby] #2 ada: hello from the terminal").await;
    loop {
        let text = next_text(&mut bob).await;
        if text.contains("hello from the terminal") {
            break;
        }
    }

    keyboard.write_all(b"/rooms\n").await.unwrap();
    let header = screen.until(|l| l.starts_with("room ")).await;
    let row = screen.until(|l| l.starts_with("lobby ")).await;
    assert_eq!(row.len(), header.len(), "the columns line up:\n{header}\n{row}");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells, ["lobby", "2", "2"], "room, online, last seq");

    keyboard.write_all(b"/who\n/history 1\n").await.unwrap();
    screen.until(|l| l == "* online in lobby: ada, bob").await;
    screen.until(|l| l == "* history of lobby: 1 message(s)").await;
    screen.until(|l| l == "[lobby] #2 ada: hello from the terminal").await;

    keyboard.write_all(b"/join random\nin another room\n").await.unwrap();
    screen.until(|l| l == "* history of random: 0 message(s)").await;
    screen.until(|l| l == "* joined random at #0, 0 unread").await;
    screen.until(|l| l == "[random] #1 ada: in another room").await;

    keyboard.write_all(b"/frobnicate\n/quit\n").await.unwrap();
    screen.until(|l| l.starts_with("? unknown command \"/frobnicate\"")).await;
    client.await.expect("client task").expect("the client ends cleanly on /quit");
}

async fn next_text(
    ws: &mut (impl StreamExt<Item = Result<Message, tokio_tungstenite::tungstenite::Error>> + Unpin),
) -> String {
    let next = tokio::time::timeout(Duration::from_secs(10), ws.next()).await.expect("a frame within 10 s");
    match next.expect("open").expect("frame") {
        Message::Text(text) => text.to_string(),
        other => panic!("unexpected {other:?}"),
    }
}

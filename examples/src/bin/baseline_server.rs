//! The baseline: the simplest correct broadcast server we know how to write
//! with tokio-tungstenite, to hold WhisperChat against in load tests.
//!
//! A client connects to `ws://ADDR/?room=NAME`; every text frame it sends goes
//! to every socket in that room (itself included), byte for byte. Each socket
//! has a bounded queue (a client that lets it fill is dropped, so one slow
//! reader never holds up the room) and a writer task that feeds everything
//! queued and then flushes once. No persistence, no JSON, no acks, no
//! identity: what is left is the cost of moving frames, which is the limit
//! for any chat server on the same stack.
//!
//! ```sh
//! cargo run --release -p whisper-examples --bin baseline_server -- 127.0.0.1:9000
//! ```

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use futures_util::{SinkExt, StreamExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_tungstenite::tungstenite::handshake::server::{Request, Response};
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;
use tokio_tungstenite::tungstenite::{Message, Utf8Bytes};

/// Frames a socket may have queued before it is dropped (as in whisper-server).
const QUEUE: usize = 1024;

type Rooms = Arc<Mutex<HashMap<String, Vec<(u64, mpsc::Sender<Utf8Bytes>)>>>>;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let bind = std::env::args().nth(1).unwrap_or_else(|| "127.0.0.1:9000".into());
    let listener = TcpListener::bind(&bind).await?;
    println!("baseline broadcast server on ws://{}", listener.local_addr()?);
    let rooms = Rooms::default();
    let mut next_id = 0u64;
    loop {
        let (stream, _) = listener.accept().await?;
        next_id += 1;
        tokio::spawn(serve(stream, rooms.clone(), next_id));
    }
}

async fn serve(stream: TcpStream, rooms: Rooms, id: u64) {
    let _ = stream.set_nodelay(true);
    let mut room = String::from("lobby");
    // The callback's error type is tungstenite's (a whole HTTP response).
    #[allow(clippy::result_large_err)]
    let pick_room = |req: &Request, res: Response| {
        if let Some(q) = req.uri().query() {
            if let Some(r) = q.split('&').find_map(|kv| kv.strip_prefix("room=")) {
                room = r.to_string();
            }
        }
        Ok(res)
    };
    // The same small buffers as whisper-server's sockets.
    let config = WebSocketConfig::default().read_buffer_size(4 * 1024).write_buffer_size(8 * 1024);
    let Ok(ws) = tokio_tungstenite::accept_hdr_async_with_config(stream, pick_room, Some(config)).await else {
        return;
    };
    let (mut sink, mut source) = ws.split();
    let (tx, mut rx) = mpsc::channel::<Utf8Bytes>(QUEUE);
    rooms.lock().unwrap_or_else(|e| e.into_inner()).entry(room.clone()).or_default().push((id, tx));

    let writer = async move {
        while let Some(first) = rx.recv().await {
            sink.feed(Message::Text(first)).await?;
            while let Ok(more) = rx.try_recv() {
                sink.feed(Message::Text(more)).await?;
            }
            sink.flush().await?;
        }
        Ok::<_, tokio_tungstenite::tungstenite::Error>(())
    };
    let reader = async {
        while let Some(Ok(msg)) = source.next().await {
            let Message::Text(text) = msg else { continue };
            let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
            let members = rooms.entry(room.clone()).or_default();
            // A full queue drops that member; the others are not held up.
            members.retain(|(_, member)| member.try_send(text.clone()).is_ok());
        }
    };
    tokio::select! {
        _ = writer => {}
        () = reader => {}
    }
    let mut rooms = rooms.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(members) = rooms.get_mut(&room) {
        members.retain(|(member, _)| *member != id);
    }
}

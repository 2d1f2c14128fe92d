//! Presence under a join/leave/rename flood, end to end: a real server on
//! 127.0.0.1:0 with SQLite and real clients. One socket churning a crowded
//! room costs each member the size of the changes, not the size of the room
//! times the changes (protocol.md §9), and most of the churn is refused
//! (protocol.md §10). Frames are read as plain JSON so that the test speaks
//! only the wire format.

mod support;

use std::time::{Duration, Instant};

use futures_util::StreamExt;
use serde_json::{Value, json};
use support::server::{Client, TestServer, start_with};
use tokio::sync::watch;
use tokio_tungstenite::tungstenite::Message;

const OBSERVERS: usize = 200;
const PAIRS: usize = 50;
const RENAMES: usize = 50;
/// Between two flood frames: the flood lasts a few presence intervals, so
/// without a change-only frame every interval would carry the whole list.
const PACE: Duration = Duration::from_millis(20);

/// A room member's view of presence (user ids), as a client keeps it.
#[derive(Default)]
struct View {
    users: Vec<(String, String)>,
}

impl View {
    /// Applies a `presence` or `presence_changes` frame.
    fn apply(&mut self, frame: &Value) {
        let user = |u: &Value| (u["user_id"].as_str().unwrap().to_owned(), u["name"].as_str().unwrap().to_owned());
        match frame["type"].as_str() {
            Some("presence") => self.users = frame["users"].as_array().unwrap().iter().map(user).collect(),
            Some("presence_changes") => {
                let left: Vec<&str> = frame["left"].as_array().unwrap().iter().map(|u| u.as_str().unwrap()).collect();
                let joined: Vec<(String, String)> = frame["joined"].as_array().unwrap().iter().map(user).collect();
                self.users.retain(|(id, _)| !left.contains(&id.as_str()) && !joined.iter().any(|(j, _)| j == id));
                self.users.extend(joined);
            }
            _ => {}
        }
    }

    fn shows(&self, name: &str) -> bool {
        self.users.iter().any(|(_, n)| n == name)
    }
}

/// Reads an observer's frames: waits until its view shows `ready`, then
/// counts the bytes of every frame until its view shows `done`. Returns
/// those bytes and the view's size at the end.
async fn observe(mut client: Client, counting: watch::Sender<usize>) -> (usize, usize) {
    let mut view = View::default();
    let mut bytes = 0;
    let mut started = false;
    let deadline = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let msg = tokio::time::timeout_at(deadline, client.ws.next())
            .await
            .expect("the flood's end reaches every observer within 60 s")
            .expect("the connection is open")
            .expect("a valid frame");
        let Message::Text(text) = msg else { continue };
        if started {
            bytes += text.len();
        }
        let frame: Value = serde_json::from_str(&text).unwrap();
        view.apply(&frame);
        if !started && view.shows("ready") {
            started = true;
            counting.send_modify(|n| *n += 1);
        }
        if started && view.shows("done") {
            return (bytes, view.users.len());
        }
    }
}

async fn connect(server: &TestServer, query: &str) -> Client {
    server.connect(query).await
}

#[tokio::test]
async fn a_join_leave_and_rename_flood_costs_members_the_changes_not_the_room() {
    let server = start_with(|c| c.max_connections_per_ip = 1000).await;
    let (counting, mut counted) = watch::channel(0usize);
    let mut observers = Vec::new();
    for i in 0..OBSERVERS {
        let client = connect(&server, &format!("room=crowd&name=observer-{i:03}")).await;
        observers.push(tokio::spawn(observe(client, counting.clone())));
    }
    // Counting starts for everyone once they all see `ready` join.
    let _ready = connect(&server, "room=crowd&name=ready").await;
    tokio::time::timeout(Duration::from_secs(60), counted.wait_for(|n| *n == OBSERVERS))
        .await
        .expect("every observer sees ready")
        .unwrap();

    // The flood: one socket joins and leaves the room, and renames itself
    // there, as fast as the pace allows, and reads its refusals meanwhile.
    let Client { ws, .. } = connect(&server, "name=flooder").await;
    let (mut sink, mut stream) = ws.split();
    let started = Instant::now();
    let refusals = tokio::spawn(async move {
        let (mut refused, mut without_retry) = (0usize, 0usize);
        while let Some(Ok(msg)) = stream.next().await {
            let Message::Text(text) = msg else { continue };
            let frame: Value = serde_json::from_str(&text).unwrap();
            // (A `leave` whose `join` was refused is `not_found`: it passed.)
            if frame["type"] == "error" && frame["code"] == "rate_limited" {
                refused += 1;
                without_retry += usize::from(frame["retry_after_ms"].as_u64().is_none());
            }
        }
        (refused, without_retry)
    });
    let mut frames = Vec::new();
    for _ in 0..PAIRS {
        frames.push(json!({"type":"join","room":"crowd"}));
        frames.push(json!({"type":"leave","room":"crowd"}));
    }
    // Renames while in the room (if this join passes).
    frames.push(json!({"type":"join","room":"crowd"}));
    frames.extend((0..RENAMES).map(|i| json!({"type":"profile","name":format!("flooder-{}", i % 2)})));
    let sent = frames.len();
    for frame in frames {
        futures_util::SinkExt::send(&mut sink, Message::text(frame.to_string())).await.unwrap();
        tokio::time::sleep(PACE).await;
    }
    let elapsed = started.elapsed();
    futures_util::SinkExt::close(&mut sink).await.unwrap();
    let (refused, without_retry) = refusals.await.unwrap();

    // The end of the flood: everything before `done` has been flushed.
    let _done = connect(&server, "room=crowd&name=done").await;
    let mut total = 0;
    for observer in observers {
        let (bytes, online) = observer.await.unwrap();
        assert!(online >= OBSERVERS + 2, "the view adds up: {online} online");
        total += bytes;
    }
    let accepted = sent - refused;
    let per_observer = total / OBSERVERS;
    eprintln!(
        "{sent} flood frames in {elapsed:?}: {accepted} accepted, {refused} refused; \
         {per_observer} bytes per observer, {total} bytes to {OBSERVERS} observers \
         ({} per accepted frame)",
        total / accepted.max(1)
    );

    // The rate: the burst, then the sustained rate (plus one for rounding).
    let limits = whisper_core::Limits::default();
    let allowed = limits.presence_frame_burst as usize
        + (f64::from(limits.presence_frames_per_second) * elapsed.as_secs_f64()).ceil() as usize
        + 1;
    assert!(accepted <= allowed, "{accepted} of {sent} accepted in {elapsed:?}, at most {allowed} allowed");
    assert_eq!(without_retry, 0, "every refusal says when to retry");
    // Each accepted frame is at most one change of one user (~80 bytes in a
    // frame), and `done` one more: a small multiple of the changes, where a
    // full list per flush would be ~14 KB for each of them.
    let bound = 300 * (accepted + 2);
    assert!(per_observer <= bound, "{per_observer} bytes per observer for {accepted} changes (bound {bound})");
    server.stop().await;
}

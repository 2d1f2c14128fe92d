//! Three whisper-server processes over one PostgreSQL database and the local
//! NATS, with clients spread across them, judged by the history checker: a
//! message sent on one node reaches the subscribers on the others in seq
//! order, with no gap and no duplicate, also when a node is killed with
//! SIGKILL mid-load and its clients move to another node and recover there.
//!
//! Needs NATS on 127.0.0.1:4222 (`WHISPER_TEST_NATS_URL`); without it the
//! test says it skipped, except under `CI=true`.

mod support;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use tokio::sync::watch;
use whisper_core::codec::ServerFrame;
use whisper_core::model::RoomName;
use whisper_core::testing::history::HistoryChecker;

use support::nats::{nats_addr, nats_url};
use support::process::{ServerProcess, args, free_addr, stored_log};
use support::resilient::{History, Resilient, settle};

/// One node of the cluster.
async fn node(name: &str, dir: &Path, database_url: &str, subject: &str) -> ServerProcess {
    node_via(name, dir, database_url, subject, &nats_url()).await
}

/// One node of the cluster, reaching NATS at `nats`.
async fn node_via(name: &str, dir: &Path, database_url: &str, subject: &str, nats: &str) -> ServerProcess {
    let data_dir = dir.join(name);
    let argv = args([
        "--server-id".as_ref(),
        name.as_ref(),
        "--data-dir".as_ref(),
        data_dir.as_os_str(),
        "--database-url".as_ref(),
        database_url.as_ref(),
        "--nats-url".as_ref(),
        nats.as_ref(),
        "--nats-subject".as_ref(),
        subject.as_ref(),
        // One secret for the cluster: a token from one node is good on all.
        "--secret".as_ref(),
        "cluster-test-secret-4f1c2b9e7a06d3858e2f41c7b0".as_ref(),
    ]);
    ServerProcess::start(free_addr(), &argv).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_nodes_deliver_everything_everywhere_even_when_one_dies() {
    if nats_addr().await.is_none() {
        return;
    }
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    // A subject of this run's own, so that other clusters on this NATS stay apart.
    let subject = format!("whisper.test.{}", uuid::Uuid::new_v4().simple());
    let mut nodes = Vec::new();
    for name in ["node-a", "node-b", "node-c"] {
        nodes.push(node(name, dir.path(), db.url(), &subject).await);
    }

    // Across nodes with nothing else going on: only the broker can carry
    // this (a node fills gaps from the store only when it sees a seq jump).
    let quiet = |addr: SocketAddr| format!("ws://{addr}/v1/chat/ws?room=cluster/quiet");
    let mut listener = support::server::Client::connect(&quiet(nodes[1].addr)).await.unwrap();
    listener.joined().await;
    let mut speaker = support::server::Client::connect(&quiet(nodes[0].addr)).await.unwrap();
    speaker.joined().await;
    speaker.send(serde_json::json!({"type":"typing","room":"cluster/quiet"})).await;
    let typing = tokio::time::timeout(
        Duration::from_secs(5),
        listener.next_where(|f| match f {
            whisper_core::codec::ServerFrame::Typing { user_id, .. } => Some(user_id),
            _ => None,
        }),
    )
    .await
    .expect("typing on node A shows on node B");
    assert_eq!(typing, speaker.user_id);
    speaker.say("over NATS").await;
    let got = tokio::time::timeout(Duration::from_secs(5), listener.messages()).await.expect("node B got it");
    assert_eq!(&*got[0].content, "over NATS");
    drop((listener, speaker));

    // Presence is the union of the nodes' users: one watcher per node.
    let presence_room =
        |addr: SocketAddr, name: &str| format!("ws://{addr}/v1/chat/ws?room=cluster/presence&name={name}");
    let mut watchers = Vec::new();
    for (node, name) in nodes.iter().zip(["wa", "wb", "wc"]) {
        let mut watcher = support::server::Client::connect(&presence_room(node.addr, name)).await.unwrap();
        watcher.joined().await;
        watchers.push(watcher);
    }
    watchers[0].say("here").await; // /v1/rooms lists rooms with history
    for watcher in &mut watchers {
        assert_eq!(presence_until(watcher, |names| names.len() == 3).await, ["wa", "wb", "wc"]);
    }
    assert_eq!(online(nodes[1].addr, "cluster/presence").await, 3, "/v1/rooms counts every node's users");

    const CLIENTS: usize = 9;
    const EACH: u64 = 40;
    let rooms = [RoomName::parse("cluster/a").unwrap(), RoomName::parse("cluster/b").unwrap()];
    let history: History = Arc::new(std::sync::Mutex::new(HistoryChecker::default()));
    let (done_tx, done_rx) = watch::channel(false);
    let finished = Arc::new(AtomicUsize::new(0));
    let mut tasks = Vec::new();
    let mut homes = Vec::new();
    for i in 0..CLIENTS {
        // Client i on node i % 3, in room i % 2: every room has members on every node.
        let (addr_tx, addr_rx) = watch::channel(nodes[i % 3].addr);
        homes.push(addr_tx);
        let client = Resilient::new(&format!("k{i}"), &rooms[i % 2], EACH, Duration::from_millis(10), &history);
        tasks.push(tokio::spawn(client.run(addr_rx, finished.clone(), done_rx.clone())));
    }

    // Node C dies mid-load; its clients move to node A and recover there.
    let deadline = Instant::now() + Duration::from_secs(90);
    while history.lock().unwrap().acked_so_far() < CLIENTS as u64 * EACH * 2 / 5 {
        assert!(Instant::now() < deadline, "the load stalled");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    nodes[2].kill9();
    let killed = Instant::now();
    for (i, home) in homes.iter().enumerate() {
        if i % 3 == 2 {
            home.send(nodes[0].addr).expect("the client listens");
        }
    }
    // The killed node's user leaves everyone's presence within 10 s.
    for watcher in &mut watchers[..2] {
        assert_eq!(presence_until(watcher, |names| names.len() == 2).await, ["wa", "wb"]);
    }
    let gone_after = killed.elapsed();
    assert!(gone_after < Duration::from_secs(10), "node C's users were still shown {gone_after:?} after it died");
    eprintln!("node C's users left the other nodes' presence {gone_after:?} after it was killed");
    assert_eq!(online(nodes[0].addr, "cluster/presence").await, 2);

    while finished.load(Ordering::SeqCst) < CLIENTS {
        assert!(Instant::now() < deadline, "not everything was acked: {}", history.lock().unwrap().check_log(&[]));
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let mut stored = Vec::new();
    for room in &rooms {
        stored.extend(stored_log(nodes[1].addr, room).await);
    }
    settle(&history, &stored, Duration::from_secs(20)).await;
    done_tx.send(true).expect("clients listen");
    for t in tasks {
        t.await.expect("client task");
    }
    let report = history.lock().unwrap().check_log(&stored);
    eprintln!("three nodes, one killed: {report}");
    assert!(report.passed(), "{report}");
    assert!(report.stored_events > 0, "reactions rode along with the messages: {report}");
    assert_eq!(report.acked, CLIENTS as u64 * EACH);
    assert_eq!(report.stored, report.acked);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_node_cut_off_from_nats_catches_up_when_the_link_is_back() {
    let Some(nats) = nats_addr().await else { return };
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let subject = format!("whisper.test.{}", uuid::Uuid::new_v4().simple());
    let proxy = whisper_core::testing::Proxy::start(nats).await;
    let a = node("node-a", dir.path(), db.url(), &subject).await;
    let b = node_via("node-b", dir.path(), db.url(), &subject, &format!("nats://{}", proxy.addr())).await;

    let url = |addr: SocketAddr, name: &str| format!("ws://{addr}/v1/chat/ws?room=cluster/link&name={name}");
    let mut listener = support::server::Client::connect(&url(b.addr, "listener")).await.unwrap();
    listener.joined().await;
    let mut speaker = support::server::Client::connect(&url(a.addr, "speaker")).await.unwrap();
    speaker.joined().await;
    assert_eq!(presence_until(&mut listener, |n| n.len() == 2).await, ["listener", "speaker"]);

    // B's link to NATS breaks. Meanwhile the speaker says one thing in a room
    // that then stays quiet, and leaves: B hears neither.
    proxy.cut();
    speaker.say("while B was cut off").await;
    drop(speaker);
    tokio::time::sleep(Duration::from_millis(500)).await;
    proxy.restore();

    // Reconnected, B reads the room's new messages from the store, and node
    // A republishes its rosters for B (in either order).
    let (mut said, mut online) = (Vec::new(), Vec::new());
    let caught_up = async {
        while said.is_empty() || online != ["listener"] {
            match listener.next().await {
                ServerFrame::Messages { data, .. } => said.extend(data.iter().map(|m| m.content.to_string())),
                ServerFrame::Presence { room, .. } | ServerFrame::PresenceChanges { room, .. } => {
                    online = listener.online(room.as_str())
                }
                _ => {}
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), caught_up).await.expect("B caught up");
    assert_eq!(said, ["while B was cut off"]);
    drop((a, b));
}

/// Reads presence frames until the list they add up to satisfies `done`;
/// returns its names.
async fn presence_until(client: &mut support::server::Client, done: impl Fn(&[String]) -> bool) -> Vec<String> {
    let wait = async {
        loop {
            let room = client
                .next_where(|f| match f {
                    ServerFrame::Presence { room, .. } | ServerFrame::PresenceChanges { room, .. } => Some(room),
                    _ => None,
                })
                .await;
            let names = client.online(room.as_str());
            if done(&names) {
                return names;
            }
        }
    };
    tokio::time::timeout(Duration::from_secs(15), wait).await.expect("presence converges")
}

/// The `online` count `GET /v1/rooms` gives for `room`.
async fn online(addr: SocketAddr, room: &str) -> u64 {
    let (status, body) = support::server::http_get(addr, "/v1/rooms", &[]).await;
    assert_eq!(status, 200, "{body}");
    let body: serde_json::Value = serde_json::from_str(&body).unwrap();
    let rooms = body["rooms"].as_array().expect("a list of rooms");
    rooms.iter().find(|r| r["name"] == room).map_or(0, |r| r["online"].as_u64().unwrap())
}

/// A kick on node A takes the member's socket on node B out of the room at
/// once (the `member` event reaches B over the broker and B evicts its own
/// connections), and B's presence of the room no longer shows them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kick_on_one_node_removes_the_member_on_another() {
    use serde_json::json;
    use support::server::http_request;
    if nats_addr().await.is_none() {
        return;
    }
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let subject = format!("whisper.test.{}", uuid::Uuid::new_v4().simple());
    let (a, b) =
        (node("node-a", dir.path(), db.url(), &subject).await, node("node-b", dir.path(), db.url(), &subject).await);
    let register = |name: &'static str| {
        let body = json!({"email": format!("{name}@example.com"), "password": "correct horse", "name": name});
        async move {
            let answer = http_request(a.addr, "POST", "/v1/auth/register", &[], Some(&body)).await;
            assert_eq!(answer.status, 201, "{}", answer.body);
            let json = answer.json();
            (json["user_id"].as_str().unwrap().to_owned(), json["token"].as_str().unwrap().to_owned())
        }
    };
    let ((ada, ada_token), (bob, bob_token)) = (register("Ada").await, register("Bob").await);
    let ada_auth = format!("Bearer {ada_token}");
    let created = http_request(
        a.addr,
        "POST",
        "/v1/rooms",
        &[("authorization", &ada_auth)],
        Some(&json!({"title": "Plans", "members": [bob]})),
    )
    .await;
    assert_eq!(created.status, 201, "{}", created.body);
    let room = created.json()["room"]["name"].as_str().unwrap().to_owned();
    let ws = |addr: SocketAddr, token: &str| format!("ws://{addr}/v1/chat/ws?room={room}&token={token}");
    let mut bob_on_b = support::server::Client::connect(&ws(b.addr, &bob_token)).await.unwrap();
    bob_on_b.joined().await;
    let mut ada_on_b = support::server::Client::connect(&ws(b.addr, &ada_token)).await.unwrap();
    ada_on_b.joined().await;
    presence_until(&mut ada_on_b, |names| names.len() == 2).await;

    let path = format!("/v1/rooms/{}/members/{bob}?reason=off-topic", room.replace('/', "%2F"));
    let kick = http_request(a.addr, "DELETE", &path, &[("authorization", &ada_auth)], None).await;
    assert_eq!(kick.status, 200, "{}", kick.body);
    let left = tokio::time::timeout(
        Duration::from_secs(5),
        bob_on_b.next_where(|f| match f {
            ServerFrame::Left { room: r, reason } if r.as_str() == room => Some(reason.to_string()),
            _ => None,
        }),
    )
    .await
    .expect("Bob's socket on node B leaves the room");
    assert_eq!(left, "removed by Ada: off-topic");
    let names = presence_until(&mut ada_on_b, |names| names.len() == 1).await;
    assert_eq!(names, ["Ada"], "node B's presence drops Bob ({ada})");
}

/// A file uploaded to node A and posted there is served by node B, bytes,
/// thumbnail and all: with PostgreSQL, the bytes live in the database every
/// node reads, not on A's disk (protocol.md §17). The message that carries
/// it reaches B's subscriber with its attachment over the broker.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_file_uploaded_on_one_node_is_served_by_another() {
    use serde_json::json;
    use support::people::{Sent, http_bytes};
    use support::server::http_request;
    if nats_addr().await.is_none() {
        return;
    }
    let Some(db) = whisper_store::testing::pg::fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let subject = format!("whisper.test.{}", uuid::Uuid::new_v4().simple());
    let (a, b) =
        (node("node-a", dir.path(), db.url(), &subject).await, node("node-b", dir.path(), db.url(), &subject).await);
    let body = json!({"email": "ada@example.com", "password": "correct horse", "name": "Ada"});
    let answer = http_request(a.addr, "POST", "/v1/auth/register", &[], Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let token = answer.json()["token"].as_str().unwrap().to_owned();
    let auth = format!("Bearer {token}");

    // Noise, so the file spans several of the database's 256 KiB chunks.
    let png = support::images::noise(640, 480, image::ImageFormat::Png);
    let headers = [("authorization", auth.as_str()), ("x-filename", "map.png")];
    let uploaded = http_bytes(a.addr, "POST", "/v1/files", &headers, Sent::Sized(&png)).await;
    assert_eq!(uploaded.status, 201, "{:?}", uploaded.json());
    let id = uploaded.json()["id"].as_str().unwrap().to_owned();

    let mut reader_on_b =
        support::server::Client::connect(&format!("ws://{}/v1/chat/ws?room=lobby", b.addr)).await.unwrap();
    reader_on_b.joined().await;
    let mut ada_on_a =
        support::server::Client::connect(&format!("ws://{}/v1/chat/ws?room=lobby&token={token}", a.addr))
            .await
            .unwrap();
    ada_on_a.joined().await;
    ada_on_a.send(json!({"type": "messages", "data": [{"content": "the map", "attachments": [id]}]})).await;
    assert_eq!(ada_on_a.ack().await.0, whisper_core::codec::AckStatus::Success);
    let seen = tokio::time::timeout(Duration::from_secs(5), reader_on_b.messages()).await.expect("B's subscriber");
    assert_eq!(seen[0].attachments[0].id.to_string(), id, "the attachment travels with the message");

    assert!(png.len() > 600_000, "several chunks");
    let served = http_bytes(b.addr, "GET", &format!("/v1/files/{id}"), &[], Sent::Empty).await;
    assert_eq!(served.status, 200, "node B serves it");
    assert_eq!(served.body, png, "byte for byte");
    let part =
        http_bytes(b.addr, "GET", &format!("/v1/files/{id}"), &[("range", "bytes=300000-300099")], Sent::Empty).await;
    assert_eq!((part.status, part.body.as_slice()), (206, &png[300_000..300_100]), "a range across stored chunks");
    let thumb = http_bytes(b.addr, "GET", &format!("/v1/files/{id}/thumb"), &[], Sent::Empty).await;
    assert_eq!(thumb.status, 200);
    let thumb = image::load_from_memory(&thumb.body).expect("an image");
    assert_eq!((thumb.width(), thumb.height()), (320, 240));
}

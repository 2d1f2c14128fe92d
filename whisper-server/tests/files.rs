//! Files over real HTTP, posted on real WebSockets, on SQLite and on
//! PostgreSQL (protocol.md §17): uploads raw and multipart with the type
//! told by content, every bad file refused with its status, a thumbnail,
//! who may read a file per room kind, the headers a served file carries
//! (ETag, ranges), and the janitor removing files whose messages were
//! deleted and files never posted.

mod support;

use std::io::Cursor;
use std::time::Duration;

use image::ImageFormat;
use serde_json::{Value, json};
use support::images::{bomb, noise as picture};
use support::people::{Bytes, Person, Sent, call, http_bytes, register};
use support::server::{TestServer, start_in};
use whisper_core::codec::{AckStatus, ErrorCode};
use whisper_store::testing::pg::fresh_database;

/// Uploads are small here: the limit is 1 MiB.
const LIMIT: u64 = 1024 * 1024;

fn tweak(config: &mut whisper_server::Config) {
    config.max_upload_bytes = LIMIT;
    config.file_sweep_secs = 1;
}

#[tokio::test]
async fn files_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), tweak).await;
    files(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn files_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| {
        tweak(c);
        c.database_url = Some(url);
    })
    .await;
    files(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn unposted_files_are_removed_and_other_types_download_on_sqlite() {
    let dir = tempfile::tempdir().unwrap();
    let server = start_in(dir.path(), |c| {
        tweak(c);
        c.unposted_file_secs = 1;
        c.allow_file_types = vec!["application/pdf".into()];
    })
    .await;
    unposted_and_other_types(&server).await;
    server.stop().await;
}

#[tokio::test]
async fn unposted_files_are_removed_and_other_types_download_on_postgres() {
    let Some(db) = fresh_database().await else { return };
    let dir = tempfile::tempdir().unwrap();
    let url = db.url().to_string();
    let server = start_in(dir.path(), |c| {
        tweak(c);
        c.unposted_file_secs = 1;
        c.allow_file_types = vec!["application/pdf".into()];
        c.database_url = Some(url);
    })
    .await;
    unposted_and_other_types(&server).await;
    server.stop().await;
}

/// `POST /v1/files` of `bytes` as a raw body named `name`, as `token`.
async fn upload(
    server: &TestServer,
    token: Option<&str>,
    name: &str,
    content_type: Option<&str>,
    body: Sent<'_>,
) -> Bytes {
    let auth = token.map(|t| format!("Bearer {t}"));
    let mut headers = vec![("x-filename", name)];
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    if let Some(content_type) = content_type {
        headers.push(("content-type", content_type));
    }
    http_bytes(server.addr, "POST", "/v1/files", &headers, body).await
}

/// The same as `multipart/form-data`, with a text part before the file.
async fn upload_multipart(server: &TestServer, token: &str, name: &str, part_type: &str, bytes: &[u8]) -> Bytes {
    let boundary = "----whisper-test-boundary";
    let mut body = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"note\"\r\n\r\nignored\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"{name}\"\r\n\
         Content-Type: {part_type}\r\n\r\n"
    )
    .into_bytes();
    body.extend_from_slice(bytes);
    body.extend_from_slice(format!("\r\n--{boundary}--\r\n").as_bytes());
    let auth = format!("Bearer {token}");
    let content_type = format!("multipart/form-data; boundary={boundary}");
    let headers = [("authorization", auth.as_str()), ("content-type", content_type.as_str())];
    http_bytes(server.addr, "POST", "/v1/files", &headers, Sent::Sized(&body)).await
}

/// `GET` (or another method) of a file path as `who`, with extra headers.
async fn fetch(server: &TestServer, who: Option<&Person>, method: &str, path: &str, extra: &[(&str, &str)]) -> Bytes {
    let auth = who.map(|p| format!("Bearer {}", p.token));
    let mut headers: Vec<(&str, &str)> = extra.to_vec();
    if let Some(auth) = &auth {
        headers.push(("authorization", auth));
    }
    http_bytes(server.addr, method, path, &headers, Sent::Empty).await
}

/// Sends one draft with `attachments` and returns the ack.
async fn post_files(
    client: &mut support::server::Client,
    room: &str,
    content: &str,
    files: &[&str],
) -> (AckStatus, Option<whisper_core::codec::Refusal>) {
    client.send(json!({"type": "messages", "data": [{"room": room, "content": content, "attachments": files}]})).await;
    let (status, _, refusal) = client.ack().await;
    (status, refusal)
}

/// Waits (bounded) until `path` answers `status` to `who`.
async fn eventually(server: &TestServer, who: Option<&Person>, path: &str, status: u16) {
    for _ in 0..100 {
        if fetch(server, who, "GET", path, &[]).await.status == status {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("{path} never answered {status}");
}

async fn files(server: &TestServer) {
    let (ada, bob, eve) = (register(server, "Ada").await, register(server, "Bob").await, register(server, "Eve").await);
    let photo = picture(500, 400, ImageFormat::Png);

    // A raw upload: the type from the content, the size, a thumbnail.
    let answer =
        upload(server, Some(&ada.token), "holiday%20%C3%A9t%C3%A9.png", Some("image/png"), Sent::Sized(&photo)).await;
    assert_eq!(answer.status, 201, "{:?}", answer.json());
    let cat = answer.json();
    assert_eq!(cat["name"], "holiday été.png");
    assert_eq!(cat["type"], "image/png");
    assert_eq!(cat["size"], photo.len());
    assert_eq!((cat["width"].as_u64(), cat["height"].as_u64()), (Some(500), Some(400)));
    assert_eq!(cat["thumb"], json!({"width": 320, "height": 256}));
    let cat_id = cat["id"].as_str().unwrap().to_owned();
    let cat_path = format!("/v1/files/{cat_id}");

    // Multipart, a JPEG, as a chunked body too.
    let jpeg = picture(200, 100, ImageFormat::Jpeg);
    let answer = upload_multipart(server, &bob.token, "C:\\photos\\dog.jpg", "image/jpeg", &jpeg).await;
    assert_eq!(answer.status, 201, "{:?}", answer.json());
    assert_eq!((answer.json()["name"].as_str(), answer.json()["type"].as_str()), (Some("dog.jpg"), Some("image/jpeg")));
    assert_eq!(answer.json()["thumb"], json!({"width": 200, "height": 100}), "a small image keeps its size");
    let chunked = upload(server, Some(&bob.token), "dog2.jpg", None, Sent::Chunked(&jpeg)).await;
    assert_eq!(chunked.status, 201, "{:?}", chunked.json());

    // Every bad file, refused with what to fix.
    let big = picture(700, 700, ImageFormat::Png);
    assert!(big.len() as u64 > LIMIT);
    let mut truncated = photo.clone();
    truncated.truncate(photo.len() / 2);
    for (token, body, content_type, status, code, says) in [
        (None, Sent::Sized(&photo[..]), None, 401, "unauthorized", "sign in"),
        (Some(&ada.token), Sent::Sized(&big[..]), None, 413, "payload_too_large", "over the limit of 1048576 bytes"),
        (Some(&ada.token), Sent::Chunked(&big[..]), None, 413, "payload_too_large", "over the limit"),
        (Some(&ada.token), Sent::Sized(b"%PDF-1.7\n%%EOF\n"), None, 415, "unsupported_media_type", "application/pdf"),
        (
            Some(&ada.token),
            Sent::Sized(b"<html><script>alert(1)</script>"),
            None,
            415,
            "unsupported_media_type",
            "accepts image/png",
        ),
        (
            Some(&ada.token),
            Sent::Sized(&photo[..]),
            Some("image/gif"),
            415,
            "unsupported_media_type",
            "says it is image/gif",
        ),
        (Some(&ada.token), Sent::Sized(&bomb(100_000, 100_000)[..]), None, 422, "invalid_image", "too large"),
        (Some(&ada.token), Sent::Sized(&bomb(9_000, 9_000)[..]), None, 422, "invalid_image", "9000 × 9000"),
        (Some(&ada.token), Sent::Sized(&truncated[..]), None, 422, "invalid_image", "could not be read"),
        (Some(&ada.token), Sent::Empty, None, 400, "invalid_request", "empty"),
    ] {
        let answer = upload(server, token.map(String::as_str), "x.png", content_type, body).await;
        let message = answer.json()["error"]["message"].as_str().unwrap_or_default().to_owned();
        assert_eq!((answer.status, answer.code().as_str()), (status, code), "{says}: {message}");
        assert!(message.contains(says), "{message} should say {says}");
    }
    let no_part = http_bytes(
        server.addr,
        "POST",
        "/v1/files",
        &[("authorization", &format!("Bearer {}", ada.token)), ("content-type", "multipart/form-data; boundary=b")],
        Sent::Sized(b"--b\r\nContent-Disposition: form-data; name=\"other\"\r\n\r\nx\r\n--b--\r\n"),
    )
    .await;
    assert_eq!((no_part.status, no_part.code().as_str()), (400, "invalid_request"));
    let foreign = http_bytes(
        server.addr,
        "POST",
        "/v1/files",
        &[("authorization", &format!("Bearer {}", ada.token)), ("origin", "https://evil.example")],
        Sent::Sized(&photo),
    )
    .await;
    assert_eq!(foreign.status, 403);
    assert_eq!(fetch(server, Some(&ada), "PUT", "/v1/files", &[]).await.status, 405);

    // Before it is posted, only its uploader reads it.
    let own = fetch(server, Some(&ada), "GET", &cat_path, &[]).await;
    assert_eq!(own.status, 200);
    assert_eq!(own.body, photo, "the bytes as uploaded");
    for who in [Some(&bob), None] {
        let answer = fetch(server, who, "GET", &cat_path, &[]).await;
        assert_eq!((answer.status, answer.code().as_str()), (404, "not_found"));
    }
    let missing = fetch(server, Some(&ada), "GET", "/v1/files/01JF3Q1W2N3J5YB1K4XH0S9C7E", &[]).await;
    assert_eq!(missing.json(), fetch(server, Some(&bob), "GET", &cat_path, &[]).await.json(), "said alike");
    assert_eq!(fetch(server, Some(&ada), "GET", "/v1/files/not-an-id", &[]).await.status, 404);

    // Posted in a public room: a message of a file alone, with its metadata
    // live and in history; now every reader of the room may read it.
    let mut ada_lobby = server.connect(&format!("room=lobby&token={}", ada.token)).await;
    ada_lobby.joined().await;
    let mut bob_lobby = server.connect(&format!("room=lobby&token={}", bob.token)).await;
    bob_lobby.joined().await;
    assert_eq!(post_files(&mut ada_lobby, "lobby", "", &[&cat_id]).await.0, AckStatus::Success);
    let live = bob_lobby.messages().await.remove(0);
    assert_eq!(&*live.content, "");
    assert_eq!(live.attachments.len(), 1);
    assert_eq!(serde_json::to_value(&live.attachments[0]).unwrap(), cat, "the message carries the upload's answer");
    let history = call(server, None, "GET", "/v1/chat/messages?room=lobby", None).await.json();
    assert_eq!(history["data"][0]["attachments"][0], cat);
    for who in [Some(&bob), Some(&eve), None] {
        assert_eq!(fetch(server, who, "GET", &cat_path, &[]).await.status, 200);
    }

    // The headers of a served file.
    let served = fetch(server, Some(&bob), "GET", &cat_path, &[]).await;
    assert_eq!(served.header("content-type"), Some("image/png"));
    assert_eq!(served.header("content-length"), Some(photo.len().to_string().as_str()));
    assert_eq!(served.header("x-content-type-options"), Some("nosniff"));
    assert!(served.header("content-disposition").unwrap().starts_with("inline; filename="));
    assert!(served.header("content-disposition").unwrap().contains("filename*=UTF-8''holiday%20%C3%A9t%C3%A9.png"));
    assert!(served.header("content-security-policy").unwrap().contains("sandbox"));
    assert!(served.header("content-security-policy").unwrap().starts_with("default-src 'none'"));
    assert_eq!(served.header("cache-control"), Some("private, max-age=31536000, immutable"));
    assert_eq!(served.header("accept-ranges"), Some("bytes"));
    let etag = served.header("etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{cat_id}\""));
    let again = fetch(server, Some(&bob), "GET", &cat_path, &[("if-none-match", &etag)]).await;
    assert_eq!((again.status, again.body.len()), (304, 0));
    let part = fetch(server, Some(&bob), "GET", &cat_path, &[("range", "bytes=100-199")]).await;
    assert_eq!(part.status, 206);
    assert_eq!(part.header("content-range"), Some(format!("bytes 100-199/{}", photo.len()).as_str()));
    assert_eq!(part.body, &photo[100..200]);
    let tail = fetch(server, Some(&bob), "GET", &cat_path, &[("range", "bytes=-10")]).await;
    assert_eq!((tail.status, tail.body.as_slice()), (206, &photo[photo.len() - 10..]));
    let past = fetch(server, Some(&bob), "GET", &cat_path, &[("range", &format!("bytes={}-", photo.len()))]).await;
    assert_eq!(past.status, 416);
    assert_eq!(past.header("content-range"), Some(format!("bytes */{}", photo.len()).as_str()));
    let head = fetch(server, Some(&bob), "HEAD", &cat_path, &[]).await;
    assert_eq!((head.status, head.body.len()), (200, 0));
    assert_eq!(head.header("content-length"), Some(photo.len().to_string().as_str()));
    let thumb = fetch(server, Some(&eve), "GET", &format!("{cat_path}/thumb"), &[]).await;
    assert_eq!((thumb.status, thumb.header("content-type")), (200, Some("image/jpeg")));
    assert_eq!(thumb.header("etag"), Some(format!("\"{cat_id}.thumb\"").as_str()));
    let small = image::load_from_memory(&thumb.body).expect("the thumbnail is an image");
    assert_eq!((small.width(), small.height()), (320, 256));

    // Attaching: only one's own uploads, at most ten, each once.
    let mut eve_lobby = server.connect(&format!("room=lobby&token={}", eve.token)).await;
    eve_lobby.joined().await;
    let (status, refusal) = post_files(&mut eve_lobby, "lobby", "mine now", &[&cat_id]).await;
    let refusal = refusal.expect("refused");
    assert_eq!((status, refusal.code), (AckStatus::Error, ErrorCode::NotFound));
    assert_eq!(refusal.details, [format!("data[0].attachments[0]: no file {cat_id} uploaded by you")]);
    let (_, unknown) = post_files(&mut eve_lobby, "lobby", "x", &["01JF3Q1W2N3J5YB1K4XH0S9C7E"]).await;
    assert_eq!(unknown.expect("refused").message, refusal.message, "an unknown file is refused alike");
    let eleven: Vec<String> = (0..11).map(|_| whisper_core::model::FileId::generate().to_string()).collect();
    let eleven: Vec<&str> = eleven.iter().map(String::as_str).collect();
    let (_, too_many) = post_files(&mut eve_lobby, "lobby", "x", &eleven).await;
    assert_eq!(too_many.expect("refused").code, ErrorCode::InvalidFrame);

    // A guest uploads and posts too.
    let mut guest = server.connect("room=lobby").await;
    guest.joined().await;
    let answer = upload(server, Some(&guest.token), "guest.jpg", Some("image/jpeg"), Sent::Sized(&jpeg)).await;
    assert_eq!(answer.status, 201, "{:?}", answer.json());
    let guest_file = answer.json()["id"].as_str().unwrap().to_owned();
    assert_eq!(post_files(&mut guest, "lobby", "from a guest", &[&guest_file]).await.0, AckStatus::Success);

    // A private room: its members read its files; a stranger, a reader
    // without identity and, once kicked, a former member do not.
    let created =
        call(server, Some(&ada), "POST", "/v1/rooms", Some(json!({"title": "Plans", "members": [bob.id]}))).await;
    assert_eq!(created.status, 201, "{}", created.body);
    let plans = created.json()["room"]["name"].as_str().unwrap().to_owned();
    let secret = upload(server, Some(&ada.token), "plan.png", None, Sent::Sized(&jpeg_as_png(&jpeg))).await.json();
    let secret_path = format!("/v1/files/{}", secret["id"].as_str().unwrap());
    let mut ada_plans = server.connect(&format!("room={plans}&token={}", ada.token)).await;
    ada_plans.joined().await;
    assert_eq!(
        post_files(&mut ada_plans, &plans, "the plan", &[secret["id"].as_str().unwrap()]).await.0,
        AckStatus::Success
    );
    assert_eq!(fetch(server, Some(&bob), "GET", &secret_path, &[]).await.status, 200);
    assert_eq!(fetch(server, Some(&bob), "GET", &format!("{secret_path}/thumb"), &[]).await.status, 200);
    for who in [Some(&eve), None] {
        assert_eq!(fetch(server, who, "GET", &secret_path, &[]).await.status, 404);
        assert_eq!(fetch(server, who, "GET", &format!("{secret_path}/thumb"), &[]).await.status, 404);
    }
    let kicked = call(
        server,
        Some(&ada),
        "DELETE",
        &format!("/v1/rooms/{}/members/{}", plans.replace('/', "%2F"), bob.id),
        None,
    )
    .await;
    assert_eq!(kicked.status, 200, "{}", kicked.body);
    assert_eq!(fetch(server, Some(&bob), "GET", &secret_path, &[]).await.status, 404, "a former member does not");

    // A direct room: its two people read its files, nobody else does.
    let dm = call(server, Some(&bob), "POST", "/v1/dm", Some(json!({"user_id": ada.id}))).await;
    assert!(matches!(dm.status, 200 | 201), "{}", dm.body);
    let dm_room = dm.json()["room"]["name"].as_str().unwrap().to_owned();
    let note = upload(server, Some(&bob.token), "note.jpg", None, Sent::Sized(&jpeg)).await.json();
    let note_path = format!("/v1/files/{}", note["id"].as_str().unwrap());
    let mut bob_dm = server.connect(&format!("room={dm_room}&token={}", bob.token)).await;
    bob_dm.joined().await;
    assert_eq!(post_files(&mut bob_dm, &dm_room, "", &[note["id"].as_str().unwrap()]).await.0, AckStatus::Success);
    assert_eq!(fetch(server, Some(&ada), "GET", &note_path, &[]).await.status, 200);
    for who in [Some(&eve), None] {
        assert_eq!(fetch(server, who, "GET", &note_path, &[]).await.status, 404);
    }

    // Deleting the message that carried it removes the file, for everyone,
    // its uploader too (the janitor sweeps at once after a delete).
    let posted = history["data"][0]["id"].as_str().unwrap().to_owned();
    ada_lobby.send(json!({"type": "delete", "room": "lobby", "id": posted, "client_id": "del-1"})).await;
    assert_eq!(ada_lobby.event_ack().await.0, AckStatus::Success);
    eventually(server, Some(&ada), &cat_path, 404).await;
    assert_eq!(fetch(server, Some(&ada), "GET", &format!("{cat_path}/thumb"), &[]).await.status, 404);
    let history = call(server, None, "GET", "/v1/chat/messages?room=lobby", None).await.json();
    let tombstone = history["data"].as_array().unwrap().iter().find(|m| m["id"] == posted).unwrap().clone();
    assert_eq!((tombstone["deleted"].as_bool(), tombstone.get("attachments")), (Some(true), None));
    assert_eq!(
        fetch(server, Some(&bob), "GET", &format!("/v1/files/{guest_file}"), &[]).await.status,
        200,
        "others stay"
    );
}

/// The same picture, as a PNG.
fn jpeg_as_png(jpeg: &[u8]) -> Vec<u8> {
    let image = image::load_from_memory(jpeg).expect("decode");
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png).expect("encode");
    png
}

async fn unposted_and_other_types(server: &TestServer) {
    let ada = register(server, "Ada").await;
    let pdf = b"%PDF-1.7\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n";
    let answer = upload(server, Some(&ada.token), "report.pdf", Some("application/pdf"), Sent::Sized(pdf)).await;
    assert_eq!(answer.status, 201, "{:?}", answer.json());
    let file: Value = answer.json();
    assert_eq!(file["type"], "application/pdf");
    assert_eq!((file.get("width"), file.get("thumb")), (None, None), "not an image: no size, no thumbnail");
    let path = format!("/v1/files/{}", file["id"].as_str().unwrap());
    let served = fetch(server, Some(&ada), "GET", &path, &[]).await;
    assert_eq!(served.status, 200);
    assert!(served.header("content-disposition").unwrap().starts_with("attachment; filename=\"report.pdf\""));
    assert_eq!(fetch(server, Some(&ada), "GET", &format!("{path}/thumb"), &[]).await.status, 404);
    // Never posted: removed once older than `unposted_file_secs`.
    eventually(server, Some(&ada), &path, 404).await;
    let mut ada_lobby = server.connect(&format!("room=lobby&token={}", ada.token)).await;
    ada_lobby.joined().await;
    let (status, refusal) = post_files(&mut ada_lobby, "lobby", "too late", &[file["id"].as_str().unwrap()]).await;
    assert_eq!((status, refusal.map(|r| r.code)), (AckStatus::Error, Some(ErrorCode::NotFound)));
}

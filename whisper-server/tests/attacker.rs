//! What an attacker on the network tries, through real sockets
//! (docs/reliability.md, "Threats"): headers that keep the page from being
//! framed or sniffed, files that must not be served, queries and tokens that
//! must not be misread, origins that must not pass, names that pass for
//! someone else, and the attacks that held up from the start (traversal,
//! smuggling, injection, idempotency across users), kept as regressions.

mod support;

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::json;
use support::server::{Client, start, start_with};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use whisper_core::codec::AckStatus;

/// Writes `request` as is on a fresh connection and reads one response:
/// its head and the body its Content-Length announces (none for a 101), or
/// everything until the server closes.
async fn raw(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let read = async {
        let mut buf = [0u8; 4096];
        loop {
            let n = tcp.read(&mut buf).await.unwrap_or(0);
            if n == 0 {
                return;
            }
            out.extend_from_slice(&buf[..n]);
            let text = String::from_utf8_lossy(&out);
            if let Some((head, body)) = text.split_once("\r\n\r\n") {
                if head.starts_with("HTTP/1.1 101") {
                    return;
                }
                let length = header(&format!("{head}\r\n\r\n"), "content-length").and_then(|v| v.parse().ok());
                if length.is_some_and(|n: usize| body.len() >= n) {
                    return;
                }
            }
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(10), read).await;
    String::from_utf8_lossy(&out).into_owned()
}

/// Writes `request` and reads everything the server sends until it closes
/// (or two idle seconds): for checking how many answers one write gets.
async fn raw_all(addr: SocketAddr, request: &str) -> String {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    tcp.write_all(request.as_bytes()).await.expect("write");
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(2), tcp.read_to_end(&mut out)).await;
    String::from_utf8_lossy(&out).into_owned()
}

fn status(response: &str) -> u16 {
    response.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("a status line: {response:?}"))
}

fn header<'a>(response: &'a str, name: &str) -> Option<&'a str> {
    let head = response.split("\r\n\r\n").next()?;
    head.lines().skip(1).find_map(|line| {
        let (k, v) = line.split_once(':')?;
        k.trim().eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

async fn get(addr: SocketAddr, path: &str) -> String {
    raw(addr, &format!("GET {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n\r\n")).await
}

#[tokio::test]
async fn every_response_carries_the_security_headers() {
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>t</title>").unwrap();
    let dir = web.path().to_owned();
    let server = start_with(move |c| c.web_dir = Some(dir)).await;
    for path in ["/", "/some/route", "/v1/rooms", "/v1/chat/messages?room=lobby", "/nope.js", "/v1/nope", "/healthz"] {
        let res = get(server.addr, path).await;
        let csp = header(&res, "content-security-policy").unwrap_or_else(|| panic!("{path}: CSP\n{res}"));
        assert!(csp.contains("script-src 'self'") && !csp.contains("unsafe-inline"), "{path}: {csp}");
        assert!(csp.contains("frame-ancestors 'none'"), "{path}: {csp}");
        assert_eq!(header(&res, "x-content-type-options"), Some("nosniff"), "{path}");
        assert_eq!(header(&res, "x-frame-options"), Some("DENY"), "{path}");
        assert_eq!(header(&res, "referrer-policy"), Some("no-referrer"), "{path}");
    }
}

#[cfg(unix)]
#[tokio::test]
async fn the_web_dir_serves_no_dotfiles_and_follows_no_symlink_out_of_it() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("private.txt"), "the data directory's secret").unwrap();
    let web = tempfile::tempdir().unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>client</title>").unwrap();
    std::fs::write(web.path().join(".env"), "DATABASE_URL=postgres://secret").unwrap();
    std::fs::create_dir(web.path().join(".git")).unwrap();
    std::fs::write(web.path().join(".git/config"), "[remote]").unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("assets/app.js"), "console.log(1)").unwrap();
    std::os::unix::fs::symlink(outside.path().join("private.txt"), web.path().join("leak.txt")).unwrap();
    std::os::unix::fs::symlink(outside.path(), web.path().join("assets/up")).unwrap();
    std::os::unix::fs::symlink(web.path().join("assets/app.js"), web.path().join("alias.js")).unwrap();
    let dir = web.path().to_owned();
    let server = start_with(move |c| c.web_dir = Some(dir)).await;

    for path in ["/.env", "/.git/config", "/assets/.hidden", "/leak.txt", "/assets/up/private.txt"] {
        let res = get(server.addr, path).await;
        assert_eq!(status(&res), 404, "{path}: {res}");
        assert!(!res.contains("secret") && !res.contains("[remote]"), "{path} leaked: {res}");
    }
    let res = get(server.addr, "/assets/app.js").await;
    assert_eq!((status(&res), res.ends_with("console.log(1)")), (200, true), "{res}");
    let res = get(server.addr, "/alias.js").await;
    assert_eq!(status(&res), 200, "a symlink that stays inside the root is served: {res}");
}

#[tokio::test]
async fn a_malformed_percent_escape_is_a_400_never_a_default() {
    let server = start().await;
    for path in [
        "/v1/chat/messages?room=%zz",
        "/v1/chat/messages?room=lobby&limit=%",
        "/v1/chat/ws?room=%E2%28",
        "/v1/chat/ws?token=%zz",
    ] {
        let res = raw(
            server.addr,
            &format!(
                "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
                 Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
                server.addr
            ),
        )
        .await;
        assert_eq!(status(&res), 400, "{path}: {res}");
        assert!(res.contains("\"code\":\"invalid_request\"") && res.contains("percent-escape"), "{path}: {res}");
    }
}

#[tokio::test]
async fn a_token_has_one_spelling() {
    let server = start().await;
    let ada = server.connect("").await;
    let (id, tag) = ada.token.strip_prefix("v1.").unwrap().split_once('.').unwrap();
    let again = server.connect(&format!("token={}", ada.token)).await;
    assert_eq!(again.user_id, ada.user_id, "the token as issued keeps the identity");
    for spelling in [format!("v1.{id}.{}", tag.to_uppercase()), format!("v1.{}.{tag}", id.replace('-', ""))] {
        let err = Client::connect(&server.ws_url(&format!("token={spelling}"))).await.err().expect("refused");
        let tokio_tungstenite::tungstenite::Error::Http(res) = err else { panic!("{err:?}") };
        assert_eq!(res.status(), 401, "{spelling}");
    }
}

#[tokio::test]
async fn a_dns_rebinding_page_cannot_open_a_socket_on_loopback() {
    let server = start().await;
    let upgrade = |host: String, origin: &str| {
        format!(
            "GET /v1/chat/ws HTTP/1.1\r\nHost: {host}\r\nOrigin: {origin}\r\nConnection: Upgrade\r\n\
             Upgrade: websocket\r\nSec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n"
        )
    };
    let port = server.addr.port();
    // The attacker's name now resolves to 127.0.0.1: Origin and Host agree.
    let evil = format!("evil.example:{port}");
    let res = raw(server.addr, &upgrade(evil.clone(), &format!("http://{evil}"))).await;
    assert_eq!(status(&res), 403, "{res}");
    let own = format!("127.0.0.1:{port}");
    let res = raw(server.addr, &upgrade(own.clone(), &format!("http://{own}"))).await;
    assert_eq!(status(&res), 101, "the page served from this loopback server still connects: {res}");

    let public = start_with(|c| c.public_origin = Some("https://chat.example.com".into())).await;
    let res = raw(public.addr, &upgrade(public.addr.to_string(), &format!("http://{}", public.addr))).await;
    assert_eq!(status(&res), 403, "with a public origin, Host is not trusted: {res}");
    let res = raw(public.addr, &upgrade("chat.example.com".into(), "https://chat.example.com")).await;
    assert_eq!(status(&res), 101, "{res}");
}

#[tokio::test]
async fn names_that_hide_characters_or_pose_in_another_script_are_refused() {
    let server = start().await;
    let mut ada = server.join("room=names&name=Ada").await;
    for (name, problem) in [
        ("\u{0410}da", "look-alike letters"),
        ("Ada (\u{0430}dmin)", "look-alike letters"),
        ("Ada\u{061C}", "invisible"),
        ("\u{3164}", "invisible"),
        ("Ada\u{E0041}", "invisible"),
        ("Ada\u{2028}Lovelace", "invisible"),
    ] {
        ada.send(json!({"type":"profile","name":name})).await;
        let refusal = ada.error().await;
        assert_eq!(refusal.code, whisper_core::codec::ErrorCode::InvalidFrame, "{name:?}");
        assert!(refusal.details.iter().any(|d| d.starts_with("name:") && d.contains(problem)), "{name:?}: {refusal:?}");
    }
    // The same rules on the upgrade's `name`.
    let res = raw(
        server.addr,
        &format!(
            "GET /v1/chat/ws?name=%D0%90da HTTP/1.1\r\nHost: {}\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\
             Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n\r\n",
            server.addr
        ),
    )
    .await;
    assert_eq!(status(&res), 400, "{res}");
    assert!(res.contains("look-alike letters"), "{res}");
    // A real name in another script, and one with an emoji, still pass.
    ada.send(json!({"type":"profile","name":"Мария 👩‍💻"})).await;
    ada.send(json!({"type":"typing","room":"names"})).await;
    let mut bob = server.join("room=names&name=Bob").await;
    let presence = bob
        .next_where(|f| match f {
            whisper_core::codec::ServerFrame::Presence { users, .. } => Some(users.into_owned()),
            _ => None,
        })
        .await;
    assert!(presence.iter().any(|u| u.name.as_str() == "Мария 👩‍💻"), "{presence:?}");
}

// Held up from the start; kept so.

#[tokio::test]
async fn no_path_traversal() {
    let outside = tempfile::tempdir().unwrap();
    std::fs::write(outside.path().join("secret.txt"), "outside the web dir").unwrap();
    let web = outside.path().join("web");
    std::fs::create_dir(&web).unwrap();
    std::fs::write(web.join("index.html"), "<!doctype html><title>client</title>").unwrap();
    let server = start_with(move |c| c.web_dir = Some(web)).await;
    for path in [
        "/../secret.txt",
        "/%2e%2e/secret.txt",
        "/assets/%2e%2e/%2e%2e/secret.txt",
        "/..%2fsecret.txt",
        "/..\\secret.txt",
        "//etc/passwd",
        "/%2fetc%2fpasswd",
    ] {
        let res = get(server.addr, path).await;
        assert!(!res.contains("outside the web dir") && !res.contains("root:"), "{path} leaked: {res}");
        assert!(matches!(status(&res), 400 | 404) || res.contains("<title>client</title>"), "{path}: {res}");
    }
}

#[tokio::test]
async fn no_request_smuggling() {
    let server = start().await;
    let addr = server.addr;
    // Content-Length and Transfer-Encoding together, a smuggled request in the body.
    let smuggle = format!(
        "GET /healthz HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 44\r\nTransfer-Encoding: chunked\r\n\r\n\
         0\r\n\r\nGET /v1/rooms HTTP/1.1\r\nHost: {addr}\r\n\r\n"
    );
    let res = raw_all(addr, &smuggle).await;
    assert_eq!(res.matches("HTTP/1.1 ").count(), 1, "one answer, none for the smuggled request: {res}");
    assert!(!res.contains("\"rooms\""), "{res}");
    // RFC 9112 §6.1: after a request with both, the connection is closed.
    assert_eq!(header(&res, "connection"), Some("close"), "{res}");
    // Two Content-Lengths that disagree.
    let res = raw_all(
        addr,
        &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\nab"),
    )
    .await;
    assert!(res.is_empty() || status(&res) == 400, "{res}");
    // An obsolete line folding header.
    let res = raw_all(addr, &format!("GET /healthz HTTP/1.1\r\nHost: {addr}\r\nX-A: a\r\n b\r\n\r\n")).await;
    assert!(res.is_empty() || status(&res) == 400, "{res}");
}

#[tokio::test]
async fn no_sql_injection_content_is_stored_as_written() {
    let server = start().await;
    let mut ada = server.join("room=injection").await;
    let payloads = [
        "'); DROP TABLE messages; --",
        "\" OR 1=1 --",
        "Robert'); DELETE FROM messages WHERE ('1'='1",
        "\\'; SELECT * FROM sqlite_master; --",
    ];
    for p in payloads {
        ada.say(p).await;
    }
    let (status, body) = server.get("/v1/chat/messages?room=injection").await;
    assert_eq!(status, 200);
    let stored: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(stored, payloads, "every payload stored verbatim, and the table still there");
    for room in ["x'--", "a%27%20OR%201%3D1", "lobby;drop"] {
        let (status, body) = server.get(&format!("/v1/chat/messages?room={room}")).await;
        assert_eq!((status, body["error"]["code"].as_str()), (400, Some("invalid_request")), "{room}");
    }
}

#[tokio::test]
async fn idempotency_is_scoped_per_user() {
    let server = start().await;
    let mut ada = server.join("room=idem").await;
    let mut bob = server.join("room=idem").await;
    ada.send(json!({"type":"messages","data":[{"content":"ada's","client_id":"same-id"}]})).await;
    let (status, ada_ids, _) = ada.ack().await;
    assert_eq!(status, AckStatus::Success);
    bob.send(json!({"type":"messages","data":[{"content":"bob's","client_id":"same-id"}]})).await;
    let (status, bob_ids, _) = bob.ack().await;
    assert_eq!(status, AckStatus::Success);
    assert_ne!(ada_ids, bob_ids, "another user's client_id never returns (or hides) someone else's message");
    let (_, body) = server.get("/v1/chat/messages?room=idem").await;
    let stored: Vec<&str> = body["data"].as_array().unwrap().iter().map(|m| m["content"].as_str().unwrap()).collect();
    assert_eq!(stored, ["ada's", "bob's"]);
}

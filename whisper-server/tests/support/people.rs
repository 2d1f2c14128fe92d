//! People in the HTTP tests: an account registered over HTTP, and calls
//! made as it (JSON, or any bytes for uploads).

use std::net::SocketAddr;
use std::time::Duration;

use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use super::server::{Answer, TestServer, http_request};

/// A registered account: its user id and session token.
pub struct Person {
    pub id: String,
    pub token: String,
}

impl Person {
    /// Its `Authorization` header's value.
    pub fn bearer(&self) -> String {
        format!("Bearer {}", self.token)
    }
}

/// Registers `name` (`name@example.com`).
pub async fn register(server: &TestServer, name: &str) -> Person {
    let body = json!({"email": format!("{name}@example.com"), "password": "correct horse", "name": name});
    let answer = http_request(server.addr, "POST", "/v1/auth/register", &[], Some(&body)).await;
    assert_eq!(answer.status, 201, "{}", answer.body);
    let json = answer.json();
    Person { id: json["user_id"].as_str().unwrap().into(), token: json["token"].as_str().unwrap().into() }
}

/// A JSON call as `who` (`None`: no credential).
pub async fn call(server: &TestServer, who: Option<&Person>, method: &str, path: &str, body: Option<Value>) -> Answer {
    let auth = who.map(Person::bearer);
    let headers: Vec<(&str, &str)> = auth.as_deref().map(|a| vec![("authorization", a)]).unwrap_or_default();
    http_request(server.addr, method, path, &headers, body.as_ref()).await
}

/// An answer whose body is bytes.
pub struct Bytes {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Bytes {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    pub fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or(Value::Null)
    }

    pub fn code(&self) -> String {
        self.json()["error"]["code"].as_str().unwrap_or_default().to_owned()
    }
}

/// How a request body goes on the wire.
pub enum Sent<'a> {
    /// With `Content-Length`.
    Sized(&'a [u8]),
    /// `Transfer-Encoding: chunked`, in 64 KiB chunks (no length ahead).
    Chunked(&'a [u8]),
    /// No body.
    Empty,
}

/// Any request over a fresh connection, with a bytes body, reading the
/// answer's bytes.
pub async fn http_bytes(addr: SocketAddr, method: &str, path: &str, headers: &[(&str, &str)], body: Sent<'_>) -> Bytes {
    let mut tcp = TcpStream::connect(addr).await.expect("connect");
    let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\nConnection: close\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    match &body {
        Sent::Sized(bytes) => head.push_str(&format!("Content-Length: {}\r\n", bytes.len())),
        Sent::Chunked(_) => head.push_str("Transfer-Encoding: chunked\r\n"),
        Sent::Empty => {}
    }
    head.push_str("\r\n");
    tcp.write_all(head.as_bytes()).await.expect("write");
    // The server may answer (413, 415) and close before the body is all
    // sent: a failed write is then expected, and the answer still reads.
    let _ = match body {
        Sent::Sized(bytes) => tcp.write_all(bytes).await,
        Sent::Chunked(bytes) => {
            let mut written = Ok(());
            for chunk in bytes.chunks(64 * 1024) {
                written = tcp.write_all(format!("{:x}\r\n", chunk.len()).as_bytes()).await;
                written = written.and(tcp.write_all(chunk).await);
                written = written.and(tcp.write_all(b"\r\n").await);
                if written.is_err() {
                    break;
                }
            }
            written.and(tcp.write_all(b"0\r\n\r\n").await)
        }
        Sent::Empty => Ok(()),
    };
    let mut raw = Vec::new();
    let read = tokio::time::timeout(Duration::from_secs(20), tcp.read_to_end(&mut raw)).await.expect("answer in time");
    if read.is_err() && raw.is_empty() {
        panic!("no answer: {read:?}");
    }
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").expect("a head");
    let head = String::from_utf8_lossy(&raw[..split]).into_owned();
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|s| s.parse().ok()).expect("status line");
    let headers =
        lines.filter_map(|l| l.split_once(':')).map(|(k, v)| (k.trim().to_lowercase(), v.trim().to_owned())).collect();
    Bytes { status, headers, body: raw[split + 4..].to_vec() }
}

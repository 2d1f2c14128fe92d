//! The web client's files as a browser gets them: a precompressed copy
//! when the browser takes one (Brotli first, then gzip), the plain file
//! otherwise, always with `Vary: Accept-Encoding`; hashed assets cached for
//! good, the rest revalidated.

mod support;

use support::people::{Sent, http_bytes};
use support::server::start_with;

#[tokio::test]
async fn assets_are_served_precompressed_when_the_browser_takes_it() {
    let web = tempfile::tempdir().unwrap();
    std::fs::create_dir(web.path().join("assets")).unwrap();
    std::fs::write(web.path().join("index.html"), "<!doctype html><title>t</title>").unwrap();
    std::fs::write(web.path().join("assets/app-1a2b.js"), "console.log('plain')").unwrap();
    std::fs::write(web.path().join("assets/app-1a2b.js.br"), b"brotli bytes").unwrap();
    std::fs::write(web.path().join("assets/app-1a2b.js.gz"), b"gzip bytes").unwrap();
    std::fs::write(web.path().join("manifest.webmanifest"), "{}").unwrap();
    let dir = web.path().to_owned();
    let server = start_with(move |c| c.web_dir = Some(dir)).await;
    let get = |accept: &'static str| {
        let addr = server.addr;
        async move {
            let headers: Vec<(&str, &str)> = if accept.is_empty() { vec![] } else { vec![("accept-encoding", accept)] };
            http_bytes(addr, "GET", "/assets/app-1a2b.js", &headers, Sent::Empty).await
        }
    };
    for (accept, body, encoding) in [
        ("gzip, deflate, br, zstd", &b"brotli bytes"[..], Some("br")),
        ("gzip", b"gzip bytes", Some("gzip")),
        ("br;q=0, gzip;q=0.8", b"gzip bytes", Some("gzip")),
        ("identity", b"console.log('plain')", None),
        ("", b"console.log('plain')", None),
    ] {
        let answer = get(accept).await;
        assert_eq!(answer.status, 200, "{accept}");
        assert_eq!(answer.body, body, "{accept}");
        assert_eq!(answer.header("content-encoding"), encoding, "{accept}");
        assert_eq!(answer.header("vary"), Some("Accept-Encoding"), "{accept}");
        assert_eq!(answer.header("content-type"), Some("text/javascript; charset=utf-8"), "{accept}");
        assert_eq!(answer.header("cache-control"), Some("public, max-age=31536000, immutable"), "{accept}");
    }
    let index = http_bytes(server.addr, "GET", "/", &[("accept-encoding", "br")], Sent::Empty).await;
    assert_eq!((index.header("cache-control"), index.header("content-encoding")), (Some("no-cache"), None));
    let manifest = http_bytes(server.addr, "GET", "/manifest.webmanifest", &[], Sent::Empty).await;
    assert_eq!(manifest.header("content-type"), Some("application/manifest+json"));
    server.stop().await;
}

//! The web client's files: from `--web-dir` when given, else the copy of
//! `web/dist` embedded in the binary (feature `web`; release builds embed the
//! files, debug builds read `web/dist` from disk). Without either, `/` says
//! plainly that no client is built.
//!
//! The web build writes a Brotli (`.br`) and a gzip (`.gz`) copy beside each
//! text asset; a client that accepts one gets it, with `Content-Encoding`
//! and `Vary: Accept-Encoding`, so nothing is compressed per request.

use hyper::Response;
use hyper::header::{CACHE_CONTROL, CONTENT_ENCODING, CONTENT_TYPE, HeaderValue, VARY};
use whisper_core::codec::HttpErrorCode;

use super::response::{Body, error};
use crate::state::AppState;

const NO_CLIENT: &str = "<!doctype html><meta charset=utf-8><title>WhisperChat</title>\
<h1>WhisperChat server is running</h1>\
<p>The web client is not built into this server. The WebSocket endpoint is \
<code>/v1/chat/ws</code>; history is at <code>/v1/chat/messages</code>.</p>";

/// The precompressed copies a client's `Accept-Encoding` takes, best first:
/// `(file suffix, Content-Encoding)`.
fn encodings(accept: Option<&str>) -> Vec<(&'static str, &'static str)> {
    let takes = |name: &str| {
        accept.unwrap_or_default().split(',').any(|item| {
            let mut parts = item.split(';').map(str::trim);
            let token = parts.next().unwrap_or_default();
            let refused = parts.any(|p| p.strip_prefix("q=").is_some_and(|q| q.parse::<f32>().is_ok_and(|q| q <= 0.0)));
            token.eq_ignore_ascii_case(name) && !refused
        })
    };
    [(".br", "br"), (".gz", "gzip")].into_iter().filter(|(_, name)| takes(name)).collect()
}

/// Marks `res` as `encoding` of its content, and as varying by it.
fn encoded(mut res: Response<Body>, encoding: Option<&'static str>) -> Response<Body> {
    if let Some(encoding) = encoding {
        res.headers_mut().insert(CONTENT_ENCODING, HeaderValue::from_static(encoding));
    }
    res.headers_mut().insert(VARY, HeaderValue::from_static("Accept-Encoding"));
    res
}

/// Serves `path` from the web directory, falling back to `index.html` for
/// client-side routes; a precompressed copy when `accept_encoding` takes
/// one.
pub async fn serve(path: &str, accept_encoding: Option<&str>, state: &AppState) -> Response<Body> {
    // Only plain relative paths: no `..`, no absolute, no backslashes, and
    // no dotfile or dot-directory (`.env`, `.git/config`): a web directory
    // is often a build output beside things that were never meant to ship.
    let rel = path.trim_start_matches('/');
    if rel.split('/').any(|seg| seg.starts_with('.') || seg.contains('\\')) {
        return not_found();
    }
    let accepted = encodings(accept_encoding);
    let Some(dir) = &state.config.web_dir else {
        if let Some(res) = embedded::serve(rel, &accepted) {
            return res;
        }
        return if path == "/" { html(NO_CLIENT.as_bytes().to_vec(), "no-store") } else { not_found() };
    };
    let file = if rel.is_empty() { dir.join("index.html") } else { dir.join(rel) };
    let file = match inside(dir, &file).await {
        Inside::Yes(file) => file,
        Inside::Outside => return not_found(),
        Inside::Missing => file,
    };
    let mut copy = None;
    for (suffix, encoding) in accepted {
        let mut name = file.clone().into_os_string();
        name.push(suffix);
        if let Inside::Yes(path) = inside(dir, std::path::Path::new(&name)).await
            && let Ok(bytes) = tokio::fs::read(&path).await
        {
            copy = Some((bytes, encoding));
            break;
        }
    }
    let read = match copy {
        Some((bytes, encoding)) => Ok((bytes, Some(encoding))),
        None => tokio::fs::read(&file).await.map(|bytes| (bytes, None)),
    };
    match read {
        Ok((bytes, encoding)) => {
            let mut res = Response::new(crate::http::response::full(bytes));
            res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static(mime(&file)));
            res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(cache_for(rel)));
            encoded(res, encoding)
        }
        Err(_) if !rel.contains('.') => match tokio::fs::read(dir.join("index.html")).await {
            Ok(bytes) => html(bytes, "no-cache"),
            Err(_) => not_found(),
        },
        Err(_) => not_found(),
    }
}

enum Inside {
    /// The file, resolved, lies under the root.
    Yes(std::path::PathBuf),
    /// A symlink (of the file or a directory on the way) leads out of the root.
    Outside,
    /// No such file (or the root itself is gone).
    Missing,
}

/// Resolves `file` with every symlink followed and checks it is still under
/// `root`: a link inside the web directory must not publish `/etc` or the
/// data directory.
async fn inside(root: &std::path::Path, file: &std::path::Path) -> Inside {
    let (Ok(root), Ok(file)) = (tokio::fs::canonicalize(root).await, tokio::fs::canonicalize(file).await) else {
        return Inside::Missing;
    };
    if file.starts_with(&root) { Inside::Yes(file) } else { Inside::Outside }
}

/// The cache policy for a file: Vite fingerprints everything under
/// `assets/`, so those never change; the rest (index.html) must stay fresh.
fn cache_for(rel: &str) -> &'static str {
    if rel.starts_with("assets/") { "public, max-age=31536000, immutable" } else { "no-cache" }
}

#[cfg(feature = "web")]
mod embedded {
    use hyper::Response;
    use hyper::header::{CACHE_CONTROL, CONTENT_TYPE, HeaderValue};

    use super::{Body, cache_for, encoded};

    #[derive(rust_embed::RustEmbed)]
    #[folder = "../web/dist"]
    #[allow_missing = true]
    struct WebClient;

    /// The embedded file at `rel` (or its first copy in `accepted`), or
    /// `index.html` for client-side routes; `None` when no client was
    /// embedded.
    pub(super) fn serve(rel: &str, accepted: &[(&str, &'static str)]) -> Option<Response<Body>> {
        let rel = if rel.is_empty() { "index.html" } else { rel };
        let (name, file) = match WebClient::get(rel) {
            Some(file) => (rel, file),
            None if !rel.contains('.') => ("index.html", WebClient::get("index.html")?),
            None => return None,
        };
        let mime = HeaderValue::from_str(file.metadata.mimetype()).ok()?;
        let copy = accepted
            .iter()
            .find_map(|(suffix, encoding)| Some((WebClient::get(&format!("{name}{suffix}"))?, *encoding)));
        let (data, encoding) = match copy {
            Some((copy, encoding)) => (copy.data, Some(encoding)),
            None => (file.data, None),
        };
        let mut res = Response::new(crate::http::response::full(data.into_owned()));
        res.headers_mut().insert(CONTENT_TYPE, mime);
        res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(cache_for(name)));
        Some(encoded(res, encoding))
    }
}

#[cfg(not(feature = "web"))]
mod embedded {
    use hyper::Response;

    use super::Body;

    /// Built without the `web` feature: nothing is embedded.
    pub(super) fn serve(_rel: &str, _accepted: &[(&str, &'static str)]) -> Option<Response<Body>> {
        None
    }
}

fn html(bytes: Vec<u8>, cache: &'static str) -> Response<Body> {
    let mut res = Response::new(crate::http::response::full(bytes));
    res.headers_mut().insert(CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"));
    res.headers_mut().insert(CACHE_CONTROL, HeaderValue::from_static(cache));
    res
}

fn not_found() -> Response<Body> {
    error(HttpErrorCode::NotFound, "no such file")
}

fn mime(path: &std::path::Path) -> &'static str {
    match path.extension().and_then(|e| e.to_str()) {
        Some("html") => "text/html; charset=utf-8",
        Some("js" | "mjs") => "text/javascript; charset=utf-8",
        Some("css") => "text/css; charset=utf-8",
        Some("json" | "map") => "application/json",
        Some("webmanifest") => "application/manifest+json",
        Some("svg") => "image/svg+xml",
        Some("png") => "image/png",
        Some("ico") => "image/x-icon",
        Some("woff2") => "font/woff2",
        Some("txt") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

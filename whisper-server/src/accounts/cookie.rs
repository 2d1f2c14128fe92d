//! The web client's session cookie (protocol.md §14): `HttpOnly` (no script
//! reads it), `SameSite=Lax` (no cross-site POST carries it), `Secure` when
//! the server is reached over HTTPS, `Path=/` so the WebSocket upgrade
//! carries it too.

use hyper::HeaderMap;
use hyper::header::COOKIE;

/// The cookie's name.
pub const NAME: &str = "whisper_session";

/// The session token in the request's cookies, if any.
pub fn token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(name, _)| *name == NAME)
        .map(|(_, value)| value.trim().to_owned())
        .filter(|v| !v.is_empty())
}

/// `Set-Cookie` for `token`, kept for `max_age_secs`.
pub fn set(token: &str, max_age_secs: i64, secure: bool) -> String {
    let secure = if secure { "; Secure" } else { "" };
    format!("{NAME}={token}; Path=/; Max-Age={max_age_secs}; HttpOnly; SameSite=Lax{secure}")
}

/// `Set-Cookie` that removes it.
pub fn clear(secure: bool) -> String {
    set("", 0, secure)
}

#[cfg(test)]
mod tests {
    use hyper::header::HeaderValue;

    use super::*;

    #[test]
    fn reads_its_own_cookie_among_others() {
        let mut headers = HeaderMap::new();
        headers.append(COOKIE, HeaderValue::from_static("theme=dark; whisper_session=ws1.abc ; x=y"));
        assert_eq!(token(&headers).as_deref(), Some("ws1.abc"));
        assert_eq!(token(&HeaderMap::new()), None);
        let set = set("ws1.abc", 60, true);
        assert_eq!(set, "whisper_session=ws1.abc; Path=/; Max-Age=60; HttpOnly; SameSite=Lax; Secure");
        assert!(clear(false).contains("Max-Age=0"));
    }
}

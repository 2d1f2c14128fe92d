//! The security headers every response carries (protocol.md §11): the web
//! client runs no inline script and loads nothing from elsewhere, so its
//! Content-Security-Policy can say exactly that; no page may frame it; no
//! response is sniffed into another type; no URL leaks to other sites.

use hyper::Response;
use hyper::header::{
    CONTENT_SECURITY_POLICY, HeaderMap, HeaderValue, REFERRER_POLICY, X_CONTENT_TYPE_OPTIONS, X_FRAME_OPTIONS,
};

/// Scripts, styles, fonts and the socket from this origin only; images
/// also as `data:`/`blob:` URLs (avatars drawn in the page); no plugins,
/// no `<base>` rewriting, no framing, forms post here only.
const CSP: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; \
font-src 'self'; connect-src 'self'; manifest-src 'self'; worker-src 'self'; object-src 'none'; \
base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

/// Adds the security headers to `res`, keeping any a handler set itself.
pub fn secure<B>(res: &mut Response<B>) {
    add(res.headers_mut());
}

fn add(headers: &mut HeaderMap) {
    let defaults = [
        (CONTENT_SECURITY_POLICY, CSP),
        (X_CONTENT_TYPE_OPTIONS, "nosniff"),
        // For browsers that predate `frame-ancestors`.
        (X_FRAME_OPTIONS, "DENY"),
        (REFERRER_POLICY, "no-referrer"),
    ];
    for (name, value) in defaults {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_header_is_added_and_a_handlers_own_is_kept() {
        let mut res = Response::new(());
        res.headers_mut().insert(REFERRER_POLICY, HeaderValue::from_static("same-origin"));
        secure(&mut res);
        let h = res.headers();
        assert!(h[CONTENT_SECURITY_POLICY].to_str().unwrap().contains("script-src 'self';"));
        assert!(h[CONTENT_SECURITY_POLICY].to_str().unwrap().contains("frame-ancestors 'none'"));
        assert!(!CSP.contains("unsafe-inline") && !CSP.contains("unsafe-eval"));
        assert_eq!(h[X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(h[X_FRAME_OPTIONS], "DENY");
        assert_eq!(h[REFERRER_POLICY], "same-origin", "a handler's own choice stands");
    }
}

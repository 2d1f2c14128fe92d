//! Query-string parsing: `a=1&b=x%2Fy` into decoded pairs.

/// The decoded value of `key` in a query string, if present (the first one).
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

/// Checks that every key and value of a query string decodes: a malformed
/// escape (`room=%zz`, `token=%E2%28`) is the client's mistake, answered 400,
/// never read as an absent parameter (a default room, a new identity).
pub fn check(query: Option<&str>) -> Result<(), String> {
    for pair in query.unwrap_or_default().split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let Some(key) = decode(k) else {
            return Err("the query has a malformed percent-escape in a parameter name".to_owned());
        };
        if decode(v).is_none() {
            return Err(format!("{key}: malformed percent-escape (or not UTF-8)"));
        }
    }
    Ok(())
}

/// Percent-decodes (and turns `+` into a space). `None` if the result is
/// not UTF-8 or an escape is malformed.
pub fn decode(s: &str) -> Option<String> {
    decode_with(s, true)
}

/// Percent-decodes a path segment: as [`decode`], but a `+` is itself.
pub fn decode_path(s: &str) -> Option<String> {
    decode_with(s, false)
}

fn decode_with(s: &str, plus_is_space: bool) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = s.get(i + 1..i + 3)?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params() {
        let q = Some("room=acme%2Fgeneral&limit=10&token=v1.a.b&flag");
        assert_eq!(param(q, "room").as_deref(), Some("acme/general"));
        assert_eq!(param(q, "limit").as_deref(), Some("10"));
        assert_eq!(param(q, "flag").as_deref(), Some(""));
        assert_eq!(param(q, "missing"), None);
        assert_eq!(param(None, "room"), None);
        assert_eq!(decode("%zz"), None);
        assert_eq!(decode("%"), None);
        assert_eq!(decode("%C3%A9+x").as_deref(), Some("é x"));
    }

    #[test]
    fn malformed_escapes_are_named() {
        assert_eq!(check(None), Ok(()));
        assert_eq!(check(Some("room=acme%2Fgeneral&flag&limit=")), Ok(()));
        assert_eq!(check(Some("room=%zz")).unwrap_err(), "room: malformed percent-escape (or not UTF-8)");
        assert!(check(Some("limit=1&token=%E2%28")).unwrap_err().starts_with("token:"), "not UTF-8");
        assert!(check(Some("ro%om=lobby")).is_err());
    }
}

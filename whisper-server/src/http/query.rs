//! Query-string parsing: `a=1&b=x%2Fy` into decoded pairs.

/// The decoded value of `key` in a query string, if present (the first one).
pub fn param(query: Option<&str>, key: &str) -> Option<String> {
    query?.split('&').find_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (decode(k)? == key).then(|| decode(v)).flatten()
    })
}

/// Percent-decodes (and turns `+` into a space). `None` if the result is
/// not UTF-8 or an escape is malformed.
pub fn decode(s: &str) -> Option<String> {
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
            b'+' => {
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
}

//! What an upload is, by its first bytes (protocol.md §17): the type a file
//! is served as is the one its content shows, never the name's or the
//! uploader's claim, so a script cannot be uploaded as `cat.png` and served
//! as something a browser runs.

use whisper_core::model::INLINE_IMAGE_TYPES;

/// How many of an upload's first bytes decide its type.
pub const HEAD_BYTES: usize = 8192;

/// The types a server accepts: the four web image types and whatever
/// `--allow-file-type` adds.
#[derive(Clone, Debug)]
pub struct Allowed {
    types: Vec<String>,
}

impl Allowed {
    /// The image types and `extra`, lower-cased.
    pub fn new(extra: &[String]) -> Allowed {
        let mut types: Vec<String> = INLINE_IMAGE_TYPES.iter().map(|t| (*t).to_owned()).collect();
        for t in extra {
            let t = t.trim().to_ascii_lowercase();
            if !t.is_empty() && !types.contains(&t) {
                types.push(t);
            }
        }
        Allowed { types }
    }

    /// Whether `media_type` may be kept.
    pub fn allows(&self, media_type: &str) -> bool {
        self.types.iter().any(|t| t == media_type)
    }

    /// The list, for a refusal that says what is allowed.
    pub fn list(&self) -> String {
        self.types.join(", ")
    }
}

/// The type `head` (an upload's first bytes, all of them if fewer than
/// [`HEAD_BYTES`]) shows: its magic number, or `text/plain` for UTF-8
/// without NUL bytes; `None` for anything else.
pub fn sniff(head: &[u8]) -> Option<&'static str> {
    if let Some(kind) = infer::get(head) {
        return Some(kind.mime_type());
    }
    looks_like_text(head).then_some("text/plain")
}

/// UTF-8 (the head may end inside a character) without NUL bytes.
fn looks_like_text(head: &[u8]) -> bool {
    if head.is_empty() || head.contains(&0) {
        return false;
    }
    match std::str::from_utf8(head) {
        Ok(_) => true,
        // Cut short mid-character at the end of the head: still text.
        Err(e) => e.error_len().is_none() && head.len() >= HEAD_BYTES,
    }
}

/// Why an upload's type is refused (HTTP 415), in words for the uploader.
pub fn check(found: Option<&'static str>, declared: Option<&str>, allowed: &Allowed) -> Result<&'static str, String> {
    let Some(found) = found.filter(|t| allowed.allows(t)) else {
        let what = found.map_or_else(|| "of a type this server cannot tell".to_owned(), |t| t.to_owned());
        return Err(format!("the file is {what}; this server accepts {}", allowed.list()));
    };
    if let Some(declared) = declared.map(base_type).filter(|d| !NO_CLAIM.contains(&d.as_str()))
        && declared != found
    {
        return Err(format!("the upload says it is {declared}, but its content is {found}"));
    }
    Ok(found)
}

/// Content types that say nothing of what a file is: none, "some bytes",
/// and what `curl --data-binary` sends unless told otherwise (no file is
/// a form).
const NO_CLAIM: [&str; 3] = ["", "application/octet-stream", "application/x-www-form-urlencoded"];

/// `image/png` of `Image/PNG; charset=binary`.
fn base_type(header: &str) -> String {
    header.split(';').next().unwrap_or_default().trim().to_ascii_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR";
    const JPEG: &[u8] = b"\xff\xd8\xff\xe0\0\x10JFIF\0";

    #[test]
    fn types_come_from_the_content() {
        assert_eq!(sniff(PNG), Some("image/png"));
        assert_eq!(sniff(JPEG), Some("image/jpeg"));
        assert_eq!(sniff(b"GIF89a\x01\0\x01\0"), Some("image/gif"));
        assert_eq!(sniff(b"RIFF\x24\0\0\0WEBPVP8 "), Some("image/webp"));
        assert_eq!(sniff(b"%PDF-1.7\n"), Some("application/pdf"));
        assert_eq!(sniff("plain words, é\n".as_bytes()), Some("text/plain"));
        assert_eq!(sniff(b"\0\x01\x02binary"), None);
        assert_eq!(sniff(b""), None);
    }

    #[test]
    fn only_allowed_types_pass_and_claims_must_match() {
        let images = Allowed::new(&[]);
        assert_eq!(check(sniff(PNG), None, &images), Ok("image/png"));
        assert_eq!(check(sniff(PNG), Some("application/octet-stream"), &images), Ok("image/png"));
        assert_eq!(check(sniff(PNG), Some("application/x-www-form-urlencoded"), &images), Ok("image/png"), "curl's");
        assert_eq!(check(sniff(PNG), Some("Image/PNG; x=y"), &images), Ok("image/png"));
        let mismatch = check(sniff(JPEG), Some("image/png"), &images).unwrap_err();
        assert_eq!(mismatch, "the upload says it is image/png, but its content is image/jpeg");
        let pdf = check(sniff(b"%PDF-1.7\n"), None, &images).unwrap_err();
        assert!(pdf.starts_with("the file is application/pdf; this server accepts image/png"), "{pdf}");
        let unknown = check(None, None, &images).unwrap_err();
        assert!(unknown.starts_with("the file is of a type this server cannot tell"), "{unknown}");
        let with_pdf = Allowed::new(&[" Application/PDF ".to_owned()]);
        assert_eq!(check(sniff(b"%PDF-1.7\n"), None, &with_pdf), Ok("application/pdf"));
    }
}

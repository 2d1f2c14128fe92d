//! `Range: bytes=…` of a file (RFC 9110 §14): one range is served as `206`,
//! several (rare, and costly to answer as multipart) as the whole file.

use std::ops::Range;

/// What a `Range` header asks of a file of `len` bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Wanted {
    /// The whole file (no header, several ranges, or a unit not `bytes`).
    Whole,
    /// One range within the file.
    Part(Range<u64>),
    /// A range that starts past the end: `416`.
    Unsatisfiable,
}

/// Reads `header` for a file of `len` bytes: `bytes=a-b`, `bytes=a-`,
/// `bytes=-n`. A malformed header is ignored, as the RFC says.
pub fn wanted(header: Option<&str>, len: u64) -> Wanted {
    let Some(spec) = header.and_then(|h| h.trim().strip_prefix("bytes=")) else { return Wanted::Whole };
    if spec.contains(',') {
        return Wanted::Whole;
    }
    let Some((first, last)) = spec.trim().split_once('-') else { return Wanted::Whole };
    let (first, last) = (first.trim(), last.trim());
    match (first.parse::<u64>(), last.parse::<u64>()) {
        // The last n bytes.
        (Err(_), Ok(n)) if first.is_empty() => match n {
            0 => Wanted::Unsatisfiable,
            n => Wanted::Part(len.saturating_sub(n)..len),
        },
        (Ok(start), _) if start >= len => Wanted::Unsatisfiable,
        (Ok(start), Err(_)) if last.is_empty() => Wanted::Part(start..len),
        (Ok(start), Ok(end)) if end >= start => Wanted::Part(start..(end + 1).min(len)),
        _ => Wanted::Whole,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges() {
        assert_eq!(wanted(None, 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=0-9"), 100), Wanted::Part(0..10));
        assert_eq!(wanted(Some("bytes=90-"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-10"), 100), Wanted::Part(90..100));
        assert_eq!(wanted(Some("bytes=-500"), 100), Wanted::Part(0..100));
        assert_eq!(wanted(Some("bytes=50-500"), 100), Wanted::Part(50..100));
        assert_eq!(wanted(Some("bytes=100-"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=-0"), 100), Wanted::Unsatisfiable);
        assert_eq!(wanted(Some("bytes=0-1,5-6"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=9-2"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("items=0-1"), 100), Wanted::Whole);
        assert_eq!(wanted(Some("bytes=x-y"), 100), Wanted::Whole);
    }
}

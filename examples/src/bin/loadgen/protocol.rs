//! What the load generator says to each kind of server, and how it reads the
//! answers without a full JSON parse (the generator must stay cheaper than
//! the server it measures).
//!
//! Every message's text is `<sent_at_us> <sender>:<n> xxxx…`: the send time
//! (µs since the Unix epoch, so several generator processes agree) gives the
//! delivery latency, and `sender:n` lets each subscriber spot losses and
//! duplicates.

use std::fmt::Write as _;

/// Which server is on the other end.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// whisper-server: JSON frames, acks after the store commits.
    Whisper,
    /// The baseline broadcast server: raw text, no acks.
    Baseline,
}

/// A message seen by a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    pub sent_at: u64,
    pub sender: u32,
    pub n: u64,
}

/// What one received frame meant.
#[derive(Debug, PartialEq, Eq)]
pub enum Received {
    /// Messages delivered to this subscriber.
    Delivered(Vec<Seen>),
    /// The server stored the message (the ack carries its send time and n).
    Acked { sent_at: u64, n: u64 },
    /// The server refused the message.
    Refused { n: u64 },
    /// Anything else (welcome, joined, presence, typing…).
    Other,
}

impl Protocol {
    /// The WebSocket URL for a connection in `room`.
    pub fn url(self, server: &str, room: &str, conn: u32) -> String {
        let server = server.trim_end_matches('/');
        match self {
            Protocol::Whisper => format!("{server}/v1/chat/ws?room={room}&name=load-{conn}"),
            Protocol::Baseline => format!("{server}/?room={room}"),
        }
    }

    /// The text frame that sends message `n` of `sender`.
    pub fn message(self, sender: u32, n: u64, sent_at: u64, size: usize) -> String {
        let mut body = String::with_capacity(size + 96);
        let _ = write!(body, "{sent_at} {sender}:{n} ");
        while body.len() < size {
            body.push('x');
        }
        match self {
            Protocol::Baseline => body,
            Protocol::Whisper => {
                let client_id = Protocol::client_id(sent_at, n);
                format!(r#"{{"type":"messages","data":[{{"content":"{body}","client_id":"{client_id}"}}]}}"#)
            }
        }
    }

    /// The `client_id` of message `n` (unique per sender, which is a user).
    pub fn client_id(sent_at: u64, n: u64) -> String {
        format!("{sent_at}-{n}")
    }

    /// Reads a frame the server sent.
    pub fn parse(self, text: &str) -> Received {
        match self {
            Protocol::Baseline => parse_body(text).map_or(Received::Other, |seen| Received::Delivered(vec![seen])),
            Protocol::Whisper => parse_whisper(text),
        }
    }
}

fn parse_whisper(text: &str) -> Received {
    // serde writes the `type` tag first.
    if text.starts_with(r#"{"type":"messages""#) {
        let mut seen = Vec::new();
        let mut rest = text;
        while let Some(at) = rest.find(r#""content":""#) {
            rest = &rest[at + 11..];
            if let Some(s) = parse_body(rest) {
                seen.push(s);
            }
        }
        Received::Delivered(seen)
    } else if text.starts_with(r#"{"type":"message_ids""#) {
        // Our frames carry one message, so one client id: "<sent_at>-<n>".
        let Some(at) = text.find(r#""client_ids":[""#) else { return Received::Other };
        let id = &text[at + 15..];
        let id = &id[..id.find('"').unwrap_or(id.len())];
        let Some((sent_at, n)) = id.split_once('-') else { return Received::Other };
        let (Ok(sent_at), Ok(n)) = (sent_at.parse(), n.parse()) else { return Received::Other };
        if text.contains(r#""status":"success""#) { Received::Acked { sent_at, n } } else { Received::Refused { n } }
    } else {
        Received::Other
    }
}

/// `<sent_at> <sender>:<n> …`
fn parse_body(body: &str) -> Option<Seen> {
    let (sent_at, rest) = body.split_once(' ')?;
    let (sender, rest) = rest.split_once(':')?;
    let n = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    Some(Seen { sent_at: sent_at.parse().ok()?, sender: sender.parse().ok()?, n: n.parse().ok()? })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_what_it_writes() {
        let base = Protocol::Baseline.message(7, 42, 1_700_000_000_000_000, 100);
        assert_eq!(base.len(), 100);
        assert_eq!(
            Protocol::Baseline.parse(&base),
            Received::Delivered(vec![Seen { sent_at: 1_700_000_000_000_000, sender: 7, n: 42 }])
        );
        let sent = Protocol::Whisper.message(7, 42, 5, 20);
        let v: serde_json::Value = serde_json::from_str(&sent).unwrap();
        assert_eq!(v["data"][0]["client_id"], "5-42");
    }

    #[test]
    fn reads_whisper_frames() {
        let frame = r#"{"type":"messages","room":"r","data":[{"id":"x","room":"r","seq":1,"user_id":"u","name":"n","content":"5 7:42 xx","client_id":"5-42","created_at":"t"},{"id":"y","room":"r","seq":2,"user_id":"u","name":"n","content":"6 8:1 xx","created_at":"t"}]}"#;
        assert_eq!(
            Protocol::Whisper.parse(frame),
            Received::Delivered(vec![Seen { sent_at: 5, sender: 7, n: 42 }, Seen { sent_at: 6, sender: 8, n: 1 }])
        );
        let ack = r#"{"type":"message_ids","status":"success","message_ids":["x"],"client_ids":["5-42"]}"#;
        assert_eq!(Protocol::Whisper.parse(ack), Received::Acked { sent_at: 5, n: 42 });
        let refused = r#"{"type":"message_ids","status":"error","message_ids":[],"client_ids":["5-42"],"error":{}}"#;
        assert_eq!(Protocol::Whisper.parse(refused), Received::Refused { n: 42 });
        assert_eq!(Protocol::Whisper.parse(r#"{"type":"presence"}"#), Received::Other);
    }
}

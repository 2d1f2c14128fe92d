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
    /// The server stored the message or event (the ack carries its send
    /// time and n; a message's ack also its id, the target of later events).
    Acked { sent_at: u64, n: u64, id: Option<String> },
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

    /// The frame that sends send `n` of `sender` as an event on its message
    /// `target` in `room`: an edit whose text is a message body (`edit`), or
    /// a reaction whose emoji names the sender and n (`<sender>.<n>`, new
    /// each time).
    pub fn event(sender: u32, n: u64, sent_at: u64, size: usize, room: &str, target: &str, edit: bool) -> String {
        let client_id = Protocol::client_id(sent_at, n);
        if edit {
            let mut body = String::with_capacity(size + 32);
            let _ = write!(body, "{sent_at} {sender}:{n} ");
            while body.len() < size {
                body.push('x');
            }
            format!(r#"{{"type":"edit","room":"{room}","id":"{target}","content":"{body}","client_id":"{client_id}"}}"#)
        } else {
            format!(
                r#"{{"type":"react","room":"{room}","id":"{target}","emoji":"{sender}.{n}","on":true,"client_id":"{client_id}"}}"#
            )
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
    } else if text.starts_with(r#"{"type":"events""#) {
        // Each event starts with its seq; an edit carries a body, a
        // reaction says who sent it (`<sender>.<n>`) and when (its client id).
        let seen = text.split(r#"{"seq":"#).skip(1).filter_map(parse_event).collect();
        Received::Delivered(seen)
    } else if text.starts_with(r#"{"type":"message_ids""#) {
        // Our frames carry one message, so one client id: "<sent_at>-<n>".
        let Some((sent_at, n)) = after(text, r#""client_ids":[""#).and_then(client_id) else { return Received::Other };
        let id = after(text, r#""message_ids":[""#).map(|id| id[..id.find('"').unwrap_or(id.len())].to_owned());
        if text.contains(r#""status":"success""#) {
            Received::Acked { sent_at, n, id }
        } else {
            Received::Refused { n }
        }
    } else if text.starts_with(r#"{"type":"ack""#) {
        let Some((sent_at, n)) = after(text, r#""client_id":""#).and_then(client_id) else { return Received::Other };
        if text.contains(r#""status":"success""#) {
            Received::Acked { sent_at, n, id: None }
        } else {
            Received::Refused { n }
        }
    } else {
        Received::Other
    }
}

/// What follows `key` in `text`.
fn after<'a>(text: &'a str, key: &str) -> Option<&'a str> {
    text.find(key).map(|at| &text[at + key.len()..])
}

/// `<sent_at>-<n>"…`
fn client_id(text: &str) -> Option<(u64, u64)> {
    let id = &text[..text.find('"')?];
    let (sent_at, n) = id.split_once('-')?;
    Some((sent_at.parse().ok()?, n.parse().ok()?))
}

/// One event of an `events` frame, from just after its `{"seq":`.
fn parse_event(event: &str) -> Option<Seen> {
    if event.contains(r#""kind":"edit""#) {
        return parse_body(after(event, r#""content":""#)?);
    }
    let emoji = after(event, r#""emoji":""#)?;
    let (sender, rest) = emoji.split_once('.')?;
    let n = rest.split(|c: char| !c.is_ascii_digit()).next()?;
    let (sent_at, _) = client_id(after(event, r#""client_id":""#)?)?;
    Some(Seen { sent_at, sender: sender.parse().ok()?, n: n.parse().ok()? })
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
        assert_eq!(Protocol::Whisper.parse(ack), Received::Acked { sent_at: 5, n: 42, id: Some("x".into()) });
        let refused = r#"{"type":"message_ids","status":"error","message_ids":[],"client_ids":["5-42"],"error":{}}"#;
        assert_eq!(Protocol::Whisper.parse(refused), Received::Refused { n: 42 });
        assert_eq!(Protocol::Whisper.parse(r#"{"type":"presence"}"#), Received::Other);
    }

    #[test]
    fn reads_what_it_writes_as_events() {
        let edit: serde_json::Value =
            serde_json::from_str(&Protocol::event(7, 42, 5, 30, "r", "01M82E015SE8SD9312WHF08FBH", true)).unwrap();
        assert_eq!((edit["type"].as_str(), edit["client_id"].as_str()), (Some("edit"), Some("5-42")));
        let react: serde_json::Value =
            serde_json::from_str(&Protocol::event(7, 43, 6, 30, "r", "01M82E015SE8SD9312WHF08FBH", false)).unwrap();
        assert_eq!(react["emoji"], "7.43");
        let frame = r#"{"type":"events","room":"r","data":[{"seq":3,"id":"a","room":"r","target":"t","user_id":"u","name":"n","kind":"edit","content":"5 7:42 xx","client_id":"5-42","created_at":"t"},{"seq":4,"id":"b","room":"r","target":"t","user_id":"u","name":"n","kind":"reaction","emoji":"7.43","on":true,"count":1,"client_id":"6-43","created_at":"t"}]}"#;
        assert_eq!(
            Protocol::Whisper.parse(frame),
            Received::Delivered(vec![Seen { sent_at: 5, sender: 7, n: 42 }, Seen { sent_at: 6, sender: 7, n: 43 }])
        );
        let ack = r#"{"type":"ack","client_id":"6-43","status":"success","seq":4,"id":"b"}"#;
        assert_eq!(Protocol::Whisper.parse(ack), Received::Acked { sent_at: 6, n: 43, id: None });
        let refused = r#"{"type":"ack","client_id":"6-43","status":"error","error":{}}"#;
        assert_eq!(Protocol::Whisper.parse(refused), Received::Refused { n: 43 });
    }
}

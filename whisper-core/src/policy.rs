//! The rules an application adds to the chat's own (protocol.md §14): a
//! [`Policy`] the session asks before anything is stored or relayed.
//!
//! The chat's own rules (rates, budgets, sizes, the author edits) always
//! apply; a policy only refuses more, or reshapes what is posted. A refusal
//! is final for that frame: it reaches the client as `forbidden` or
//! `invalid_frame` with the policy's reason, on the channel and in the order
//! of every other answer (a `messages` frame's `message_ids`, an `edit`'s
//! `ack`, otherwise an `error`), and nothing of the frame is stored.
//!
//! ```
//! use std::sync::Arc;
//! use whisper_core::model::{Principal, PrincipalKind, RoomName};
//! use whisper_core::policy::{Denied, Policy, Post, Verdict};
//!
//! /// Accounts only in `staff`; no shouting anywhere.
//! #[derive(Debug)]
//! struct House;
//!
//! #[whisper_core::async_trait]
//! impl Policy for House {
//!     async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
//!         if room.as_str() == "staff" && who.kind != PrincipalKind::Account {
//!             return Err(Denied::forbidden("staff is for accounts"));
//!         }
//!         Ok(())
//!     }
//!
//!     async fn post(&self, _who: &Principal, post: &mut Post) -> Verdict {
//!         post.content = post.content.to_lowercase().into();
//!         Ok(())
//!     }
//! }
//! # let _ = whisper_core::Chat::builder(Arc::new(whisper_core::store::MemoryStore::new())).policy(Arc::new(House));
//! ```

use std::fmt;
use std::sync::Arc;

use crate::codec::{ErrorCode, Refusal};
use crate::model::{Attachment, DisplayName, Emoji, MessageId, Principal, Request, RoomName, RoomProfile, SearchQuery};

/// A policy's answer: go ahead, or [`Denied`].
pub type Verdict = Result<(), Denied>;

/// Why a policy refused, as the client is told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    kind: DeniedKind,
    reason: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum DeniedKind {
    Forbidden,
    Invalid,
}

impl Denied {
    /// Not allowed for this principal: `forbidden`.
    pub fn forbidden(reason: impl Into<String>) -> Denied {
        Denied { kind: DeniedKind::Forbidden, reason: reason.into() }
    }

    /// Not acceptable from anyone (a banned word, say): `invalid_frame`.
    pub fn invalid(reason: impl Into<String>) -> Denied {
        Denied { kind: DeniedKind::Invalid, reason: reason.into() }
    }

    /// The reason given.
    pub fn reason(&self) -> &str {
        &self.reason
    }

    /// The refusal the client gets. Neither code is retryable: the same
    /// frame would be refused again.
    pub fn refusal(&self) -> Refusal {
        let code = match self.kind {
            DeniedKind::Forbidden => ErrorCode::Forbidden,
            DeniedKind::Invalid => ErrorCode::InvalidFrame,
        };
        Refusal::new(code, self.reason.clone())
    }
}

impl fmt::Display for Denied {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.reason)
    }
}

/// A message about to be posted, which [`Policy::post`] may reshape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Post {
    /// Where it goes (for the policy to read: changing it changes nothing).
    pub room: RoomName,
    /// The text, trimmed and within the limits. A policy that changes it
    /// must leave it within them too (the session checks again, and refuses
    /// the frame with `invalid_frame` otherwise).
    pub content: Arc<str>,
    /// The message it answers, if any.
    pub reply_to: Option<MessageId>,
    /// The files it carries (for the policy to read: they are the
    /// author's own uploads, checked already).
    pub attachments: Vec<Attachment>,
}

/// What an application decides. Every method has the default of the chat
/// without a policy (allow, unchanged), so a policy overrides only what it
/// cares about.
///
/// The calls are made in the session's order of events, one at a time per
/// connection, before any store write, so a slow policy slows only the
/// connection it is asked about.
#[crate::async_trait]
pub trait Policy: Send + Sync + fmt::Debug + 'static {
    /// May `who` join `room` (and so read it live, recover it, see its
    /// presence and typing)?
    async fn join(&self, who: &Principal, room: &RoomName) -> Verdict {
        let _ = (who, room);
        Ok(())
    }

    /// May `who` post `post`? It may reshape it (a word filter).
    /// Asked once per message of a `messages` frame; one refusal refuses
    /// the frame.
    async fn post(&self, who: &Principal, post: &mut Post) -> Verdict {
        let _ = (who, post);
        Ok(())
    }

    /// May `who` replace the text of `target` with `content`? (The store
    /// still checks that `who` wrote it.) It may reshape `content`.
    async fn edit(&self, who: &Principal, room: &RoomName, target: MessageId, content: &mut Arc<str>) -> Verdict {
        let _ = (who, room, target, content);
        Ok(())
    }

    /// May `who` delete `target`? (The store still checks that `who` wrote it.)
    async fn delete(&self, who: &Principal, room: &RoomName, target: MessageId) -> Verdict {
        let _ = (who, room, target);
        Ok(())
    }

    /// May `who` add (`on`) or take back a reaction to `target`?
    async fn react(&self, who: &Principal, room: &RoomName, target: MessageId, emoji: &Emoji, on: bool) -> Verdict {
        let _ = (who, room, target, emoji, on);
        Ok(())
    }

    /// May `who` keep an uploaded file (`POST /v1/files`)? Asked once its
    /// content is checked (its type, size and image dimensions are known),
    /// before its record is stored: a refusal keeps nothing.
    async fn upload(&self, who: &Principal, file: &Attachment) -> Verdict {
        let _ = (who, file);
        Ok(())
    }

    /// May `who` call itself `name`?
    async fn rename(&self, who: &Principal, name: &DisplayName) -> Verdict {
        let _ = (who, name);
        Ok(())
    }

    /// May `who` read `room`'s history and log over HTTP (`None`: a reader
    /// that showed no identity)? A join with `since_seq` replays what
    /// [`Policy::join`] allowed.
    async fn read_history(&self, who: Option<&Principal>, room: &RoomName) -> Verdict {
        let _ = (who, room);
        Ok(())
    }

    /// May `who` search at all (`GET /v1/search`)? Asked before the store
    /// is; each message found is then checked with
    /// [`read_history`](Policy::read_history) for its room, so a search
    /// never shows what reading the room would not.
    async fn search(&self, who: Option<&Principal>, query: &SearchQuery) -> Verdict {
        let _ = (who, query);
        Ok(())
    }

    /// May `who` create `room` with `profile` (a public or private room,
    /// or a direct room on its first message)? Asked after the chat's own
    /// rules (a signed-in user; a name the server's for private rooms).
    async fn create_room(&self, who: &Principal, room: &RoomName, profile: &RoomProfile) -> Verdict {
        let _ = (who, room, profile);
        Ok(())
    }

    /// May `who` ask `request` (an invite, kick, ban, unban, leave, role or
    /// retitle, [`Request::Member`]/[`Request::Retitle`]) of `room`? Asked
    /// before the store checks the room's own rules (roles, bans), so a
    /// policy can only refuse more.
    async fn manage(&self, who: &Principal, room: &RoomName, request: &Request) -> Verdict {
        let _ = (who, room, request);
        Ok(())
    }

    /// May `who` say it is typing in `room`? A refusal here is silent: a
    /// typing notice has no answer.
    async fn typing(&self, who: &Principal, room: &RoomName) -> Verdict {
        let _ = (who, room);
        Ok(())
    }
}

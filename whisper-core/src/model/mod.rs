//! The chat domain's values, each validated on construction so that code
//! holding one never checks it again.

mod event;
mod lookalike;
mod message;
mod principal;
mod room;
mod user;

pub use event::{Change, Emoji, EmojiError, Entry, Event, MAX_EMOJI_BYTES, NewEvent, Request};
pub use message::{
    ClientId, ClientIdError, Epoch, MAX_CLIENT_ID_LEN, Message, MessageId, MessageIdError, NewMessage,
    REACTION_USERS_SHOWN, Reactions, Seq, now_millis,
};
pub use principal::{ExternalId, ExternalIdError, MAX_EXTERNAL_ID_LEN, Principal, PrincipalKind};
pub use room::{MAX_ROOM_NAME_LEN, RoomName, RoomNameError};
pub use user::{DisplayName, DisplayNameError, MAX_DISPLAY_NAME_CHARS, UserId, UserIdError};

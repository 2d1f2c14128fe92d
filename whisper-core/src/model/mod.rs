//! The chat domain's values, each validated on construction so that code
//! holding one never checks it again.

mod event;
mod file;
mod lookalike;
mod membership;
mod message;
mod principal;
mod room;
mod search;
mod user;

pub use event::{
    Change, Emoji, EmojiError, Entry, Event, MAX_EMOJI_BYTES, MAX_REASON_CHARS, MemberAction, MemberAsk, NewEvent,
    Request,
};
pub use file::{
    Attachment, FileId, FileIdError, FileName, FileRecord, INLINE_IMAGE_TYPES, MAX_ATTACHMENTS, MAX_FILE_NAME_BYTES,
    PostedFile, StoredThumb, ThumbSize,
};
pub use membership::{
    Access, DIRECT_SPACE, MAX_TITLE_CHARS, MAX_TOPIC_CHARS, Member, PRIVATE_SPACE, Role, RoomProfile, RoomTitle,
    Standing, TextError, Topic, Visibility,
};
pub use message::{
    ClientId, ClientIdError, Epoch, MAX_CLIENT_ID_LEN, Message, MessageId, MessageIdError, NewMessage,
    REACTION_USERS_SHOWN, Reactions, Seq, now_millis,
};
pub use principal::{ExternalId, ExternalIdError, MAX_EXTERNAL_ID_LEN, Principal, PrincipalKind};
pub use room::{MAX_ROOM_NAME_LEN, RoomName, RoomNameError};
pub use search::{
    MAX_QUERY_CHARS, MAX_QUERY_TERMS, SearchQuery, SearchQueryError, SearchTerm, TextMark, index_text, words,
};
pub use user::{DisplayName, DisplayNameError, MAX_DISPLAY_NAME_CHARS, UserId, UserIdError};

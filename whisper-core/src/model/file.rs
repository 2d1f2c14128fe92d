//! Files people post (protocol.md §17): the id a file is known by, its
//! name as shown, and the metadata a message carries for each attachment.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use time::OffsetDateTime;
use ulid::Ulid;

use super::UserId;

/// The most files one message carries.
pub const MAX_ATTACHMENTS: usize = 10;

/// The most bytes a file's name keeps (longer names are cut, keeping the
/// extension).
pub const MAX_FILE_NAME_BYTES: usize = 200;

/// Why a string is not a [`FileId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("must be a file id (a ULID)")]
pub struct FileIdError;

/// An uploaded file's server-assigned id: a ULID, so its 80 random bits
/// make it unguessable and ids sort by upload time.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct FileId(Ulid);

impl FileId {
    /// A fresh id for a file being uploaded now.
    pub fn generate() -> Self {
        FileId(Ulid::generate())
    }

    /// Parses the 26-character Crockford base32 form.
    pub fn parse(s: &str) -> Result<Self, FileIdError> {
        Ulid::from_string(s).map(FileId).map_err(|_| FileIdError)
    }
}

impl fmt::Display for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&self.0, f)
    }
}

impl fmt::Debug for FileId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "file:{}", self.0)
    }
}

impl Serialize for FileId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut buf = [0u8; ulid::ULID_LEN];
        s.serialize_str(self.0.array_to_str(&mut buf))
    }
}

impl<'de> Deserialize<'de> for FileId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        FileId::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// A file's name as shown and offered for download: the last part of
/// whatever path the uploader's system gave, without control or bidi
/// characters (a name like `txt.exe\u{202E}gpj` would lie about its
/// extension), at most [`MAX_FILE_NAME_BYTES`] bytes. Never empty: a name
/// with nothing left is `file`.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export, type = "string"))]
pub struct FileName(Arc<str>);

impl FileName {
    /// The name kept for `raw`: cleaned as the type says, never refused.
    pub fn clean(raw: &str) -> FileName {
        let last = raw.rsplit(['/', '\\']).next().unwrap_or_default();
        let kept: String = last.chars().filter(|&c| !is_hidden_char(c)).collect();
        let trimmed = kept.trim().trim_start_matches('.').trim();
        if trimmed.is_empty() {
            return FileName(Arc::from("file"));
        }
        FileName(Arc::from(cut_keeping_extension(trimmed, MAX_FILE_NAME_BYTES)))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for FileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for FileName {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
        Ok(FileName::clean(&s))
    }
}

/// Characters a shown name must not hold: controls, and those that print
/// nothing or reorder the text around them.
fn is_hidden_char(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{061C}' | '\u{200B}'..='\u{200F}' | '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{FEFF}')
}

/// `name` cut to at most `max` bytes on a character boundary, keeping a
/// short extension (`.png`) so the type it shows stays true.
fn cut_keeping_extension(name: &str, max: usize) -> String {
    if name.len() <= max {
        return name.to_owned();
    }
    let extension = name.rfind('.').map(|dot| &name[dot..]).filter(|e| e.len() <= 16).unwrap_or("");
    let mut end = max - extension.len();
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}{extension}", name[..end].trim_end())
}

/// A thumbnail's size, so a client lays an image out before it loads.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct ThumbSize {
    /// Pixels across.
    pub width: u32,
    /// Pixels down.
    pub height: u32,
}

/// A file as a message carries it, and as an upload answers
/// (protocol.md §17). Immutable: a file's bytes never change under its id.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "typescript", derive(ts_rs::TS), ts(export))]
pub struct Attachment {
    /// Where it is served: `/v1/files/{id}`.
    pub id: FileId,
    /// The uploader's name for it, cleaned.
    pub name: FileName,
    /// The media type its content showed (never the uploader's claim).
    #[serde(rename = "type")]
    #[cfg_attr(feature = "typescript", ts(type = "string"))]
    pub media_type: Arc<str>,
    /// Its length in bytes.
    #[cfg_attr(feature = "typescript", ts(type = "number"))]
    pub size: u64,
    /// An image's width in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub width: Option<u32>,
    /// An image's height in pixels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub height: Option<u32>,
    /// An image's thumbnail (`/v1/files/{id}/thumb`), when it has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[cfg_attr(feature = "typescript", ts(optional))]
    pub thumb: Option<ThumbSize>,
}

impl Attachment {
    /// Whether it is an image a browser may show inline.
    pub fn is_image(&self) -> bool {
        INLINE_IMAGE_TYPES.contains(&&*self.media_type)
    }
}

/// The image types shown inline (and, by default, the only ones accepted).
pub const INLINE_IMAGE_TYPES: [&str; 4] = ["image/png", "image/jpeg", "image/gif", "image/webp"];

/// A thumbnail as stored beside its file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StoredThumb {
    /// Its size in pixels.
    pub size: ThumbSize,
    /// Its media type (PNG for images with transparency, else JPEG).
    pub media_type: Arc<str>,
    /// Its length in bytes.
    pub bytes: u64,
}

/// What the store keeps of an uploaded file: its metadata, who uploaded
/// it and when (the bytes are in a [`FileStore`](crate::files::FileStore)).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileRecord {
    /// What messages carry.
    pub attachment: Attachment,
    /// Who uploaded it: the only author who may attach it.
    pub uploader: UserId,
    /// When the upload finished, in whole milliseconds.
    pub uploaded_at: OffsetDateTime,
    /// Its thumbnail, for an image that has one.
    pub thumb: Option<StoredThumb>,
}

impl FileRecord {
    /// The id.
    pub fn id(&self) -> FileId {
        self.attachment.id
    }
}

/// A file as a reader asks for it: its record and the rooms whose live
/// (not deleted) messages carry it, which decide who may read it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PostedFile {
    /// The file.
    pub record: FileRecord,
    /// Rooms it is posted in, by name; empty for a file not (or no longer)
    /// posted.
    pub rooms: Vec<super::RoomName>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_keep_their_last_part_without_hidden_characters() {
        assert_eq!(FileName::clean("C:\\Users\\ada\\cat.png").as_str(), "cat.png");
        assert_eq!(FileName::clean("../../etc/passwd").as_str(), "passwd");
        assert_eq!(FileName::clean("invoice\u{202E}gpj.exe").as_str(), "invoicegpj.exe");
        assert_eq!(FileName::clean("a\nb\u{0}.txt").as_str(), "ab.txt");
        assert_eq!(FileName::clean("  ").as_str(), "file");
        assert_eq!(FileName::clean("...").as_str(), "file");
        assert_eq!(FileName::clean(".bashrc").as_str(), "bashrc");
    }

    #[test]
    fn long_names_are_cut_keeping_the_extension() {
        let long = format!("{}.png", "é".repeat(300));
        let name = FileName::clean(&long);
        assert!(name.as_str().len() <= MAX_FILE_NAME_BYTES);
        assert!(name.as_str().ends_with("é.png"), "{name}");
    }

    #[test]
    fn ids_round_trip() {
        let id = FileId::generate();
        assert_eq!(FileId::parse(&id.to_string()), Ok(id));
        assert_eq!(FileId::parse("nope"), Err(FileIdError));
    }
}

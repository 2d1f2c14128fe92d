//! `POST /v1/files`, `GET /v1/files/{id}` and `GET /v1/files/{id}/thumb`
//! (protocol.md §17). Who may keep and read a file is core's
//! ([`Chat::keep_file`](whisper_core::Chat::keep_file),
//! [`Chat::open_file`](whisper_core::Chat::open_file)); receiving is
//! [`crate::files`]'; this file reads requests and writes the answers, with
//! the headers that keep a served file from being anything but a download
//! or an image.

use std::net::IpAddr;

use futures_util::{StreamExt, TryStreamExt};
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper::header::{
    ACCEPT_RANGES, CACHE_CONTROL, CONTENT_DISPOSITION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_SECURITY_POLICY,
    CONTENT_TYPE, ETAG, HeaderValue, IF_NONE_MATCH, IF_RANGE, RANGE, X_CONTENT_TYPE_OPTIONS,
};
use hyper::{HeaderMap, Method, Request, Response, StatusCode};
use whisper_core::attachments::FileError;
use whisper_core::codec::HttpErrorCode;
use whisper_core::files::BlobKey;
use whisper_core::model::{Attachment, FileId, FileName, FileRecord};

use super::api::{rate_limited, reader, store_error};
use super::query::{decode_path, param};
use super::range::{Wanted, wanted};
use super::response::{Body, error, json, streamed};
use crate::files::UploadError;
use crate::files::picture::Unusable;
use crate::files::spool::{Incoming as Upload, Refused};
use crate::state::AppState;

/// What a served file may do when opened directly: nothing. No script, no
/// plugin, no form, no request anywhere; an image shows, an HTML or SVG
/// file renders inert (`sandbox` gives it an origin of its own).
const FILE_CSP: &str = "default-src 'none'; img-src 'self'; style-src 'unsafe-inline'; sandbox";

/// A file never changes under its id; it is behind a permission, so shared
/// caches must not keep it.
const FILE_CACHE: &str = "private, max-age=31536000, immutable";

/// The most bytes of a multipart body beyond the file (other parts,
/// headers, boundaries).
const MULTIPART_SLACK: u64 = 64 * 1024;

/// `POST /v1/files`: one file, raw or multipart.
pub async fn upload(req: Request<Incoming>, state: &AppState, client: IpAddr) -> Response<Body> {
    if let Some(refused) = super::rooms::foreign(req.headers(), state) {
        return refused;
    }
    let who = match super::rooms::principal(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    if let Err(wait) = state.read_rate(client) {
        return rate_limited(wait);
    }
    let limit = state.files.max_bytes;
    let declared_len = req.headers().get(CONTENT_LENGTH).and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    let content_type = header(req.headers(), CONTENT_TYPE.as_str()).unwrap_or_default();
    let multipart = multer::parse_boundary(&content_type).ok();
    let slack = if multipart.is_some() { MULTIPART_SLACK } else { 0 };
    if declared_len.is_some_and(|n| n > limit + slack) {
        return too_large(limit);
    }
    let (body, name, declared) = match multipart {
        Some(boundary) => match file_part(req, boundary, limit + slack).await {
            Ok(part) => part,
            Err(response) => return response,
        },
        None => {
            let name = header(req.headers(), "x-filename")
                .and_then(|n| decode_path(&n))
                .or_else(|| param(req.uri().query(), "name"))
                .unwrap_or_default();
            let declared = (!content_type.is_empty()).then_some(content_type);
            let body: Upload = Box::pin(req.into_body().into_data_stream().map_err(|e| e.to_string()));
            (body, name, declared)
        }
    };
    match state.files.receive(&state.chat, &who, body, FileName::clean(&name), declared.as_deref()).await {
        Ok(attachment) => json(StatusCode::CREATED, &attachment),
        Err(UploadError::Refused(Refused::TooLarge(limit))) => too_large(limit),
        Err(UploadError::Refused(Refused::Type(why))) => error(HttpErrorCode::UnsupportedMediaType, why),
        Err(UploadError::Refused(refused @ (Refused::Empty | Refused::Body(_)))) => {
            error(HttpErrorCode::InvalidRequest, refused.to_string())
        }
        Err(UploadError::Refused(Refused::Disk(e))) => {
            tracing::warn!(error = %e, "could not spool an upload");
            error(HttpErrorCode::StorageUnavailable, "the server could not keep the file now; try again later")
        }
        Err(UploadError::Image(why @ (Unusable::TooLarge(..) | Unusable::Limits | Unusable::Unreadable(_)))) => {
            error(HttpErrorCode::InvalidImage, why.to_string())
        }
        Err(UploadError::Denied(why)) => error(HttpErrorCode::Forbidden, why.reason()),
        Err(UploadError::Store(e)) => store_error(&e),
    }
}

fn too_large(limit: u64) -> Response<Body> {
    let mib = limit as f64 / (1024.0 * 1024.0);
    error(HttpErrorCode::PayloadTooLarge, format!("the file is over the limit of {limit} bytes ({mib:.1} MiB)"))
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned)
}

/// The `file` part of a multipart body, as a stream, with its name and
/// declared type; the parts before it are skipped (within `limit`).
async fn file_part(
    req: Request<Incoming>,
    boundary: String,
    limit: u64,
) -> Result<(Upload, String, Option<String>), Response<Body>> {
    let constraints = multer::Constraints::new().size_limit(multer::SizeLimit::new().whole_stream(limit));
    let stream = req.into_body().into_data_stream();
    let mut parts = multer::Multipart::with_constraints(stream, boundary, constraints);
    loop {
        match parts.next_field().await {
            Ok(Some(field)) if field.name() == Some("file") => {
                let name = field.file_name().unwrap_or_default().to_owned();
                let declared = field.content_type().map(ToString::to_string);
                // The part streams from the body that `parts` reads.
                let body = futures_util::stream::unfold((parts, field), |(parts, mut field)| async move {
                    field.next().await.map(|chunk| (chunk.map_err(|e| e.to_string()), (parts, field)))
                });
                return Ok((Box::pin(body), name, declared));
            }
            Ok(Some(_other)) => continue,
            Ok(None) => {
                return Err(error(HttpErrorCode::InvalidRequest, "the multipart body has no part named `file`"));
            }
            Err(multer::Error::StreamSizeExceeded { .. }) => return Err(too_large(limit - MULTIPART_SLACK)),
            Err(e) => return Err(error(HttpErrorCode::InvalidRequest, format!("the multipart body: {e}"))),
        }
    }
}

/// `GET`/`HEAD /v1/files/{id}` and `…/{id}/thumb`.
pub async fn serve(req: &Request<Incoming>, rest: &str, state: &AppState) -> Response<Body> {
    if !matches!(*req.method(), Method::GET | Method::HEAD) {
        return error(HttpErrorCode::MethodNotAllowed, "only GET and HEAD are allowed here");
    }
    let (id, thumb) = match rest.strip_suffix("/thumb") {
        Some(id) => (id, true),
        None => (rest, false),
    };
    let Ok(id) = FileId::parse(id) else { return not_found() };
    let who = match reader(req.headers(), req.uri().query(), state).await {
        Ok(who) => who,
        Err(response) => return response,
    };
    let record = match state.chat.open_file(who.as_ref(), id).await {
        Ok(record) => record,
        Err(FileError::NotFound) => return not_found(),
        Err(FileError::Store(e)) => return store_error(&e),
    };
    let Some(blob) = Blob::of(&record, thumb) else { return not_found() };
    let mut head = Response::builder()
        .header(ETAG, &blob.etag)
        .header(CACHE_CONTROL, FILE_CACHE)
        .header(X_CONTENT_TYPE_OPTIONS, "nosniff")
        .header(CONTENT_SECURITY_POLICY, FILE_CSP)
        .header(ACCEPT_RANGES, "bytes");
    if let Some(disposition) = disposition(&record.attachment) {
        head = head.header(CONTENT_DISPOSITION, disposition);
    }
    let headers = req.headers();
    if header(headers, IF_NONE_MATCH.as_str()).is_some_and(|tags| matches_etag(&tags, &blob.etag)) {
        return head.status(StatusCode::NOT_MODIFIED).body(Body::default()).unwrap_or_else(|_| internal());
    }
    // A range of another version (If-Range with another tag) is the whole.
    let same_version = header(headers, IF_RANGE.as_str()).is_none_or(|tag| tag.trim() == blob.etag);
    let range_header = header(headers, RANGE.as_str()).filter(|_| same_version);
    let (status, range) = match wanted(range_header.as_deref(), blob.len) {
        Wanted::Whole => (StatusCode::OK, 0..blob.len),
        Wanted::Part(range) => {
            let content_range = format!("bytes {}-{}/{}", range.start, range.end - 1, blob.len);
            head = head.header(CONTENT_RANGE, content_range);
            (StatusCode::PARTIAL_CONTENT, range)
        }
        Wanted::Unsatisfiable => {
            return head
                .status(StatusCode::RANGE_NOT_SATISFIABLE)
                .header(CONTENT_RANGE, format!("bytes */{}", blob.len))
                .body(Body::default())
                .unwrap_or_else(|_| internal());
        }
    };
    let head = head
        .status(status)
        .header(
            CONTENT_TYPE,
            HeaderValue::from_str(&blob.media_type).unwrap_or(HeaderValue::from_static("application/octet-stream")),
        )
        .header(CONTENT_LENGTH, range.end - range.start);
    if req.method() == Method::HEAD {
        return head.body(Body::default()).unwrap_or_else(|_| internal());
    }
    match state.files.store.get(blob.key, range).await {
        Ok(Some(bytes)) => head.body(streamed(bytes)).unwrap_or_else(|_| internal()),
        // A record whose bytes are not (yet, or any more) kept.
        Ok(None) => not_found(),
        Err(e) => store_error(&e),
    }
}

/// One of a file's blobs as served.
struct Blob {
    key: BlobKey,
    media_type: String,
    len: u64,
    etag: String,
}

impl Blob {
    fn of(record: &FileRecord, thumb: bool) -> Option<Blob> {
        let id = record.id();
        if thumb {
            let t = record.thumb.as_ref()?;
            return Some(Blob {
                key: BlobKey::thumb(id),
                media_type: t.media_type.to_string(),
                len: t.bytes,
                etag: format!("\"{id}.thumb\""),
            });
        }
        Some(Blob {
            key: BlobKey::original(id),
            media_type: record.attachment.media_type.to_string(),
            len: record.attachment.size,
            etag: format!("\"{id}\""),
        })
    }
}

/// `If-None-Match: "a", "b"` or `*` (weak tags compare equal, RFC 9110).
fn matches_etag(tags: &str, etag: &str) -> bool {
    tags.split(',').map(str::trim).any(|tag| tag == "*" || tag.trim_start_matches("W/") == etag)
}

/// `inline` for the image types a browser shows, `attachment` (a download)
/// for anything else, with the name both as plain ASCII and as UTF-8.
fn disposition(attachment: &Attachment) -> Option<HeaderValue> {
    let kind = if attachment.is_image() { "inline" } else { "attachment" };
    let name = attachment.name.as_str();
    let ascii: String =
        name.chars().map(|c| if c.is_ascii_graphic() && c != '"' && c != '\\' || c == ' ' { c } else { '_' }).collect();
    let encoded: String = name
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'.' | b'-' | b'_' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect();
    HeaderValue::from_str(&format!("{kind}; filename=\"{ascii}\"; filename*=UTF-8''{encoded}")).ok()
}

fn not_found() -> Response<Body> {
    error(HttpErrorCode::NotFound, "no such file")
}

fn internal() -> Response<Body> {
    error(HttpErrorCode::Internal, "could not build the response")
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[test]
    fn etags_match_as_the_rfc_says() {
        assert!(matches_etag("\"a\"", "\"a\""));
        assert!(matches_etag("\"x\", W/\"a\"", "\"a\""));
        assert!(matches_etag("*", "\"a\""));
        assert!(!matches_etag("\"b\"", "\"a\""));
    }

    #[test]
    fn images_show_inline_and_the_rest_downloads() {
        let mut attachment = Attachment {
            id: FileId::generate(),
            name: FileName::clean("été \"1\".png"),
            media_type: Arc::from("image/png"),
            size: 1,
            width: None,
            height: None,
            thumb: None,
        };
        let value = disposition(&attachment).expect("a header");
        assert_eq!(value, "inline; filename=\"_t_ _1_.png\"; filename*=UTF-8''%C3%A9t%C3%A9%20%221%22.png");
        attachment.media_type = Arc::from("application/pdf");
        assert!(disposition(&attachment).expect("a header").to_str().unwrap().starts_with("attachment; "));
    }
}

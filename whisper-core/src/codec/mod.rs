//! The wire codec (protocol.md §3–§5): pure functions from text to frames and back.
//!
//! - [`ClientFrame::decode`] validates a client frame and reports every problem.
//! - [`ServerFrame::encode`] encodes a server frame once into an [`EncodedFrame`]
//!   whose bytes every recipient shares.
//! - [`HistoryPage`], [`RoomList`], [`HttpError`] are the HTTP API's bodies.

mod client;
mod error;
mod http;
mod server;

pub(crate) use client::validate_content;
pub use client::{ClientFrame, Draft};
pub use error::{DecodeError, ErrorCode, FrameType, Refusal};
pub use http::{
    EventsPage, HistoryPage, HttpError, HttpErrorBody, HttpErrorCode, Person, RoomDetail, RoomList, RoomSummary,
    SearchHit, SearchResults,
};
pub use server::{AckStatus, EncodedFrame, PresenceUser, RoomChange, ServerFrame};

#[cfg(test)]
mod tests;

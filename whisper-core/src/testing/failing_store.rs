//! A [`Store`] that fails the way a broken database does, for tests of what
//! the layers above a store do with its errors (nacks, HTTP statuses,
//! readiness).

use async_trait::async_trait;

use crate::model::{
    Access, DisplayName, Event, Message, MessageId, NewEvent, NewMessage, RoomName, Seq, Standing, UserId,
};
use crate::store::{
    Applied, LogPage, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Store,
    StoreError,
};

/// A store whose writes (and, for [`everything`](FailingStore::everything),
/// its reads and pings) fail with one error. [`Store::room`] always answers
/// an empty room and [`Store::access`] a public one, so that joining a room
/// still works and the failure shows where the test looks for it.
#[derive(Debug, Clone)]
pub struct FailingStore {
    error: StoreError,
    reads_fail: bool,
}

impl FailingStore {
    /// Refuses every write with `error`; reads find an empty store and
    /// `ping` succeeds: a database that takes no writes.
    pub fn writes(error: StoreError) -> Self {
        FailingStore { error, reads_fail: false }
    }

    /// Fails writes, reads, room listings and pings with `error`: a database
    /// that is down.
    pub fn everything(error: StoreError) -> Self {
        FailingStore { error, reads_fail: true }
    }

    fn read_outcome<T>(&self, ok: T) -> Result<T, StoreError> {
        if self.reads_fail { Err(self.error.clone()) } else { Ok(ok) }
    }
}

#[async_trait]
impl Store for FailingStore {
    async fn append(&self, _: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        Err(self.error.clone())
    }

    async fn read(&self, _: &RoomName, _: ReadRange) -> Result<Page, StoreError> {
        self.read_outcome(Page { messages: Vec::new(), has_more: false })
    }

    async fn apply(&self, _: NewEvent) -> Result<Applied, StoreError> {
        Err(self.error.clone())
    }

    async fn message(&self, _: &RoomName, _: MessageId) -> Result<Option<Message>, StoreError> {
        self.read_outcome(None)
    }

    async fn log(&self, _: &RoomName, _: Seq, _: usize) -> Result<LogPage, StoreError> {
        self.read_outcome(LogPage { entries: Vec::new(), has_more: false })
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        Ok(RoomInfo::empty(room.clone()))
    }

    async fn rooms_page(&self, _: Option<&RoomName>, _: usize) -> Result<RoomsPage, StoreError> {
        self.read_outcome(RoomsPage { rooms: Vec::new(), has_more: false })
    }

    async fn mark_read(&self, _: UserId, _: &RoomName, _: Seq) -> Result<ReadMark, StoreError> {
        Err(self.error.clone())
    }

    async fn room_reads(&self, _: &RoomName, _: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        self.read_outcome(Vec::new())
    }

    async fn read_state(&self, _: UserId, _: &RoomName) -> Result<ReadState, StoreError> {
        self.read_outcome(ReadState::default())
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.read_outcome(())
    }

    async fn create_room(&self, _: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        Err(self.error.clone())
    }

    async fn access(&self, _: &RoomName, _: UserId) -> Result<Access, StoreError> {
        Ok(Access::default())
    }

    async fn members(
        &self,
        _: &RoomName,
        _: bool,
        _: Option<UserId>,
        _: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        self.read_outcome(Vec::new())
    }

    async fn member_rooms(&self, _: UserId, _: Option<&RoomName>, _: usize) -> Result<MemberRoomsPage, StoreError> {
        self.read_outcome(MemberRoomsPage { rooms: Vec::new(), has_more: false })
    }
    async fn search(&self, _: &crate::store::Search) -> Result<crate::store::SearchPage, StoreError> {
        self.read_outcome(crate::store::SearchPage::default())
    }

    async fn add_file(&self, _: crate::model::FileRecord) -> Result<(), StoreError> {
        Err(self.error.clone())
    }

    async fn file(&self, _: crate::model::FileId) -> Result<Option<crate::model::PostedFile>, StoreError> {
        self.read_outcome(None)
    }

    async fn sweep_files(
        &self,
        _: time::OffsetDateTime,
        _: usize,
    ) -> Result<Vec<crate::model::FileRecord>, StoreError> {
        Err(self.error.clone())
    }
}

//! Prometheus metrics (`GET /metrics`): connections (TCP and WebSocket, and
//! those refused), messages in and out, fan-out and store latency, slow
//! consumers cut off, writes that timed out, abusive clients closed.

use std::sync::Arc;
use std::time::Instant;

use async_trait::async_trait;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::{ConstCounter, Counter};
use prometheus_client::metrics::gauge::{ConstGauge, Gauge};
use prometheus_client::metrics::histogram::{Histogram, exponential_buckets};
use prometheus_client::registry::Registry;
use whisper_core::Chat;
use whisper_core::model::{
    Access, DisplayName, Event, Message, MessageId, NewEvent, NewMessage, RoomName, Seq, Standing, UserId,
};
use whisper_core::store::{
    Applied, LogPage, MemberRoomsPage, NewRoom, Page, ReadMark, ReadRange, ReadState, RoomInfo, RoomsPage, Search,
    SearchPage, Store, StoreError,
};

/// The server's metrics.
#[derive(Debug)]
pub struct Metrics {
    registry: Registry,
    /// WebSocket connections open now.
    pub connections: Gauge,
    /// WebSocket connections accepted since start.
    pub connections_accepted: Counter,
    /// WebSocket upgrades refused (bad token, origin, per-IP limit).
    pub connections_refused: Counter,
    /// TCP connections open now (HTTP and WebSocket, the health reserve
    /// included).
    pub tcp_connections: Gauge,
    /// TCP connections refused as they were accepted: 503 at the global cap,
    /// 429 over the per-IP limit.
    pub tcp_refused: Counter,
    /// Accepts that failed (out of file descriptors, usually).
    pub accept_errors: Counter,
    /// Messages stored.
    pub messages_in: Counter,
    /// Edits, deletes and reactions stored.
    pub events_in: Counter,
    /// Connections closed because a write to them timed out (they stopped
    /// reading; 1013).
    pub write_timeouts: Counter,
    /// Connections closed for flooding past their limits: refused frames,
    /// pings (1008), or WebSocket protocol errors (1002).
    pub abusive_closes: Counter,
    store_append: Histogram,
    store_read: Histogram,
    store_search: Histogram,
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

impl Metrics {
    /// Registers every metric but the hub's (see [`watch_chat`](Self::watch_chat)).
    pub fn new() -> Metrics {
        // 50 µs … ~1.6 s
        let latency = || Histogram::new(exponential_buckets(0.000_05, 2.0, 16));
        let mut metrics = Metrics {
            registry: Registry::with_prefix("whisper"),
            connections: Gauge::default(),
            connections_accepted: Counter::default(),
            connections_refused: Counter::default(),
            tcp_connections: Gauge::default(),
            tcp_refused: Counter::default(),
            accept_errors: Counter::default(),
            messages_in: Counter::default(),
            events_in: Counter::default(),
            write_timeouts: Counter::default(),
            abusive_closes: Counter::default(),
            store_append: latency(),
            store_read: latency(),
            store_search: latency(),
        };
        // Registered clones share their values with the fields above.
        let r = &mut metrics.registry;
        r.register("connections", "WebSocket connections open now", metrics.connections.clone());
        r.register("connections_accepted", "WebSocket connections accepted", metrics.connections_accepted.clone());
        r.register(
            "connections_refused",
            "WebSocket upgrades refused (token, origin, per-IP limit)",
            metrics.connections_refused.clone(),
        );
        r.register(
            "tcp_connections",
            "TCP connections open now (HTTP and WebSocket, health reserve included)",
            metrics.tcp_connections.clone(),
        );
        r.register(
            "tcp_refused",
            "TCP connections refused at accept (503 at the connection cap, 429 over the per-IP limit)",
            metrics.tcp_refused.clone(),
        );
        r.register(
            "accept_errors",
            "Accepts that failed (out of file descriptors, usually)",
            metrics.accept_errors.clone(),
        );
        r.register("messages_in", "Messages stored", metrics.messages_in.clone());
        r.register("events_in", "Edits, deletes and reactions stored", metrics.events_in.clone());
        r.register(
            "write_timeouts",
            "Connections closed because a write to them timed out (not reading)",
            metrics.write_timeouts.clone(),
        );
        r.register(
            "abusive_closes",
            "Connections closed for flooding (1008) or breaking the WebSocket protocol (1002)",
            metrics.abusive_closes.clone(),
        );
        r.register("store_append_seconds", "Time to durably append one batch", metrics.store_append.clone());
        r.register("store_read_seconds", "Time to read one page of history", metrics.store_read.clone());
        r.register("store_search_seconds", "Time to answer one search", metrics.store_search.clone());
        metrics
    }

    /// Reports the node's fan-out counters (read at each scrape).
    pub fn watch_chat(&mut self, chat: Chat) {
        self.registry.register_collector(Box::new(HubCollector(chat)));
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }

    /// Wraps a store so that its latency and throughput are recorded.
    pub fn metered(&self, store: Arc<dyn Store>) -> Arc<dyn Store> {
        Arc::new(MeteredStore {
            inner: store,
            append_seconds: self.store_append.clone(),
            read_seconds: self.store_read.clone(),
            search_seconds: self.store_search.clone(),
            messages_in: self.messages_in.clone(),
            events_in: self.events_in.clone(),
        })
    }
}

/// Reads the hub's counters at scrape time, so the hot path only bumps atomics.
/// Names get the registry's `whisper_` prefix.
#[derive(Debug)]
struct HubCollector(Chat);

impl prometheus_client::collector::Collector for HubCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        let stats = self.0.stats();
        let counters: [(&str, &str, u64); 4] = [
            ("messages_out", "Frames of messages pushed to connections", stats.deliveries),
            ("slow_consumers", "Connections cut off because they read too slowly", stats.slow_consumers),
            ("gap_fills", "Missing seqs read back from the store", stats.gap_fills),
            ("fanout_broadcasts", "Broadcasts fanned out (each encoded once)", stats.broadcasts),
        ];
        for (name, help, value) in counters {
            let counter = ConstCounter::new(value);
            counter.encode(encoder.encode_descriptor(name, help, None, counter.metric_type())?)?;
        }
        let fanout = ConstCounter::new(stats.fanout_time.as_secs_f64());
        fanout.encode(encoder.encode_descriptor(
            "fanout_seconds",
            "Time spent encoding and pushing broadcasts (divide by broadcasts for the mean)",
            None,
            fanout.metric_type(),
        )?)?;
        let rooms = ConstGauge::new(stats.rooms as i64);
        rooms.encode(encoder.encode_descriptor(
            "rooms_live",
            "Rooms with subscribers",
            None,
            rooms.metric_type(),
        )?)?;
        let peers = ConstGauge::new(self.0.peers().len() as i64);
        peers.encode(encoder.encode_descriptor(
            "cluster_peers",
            "Other nodes heard from within the peer timeout",
            None,
            peers.metric_type(),
        )?)
    }
}

/// A store that records how long it takes. Holds clones of the metrics,
/// which share their values with the registered ones.
#[derive(Debug)]
struct MeteredStore {
    inner: Arc<dyn Store>,
    append_seconds: Histogram,
    read_seconds: Histogram,
    search_seconds: Histogram,
    messages_in: Counter,
    events_in: Counter,
}

#[async_trait]
impl Store for MeteredStore {
    async fn append(&self, batch: Vec<NewMessage>) -> Result<Vec<Message>, StoreError> {
        let started = Instant::now();
        let n = batch.len() as u64;
        let result = self.inner.append(batch).await;
        self.append_seconds.observe(started.elapsed().as_secs_f64());
        if result.is_ok() {
            self.messages_in.inc_by(n);
        }
        result
    }

    async fn read(&self, room: &RoomName, range: ReadRange) -> Result<Page, StoreError> {
        let started = Instant::now();
        let result = self.inner.read(room, range).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn apply(&self, event: NewEvent) -> Result<Applied, StoreError> {
        let started = Instant::now();
        let result = self.inner.apply(event).await;
        self.append_seconds.observe(started.elapsed().as_secs_f64());
        if matches!(result, Ok(Applied::Stored(_))) {
            self.events_in.inc();
        }
        result
    }

    async fn message(&self, room: &RoomName, id: MessageId) -> Result<Option<Message>, StoreError> {
        let started = Instant::now();
        let result = self.inner.message(room, id).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn log(&self, room: &RoomName, after: Seq, limit: usize) -> Result<LogPage, StoreError> {
        let started = Instant::now();
        let result = self.inner.log(room, after, limit).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn room(&self, room: &RoomName) -> Result<RoomInfo, StoreError> {
        self.inner.room(room).await
    }

    async fn room_reads(&self, room: &RoomName, limit: usize) -> Result<Vec<(UserId, Seq)>, StoreError> {
        let started = Instant::now();
        let result = self.inner.room_reads(room, limit).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn rooms_page(&self, after: Option<&RoomName>, limit: usize) -> Result<RoomsPage, StoreError> {
        self.inner.rooms_page(after, limit).await
    }

    async fn mark_read(&self, user: UserId, room: &RoomName, seq: Seq) -> Result<ReadMark, StoreError> {
        self.inner.mark_read(user, room, seq).await
    }

    async fn read_state(&self, user: UserId, room: &RoomName) -> Result<ReadState, StoreError> {
        let started = Instant::now();
        let result = self.inner.read_state(user, room).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn ping(&self) -> Result<(), StoreError> {
        self.inner.ping().await
    }

    async fn create_room(&self, room: NewRoom) -> Result<Option<Vec<Event>>, StoreError> {
        let started = Instant::now();
        let result = self.inner.create_room(room).await;
        self.append_seconds.observe(started.elapsed().as_secs_f64());
        if let Ok(Some(events)) = &result {
            self.events_in.inc_by(events.len() as u64);
        }
        result
    }

    async fn access(&self, room: &RoomName, user: UserId) -> Result<Access, StoreError> {
        let started = Instant::now();
        let result = self.inner.access(room, user).await;
        self.read_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn members(
        &self,
        room: &RoomName,
        banned: bool,
        after: Option<UserId>,
        limit: usize,
    ) -> Result<Vec<(UserId, DisplayName, Standing)>, StoreError> {
        self.inner.members(room, banned, after, limit).await
    }

    async fn member_rooms(
        &self,
        user: UserId,
        after: Option<&RoomName>,
        limit: usize,
    ) -> Result<MemberRoomsPage, StoreError> {
        self.inner.member_rooms(user, after, limit).await
    }

    async fn search(&self, search: &Search) -> Result<SearchPage, StoreError> {
        let started = Instant::now();
        let result = self.inner.search(search).await;
        self.search_seconds.observe(started.elapsed().as_secs_f64());
        result
    }

    async fn add_file(&self, file: whisper_core::model::FileRecord) -> Result<(), StoreError> {
        self.inner.add_file(file).await
    }

    async fn file(
        &self,
        id: whisper_core::model::FileId,
    ) -> Result<Option<whisper_core::model::PostedFile>, StoreError> {
        self.inner.file(id).await
    }

    async fn sweep_files(
        &self,
        before: time::OffsetDateTime,
        limit: usize,
    ) -> Result<Vec<whisper_core::model::FileRecord>, StoreError> {
        self.inner.sweep_files(before, limit).await
    }
}

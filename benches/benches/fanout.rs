//! Hub fan-out: `Hub::deliver` of one stored message to a room with N = 1,
//! 100, 1 000 and 10 000 subscribers.
//!
//! Only `deliver` is timed (sequencing, encoding the broadcast once, pushing an
//! `Arc` of it into every subscriber's outbox). Building the messages and
//! draining the outboxes happen outside the timed region. Throughput is
//! `Elements(N)`, so criterion's "elem/s" is deliveries per second and time per
//! delivery is time per iteration / N.
//!
//! No subscriber task is waiting on its outbox while a frame is pushed, so no
//! waker is woken: this is the hub's own cost, not a scheduler's.
//!
//! `fanout_parked` measures the live case instead: every subscriber is a task
//! parked in `Outbox::drain` on a two-worker runtime, as each connection is in
//! the server. An iteration publishes one message and ends when every reader
//! has drained it, so it includes waking N tasks, their drains, and the
//! publisher racing the readers for the outbox locks.
//!
//! Run: `cargo bench -p whisper-benches --bench fanout`
//! (short run: append `-- --warm-up-time 1 --measurement-time 3`).

use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use whisper_benches::{content, message};
use whisper_core::Limits;
use whisper_core::hub::{Delivery, Hub, Member};
use whisper_core::model::{DisplayName, Message, RoomName, Seq, UserId};
use whisper_core::store::MemoryStore;

const SUBSCRIBERS: [usize; 4] = [1, 100, 1_000, 10_000];

/// A room with `n` subscribers and the next seq to publish in it.
struct Fixture {
    hub: Hub,
    room: RoomName,
    members: Vec<Member>,
    author: UserId,
    author_name: DisplayName,
    text: String,
    next_seq: u64,
    /// Reused by every drain; its capacity circulates among the outboxes.
    buf: Vec<Delivery>,
}

impl Fixture {
    fn new(rt: &tokio::runtime::Runtime, n: usize) -> Fixture {
        // Large enough that no subscriber is cut off between drains.
        let limits = Limits { outbox_capacity: 1_000_000, ..Limits::default() };
        let wait = limits.presence_interval + limits.gap_grace + Duration::from_millis(50);
        let hub = Hub::new(Arc::new(MemoryStore::new()), Arc::new(limits));
        let room = RoomName::lobby();
        let members: Vec<Member> = (0..n).map(|_| hub.member(UserId::random())).collect();
        let head = rt.block_on(async {
            let mut head = Seq::ZERO;
            for m in &members {
                let name = DisplayName::guest(m.user());
                head = hub.subscribe(&room, m, &name).await.expect("subscribe").seq;
            }
            // Let the coalesced presence flush and the join-time gap fill run
            // now, so nothing the hub spawned is left to run mid-measurement.
            tokio::time::sleep(wait).await;
            head
        });
        let author = UserId::random();
        let mut fixture = Fixture {
            hub,
            room,
            members,
            author,
            author_name: DisplayName::guest(author),
            text: content(),
            next_seq: head.0 + 1,
            buf: Vec::new(),
        };
        fixture.drain(None); // presence frames from the joins
        fixture
    }

    /// Empties every outbox; with `expect`, checks each held that many frames.
    fn drain(&mut self, expect: Option<usize>) {
        let mut cx = Context::from_waker(Waker::noop());
        for m in &self.members {
            if m.outbox().is_empty() && expect.is_none() {
                continue;
            }
            match m.outbox().poll_drain(&mut cx, &mut self.buf) {
                Poll::Ready(Ok(())) => {}
                other => panic!("outbox not ready: {other:?}"),
            }
            if let Some(n) = expect {
                assert_eq!(self.buf.len(), n, "every subscriber gets every message");
            }
            self.buf.clear();
        }
    }

    /// Publishes `iters` messages, one `deliver` each, and returns the time
    /// spent in `deliver` alone.
    fn run(&mut self, iters: u64) -> Duration {
        // Deliveries per drain: amortise the clock reads for small rooms while
        // keeping outboxes short.
        let batch = (1_000 / self.members.len()).clamp(1, 100) as u64;
        let mut messages: Vec<Message> = Vec::with_capacity(batch as usize);
        let mut timed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let k = left.min(batch);
            messages.clear();
            for _ in 0..k {
                let seq = Seq(self.next_seq);
                self.next_seq += 1;
                messages.push(message(&self.room, self.author, &self.author_name, &self.text, seq));
            }
            let start = Instant::now();
            for m in &messages {
                self.hub.deliver(std::slice::from_ref(m));
            }
            timed += start.elapsed();
            self.drain(Some(k as usize));
            left -= k;
        }
        timed
    }
}

fn fanout(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("tokio runtime");
    // The hub may spawn timers (presence flush, gap fill): keep a runtime current.
    let _guard = rt.enter();
    let mut group = c.benchmark_group("fanout");
    for n in SUBSCRIBERS {
        let mut fixture = Fixture::new(&rt, n);
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| fixture.run(iters));
        });
        let stats = fixture.hub.stats();
        assert_eq!(stats.slow_consumers, 0, "no subscriber may be cut off");
        assert_eq!(stats.gap_fills, 0, "every message is published in order");
    }
    group.finish();
}

/// Readers parked on their outboxes, counting the messages they drain.
fn fanout_parked(c: &mut Criterion) {
    use std::sync::atomic::{AtomicU64, Ordering};
    use tokio::sync::Notify;

    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("fanout_parked");
    for n in [100, 1_000, 10_000] {
        let limits = Limits { outbox_capacity: 1_000_000, ..Limits::default() };
        let wait = limits.presence_interval + limits.gap_grace + Duration::from_millis(50);
        let hub = Hub::new(Arc::new(MemoryStore::new()), Arc::new(limits));
        let room = RoomName::lobby();
        let received = Arc::new(AtomicU64::new(0));
        let wanted = Arc::new(AtomicU64::new(u64::MAX));
        let all_in = Arc::new(Notify::new());
        let mut next_seq = rt.block_on(async {
            let mut head = Seq::ZERO;
            for _ in 0..n {
                let member = hub.member(UserId::random());
                head = hub.subscribe(&room, &member, &DisplayName::guest(member.user())).await.expect("subscribe").seq;
                let (received, wanted, all_in) = (received.clone(), wanted.clone(), all_in.clone());
                tokio::spawn(async move {
                    let mut buf = Vec::new();
                    while member.outbox().drain(&mut buf).await.is_ok() {
                        let k: u64 = buf
                            .drain(..)
                            .map(|d| match d {
                                Delivery::Messages(b) => b.messages.len() as u64,
                                Delivery::Event { .. } => 0,
                            })
                            .sum();
                        if k > 0 && received.fetch_add(k, Ordering::AcqRel) + k >= wanted.load(Ordering::Acquire) {
                            all_in.notify_one();
                        }
                    }
                });
            }
            tokio::time::sleep(wait).await; // presence flush and join-time gap fill
            head.0 + 1
        });
        let author = UserId::random();
        let author_name = DisplayName::guest(author);
        let text = content();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let m = message(&room, author, &author_name, &text, Seq(next_seq));
                        next_seq += 1;
                        let target = received.load(Ordering::Acquire) + n as u64;
                        wanted.store(target, Ordering::Release);
                        let start = Instant::now();
                        hub.deliver(std::slice::from_ref(&m));
                        while received.load(Ordering::Acquire) < target {
                            all_in.notified().await;
                        }
                        timed += start.elapsed();
                    }
                    timed
                })
            });
        });
        let stats = hub.stats();
        assert_eq!(stats.slow_consumers, 0, "no subscriber may be cut off");
    }
    group.finish();
}

criterion_group!(benches, fanout, fanout_parked);
criterion_main!(benches);

//! Hub fan-out: `Hub::deliver` (driven through
//! `whisper_core::testing::fanout::FanoutRoom`) of one stored message to a room with N = 1,
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

use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use whisper_benches::{content, message};
use whisper_core::Limits;
use whisper_core::model::{DisplayName, Message, Seq, UserId};
use whisper_core::testing::fanout::FanoutRoom;

const SUBSCRIBERS: [usize; 4] = [1, 100, 1_000, 10_000];

/// A room with `n` subscribers and the next seq to publish in it.
struct Fixture {
    room: FanoutRoom,
    author: UserId,
    author_name: DisplayName,
    text: String,
    next_seq: u64,
}

/// Large enough that no subscriber is cut off between drains.
fn limits() -> Limits {
    Limits { outbox_capacity: 1_000_000, outbox_bytes: usize::MAX, ..Limits::default() }
}

impl Fixture {
    fn new(rt: &tokio::runtime::Runtime, n: usize) -> Fixture {
        let room = rt.block_on(FanoutRoom::new(n, limits()));
        let author = UserId::random();
        let next_seq = room.head().0 + 1;
        Fixture { room, author, author_name: DisplayName::guest(author), text: content(), next_seq }
    }

    /// Publishes `iters` messages, one `deliver` each, and returns the time
    /// spent in `deliver` alone.
    fn run(&mut self, iters: u64) -> Duration {
        // Deliveries per drain: amortise the clock reads for small rooms while
        // keeping outboxes short.
        let subscribers = self.room.subscribers();
        let batch = (1_000 / subscribers).clamp(1, 100) as u64;
        let mut messages: Vec<Message> = Vec::with_capacity(batch as usize);
        let mut timed = Duration::ZERO;
        let mut left = iters;
        while left > 0 {
            let k = left.min(batch);
            messages.clear();
            for _ in 0..k {
                let seq = Seq(self.next_seq);
                self.next_seq += 1;
                messages.push(message(self.room.room(), self.author, &self.author_name, &self.text, seq));
            }
            let start = Instant::now();
            for m in &messages {
                self.room.deliver(std::slice::from_ref(m));
            }
            timed += start.elapsed();
            self.room.drain(Some(k as usize));
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
        let stats = fixture.room.stats();
        assert_eq!(stats.slow_consumers, 0, "no subscriber may be cut off");
        assert_eq!(stats.gap_fills, 0, "every message is published in order");
    }
    group.finish();
}

/// Readers parked on their outboxes, counting the messages they drain.
fn fanout_parked(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().expect("runtime");
    let mut group = c.benchmark_group("fanout_parked");
    for n in [100, 1_000, 10_000] {
        let (room, readers) = rt.block_on(async {
            let mut room = FanoutRoom::new(n, limits()).await;
            let readers = room.spawn_readers();
            (room, readers)
        });
        let mut next_seq = room.head().0 + 1;
        let author = UserId::random();
        let author_name = DisplayName::guest(author);
        let text = content();
        group.throughput(Throughput::Elements(n as u64));
        group.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let mut timed = Duration::ZERO;
                    for _ in 0..iters {
                        let m = message(room.room(), author, &author_name, &text, Seq(next_seq));
                        next_seq += 1;
                        readers.expect(readers.received() + n as u64);
                        let start = Instant::now();
                        room.deliver(std::slice::from_ref(&m));
                        readers.all_in().await;
                        timed += start.elapsed();
                    }
                    timed
                })
            });
        });
        let stats = room.stats();
        assert_eq!(stats.slow_consumers, 0, "no subscriber may be cut off");
    }
    group.finish();
}

criterion_group!(benches, fanout, fanout_parked);
criterion_main!(benches);

//! Durable ingest into the SQLite store: messages per second committed
//! (WAL, `synchronous=FULL`: each commit syncs to disk before the append
//! returns).
//!
//! - `ingest_sqlite/sequential_batch_of_1`: one task appending single messages,
//!   each awaited before the next. Every append is its own transaction and its
//!   own sync: this is the disk's sync latency, the floor group commit lifts.
//! - `ingest_sqlite/group_commit/64_tasks_x{1,10,100}`: 64 tasks appending at
//!   once, each a batch of 1, 10 or 100 messages at a time, awaiting each
//!   before the next. The writer commits whatever queued during the previous
//!   sync in one transaction. An iteration is one batch from every task.
//!
//! Every message has 100 bytes of content and a `client_id` (so the
//! idempotency index is maintained, as for a web client's messages), and goes
//! to one of 8 rooms. Building the messages is inside the timed region, as it
//! is in the server. Each benchmark starts on an empty database file under
//! cargo's target directory (a real disk, not a tmpfs that would make syncs
//! free). Throughput is `Elements(messages)`, so criterion's "elem/s" is
//! messages committed per second. After each benchmark the mean number of
//! messages per commit is printed.
//!
//! Run: `cargo bench -p whisper-benches --bench ingest_sqlite`
//! (short run: append `-- --warm-up-time 1 --measurement-time 5`).

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use tempfile::TempDir;
use whisper_benches::content;
use whisper_core::model::{ClientId, DisplayName, NewMessage, RoomName, UserId};
use whisper_core::store::Store;
use whisper_store::SqliteStore;

const TASKS: usize = 64;
const BATCHES: [usize; 3] = [1, 10, 100];
const ROOMS: usize = 8;

/// A fresh store in its own directory under the target directory.
struct Fixture {
    store: Arc<SqliteStore>,
    rooms: Arc<[RoomName]>,
    text: Arc<str>,
    /// Messages appended and commits made, over every iteration, to report
    /// the mean group size.
    messages: AtomicU64,
    _dir: TempDir,
}

impl Fixture {
    fn new(rt: &tokio::runtime::Runtime) -> Fixture {
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).expect("temporary directory");
        let store = rt.block_on(SqliteStore::open(dir.path().join("whisper.db"))).expect("open the store");
        let rooms = (0..ROOMS).map(|i| RoomName::parse(&format!("room-{i}")).expect("valid room")).collect();
        Fixture { store: Arc::new(store), rooms, text: content().into(), messages: AtomicU64::new(0), _dir: dir }
    }

    fn report(&self, name: &str) {
        let messages = self.messages.load(Ordering::Relaxed);
        let commits = self.store.commits().max(1);
        eprintln!(
            "{name}: {messages} messages in {commits} commits, {:.1} messages per commit",
            messages as f64 / commits as f64
        );
    }
}

/// `n` messages by `user` with client ids unique to `(task, round)`.
fn batch(fx: &Fixture, user: UserId, name: &DisplayName, task: usize, round: u64, n: usize) -> Vec<NewMessage> {
    let room = &fx.rooms[task % ROOMS];
    (0..n)
        .map(|j| {
            let client_id = ClientId::parse(&format!("t{task}-{round}-{j}")).expect("valid client id");
            NewMessage::now(room.clone(), user, name.clone(), fx.text.clone(), Some(client_id))
        })
        .collect()
}

fn sequential(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    let fx = Fixture::new(rt);
    let user = UserId::random();
    let name = DisplayName::guest(user);
    let mut group = c.benchmark_group("ingest_sqlite");
    group.sample_size(10);
    group.throughput(Throughput::Elements(1));
    let mut round = 0;
    group.bench_function("sequential_batch_of_1", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let start = Instant::now();
                for _ in 0..iters {
                    round += 1;
                    fx.store.append(batch(&fx, user, &name, 0, round, 1)).await.expect("append");
                }
                fx.messages.fetch_add(iters, Ordering::Relaxed);
                start.elapsed()
            })
        });
    });
    group.finish();
    fx.report("sequential_batch_of_1");
}

fn concurrent(c: &mut Criterion, rt: &tokio::runtime::Runtime) {
    for n in BATCHES {
        let fx = Arc::new(Fixture::new(rt));
        let mut group = c.benchmark_group("ingest_sqlite/group_commit");
        group.sample_size(10);
        group.throughput(Throughput::Elements((TASKS * n) as u64));
        // Rounds already used, so that client ids never repeat across
        // criterion's calls (a repeat would be a resend, not an insert).
        let mut rounds = 0;
        let id = format!("{TASKS}_tasks_x{n}");
        group.bench_function(&id, |b| {
            b.iter_custom(|iters| {
                let first = rounds;
                rounds += iters;
                rt.block_on(async {
                    let start = Instant::now();
                    let tasks: Vec<_> = (0..TASKS)
                        .map(|task| {
                            let fx = fx.clone();
                            tokio::spawn(async move {
                                let user = UserId::random();
                                let name = DisplayName::guest(user);
                                for round in first..first + iters {
                                    fx.store.append(batch(&fx, user, &name, task, round, n)).await.expect("append");
                                }
                            })
                        })
                        .collect();
                    for task in tasks {
                        task.await.expect("task");
                    }
                    let elapsed = start.elapsed();
                    fx.messages.fetch_add(iters * (TASKS * n) as u64, Ordering::Relaxed);
                    elapsed
                })
            });
        });
        group.finish();
        fx.report(&format!("group_commit/{id}"));
    }
}

fn ingest(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    sequential(c, &rt);
    concurrent(c, &rt);
    // Let the stores' files close before the runtime goes.
    rt.shutdown_timeout(Duration::from_secs(5));
}

criterion_group!(benches, ingest);
criterion_main!(benches);

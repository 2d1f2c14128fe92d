//! PostgreSQL ingest: messages per second that `PostgresStore::append` has
//! durably committed (the call returned, so PostgreSQL's commit, fsync
//! included, is done), on a database of its own that is dropped afterwards.
//!
//! - `sequential/batch_of_1`: one task appending one message at a time and
//!   awaiting each: one group commit per message, the latency-bound floor.
//! - `group_commit/batch_of_1/N_tasks`: N tasks doing the same at once, as N
//!   connected clients would; the writer commits whatever is queued as one
//!   group: one multi-row statement, overlapped with the next group's on a
//!   second connection when that one is large.
//! - `group_commit_batches/batch_of_B/64_tasks`: 64 tasks each appending
//!   batches of B messages (one `messages` frame of B items).
//!
//! Every message has 100 bytes of content and a fresh client id (so the
//! `UNIQUE (user_id, client_id)` index grows with every row, as it does in
//! use; no message is a resend) and goes to one room. Criterion's
//! "elem/s" is messages committed per second. Skips with a message if
//! PostgreSQL is unreachable.
//!
//! Uses `WHISPER_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`) to create and drop its database.
//!
//! Run: `cargo bench -p whisper-benches --bench ingest_postgres -- --warm-up-time 1 --measurement-time 5`

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use criterion::{BenchmarkId, Criterion, Throughput};
use whisper_benches::content;
use whisper_core::model::{ClientId, DisplayName, NewMessage, RoomName, UserId};
use whisper_core::store::Store;
use whisper_store::PostgresStore;

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
/// Concurrent appenders in the group-commit benchmarks.
const TASKS: [usize; 2] = [64, 256];

/// Drops the benchmark's database when the benchmark ends, even by panic.
struct Database {
    admin_url: String,
    name: String,
    url: String,
    rt: Arc<tokio::runtime::Runtime>,
}

impl Drop for Database {
    fn drop(&mut self) {
        if let Err(e) = self.rt.block_on(PostgresStore::drop_database(&self.admin_url, &self.name)) {
            eprintln!("warning: could not drop benchmark database {}: {e}", self.name);
        }
    }
}

/// Makes unique client ids: every appended message is new.
struct Drafts {
    room: RoomName,
    name: DisplayName,
    text: Arc<str>,
    next: AtomicU64,
}

impl Drafts {
    fn draft(&self, user: UserId) -> NewMessage {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let client_id = ClientId::parse(&format!("c-{n}")).ok();
        NewMessage::now(self.room.clone(), user, self.name.clone(), self.text.clone(), client_id)
    }
}

fn main() {
    let admin_url = std::env::var("WHISPER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.to_owned());
    let rt = Arc::new(tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime"));
    let stamp = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap_or_default().as_nanos();
    let name = format!("whisper_bench_{}_{stamp}", std::process::id());
    let url = match rt.block_on(PostgresStore::create_database(&admin_url, &name)) {
        Ok(url) => url,
        Err(e) => {
            eprintln!("skipped: PostgreSQL unreachable at {admin_url}: {e}");
            return;
        }
    };
    let db = Database { admin_url, name, url, rt: rt.clone() };
    let store: Arc<dyn Store> = Arc::new(rt.block_on(PostgresStore::connect(&db.url)).expect("connect"));
    let drafts = Arc::new(Drafts {
        room: RoomName::lobby(),
        name: DisplayName::parse("bench").expect("valid name"),
        text: content().into(),
        next: AtomicU64::new(0),
    });

    let mut c = Criterion::default().configure_from_args();
    {
        let mut group = c.benchmark_group("ingest_postgres/sequential");
        group.throughput(Throughput::Elements(1));
        group.bench_function("batch_of_1", |b| {
            let user = UserId::random();
            b.iter_custom(|iters| {
                rt.block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        store.append(vec![drafts.draft(user)]).await.expect("append");
                    }
                    start.elapsed()
                })
            });
        });
        group.finish();
    }
    {
        let mut group = c.benchmark_group("ingest_postgres/group_commit");
        group.throughput(Throughput::Elements(1));
        for tasks in TASKS {
            group.bench_with_input(BenchmarkId::new("batch_of_1", format!("{tasks}_tasks")), &tasks, |b, &tasks| {
                b.iter_custom(|iters| rt.block_on(concurrent(&store, &drafts, tasks, 1, iters)));
            });
        }
        group.finish();
    }
    {
        // Clients that send several messages per frame (the protocol allows
        // up to 100): the same 64 tasks, each appending batches.
        let mut group = c.benchmark_group("ingest_postgres/group_commit_batches");
        for batch in [10usize, 100] {
            group.throughput(Throughput::Elements(batch as u64));
            group.bench_with_input(BenchmarkId::new(format!("batch_of_{batch}"), "64_tasks"), &batch, |b, &batch| {
                b.iter_custom(|iters| rt.block_on(concurrent(&store, &drafts, 64, batch, iters)));
            });
        }
        group.finish();
    }
    c.final_summary();
    drop(store);
    drop(db);
}

/// `iters` batches of `batch` messages appended by `tasks` tasks, each
/// awaiting its appends one by one; returns the wall time until the last is
/// committed.
async fn concurrent(store: &Arc<dyn Store>, drafts: &Arc<Drafts>, tasks: usize, batch: usize, iters: u64) -> Duration {
    let per_task = iters.div_ceil(tasks as u64);
    let start = Instant::now();
    let handles: Vec<_> = (0..tasks)
        .map(|t| {
            let (store, drafts) = (store.clone(), drafts.clone());
            // The last tasks take fewer so that exactly `iters` are appended.
            let mine = per_task.min(iters.saturating_sub(per_task * t as u64));
            tokio::spawn(async move {
                let user = UserId::random();
                for _ in 0..mine {
                    let drafts = (0..batch).map(|_| drafts.draft(user)).collect();
                    store.append(drafts).await.expect("append");
                }
            })
        })
        .collect();
    for handle in handles {
        handle.await.expect("no panic");
    }
    start.elapsed()
}

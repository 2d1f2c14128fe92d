//! Search latency over a million messages (protocol.md §16), on SQLite and on
//! PostgreSQL: `Chat::search` as `GET /v1/search` calls it (the store's index
//! query, then each result's room checked again), per kind of query, p50,
//! p99 and max over many different words of each kind.
//!
//! The corpus is synthetic but shaped like chat: 200 rooms (10 of them
//! private, the reader a member of 5), 6 to 16 words per message drawn from a
//! 20,000-word vocabulary with Zipf's law (the most common word in ~2 of 3
//! messages, a rank-100 word in ~1 in 100, a rank-10,000 word in ~100 of a
//! million), so "common", "mid" and "rare" words hit ~10^5, ~10^3–10^4 and
//! ~10^2 messages.
//!
//! Not criterion: the target is a tail latency (p99 under 50 ms), which a
//! mean with confidence intervals does not show; each query kind runs a few
//! hundred distinct queries after a warm-up, one at a time.
//!
//! Env: `SEARCH_MESSAGES` (default 1000000), `SEARCH_STORES` (default
//! `sqlite postgres`), `SEARCH_QUERIES` (per kind, default 300),
//! `WHISPER_TEST_DATABASE_URL` (default `postgres://postgres@127.0.0.1:5432/test`;
//! its database is created and dropped, unless `SEARCH_KEEP_DATABASE` is set,
//! to look at its plans). Run: `make bench-search`.

use std::sync::Arc;
use std::time::{Duration, Instant};

use whisper_core::Chat;
use whisper_core::model::{
    DisplayName, NewMessage, Principal, RoomName, RoomProfile, RoomTitle, Topic, UserId, Visibility, now_millis,
};
use whisper_core::search::SearchAsk;
use whisper_core::store::{NewRoom, Store};
use whisper_store::{PostgresStore, SqliteStore};

const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";
const VOCABULARY: usize = 20_000;
const ROOMS: usize = 200;
const PRIVATE_ROOMS: usize = 10;

/// A small, seeded generator: the same corpus on every run and store.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }
}

/// The word of rank `i`: two to four syllables, distinct for every rank.
fn word(i: usize) -> String {
    const SYLLABLES: [&str; 30] = [
        "ka", "lo", "mi", "ne", "su", "ta", "ri", "po", "ve", "da", "zu", "fi", "go", "ha", "je", "ku", "le", "mo",
        "nu", "pa", "qi", "ro", "si", "tu", "wa", "xe", "yo", "bi", "ce", "du",
    ];
    let mut n = i + SYLLABLES.len();
    let mut out = String::new();
    while n > 0 {
        out.push_str(SYLLABLES[n % SYLLABLES.len()]);
        n /= SYLLABLES.len();
    }
    out
}

/// Ranks by Zipf's law (s = 1): the cumulative weights, searched by a
/// uniform draw.
struct Zipf(Vec<f64>);

impl Zipf {
    fn new(n: usize) -> Self {
        let mut total = 0.0;
        Zipf(
            (1..=n)
                .map(|r| {
                    total += 1.0 / r as f64;
                    total
                })
                .collect(),
        )
    }
    fn rank(&self, rng: &mut Rng) -> usize {
        let total = self.0.last().copied().unwrap_or(1.0);
        let x = (rng.next() as f64 / u64::MAX as f64) * total;
        self.0.partition_point(|c| *c < x).min(self.0.len() - 1)
    }
}

fn room_name(i: usize) -> RoomName {
    let name = if i < PRIVATE_ROOMS { format!("p/bench{i:04}") } else { format!("room-{i:03}") };
    RoomName::parse(&name).expect("valid room name")
}

/// Fills `store` with `total` messages in batches of 100 from 16 tasks.
async fn fill(store: &Arc<dyn Store>, total: usize, reader: UserId) {
    let owner = UserId::random();
    let name = DisplayName::parse("bench").expect("valid name");
    for i in 0..PRIVATE_ROOMS {
        // The reader is a member of every other private room.
        let members = if i % 2 == 0 { vec![(reader, name.clone())] } else { Vec::new() };
        let room = NewRoom {
            name: room_name(i),
            profile: RoomProfile {
                visibility: Visibility::Private,
                title: Some(RoomTitle::parse("Bench").expect("valid title")),
                topic: Topic::default(),
            },
            creator: (owner, name.clone()),
            members,
            created_at: now_millis(),
        };
        store.create_room(room).await.expect("create room");
    }
    let zipf = Arc::new(Zipf::new(VOCABULARY));
    let started = Instant::now();
    let tasks = 16;
    let per_task = total / tasks;
    let mut handles = Vec::new();
    for t in 0..tasks {
        let (store, zipf, name) = (store.clone(), zipf.clone(), name.clone());
        handles.push(tokio::spawn(async move {
            let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (t as u64 + 1));
            let mut left = per_task;
            while left > 0 {
                let n = left.min(100);
                let batch: Vec<NewMessage> = (0..n)
                    .map(|_| {
                        let words: Vec<String> = (0..6 + rng.below(11)).map(|_| word(zipf.rank(&mut rng))).collect();
                        let room = room_name(rng.below(ROOMS));
                        NewMessage::now(room, owner, name.clone(), words.join(" ").as_str(), None)
                    })
                    .collect();
                store.append(batch).await.expect("append");
                left -= n;
            }
        }));
    }
    for handle in handles {
        handle.await.expect("fill task");
    }
    let took = started.elapsed();
    eprintln!(
        "  filled {} messages in {:.1} s ({:.0} messages/s, search index included)",
        per_task * tasks,
        took.as_secs_f64(),
        (per_task * tasks) as f64 / took.as_secs_f64()
    );
}

/// One kind of query: a label and how to make its i-th query.
type Kind = (&'static str, Box<dyn Fn(usize) -> SearchAsk>);

fn kinds() -> Vec<Kind> {
    let ask = |text: String| SearchAsk { text, ..SearchAsk::default() };
    vec![
        ("common word (rank 1–10)", Box::new(move |i| ask(word(i % 10)))),
        ("mid word (rank 100–1,100)", Box::new(move |i| ask(word(100 + i % 1000)))),
        ("rare word (rank 10,000–20,000)", Box::new(move |i| ask(word(10_000 + (i * 37) % 10_000)))),
        ("two words (common + mid)", Box::new(move |i| ask(format!("{} {}", word(i % 10), word(100 + i % 1000))))),
        ("phrase of two common words", Box::new(move |i| ask(format!("\"{} {}\"", word(i % 5), word(5 + i % 5))))),
        ("mid word -common word", Box::new(move |i| ask(format!("{} -{}", word(100 + i % 1000), word(i % 3))))),
        (
            "mid word in one room",
            Box::new(move |i| SearchAsk {
                room: Some(room_name(PRIVATE_ROOMS + i % (ROOMS - PRIVATE_ROOMS))),
                ..ask(word(100 + i % 1000))
            }),
        ),
        ("no match", Box::new(move |i| ask(format!("zz{i}")))),
    ]
}

fn quantile(sorted: &[Duration], q: f64) -> Duration {
    let i = ((sorted.len() as f64 * q).ceil() as usize).clamp(1, sorted.len()) - 1;
    sorted[i]
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

async fn measure(label: &str, store: Arc<dyn Store>, messages: usize, queries: usize, analyze: Option<&str>) {
    let reader = UserId::random();
    eprintln!("{label}: filling…");
    fill(&store, messages, reader).await;
    if let Some(url) = analyze {
        // What autovacuum does after a burst of inserts: statistics of the
        // words, so the planner knows a common word from a rare one.
        let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls).await.expect("connect");
        let connection = tokio::spawn(connection);
        client.batch_execute("ANALYZE messages").await.expect("analyze");
        drop(client);
        let _ = connection.await;
    }
    let chat = Chat::builder(store).build();
    let who = Principal::account(reader, DisplayName::parse("reader").expect("valid name"));
    println!("\n#### {label}, {messages} messages\n");
    println!("| query | results per page (mean) | p50 | p99 | max |");
    println!("|---|---:|---:|---:|---:|");
    for (kind, make) in kinds() {
        // Warm-up: the pages the queries touch are read once.
        for i in 0..queries.min(50) {
            chat.search(Some(&who), make(i)).await.expect("search");
        }
        let mut times = Vec::with_capacity(queries);
        let mut found = 0usize;
        for i in 0..queries {
            let started = Instant::now();
            let page = chat.search(Some(&who), make(i)).await.expect("search");
            times.push(started.elapsed());
            found += page.hits.len();
        }
        times.sort_unstable();
        let mean = found as f64 / queries as f64;
        let (p50, p99, max) = (quantile(&times, 0.5), quantile(&times, 0.99), times[times.len() - 1]);
        println!("| {kind} | {mean:.1} | {} | {} | {} |", ms(p50), ms(p99), ms(max));
    }
}

fn env_usize(key: &str, default: usize) -> usize {
    std::env::var(key).ok().and_then(|v| v.parse().ok()).unwrap_or(default)
}

fn main() {
    let messages = env_usize("SEARCH_MESSAGES", 1_000_000);
    let queries = env_usize("SEARCH_QUERIES", 300);
    let stores = std::env::var("SEARCH_STORES").unwrap_or_else(|_| "sqlite postgres".into());
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().expect("tokio runtime");
    rt.block_on(async {
        for which in stores.split_whitespace() {
            match which {
                "sqlite" => {
                    let dir = tempfile::tempdir().expect("temp dir");
                    let store = SqliteStore::open(dir.path().join("search.db")).await.expect("open SQLite");
                    measure("SQLite", Arc::new(store), messages, queries, None).await;
                }
                "postgres" => {
                    let admin = std::env::var("WHISPER_TEST_DATABASE_URL")
                        .ok()
                        .filter(|u| !u.trim().is_empty())
                        .unwrap_or_else(|| DEFAULT_URL.to_owned());
                    let name = format!("whisper_bench_search_{}", std::process::id());
                    let url = match PostgresStore::create_database(&admin, &name).await {
                        Ok(url) => url,
                        Err(e) => {
                            eprintln!("PostgreSQL skipped: unreachable at {admin}: {e}");
                            continue;
                        }
                    };
                    let store = PostgresStore::connect(&url).await.expect("connect");
                    measure("PostgreSQL", Arc::new(store), messages, queries, Some(&url)).await;
                    if std::env::var_os("SEARCH_KEEP_DATABASE").is_some() {
                        eprintln!("kept {url} (SEARCH_KEEP_DATABASE)");
                    } else if let Err(e) = PostgresStore::drop_database(&admin, &name).await {
                        eprintln!("warning: could not drop {name}: {e}");
                    }
                }
                other => eprintln!("unknown store {other:?} (sqlite, postgres)"),
            }
        }
    });
}

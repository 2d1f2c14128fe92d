//! The load generator: many WebSocket clients against whisper-server or the
//! baseline broadcast server, measuring deliveries per second, delivery and
//! ack latency, losses and duplicates, and the server's CPU and memory.
//!
//! ```sh
//! # 100 subscribers in one room, 10 of them sending 1,000 msg/s in total, for 10 s:
//! cargo run --release -p whisper-examples --bin loadgen -- \
//!     --server ws://127.0.0.1:8080 --connections 100 --senders 10 --rate 1000
//! # as fast as the server goes: each sender keeps 8 messages in flight
//! ... --rate 0 --window 8
//! # JSON lines from several runs, as one markdown table:
//! cargo run --release -p whisper-examples --bin loadgen -- --markdown runs.jsonl
//! ```
//!
//! Connection `i` joins room `i % rooms`; the first `senders` connections send.
//! `--idle N` adds N connections in quiet rooms. Past `--per-source` sockets
//! it connects from 127.0.0.2, 127.0.0.3, … (a source address has ~28k
//! ephemeral ports). Past the open-files limit of one process (`ulimit -n`)
//! it splits the rooms and idle connections across several processes of
//! itself (`--processes P` to choose).
//! `--server-pid` adds the server's CPU time and memory to the report.
//!
//! Several nodes of one cluster: `--server` more than once (or
//! comma-separated), and `--server-pid` likewise (CPU and memory are summed).
//! Connection `i`, the `(i / rooms)`-th member of its room, goes to server
//! `(i % rooms + i / rooms) % servers`: each room's members go round-robin
//! over the servers, from a different one in each room, so every room (of at
//! least as many members as servers) has members on every node and the
//! senders (the first members of the rooms) are spread too. With one room
//! that is plain round-robin, `i % servers`; idle connections are spread the
//! same way over their rooms. `--check` reads the stored histories from the
//! first server (the nodes share one store).

// A binary's modules: `pub` in them means "for the rest of the generator".
#![allow(unreachable_pub)]

mod check;
mod client;
mod histogram;
mod protocol;
mod report;
mod tally;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::Context as _;
use clap::Parser;
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use tokio::sync::{Semaphore, mpsc, watch};

use client::{Outcome, Phase, Plan, Sending, Shared, Target};
use protocol::Protocol;
use report::{Columns, Report, ServerShare};
use whisper_core::model::RoomName;

#[derive(Clone, Debug, Parser)]
#[command(name = "loadgen", about = "Load generator for WhisperChat and the baseline broadcast server")]
struct Args {
    /// The server's WebSocket base URL. Several (repeated or comma-separated):
    /// nodes of one cluster, the connections spread over them.
    #[arg(long = "server", value_name = "URL", default_value = "ws://127.0.0.1:8080", value_delimiter = ',')]
    servers: Vec<String>,
    /// What the server speaks.
    #[arg(long, value_enum, default_value = "whisper")]
    protocol: Protocol,
    /// Connections in the measured rooms (senders included).
    #[arg(long, default_value_t = 100)]
    connections: u32,
    /// Rooms the connections are spread over.
    #[arg(long, default_value_t = 1)]
    rooms: u32,
    /// How many of the connections send (spread over the rooms).
    #[arg(long, default_value_t = 10)]
    senders: u32,
    /// Messages per second, all senders together. 0: as fast as `--window` allows.
    #[arg(long, default_value_t = 1000.0)]
    rate: f64,
    /// With `--rate 0`, messages each sender keeps in flight.
    #[arg(long, default_value_t = 8)]
    window: u64,
    /// Message size in bytes (the text of each message).
    #[arg(long, default_value_t = 100)]
    size: usize,
    /// Seconds of sending.
    #[arg(long, default_value_t = 10.0)]
    duration: f64,
    /// Percent of each sender's sends that are timeline events instead of
    /// messages (whisper only): edits of, and reactions to, its last acked
    /// message, alternately. Edits carry a body as large as a message's.
    #[arg(long, default_value_t = 0, value_parser = clap::value_parser!(u8).range(0..=100))]
    events_percent: u8,
    /// Extra connections that join quiet rooms and only listen.
    #[arg(long, default_value_t = 0)]
    idle: u32,
    /// Quiet rooms the idle connections are spread over.
    #[arg(long, default_value_t = 100)]
    idle_rooms: u32,
    /// After sending, wait at most this many seconds for the last deliveries.
    #[arg(long, default_value_t = 10.0)]
    drain: f64,
    /// Connection attempts in flight at once.
    #[arg(long, default_value_t = 200)]
    connect_concurrency: usize,
    /// Sockets per 127.0.0.x source address before moving to the next.
    #[arg(long, default_value_t = 28_000)]
    per_source: u32,
    /// Processes to split the rooms and idle connections across. By default
    /// as many as the open-files limit (`ulimit -n`) asks for.
    #[arg(long)]
    processes: Option<u32>,
    /// The server's process id, to report its CPU time and memory. Several
    /// (repeated or comma-separated, e.g. one per node): their sums.
    #[arg(long = "server-pid", value_name = "PID", value_delimiter = ',')]
    server_pids: Vec<u32>,
    /// Prefix of the room names (change it to keep runs apart).
    #[arg(long, default_value = "load")]
    room_prefix: String,
    /// A name for this run in the report.
    #[arg(long, default_value = "")]
    label: String,
    /// Judge the run with the history checker (whisper only): every send,
    /// ack and delivery is recorded, and the rooms' stored histories are
    /// read at the end. Costs the load generator CPU: for correctness runs.
    #[arg(long)]
    check: bool,
    /// Print the report as one JSON line instead of a table.
    #[arg(long)]
    json: bool,
    /// Print the JSON reports in this file (one per line) as a markdown table, and exit.
    #[arg(long)]
    markdown: Option<PathBuf>,
    /// With `--markdown`: the table's columns.
    #[arg(long, value_enum, default_value = "servers")]
    columns: Columns,
    /// Internal: run as worker K of `--processes`, driven over stdin/stdout.
    #[arg(long, hide = true)]
    worker: Option<u32>,
}

fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    if let Some(path) = &args.markdown {
        return print_markdown(path, args.columns);
    }
    let mut args = args;
    let processes = args.processes.unwrap_or_else(|| processes_for(args.connections + args.idle));
    args.processes = Some(processes);
    anyhow::ensure!(processes >= 1 && args.rooms >= 1, "--processes and --rooms must be at least 1");
    anyhow::ensure!(args.senders <= args.connections, "--senders cannot exceed --connections");
    anyhow::ensure!(!args.servers.is_empty(), "--server needs a URL");
    anyhow::ensure!(
        args.events_percent == 0 || (args.protocol == Protocol::Whisper && !args.check),
        "--events-percent needs --protocol whisper, and does not go with --check (which judges messages)"
    );
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    let report = runtime.block_on(async {
        match args.worker {
            Some(k) => run_worker(&args, k).await.map(|()| None),
            None => coordinate(&args).await.map(Some),
        }
    })?;
    if let Some(report) = report {
        if args.json {
            println!("{}", serde_json::to_string(&report)?);
        } else {
            report.print_table();
        }
        if let Some(check) = report.check.as_ref().filter(|c| !c.passed()) {
            for problem in &check.problems {
                eprintln!("loadgen: {problem}");
            }
            anyhow::bail!("the history check failed");
        }
    }
    Ok(())
}

/// Runs the whole load: in this process, or across `--processes` workers.
async fn coordinate(args: &Args) -> anyhow::Result<Report> {
    let server_rss_before_kib = args.server_rss_kib();
    let mut report = if args.processes() == 1 {
        let load = Load::connect(args, 0).await?;
        let server_rss_kib = args.server_rss_kib();
        let cpu_before = args.server_cpu_seconds();
        let window = tokio::spawn(load.run(args.clone()));
        tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
        let cpu_after = args.server_cpu_seconds();
        let mut report = window.await??;
        report.server_rss_kib = server_rss_kib;
        report.server_cpu_s = cpu_before.zip(cpu_after).map(|(a, b)| b - a);
        report
    } else {
        coordinate_workers(args).await?
    };
    report.server_rss_before_kib = server_rss_before_kib;
    report.label =
        if args.label.is_empty() { format!("{:?}", args.protocol).to_lowercase() } else { args.label.clone() };
    report.protocol = Some(args.protocol);
    report.nodes = args.servers.len() as u64;
    report.servers.resize_with(args.servers.len(), ServerShare::default);
    for (share, url) in report.servers.iter_mut().zip(&args.servers) {
        share.url.clone_from(url);
    }
    report.rooms = u64::from(args.rooms);
    report.rate = args.rate;
    report.window = args.window;
    report.size = args.size;
    report.duration_s = args.duration;
    Ok(report)
}

async fn coordinate_workers(args: &Args) -> anyhow::Result<Report> {
    let exe = std::env::current_exe()?;
    let mut children = Vec::new();
    for k in 0..args.processes() {
        let mut child = tokio::process::Command::new(&exe)
            .args(args_without_processes())
            .args(["--processes", &args.processes().to_string(), "--worker", &k.to_string()])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .context("starting a worker process")?;
        let stdin = child.stdin.take().context("worker stdin")?;
        let lines = BufReader::new(child.stdout.take().context("worker stdout")?).lines();
        children.push((child, stdin, lines));
    }
    for (_, _, lines) in &mut children {
        let line = lines.next_line().await?.context("a worker exited before connecting")?;
        anyhow::ensure!(line == "ready", "worker said {line:?}");
    }
    let server_rss_kib = args.server_rss_kib();
    let cpu_before = args.server_cpu_seconds();
    for (_, stdin, _) in &mut children {
        stdin.write_all(b"go\n").await?;
        stdin.flush().await?;
    }
    tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
    let cpu_after = args.server_cpu_seconds();
    let mut report = Report::default();
    for (mut child, _, mut lines) in children {
        let line = lines.next_line().await?.context("a worker exited without a report")?;
        report.merge(&serde_json::from_str(&line)?);
        child.wait().await?;
    }
    report.server_rss_kib = server_rss_kib;
    report.server_cpu_s = cpu_before.zip(cpu_after).map(|(a, b)| b - a);
    Ok(report)
}

/// A worker process: connect its share, say `ready`, wait for `go`, run, report.
async fn run_worker(args: &Args, k: u32) -> anyhow::Result<()> {
    let load = Load::connect(args, k).await?;
    println!("ready");
    let mut stdin = BufReader::new(tokio::io::stdin()).lines();
    anyhow::ensure!(stdin.next_line().await?.as_deref() == Some("go"), "expected go");
    let report = load.run(args.clone()).await?;
    println!("{}", serde_json::to_string(&report)?);
    Ok(())
}

/// One process's share of the connections, connected and waiting to send.
struct Load {
    shared: Arc<Shared>,
    phase: watch::Sender<Phase>,
    tasks: Vec<tokio::task::JoinHandle<Outcome>>,
    report: Report,
}

impl Load {
    async fn connect(args: &Args, k: u32) -> anyhow::Result<Load> {
        let servers = args
            .servers
            .iter()
            .map(|url| {
                let address = url
                    .trim_start_matches("ws://")
                    .split('/')
                    .next()
                    .and_then(|host| host.to_socket_addrs().ok()?.next())
                    .with_context(|| format!("cannot resolve the server address in {url}"))?;
                Ok(Target { url: url.clone(), address })
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let (phase, phase_rx) = watch::channel(Phase::Connecting);
        let shared = Arc::new(Shared {
            protocol: args.protocol,
            servers,
            size: args.size,
            events_percent: u64::from(args.events_percent),
            phase: phase_rx,
            progress: AtomicU64::new(0),
            unanswered: AtomicI64::new(0),
            check: (args.check && args.protocol == Protocol::Whisper).then(check::Check::default),
        });
        let plans = plans(args, k);
        let mut report = Report {
            connections: plans.iter().filter(|p| !p.room.contains("-idle-")).count() as u64,
            idle: plans.iter().filter(|p| p.room.contains("-idle-")).count() as u64,
            senders: plans.iter().filter(|p| p.send.is_some()).count() as u64,
            servers: vec![ServerShare::default(); args.servers.len()],
            ..Report::default()
        };
        for plan in &plans {
            let share = &mut report.servers[plan.node];
            if plan.room.contains("-idle-") {
                share.idle += 1;
            } else {
                share.connections += 1;
            }
            share.senders += u64::from(plan.send.is_some());
        }
        let gate = Arc::new(Semaphore::new(args.connect_concurrency.max(1)));
        let (connected_tx, mut connected_rx) = mpsc::unbounded_channel::<Result<(), String>>();
        let started = Instant::now();
        let mut tasks = Vec::with_capacity(plans.len());
        for plan in plans {
            let (shared, gate, connected) = (shared.clone(), gate.clone(), connected_tx.clone());
            tasks.push(tokio::spawn(async move {
                let permit = gate.acquire_owned().await;
                let socket = client::connect(&shared, &plan).await;
                drop(permit);
                match socket {
                    Ok((ws, checked)) => {
                        let _ = connected.send(Ok(()));
                        client::run(shared, plan, ws, checked).await
                    }
                    Err(e) => {
                        let _ = connected.send(Err(format!("{e:#}")));
                        Outcome { dropped: Some(format!("{e:#}")), ..Outcome::default() }
                    }
                }
            }));
        }
        drop(connected_tx);
        // Each task reports once, then keeps its sender for the rest of the run.
        for _ in 0..tasks.len() {
            let Some(result) = connected_rx.recv().await else { break };
            match result {
                Ok(()) => report.connected += 1,
                Err(e) => {
                    if report.connect_errors == 0 {
                        eprintln!("loadgen: connect failed: {e}");
                    }
                    report.connect_errors += 1;
                }
            }
        }
        report.connect_s = started.elapsed().as_secs_f64();
        // Let the server finish joining the last connections before we send.
        tokio::time::sleep(Duration::from_millis(500)).await;
        Ok(Load { shared, phase, tasks, report })
    }

    /// Sends for the run's duration, drains, and tallies what every connection saw.
    async fn run(self, args: Args) -> anyhow::Result<Report> {
        let Load { shared, phase, tasks, mut report } = self;
        let cpu_before = cpu_seconds_self();
        phase.send_replace(Phase::Sending);
        tokio::time::sleep(Duration::from_secs_f64(args.duration)).await;
        phase.send_replace(Phase::Draining);
        // Done when every sender has its own copies back (so the server has
        // broadcast everything) and then nothing has arrived for half a
        // second (the other members' copies are read); or at the drain limit.
        let drain_until = Instant::now() + Duration::from_secs_f64(args.drain);
        let mut last = u64::MAX;
        while Instant::now() < drain_until {
            tokio::time::sleep(Duration::from_millis(500)).await;
            let now = shared.progress.load(Ordering::Relaxed);
            if now == last && shared.unanswered.load(Ordering::Relaxed) <= 0 {
                break;
            }
            last = now;
        }
        phase.send_replace(Phase::Done);
        report.loadgen_cpu_s = cpu_seconds_self().zip(cpu_before).map_or(0.0, |(b, a)| b - a);
        let mut outcomes = Vec::with_capacity(tasks.len());
        for task in tasks {
            outcomes.push(task.await?);
        }
        tally(&mut report, &outcomes);
        if let Some(check) = &shared.check {
            let mut rooms: Vec<RoomName> =
                outcomes.iter().filter(|o| o.sender).filter_map(|o| RoomName::parse(&o.room).ok()).collect();
            rooms.sort();
            rooms.dedup();
            // The nodes of a cluster share one store: any of them has every room's history.
            report.check = Some(check.finish(shared.servers[0].address, &rooms).await?);
        }
        Ok(report)
    }
}

/// Which connections this process opens: the rooms `r` with `r % processes == k`.
fn plans(args: &Args, k: u32) -> Vec<Plan> {
    let total = args.connections + args.idle;
    let source = |g: u32| {
        (total > args.per_source).then(|| IpAddr::V4(Ipv4Addr::new(127, 0, 0, (1 + g / args.per_source) as u8)))
    };
    let per_sender = if args.senders == 0 { 0.0 } else { args.rate / f64::from(args.senders) };
    let mut plans = Vec::new();
    for i in (0..args.connections).filter(|i| (i % args.rooms) % args.processes() == k) {
        let send = (i < args.senders).then_some(if args.rate > 0.0 {
            // Sender i starts i/rate seconds in: together they send one message every 1/rate s.
            Sending::Rate { per_sec: per_sender, offset: f64::from(i) / args.rate }
        } else {
            Sending::Window(args.window)
        });
        plans.push(Plan {
            conn: i,
            room: format!("{}-{}", args.room_prefix, i % args.rooms),
            node: node_of(i, args.rooms, args.servers.len()),
            source: source(i),
            send,
        });
    }
    for j in (0..args.idle).filter(|j| j % args.processes() == k) {
        let g = args.connections + j;
        plans.push(Plan {
            conn: g,
            room: format!("{}-idle-{}", args.room_prefix, j % args.idle_rooms.max(1)),
            node: node_of(j, args.idle_rooms.max(1), args.servers.len()),
            source: source(g),
            send: None,
        });
    }
    plans
}

/// The server of the `(i / rooms)`-th member of room `i % rooms`: round-robin
/// over the servers within each room, each room starting one server further
/// on (so rooms' first members, the senders, are spread too).
fn node_of(i: u32, rooms: u32, servers: usize) -> usize {
    (i % rooms + i / rooms) as usize % servers.max(1)
}

/// Adds up the outcomes: totals, latencies, and losses and duplicates per room.
fn tally(report: &mut Report, outcomes: &[Outcome]) {
    let mut stored: HashMap<(&str, u32), &tally::Bits> = HashMap::new();
    for o in outcomes {
        report.sent += o.sent;
        report.acked += o.acked.len();
        report.refused += o.refused;
        report.deliveries += o.deliveries;
        report.deliveries_in_window += o.deliveries_in_window;
        report.delivery_bytes += o.delivery_bytes;
        report.delivery_us.merge(&o.delivery);
        report.ack_us.merge(&o.ack);
        report.duplicates += o.inbox.duplicates;
        if let Some(why) = &o.dropped {
            report.dropped += 1;
            report.first_drop.get_or_insert_with(|| why.clone());
        }
        if o.sender {
            stored.insert((o.room.as_str(), o.conn), &o.acked);
        }
    }
    let empty = tally::Bits::default();
    for o in outcomes.iter().filter(|o| o.dropped.is_none()) {
        for ((_, sender), acked) in stored.iter().filter(|((room, _), _)| *room == o.room) {
            report.lost += acked.missing_from(o.inbox.by_sender.get(sender).unwrap_or(&empty));
        }
    }
}

/// This process's arguments without `--processes` (the workers get it explicitly).
fn args_without_processes() -> Vec<String> {
    let mut out = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        if arg == "--processes" {
            args.next();
        } else if !arg.starts_with("--processes=") {
            out.push(arg);
        }
    }
    out
}

impl Args {
    fn processes(&self) -> u32 {
        self.processes.unwrap_or(1)
    }

    /// The CPU seconds of the `--server-pid` processes together (none if any is unreadable).
    fn server_cpu_seconds(&self) -> Option<f64> {
        if self.server_pids.is_empty() {
            return None;
        }
        self.server_pids.iter().map(|&pid| cpu_seconds(pid)).sum()
    }

    /// The resident memory of the `--server-pid` processes together, in KiB.
    fn server_rss_kib(&self) -> Option<u64> {
        if self.server_pids.is_empty() {
            return None;
        }
        self.server_pids.iter().map(|&pid| rss_kib(pid)).sum()
    }
}

/// Processes needed for `sockets` under this process's open-files limit
/// (keeping 64 descriptors for everything else).
fn processes_for(sockets: u32) -> u32 {
    let limits = std::fs::read_to_string("/proc/self/limits").unwrap_or_default();
    let soft = limits
        .lines()
        .find(|l| l.starts_with("Max open files"))
        .and_then(|l| l.split_whitespace().nth(3)?.parse::<u32>().ok())
        .unwrap_or(1024);
    sockets.div_ceil(soft.saturating_sub(64).max(1)).max(1)
}

fn print_markdown(path: &PathBuf, columns: Columns) -> anyhow::Result<()> {
    let text = std::fs::read_to_string(path).with_context(|| format!("reading {}", path.display()))?;
    println!("{}", Report::markdown_header(columns));
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let report: Report = serde_json::from_str(line)?;
        println!("{}", report.markdown_row_with(columns));
    }
    Ok(())
}

/// User plus system CPU seconds of a process (Linux `/proc`; 100 ticks/s).
fn cpu_seconds(pid: u32) -> Option<f64> {
    cpu_from_stat(&std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?)
}

fn cpu_seconds_self() -> Option<f64> {
    cpu_from_stat(&std::fs::read_to_string("/proc/self/stat").ok()?)
}

fn cpu_from_stat(stat: &str) -> Option<f64> {
    // Fields after the `(comm)`: state is field 3, utime 14 and stime 15.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let ticks: u64 = fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?;
    Some(ticks as f64 / 100.0)
}

/// Resident memory of a process in KiB.
fn rss_kib(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status.lines().find_map(|l| l.strip_prefix("VmRSS:"))?.trim().trim_end_matches("kB").trim().parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn servers_repeat_or_comma_separate() {
        let args = Args::parse_from(["loadgen", "--server", "ws://a:1", "--server", "ws://b:2,ws://c:3"]);
        assert_eq!(args.servers, ["ws://a:1", "ws://b:2", "ws://c:3"]);
        assert_eq!(Args::parse_from(["loadgen"]).servers, ["ws://127.0.0.1:8080"]);
        let args = Args::parse_from(["loadgen", "--server-pid", "1,2", "--server-pid", "3"]);
        assert_eq!(args.server_pids, [1, 2, 3]);
    }

    #[test]
    fn every_room_and_the_senders_are_spread_over_the_servers() {
        let parse = |extra: &[&str]| {
            let mut args = Args::parse_from(["loadgen", "--server", "ws://a:1,ws://b:2,ws://c:3"].iter().chain(extra));
            args.processes = Some(1);
            plans(&args, 0)
        };
        for rooms in ["1", "3", "10"] {
            let plans = parse(&[
                "--connections",
                "60",
                "--senders",
                "10",
                "--rooms",
                rooms,
                "--idle",
                "9",
                "--idle-rooms",
                "3",
            ]);
            let mut members: HashMap<&str, [u32; 3]> = HashMap::new();
            let mut senders = [0; 3];
            for plan in &plans {
                members.entry(plan.room.as_str()).or_default()[plan.node] += 1;
                senders[plan.node] += u32::from(plan.send.is_some());
            }
            for (room, on) in &members {
                let (least, most) = (on.iter().min().unwrap(), on.iter().max().unwrap());
                assert!(*least > 0 && most - least <= 1, "{rooms} rooms: {room} has {on:?}");
            }
            assert_eq!(senders.iter().sum::<u32>(), 10);
            assert!(senders.iter().all(|&s| s >= 3), "{rooms} rooms: senders {senders:?}");
        }
        // One room: plain round-robin by connection index.
        let nodes: Vec<usize> = parse(&["--connections", "6"]).iter().map(|p| p.node).collect();
        assert_eq!(nodes, [0, 1, 2, 0, 1, 2]);
        // One server: everything on it.
        let mut args = Args::parse_from(["loadgen", "--connections", "20", "--rooms", "3", "--idle", "5"]);
        args.processes = Some(1);
        assert!(plans(&args, 0).iter().all(|p| p.node == 0));
    }
}

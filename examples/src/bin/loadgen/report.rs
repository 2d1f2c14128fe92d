//! The result of a run: what it measured, merged across processes, printed as
//! JSON (one line, for scripts) or as a table (for people).

use serde::{Deserialize, Serialize};

use whisper_core::testing::history::CheckReport;

use crate::histogram::Histogram;
use crate::protocol::Protocol;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Report {
    pub label: String,
    pub protocol: Option<Protocol>,
    /// How many servers (`--server`) the connections were spread over.
    #[serde(default = "one")]
    pub nodes: u64,
    /// Each server and its share of the connections.
    #[serde(default)]
    pub servers: Vec<ServerShare>,
    /// Connections that join the measured rooms (senders included).
    pub connections: u64,
    pub idle: u64,
    pub rooms: u64,
    pub senders: u64,
    /// Messages per second asked for in total; 0 means as fast as the window allows.
    pub rate: f64,
    pub window: u64,
    pub size: usize,
    pub duration_s: f64,
    pub connected: u64,
    pub connect_errors: u64,
    pub connect_s: f64,
    pub sent: u64,
    pub acked: u64,
    pub refused: u64,
    pub deliveries: u64,
    pub deliveries_in_window: u64,
    /// Bytes of the frames that carried the deliveries.
    pub delivery_bytes: u64,
    pub delivery_us: Histogram,
    pub ack_us: Histogram,
    /// Stored (or, for the baseline, sent) and never delivered to a subscriber that stayed connected.
    pub lost: u64,
    pub duplicates: u64,
    /// Connections that ended before the run did (slow consumer, errors).
    pub dropped: u64,
    pub first_drop: Option<String>,
    /// CPU seconds the server process used while messages were sent.
    pub server_cpu_s: Option<f64>,
    /// The server's resident memory with every connection open, in KiB.
    pub server_rss_kib: Option<u64>,
    /// The same before the load generator connected.
    pub server_rss_before_kib: Option<u64>,
    /// CPU seconds the load generator used over the same window.
    pub loadgen_cpu_s: f64,
    /// With `--check`: what the history checker found.
    pub check: Option<CheckReport>,
}

/// One server of the run and the connections that went to it.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct ServerShare {
    pub url: String,
    pub connections: u64,
    pub idle: u64,
    pub senders: u64,
}

/// Reports from before `nodes` was recorded had one server.
fn one() -> u64 {
    1
}

/// The columns of `--markdown`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Columns {
    /// One server per run: throughput, latency, the server's CPU and memory.
    Servers,
    /// Runs over one or several nodes: the node count, CPU summed over the
    /// nodes, the load generator's CPU, connect errors and refusals; no memory.
    Cluster,
}

impl Report {
    pub fn merge(&mut self, other: &Report) {
        if self.servers.len() < other.servers.len() {
            self.servers.resize_with(other.servers.len(), ServerShare::default);
        }
        for (mine, theirs) in self.servers.iter_mut().zip(&other.servers) {
            if mine.url.is_empty() {
                mine.url.clone_from(&theirs.url);
            }
            mine.connections += theirs.connections;
            mine.idle += theirs.idle;
            mine.senders += theirs.senders;
        }
        self.connections += other.connections;
        self.idle += other.idle;
        self.senders += other.senders;
        self.connected += other.connected;
        self.connect_errors += other.connect_errors;
        self.connect_s = self.connect_s.max(other.connect_s);
        self.sent += other.sent;
        self.acked += other.acked;
        self.refused += other.refused;
        self.deliveries += other.deliveries;
        self.deliveries_in_window += other.deliveries_in_window;
        self.delivery_bytes += other.delivery_bytes;
        self.delivery_us.merge(&other.delivery_us);
        self.ack_us.merge(&other.ack_us);
        self.lost += other.lost;
        self.duplicates += other.duplicates;
        self.dropped += other.dropped;
        if self.first_drop.is_none() {
            self.first_drop.clone_from(&other.first_drop);
        }
        self.loadgen_cpu_s += other.loadgen_cpu_s;
        match (&mut self.check, &other.check) {
            (Some(mine), Some(theirs)) => mine.merge(theirs),
            (None, Some(theirs)) => self.check = Some(theirs.clone()),
            _ => {}
        }
    }

    pub fn deliveries_per_s(&self) -> f64 {
        self.deliveries_in_window as f64 / self.duration_s.max(1e-9)
    }

    /// Bytes on the wire per delivered message (frame payload, WebSocket header not counted).
    pub fn bytes_per_delivery(&self) -> f64 {
        self.delivery_bytes as f64 / self.deliveries.max(1) as f64
    }

    pub fn connects_per_s(&self) -> f64 {
        self.connected as f64 / self.connect_s.max(1e-9)
    }

    /// Server CPU seconds per million deliveries.
    pub fn cpu_per_million(&self) -> Option<f64> {
        let cpu = self.server_cpu_s?;
        (self.deliveries_in_window > 0).then(|| cpu * 1e6 / self.deliveries_in_window as f64)
    }

    /// Server memory per open socket (KiB): the growth from connecting them all.
    pub fn rss_per_socket_kib(&self) -> Option<f64> {
        let (after, before) = self.server_rss_kib.zip(self.server_rss_before_kib)?;
        (self.connected > 0).then(|| after.saturating_sub(before) as f64 / self.connected as f64)
    }

    pub fn print_table(&self) {
        let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
        let d = &self.delivery_us;
        let rows: Vec<(&str, String)> = vec![
            ("run", self.label.clone()),
            (
                "load",
                format!(
                    "{} connections in {} rooms (+{} idle), {} senders, {}, {} B, {:.0} s",
                    self.connections,
                    self.rooms,
                    self.idle,
                    self.senders,
                    if self.rate > 0.0 { format!("{} msg/s", self.rate) } else { format!("window {}", self.window) },
                    self.size,
                    self.duration_s
                ),
            ),
            (
                "connected",
                format!("{} ({} errors) at {:.0}/s", self.connected, self.connect_errors, self.connects_per_s()),
            ),
            ("sent / acked / refused", format!("{} / {} / {}", self.sent, self.acked, self.refused)),
            (
                "deliveries/s",
                format!("{:.0} ({:.0} bytes per delivery)", self.deliveries_per_s(), self.bytes_per_delivery()),
            ),
            (
                "delivery latency",
                format!(
                    "p50 {}  p99 {}  p99.9 {}  max {}",
                    ms(d.quantile(0.5)),
                    ms(d.quantile(0.99)),
                    ms(d.quantile(0.999)),
                    ms(d.max())
                ),
            ),
            ("ack latency", format!("p50 {}  p99 {}", ms(self.ack_us.quantile(0.5)), ms(self.ack_us.quantile(0.99)))),
            ("lost / duplicates", format!("{} / {}", self.lost, self.duplicates)),
            ("dropped connections", format!("{} {}", self.dropped, self.first_drop.as_deref().unwrap_or(""))),
            (
                "server CPU",
                self.server_cpu_s.map_or("-".into(), |c| {
                    format!("{c:.2} s ({:.2} s per 1M deliveries)", self.cpu_per_million().unwrap_or(f64::NAN))
                }),
            ),
            (
                "server RSS",
                self.server_rss_kib.map_or("-".into(), |k| {
                    format!(
                        "{:.1} MiB ({:.1} KiB per socket)",
                        k as f64 / 1024.0,
                        self.rss_per_socket_kib().unwrap_or(f64::NAN)
                    )
                }),
            ),
            ("load generator CPU", format!("{:.2} s", self.loadgen_cpu_s)),
        ];
        let check = self.check.as_ref().map(|c| {
            format!(
                "{}: {} sent, {} acked, {} timed out, {} stored; lost {}, unexpected {}, duplicated {}, out of order {}, gaps {}",
                if c.passed() { "passed" } else { "FAILED" },
                c.sent,
                c.acked,
                c.timed_out,
                c.stored,
                c.lost,
                c.unexpected,
                c.duplicated,
                c.out_of_order,
                c.gaps
            )
        });
        // Which servers, when there were several (one is in the run's command).
        let servers = (self.servers.len() > 1).then(|| {
            let each: Vec<String> = self
                .servers
                .iter()
                .map(|s| format!("{} ({} connections, {} senders, {} idle)", s.url, s.connections, s.senders, s.idle))
                .collect();
            format!("{} nodes: {}", self.servers.len(), each.join(", "))
        });
        let mut rows = rows;
        if let Some(servers) = servers {
            rows.insert(2, ("servers", servers));
        }
        let rows = rows.into_iter().chain(check.map(|c| ("history check", c)));
        for (k, v) in rows {
            println!("{k:>22}  {v}");
        }
    }

    /// Labels of the form `server | load` fill the first two columns.
    pub const MARKDOWN_HEADER: &str = "| server | load | deliveries/s | bytes per delivery | delivery p50 | p99 | p99.9 | max | ack p99 | server CPU s per 1M deliveries | server RSS | KiB per socket | lost | dup | dropped |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    /// The header of `--markdown --columns cluster`; labels `setup | load`.
    pub const CLUSTER_MARKDOWN_HEADER: &str = "| setup | load | nodes | deliveries/s | delivery p50 | p99 | p99.9 | max | ack p99 | server CPU s per 1M deliveries (all nodes) | load generator CPU s | connect errors | refused | lost | dup | dropped |\n|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|";

    pub fn markdown_header(columns: Columns) -> &'static str {
        match columns {
            Columns::Servers => Report::MARKDOWN_HEADER,
            Columns::Cluster => Report::CLUSTER_MARKDOWN_HEADER,
        }
    }

    pub fn markdown_row_with(&self, columns: Columns) -> String {
        match columns {
            Columns::Servers => self.markdown_row(),
            Columns::Cluster => self.cluster_markdown_row(),
        }
    }

    /// The cells both tables share: delivery p50, p99, p99.9 and max, ack
    /// p99, server CPU seconds per 1M deliveries.
    fn latency_and_cpu_cells(&self) -> String {
        let ms = |us: u64| format!("{:.2} ms", us as f64 / 1000.0);
        let d = &self.delivery_us;
        [
            ms(d.quantile(0.5)),
            ms(d.quantile(0.99)),
            ms(d.quantile(0.999)),
            ms(d.max()),
            if self.ack_us.count() > 0 { ms(self.ack_us.quantile(0.99)) } else { "—".into() },
            self.cpu_per_million().map_or("—".into(), |c| format!("{c:.2}")),
        ]
        .join(" | ")
    }

    pub fn cluster_markdown_row(&self) -> String {
        format!(
            "| {} | {} | {:.0} | {} | {:.1} | {} | {} | {} | {} | {} |",
            self.label,
            self.nodes,
            self.deliveries_per_s(),
            self.latency_and_cpu_cells(),
            self.loadgen_cpu_s,
            self.connect_errors,
            self.refused,
            self.lost,
            self.duplicates,
            self.dropped,
        )
    }

    pub fn markdown_row(&self) -> String {
        format!(
            "| {} | {:.0} | {:.0} | {} | {} | {} | {} | {} | {} |",
            self.label,
            self.deliveries_per_s(),
            self.bytes_per_delivery(),
            self.latency_and_cpu_cells(),
            self.server_rss_kib.map_or("—".into(), |k| format!("{:.1} MiB", k as f64 / 1024.0)),
            self.rss_per_socket_kib().map_or("—".into(), |k| format!("{k:.1}")),
            self.lost,
            self.duplicates,
            self.dropped,
        )
    }
}

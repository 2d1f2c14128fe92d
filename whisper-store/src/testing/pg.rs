//! A fresh PostgreSQL database per test, dropped afterwards.
//!
//! Uses the server at `WHISPER_TEST_DATABASE_URL` (default
//! `postgres://postgres@127.0.0.1:5432/test`); that URL's database is only used
//! to create and drop the test databases. When the server cannot be reached,
//! [`fresh_database`] returns `None` after saying so on stderr, so the calling
//! test can return early; under `CI=true` it panics instead, so that CI never
//! passes without having run the PostgreSQL tests.
//!
//! ```no_run
//! # async fn demo() {
//! use whisper_store::{PostgresStore, testing::pg::fresh_database};
//! let Some(db) = fresh_database().await else { return };
//! let store = PostgresStore::connect(db.url()).await.expect("connect");
//! # }
//! ```

use std::str::FromStr;
use std::time::Duration;

use crate::PostgresStore;
use whisper_core::store::StoreError;

/// The server used when `WHISPER_TEST_DATABASE_URL` is not set.
pub const DEFAULT_URL: &str = "postgres://postgres@127.0.0.1:5432/test";

/// The admin URL the tests use: `WHISPER_TEST_DATABASE_URL` or [`DEFAULT_URL`].
pub fn admin_url() -> String {
    std::env::var("WHISPER_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_URL.into())
}

/// A database that exists for one test. Dropping it drops the database
/// (forcibly disconnecting whatever still uses it), synchronously: `Drop`
/// runs the `DROP DATABASE` on a thread of its own, with its own runtime,
/// and waits for it, so it works from inside or outside any runtime.
#[derive(Debug)]
pub struct TestDb {
    name: String,
    url: String,
    admin_url: String,
}

/// Creates a uniquely named database (`whisper_test_<random>`), or returns
/// `None` if PostgreSQL is unreachable (panics instead under `CI=true`).
pub async fn fresh_database() -> Option<TestDb> {
    let admin_url = admin_url();
    let name = format!("whisper_test_{}", uuid::Uuid::new_v4().simple());
    match PostgresStore::create_database(&admin_url, &name).await {
        Ok(url) => Some(TestDb { name, url, admin_url }),
        Err(StoreError::Unavailable(why)) => {
            if std::env::var("CI").is_ok_and(|v| v == "true") {
                panic!("PostgreSQL unreachable at {} and CI=true, so this is a failure: {why}", redact(&admin_url));
            }
            eprintln!("skipped: PostgreSQL unreachable at {} ({why})", redact(&admin_url));
            None
        }
        Err(other) => panic!("cannot create a test database on {}: {other}", redact(&admin_url)),
    }
}

impl TestDb {
    /// A connection URL for this database.
    pub fn url(&self) -> &str {
        &self.url
    }

    /// The database's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The URL of the server's maintenance database this one was created from.
    pub fn admin_url(&self) -> &str {
        &self.admin_url
    }

    /// Kills every server process connected to this database, as a crash or
    /// an administrator would, without touching the shared server.
    /// Returns how many were terminated.
    pub async fn terminate_connections(&self) -> usize {
        let client = admin_client(&self.admin_url).await;
        let rows = client
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
                &[&self.name],
            )
            .await
            .expect("terminate backends");
        rows.len()
    }

    /// Makes this database refuse (or accept again) new connections, and
    /// cuts the current ones when refusing: an outage of this database alone,
    /// leaving the shared server up.
    pub async fn set_reachable(&self, reachable: bool) {
        let client = admin_client(&self.admin_url).await;
        let sql = format!("ALTER DATABASE \"{}\" WITH ALLOW_CONNECTIONS {reachable}", self.name);
        client.batch_execute(&sql).await.expect("alter database");
        if !reachable {
            self.terminate_connections().await;
        }
    }

    /// A plain connection to this database, for a test's own statements
    /// (holding a lock, looking behind the store's back).
    pub async fn client(&self) -> tokio_postgres::Client {
        admin_client(&self.url).await
    }

    /// The server's `host:port`, for a proxy in front of it. Panics unless
    /// `WHISPER_TEST_DATABASE_URL` names a TCP host.
    pub fn server_addr(&self) -> String {
        let config = tokio_postgres::Config::from_str(&self.url).expect("valid url");
        match (config.get_hosts().first(), config.get_ports().first()) {
            (Some(tokio_postgres::config::Host::Tcp(host)), port) => {
                format!("{host}:{}", port.copied().unwrap_or(5432))
            }
            _ => panic!("the proxy tests need a TCP host in WHISPER_TEST_DATABASE_URL"),
        }
    }

    /// A connection string for this database through `addr` (a proxy on
    /// loopback) instead of the server's own address.
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let config = tokio_postgres::Config::from_str(&self.url).expect("valid url");
        let quote = |v: &str| format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"));
        let mut url = format!("host={} port={} dbname={}", addr.ip(), addr.port(), quote(&self.name));
        if let Some(user) = config.get_user() {
            url.push_str(&format!(" user={}", quote(user)));
        }
        if let Some(password) = config.get_password() {
            url.push_str(&format!(" password={}", quote(&String::from_utf8_lossy(password))));
        }
        url
    }

    /// How many server processes are connected to this database.
    pub async fn connection_count(&self) -> i64 {
        let client = admin_client(&self.admin_url).await;
        let row = client
            .query_one("SELECT count(*) FROM pg_stat_activity WHERE datname = $1", &[&self.name])
            .await
            .expect("count backends");
        row.get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // `Drop` cannot await, and blocking on the caller's runtime could
        // deadlock it: a thread with its own runtime does the work.
        let dropper = std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().expect("runtime");
            runtime.block_on(PostgresStore::drop_database(&admin_url, &name))
        });
        match dropper.join() {
            Ok(Ok(())) => {}
            Ok(Err(e)) => eprintln!("warning: could not drop test database {}: {e}", self.name),
            Err(_) => eprintln!("warning: dropping test database {} panicked", self.name),
        }
    }
}

/// A plain connection to the maintenance database.
async fn admin_client(url: &str) -> tokio_postgres::Client {
    let mut config = tokio_postgres::Config::from_str(url).expect("valid WHISPER_TEST_DATABASE_URL");
    config.connect_timeout(Duration::from_secs(5));
    let (client, connection) = config.connect(tokio_postgres::NoTls).await.expect("admin connection");
    tokio::spawn(connection);
    client
}

/// `url` without its password, for messages.
fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            match userinfo.split_once(':') {
                Some((user, _)) => format!("{}{user}:***{}", &url[..scheme + 3], &url[at..]),
                None => url.to_owned(),
            }
        }
        _ => url.to_owned(),
    }
}

//! Why a server could not be built or run: the library's one error type.
//! Every variant keeps its cause as `source`, so a caller printing the chain
//! (as `main` does) reads the whole story on one line.

use std::io;

use whisper_core::broker::BrokerError;
use whisper_core::store::StoreError;

/// Why [`Server::builder`](crate::Server::builder)`(…).build()` or
/// [`Server::run`](crate::Server::run) failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A file or directory the server needs (the data directory, the
    /// identity secret) could not be read or created.
    #[error("{context}")]
    Io {
        /// What the server was doing, e.g. `creating data directory ./data`.
        context: String,
        /// The operating system's reason.
        #[source]
        source: io::Error,
    },
    /// The configured store could not be opened.
    #[error("{context}")]
    Store {
        /// What the server was doing, e.g. `connecting to PostgreSQL`.
        context: String,
        /// The store's reason.
        #[source]
        source: StoreError,
    },
    /// The broker could not be reached or could not join this node to the
    /// cluster.
    #[error(transparent)]
    Broker(#[from] BrokerError),
    /// The configuration names something this build left out.
    #[error("{option}: this server was built without the `{feature}` feature")]
    NotBuiltIn {
        /// The option that asks for it, e.g. `--database-url`.
        option: &'static str,
        /// The cargo feature that brings it, e.g. `postgres`.
        feature: &'static str,
    },
    /// A configuration value is not usable (e.g. a JWT key that is not one).
    #[error("{0}")]
    Config(String),
    /// No store was given and this build has no default one.
    #[error(
        "this server was built without the `sqlite` feature: give --database-url (feature `postgres`), \
         or host the chat on a store of your own with `Server::builder(config).store(store)`"
    )]
    NoStore,
}

impl Error {
    /// An I/O error with what the server was doing when it happened.
    pub(crate) fn io(context: impl Into<String>, source: io::Error) -> Error {
        Error::Io { context: context.into(), source }
    }
}

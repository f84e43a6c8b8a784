//! Why the operator stops.

use super::content_key;

/// Errors that stop the operator: at start-up, or when it loses the leader-election Lease.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No usable Kubernetes configuration.
    #[error("failed to configure the Kubernetes client: {0}")]
    Kube(String),
    /// The extra CA file could not be read or used.
    #[error("failed to set up the vault client: {0}")]
    Vault(String),
    /// Leader election is misconfigured.
    #[error("leader election: {0}")]
    LeaderElection(String),
    /// This process lost the leader-election Lease and stopped reconciling; it exits so that it
    /// restarts as a standby.
    #[error("lost the leader-election lease")]
    LeadershipLost,
    /// No content hash key could be had.
    #[error(transparent)]
    ContentKey(#[from] content_key::ContentKeyError),
    /// The push endpoint could not start.
    #[error("push endpoint: {0}")]
    Push(String),
    /// The HTTP endpoint could not bind.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

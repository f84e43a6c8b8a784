//! Command line and environment configuration.

mod push;

pub use push::PushArgs;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Parser, Subcommand, ValueEnum};

/// vaultsync: sync Azure Key Vault secrets into Kubernetes Secrets.
#[derive(Debug, Parser)]
#[command(version, about)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run the operator.
    Run(RunConfig),
}

/// Log output format.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum LogFormatArg {
    /// One JSON object per line.
    Json,
    /// Human-readable text.
    Text,
}

/// Settings of `vaultsync run`; every flag also reads an environment variable.
#[derive(Debug, Clone, Parser)]
pub struct RunConfig {
    /// Kubeconfig to use instead of the in-cluster configuration.
    #[arg(long, env = "KUBECONFIG")]
    pub kubeconfig: Option<PathBuf>,
    /// Watch only these namespaces, comma-separated (default: all namespaces). With a list, the
    /// operator needs permissions in those namespaces only.
    #[arg(long = "namespace", env = "VAULTSYNC_NAMESPACE", value_delimiter = ',')]
    pub namespaces: Vec<String>,
    /// Address of the health, readiness and metrics endpoints.
    #[arg(long, env = "VAULTSYNC_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Default Entra tenant for ServiceAccounts without `azure.workload.identity/tenant-id`.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// Entra authority host (default `https://login.microsoftonline.com`).
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    pub authority_host: Option<String>,
    /// PEM file of extra CAs trusted for the vault and the authority (added to the system's).
    #[arg(long, env = "VAULTSYNC_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
    /// Vault host suffixes the operator may connect to, comma-separated (default: Azure's public
    /// and sovereign Key Vault and Managed HSM domains). A resource naming any other host is
    /// refused with the reason VaultHostNotAllowed, before any connection.
    #[arg(
        long,
        env = "VAULTSYNC_ALLOWED_VAULT_HOSTS",
        value_delimiter = ',',
        default_values_t = crate::vault::host::AZURE_VAULT_SUFFIXES.map(String::from)
    )]
    pub allowed_vault_hosts: Vec<String>,
    /// Resolve `localhost` and `*.localhost` to 127.0.0.1 (RFC 6761) for the vault and the
    /// authority. Only for emulators on loopback; off by default.
    #[arg(
        long,
        env = "VAULTSYNC_ALLOW_LOOPBACK_HOSTS",
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub allow_loopback_hosts: bool,
    /// Turn off Key Vault challenge-resource verification. Only for emulators.
    #[arg(
        long,
        env = "VAULTSYNC_INSECURE_DISABLE_CHALLENGE_RESOURCE_VERIFICATION"
    )]
    pub insecure_disable_challenge_resource_verification: bool,
    /// Sustained request rate allowed per vault.
    #[arg(
        long,
        env = "VAULTSYNC_VAULT_REQUESTS_PER_SECOND",
        default_value_t = 100.0
    )]
    pub vault_requests_per_second: f64,
    /// Reconciles run at once.
    #[arg(long, env = "VAULTSYNC_CONCURRENCY", default_value_t = 16)]
    pub concurrency: u16,
    /// Reconciles of one namespace that may always run at once (both kinds together); beyond it
    /// a namespace borrows idle workers while this many stay free for the others, and a
    /// namespace whose reconciles turn slow keeps to it, so one tenant's slow vault cannot
    /// occupy every worker.
    #[arg(long, env = "VAULTSYNC_NAMESPACE_CONCURRENCY", default_value_t = 4)]
    pub namespace_concurrency: u16,
    /// Longest a sync may take (vault reads and the Secret write) before it is abandoned and
    /// retried with backoff.
    #[arg(
        long,
        env = "VAULTSYNC_RECONCILE_TIMEOUT",
        default_value = "60s",
        value_parser = crate::duration::parse
    )]
    pub reconcile_timeout: Duration,
    /// Log format.
    #[arg(long, env = "VAULTSYNC_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormatArg,
    /// Elect a leader through a coordination.k8s.io/v1 Lease: only the replica holding it
    /// reconciles (`--leader-elect` or `--leader-elect=true|false`).
    #[arg(
        long,
        env = "VAULTSYNC_LEADER_ELECT",
        num_args = 0..=1,
        default_value_t = false,
        default_missing_value = "true",
        action = clap::ArgAction::Set
    )]
    pub leader_elect: bool,
    /// Name of the leader-election Lease.
    #[arg(
        long,
        env = "VAULTSYNC_LEADER_ELECTION_LEASE_NAME",
        default_value = "vaultsync-leader"
    )]
    pub leader_election_lease_name: String,
    /// Namespace of the leader-election Lease (required with --leader-elect).
    #[arg(long, env = "POD_NAMESPACE")]
    pub leader_election_namespace: Option<String>,
    /// How long a Lease holds without renewal before another replica may take it (e.g. `15s`).
    #[arg(
        long,
        env = "VAULTSYNC_LEADER_ELECTION_LEASE_DURATION",
        default_value = "15s",
        value_parser = crate::duration::parse
    )]
    pub leader_election_lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up, stops and exits.
    #[arg(
        long,
        env = "VAULTSYNC_LEADER_ELECTION_RENEW_DEADLINE",
        default_value = "10s",
        value_parser = crate::duration::parse
    )]
    pub leader_election_renew_deadline: Duration,
    /// Interval between attempts to acquire or renew the Lease.
    #[arg(
        long,
        env = "VAULTSYNC_LEADER_ELECTION_RETRY_PERIOD",
        default_value = "2s",
        value_parser = crate::duration::parse
    )]
    pub leader_election_retry_period: Duration,
    /// A file holding the key of the content hashes recorded on synced Secrets (at least 32
    /// bytes, used as they are, for example from a mounted Secret). Without it the key is kept
    /// in the Secret `--content-hash-key-secret`, created with a random key on first start.
    #[arg(long, env = "VAULTSYNC_CONTENT_HASH_KEY_FILE")]
    pub content_hash_key_file: Option<PathBuf>,
    /// Name of the Secret holding the content hash key, in the operator's namespace
    /// (`POD_NAMESPACE`, else the kubeconfig's namespace).
    #[arg(
        long,
        env = "VAULTSYNC_CONTENT_HASH_KEY_SECRET",
        default_value = "vaultsync-content-hash-key"
    )]
    pub content_hash_key_secret: String,
    /// The Event Grid push endpoint.
    #[command(flatten)]
    pub push: PushArgs,
    /// Rollout restarts of the workloads that consume managed Secrets.
    #[command(flatten)]
    pub restarts: crate::restart::RestartSettings,
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use clap::Parser;

    use super::{Cli, Command, RunConfig};

    fn run(args: &[&str]) -> RunConfig {
        let argv = ["vaultsync", "run"].iter().chain(args);
        match Cli::try_parse_from(argv).expect("arguments parse").command {
            Command::Run(config) => config,
        }
    }

    #[test]
    fn leader_election_is_off_by_default_with_client_go_timings() {
        let config = run(&[]);
        assert!(!config.leader_elect);
        assert_eq!(config.leader_election_lease_name, "vaultsync-leader");
        assert_eq!(
            config.leader_election_lease_duration,
            Duration::from_secs(15)
        );
        assert_eq!(
            config.leader_election_renew_deadline,
            Duration::from_secs(10)
        );
        assert_eq!(config.leader_election_retry_period, Duration::from_secs(2));
    }

    #[test]
    fn leader_election_flags_parse() {
        let config = run(&[
            "--leader-elect",
            "--leader-election-namespace=ops",
            "--leader-election-lease-name",
            "lock",
            "--leader-election-lease-duration=4s",
            "--leader-election-renew-deadline=3s",
            "--leader-election-retry-period=500ms",
        ]);
        assert!(config.leader_elect);
        assert_eq!(config.leader_election_namespace.as_deref(), Some("ops"));
        assert_eq!(config.leader_election_lease_name, "lock");
        assert_eq!(
            config.leader_election_lease_duration,
            Duration::from_secs(4)
        );
        assert_eq!(
            config.leader_election_renew_deadline,
            Duration::from_secs(3)
        );
        assert_eq!(
            config.leader_election_retry_period,
            Duration::from_millis(500)
        );
        assert!(run(&["--leader-elect=true"]).leader_elect);
        assert!(!run(&["--leader-elect=false"]).leader_elect);
        assert!(
            Cli::try_parse_from(["vaultsync", "run", "--leader-election-retry-period=2"]).is_err()
        );
    }
}

//! Command line and environment configuration.

use std::net::SocketAddr;
use std::path::PathBuf;

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
    /// Watch only this namespace (default: all namespaces).
    #[arg(long, env = "VAULTSYNC_NAMESPACE")]
    pub namespace: Option<String>,
    /// Address of the health, readiness and metrics endpoints.
    #[arg(long, env = "VAULTSYNC_METRICS_ADDR", default_value = "0.0.0.0:8080")]
    pub metrics_addr: SocketAddr,
    /// Default Entra tenant for ServiceAccounts without `azure.workload.identity/tenant-id`.
    #[arg(long, env = "AZURE_TENANT_ID")]
    pub tenant_id: Option<String>,
    /// Entra authority host (default https://login.microsoftonline.com).
    #[arg(long, env = "AZURE_AUTHORITY_HOST")]
    pub authority_host: Option<String>,
    /// PEM file of extra CAs trusted for the vault and the authority (added to the system's).
    #[arg(long, env = "VAULTSYNC_EXTRA_CA_FILE")]
    pub extra_ca_file: Option<PathBuf>,
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
    /// Log format.
    #[arg(long, env = "VAULTSYNC_LOG_FORMAT", value_enum, default_value = "json")]
    pub log_format: LogFormatArg,
}

//! vaultsync: a Kubernetes operator that syncs Azure Key Vault secrets and certificates into
//! Kubernetes Secrets through per-namespace workload identity.

pub mod compact;
pub mod config;
pub mod controller;
pub mod crd;
pub mod desired;
pub mod duration;
pub mod feed;
pub mod http;
pub mod leader;
pub mod push;
pub mod reconcile;
pub mod restart;
pub mod telemetry;
pub mod vault;

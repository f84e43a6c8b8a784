//! The vault client the operator runs with, from its configuration: the Azure SDK client with
//! the extra CA and challenge settings, behind the shared, rate-limited layer that reports to
//! the metrics.

use std::sync::Arc;

use kube::Client;

use super::StartError;
use crate::config::RunConfig;
use crate::telemetry::Metrics;
use crate::vault::azure::{AzureOptions, AzureVault};
use crate::vault::shared::{SharedVault, SharingOptions};

/// The Azure vault behind the sharing, coalescing, rate-limited layer, reporting to `metrics`.
pub(super) fn shared_vault(
    config: &RunConfig,
    client: &Client,
    metrics: &Metrics,
    extra_ca_pem: Option<String>,
) -> Result<SharedVault, StartError> {
    let azure = AzureVault::new(
        client.clone(),
        AzureOptions {
            authority_host: config.authority_host.clone(),
            extra_ca_pem,
            disable_challenge_resource_verification: config
                .insecure_disable_challenge_resource_verification,
            api_version: None,
            loopback_hosts: config.allow_loopback_hosts,
        },
    )
    .map_err(|e| StartError::Vault(e.to_string()))?;
    let exchange_metrics = metrics.clone();
    let azure = azure.with_exchange_observer(Arc::new(move |outcome| {
        exchange_metrics.token_exchange(outcome);
    }));
    let insecure = config.insecure_disable_challenge_resource_verification;
    if insecure {
        tracing::warn!(
            "Key Vault challenge-resource verification is OFF: a vault URL could lead the \
             operator to send tokens to another host. Only for emulators."
        );
    }
    metrics.set_challenge_verification_disabled(insecure);
    let observer_metrics = metrics.clone();
    let options = SharingOptions {
        requests_per_second: config.vault_requests_per_second,
        ..Default::default()
    };
    Ok(
        SharedVault::new(Arc::new(azure), options).with_observer(Arc::new(
            move |operation, outcome| observer_metrics.vault_request(operation, outcome),
        )),
    )
}

/// The extra CA bundle trusted for the vault and the authority, if any.
pub(super) fn extra_ca(config: &RunConfig) -> Result<Option<String>, StartError> {
    config
        .extra_ca_file
        .as_ref()
        .map(|path| {
            std::fs::read_to_string(path)
                .map_err(|e| StartError::Vault(format!("failed to read {}: {e}", path.display())))
        })
        .transpose()
}

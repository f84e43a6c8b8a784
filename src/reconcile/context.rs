use std::sync::Arc;

use k8s_openapi::api::core::v1::Secret;
use kube::runtime::events::Recorder;
use kube::runtime::reflector::Store;

use super::Schedule;
use crate::telemetry::Metrics;
use crate::vault::shared::SharedVault;

/// Operator-wide settings the reconcilers need.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    /// Tenant used when a ServiceAccount has no `azure.workload.identity/tenant-id`.
    pub default_tenant: Option<String>,
}

/// Everything a reconcile needs, shared by all of them.
pub struct Context {
    /// API client.
    pub client: kube::Client,
    /// The shared, rate-limited vault.
    pub vault: SharedVault,
    /// Cache of the Secrets vaultsync manages (label-selected; nothing else is cached).
    pub secrets: Store<Secret>,
    /// Event recorder.
    pub recorder: Recorder,
    /// Metrics.
    pub metrics: Metrics,
    /// Settings.
    pub settings: Settings,
    /// Per-object schedule and last writes.
    pub schedule: Schedule,
}

impl Context {
    /// Wraps everything in an `Arc` for the controller.
    pub fn new(
        client: kube::Client,
        vault: SharedVault,
        secrets: Store<Secret>,
        recorder: Recorder,
        metrics: Metrics,
        settings: Settings,
    ) -> Arc<Self> {
        Arc::new(Context {
            client,
            vault,
            secrets,
            recorder,
            metrics,
            settings,
            schedule: Schedule::default(),
        })
    }
}

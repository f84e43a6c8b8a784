//! What each metric is called and means: name, help text, unit and label names, as data, so
//! that registration, the catalog and the metric hygiene test read one list.

use prometheus_client::registry::Unit;

/// A metric's name, help text, unit metadata and label names.
pub(super) struct Description {
    pub(super) name: &'static str,
    pub(super) help: &'static str,
    pub(super) unit: Option<Unit>,
    /// The label names of its series (`le` of histograms aside), in the order they are encoded;
    /// the metric hygiene test checks each is bounded and that the scrape agrees.
    pub(super) labels: &'static [&'static str],
}

// Encoding appends `_total` to counters, so the registered name omits it.
pub(super) const RECONCILES: Description = Description {
    name: "vaultsync_reconciles",
    help: "Reconciles finished, by kind, result and failure reason",
    unit: None,
    labels: &["kind", "result", "reason"],
};

pub(super) const RECONCILE_DURATION: Description = Description {
    name: "vaultsync_reconcile_duration",
    help: "Wall-clock duration of one reconcile",
    unit: Some(Unit::Seconds),
    labels: &["kind"],
};

pub(super) const VAULT_REQUESTS: Description = Description {
    name: "vaultsync_vault_requests",
    help: "Requests to Azure Key Vault, by operation and outcome",
    unit: None,
    labels: &["operation", "outcome"],
};

pub(super) const MANAGED_SECRETS: Description = Description {
    name: "vaultsync_managed_secrets",
    help: "Kubernetes Secrets currently managed, by source kind",
    unit: None,
    labels: &["kind"],
};

pub(super) const LAST_SYNC: Description = Description {
    name: "vaultsync_last_sync_timestamp",
    help: "Unix time of the last successful sync of an object",
    unit: Some(Unit::Seconds),
    labels: &["kind", "namespace", "name"],
};

pub(super) const LAST_SYNC_AGE: Description = Description {
    name: "vaultsync_last_sync_age",
    help: "Seconds elapsed since the last successful sync of an object, computed at scrape time",
    unit: Some(Unit::Seconds),
    labels: &["kind", "namespace", "name"],
};

pub(super) const CERT_EXPIRY: Description = Description {
    name: "vaultsync_certificate_expiry_timestamp",
    help: "Unix time at which a synced certificate stops being valid (notAfter)",
    unit: Some(Unit::Seconds),
    labels: &["namespace", "name"],
};

pub(super) const LEADER: Description = Description {
    name: "vaultsync_leader",
    help: "1 while this process may reconcile (it holds the leader-election Lease, or leader \
             election is off), 0 otherwise",
    unit: None,
    labels: &[],
};

pub(super) const TOKEN_EXCHANGES: Description = Description {
    name: "vaultsync_token_exchanges",
    help: "Workload-identity token exchanges sent to Entra ID, by outcome",
    unit: None,
    labels: &["outcome"],
};

pub(super) const RESOURCES: Description = Description {
    name: "vaultsync_resources",
    help: "VaultSecrets and VaultCertificates by the status and reason of their Ready condition",
    unit: None,
    labels: &["kind", "ready", "reason"],
};

pub(super) const INSECURE: Description = Description {
    name: "vaultsync_insecure_challenge_verification_disabled",
    help: "1 when Key Vault challenge-resource verification is turned off (emulators only)",
    unit: None,
    labels: &[],
};

pub(super) const SCANNERS: Description = Description {
    name: "vaultsync_vault_scanners",
    help: "Change scanners running: one per (identity, vault) with resources following it",
    unit: None,
    labels: &[],
};

pub(super) const DEMAND_RATIO: Description = Description {
    name: "vaultsync_vault_demand_ratio",
    help: "Refresh demand on the busiest vault divided by its request budget; above 1 the \
           refreshes of that vault's resources stretch by this factor",
    unit: None,
    labels: &[],
};

pub(super) const WAKEUPS: Description = Description {
    name: "vaultsync_change_wakeups",
    help: "Resources woken because a followed vault object changed, by what saw the change \
           (scan or push)",
    unit: None,
    labels: &["source"],
};

pub(super) const RESTARTS_TRIGGERED: Description = Description {
    name: "vaultsync_restarts_triggered",
    help: "Rollout restarts of opted-in workloads started because their managed Secrets changed, by \
           workload kind",
    unit: None,
    labels: &["kind"],
};

pub(super) const RESTARTS_DEFERRED: Description = Description {
    name: "vaultsync_restarts_deferred",
    help: "Rollout restarts that had to wait for a running rollout because a cap was reached, by \
           workload kind and cap (cluster or namespace)",
    unit: None,
    labels: &["kind", "reason"],
};

pub(super) const RESTARTS_SKIPPED: Description = Description {
    name: "vaultsync_restarts_skipped",
    help: "Rollout restarts not made, by workload kind and reason (workload_paused, \
           restarts_paused)",
    unit: None,
    labels: &["kind", "reason"],
};

pub(super) const ROLLOUTS_IN_PROGRESS: Description = Description {
    name: "vaultsync_restart_rollouts_in_progress",
    help: "Rollouts of opted-in workloads in progress, as the caps count them",
    unit: None,
    labels: &[],
};

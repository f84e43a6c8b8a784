//! Rollout restarts of the workloads that consume managed Secrets.
//!
//! A Deployment, StatefulSet or DaemonSet opts in with [`OPT_IN_LABEL`]; only workloads carrying
//! it are watched. Its pod template's Secret references (or the list in [`SECRETS_ANNOTATION`])
//! name the Secrets it consumes; those vaultsync manages feed a [`digest`] that stands in the pod
//! template as [`DIGEST_ANNOTATION`]. When the digest changes, the workload is restarted once,
//! after a debounce window and within caps on rollouts in progress.
//!
//! The controller never reads the vault or a Secret's values: the digest is built from the
//! content hash the operator's cache records for each Secret, keyed by the Secret's uid.

mod consumed;
mod controller;
mod digest;
mod gate;
mod plan;
mod progress;
mod report;
mod settings;
mod watches;
mod workload;

pub use consumed::{consumed_secrets, explicit_secrets};
pub use controller::{SecretTap, start};
pub use digest::{DigestInput, digest};
pub use gate::{Admission, Caps, InProgress};
pub use plan::{Decision, decide};
pub use progress::{Progress, daemon_set_progress, deployment_progress, stateful_set_progress};
pub use settings::RestartSettings;
pub use workload::WorkloadKind;

/// Label that opts a workload in; its value must be `true`.
pub const OPT_IN_LABEL: &str = "vaultsync.dev/restart-on-change";
/// Value of [`OPT_IN_LABEL`] that opts in.
pub const OPT_IN_VALUE: &str = "true";
/// Optional workload annotation listing the Secrets to follow, comma-separated; it replaces the
/// discovery from the pod template.
pub const SECRETS_ANNOTATION: &str = "vaultsync.dev/restart-secrets";
/// Annotation holding the digest of the consumed managed Secrets: on the pod template it is what
/// restarts the pods; on the workload's own metadata it records the digest last acted upon, so
/// that a first sight records a baseline without a rollout.
pub const DIGEST_ANNOTATION: &str = "vaultsync.dev/restart-digest";
/// Workload annotation with the RFC 3339 time of the last restart vaultsync triggered; bounds how
/// long a StatefulSet or DaemonSet rollout holds a slot of the caps.
pub const RESTARTED_AT_ANNOTATION: &str = "vaultsync.dev/restarted-at";

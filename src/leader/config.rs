//! What an election is configured with: the Lease to contend for, this process's identity, and
//! timings checked so that two leaders can never overlap.

use std::time::Duration;

use rand::Rng;

use crate::config::RunConfig;

/// Settings of one election.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ElectionConfig {
    /// Name of the Lease.
    pub lease_name: String,
    /// Namespace of the Lease.
    pub namespace: String,
    /// This process's `holderIdentity`, unique among the candidates.
    pub identity: String,
    /// How long a Lease holds without renewal before another candidate may take it.
    pub lease_duration: Duration,
    /// How long the leader keeps trying to renew before it gives up.
    pub renew_deadline: Duration,
    /// Interval between attempts to acquire or renew.
    pub retry_period: Duration,
}

impl ElectionConfig {
    /// The election `vaultsync run` asks for, or `None` when `--leader-elect` is off.
    ///
    /// # Errors
    /// When leader election is on but no namespace is given, or the timings are inconsistent.
    pub fn from_run_config(config: &RunConfig) -> Result<Option<Self>, String> {
        if !config.leader_elect {
            return Ok(None);
        }
        let namespace = config
            .leader_election_namespace
            .clone()
            .filter(|ns| !ns.is_empty())
            .ok_or_else(|| {
                "leader election needs --leader-election-namespace or the POD_NAMESPACE \
                 environment variable"
                    .to_owned()
            })?;
        let election = Self {
            lease_name: config.leader_election_lease_name.clone(),
            namespace,
            identity: default_identity(),
            lease_duration: config.leader_election_lease_duration,
            renew_deadline: config.leader_election_renew_deadline,
            retry_period: config.leader_election_retry_period,
        };
        election.validate()?;
        Ok(Some(election))
    }

    /// Checks that the timings can keep two leaders from overlapping:
    /// `retry period < renew deadline < lease duration`, with a lease duration of at least 1 s
    /// (the Lease records whole seconds).
    ///
    /// # Errors
    /// A message naming the offending setting.
    pub fn validate(&self) -> Result<(), String> {
        if self.lease_name.is_empty() {
            return Err("the leader-election lease name is empty".into());
        }
        if self.identity.is_empty() {
            return Err("the leader-election identity is empty".into());
        }
        if self.lease_duration < Duration::from_secs(1) {
            return Err("the leader-election lease duration must be at least 1s".into());
        }
        if self.renew_deadline >= self.lease_duration {
            return Err(format!(
                "the leader-election renew deadline ({:?}) must be shorter than the lease \
                 duration ({:?})",
                self.renew_deadline, self.lease_duration
            ));
        }
        if self.retry_period.is_zero() || self.retry_period >= self.renew_deadline {
            return Err(format!(
                "the leader-election retry period ({:?}) must be positive and shorter than the \
                 renew deadline ({:?})",
                self.retry_period, self.renew_deadline
            ));
        }
        Ok(())
    }

    /// `leaseDurationSeconds` to record: the lease duration rounded up to whole seconds.
    pub(super) fn lease_seconds(&self) -> i32 {
        let seconds =
            self.lease_duration.as_secs() + u64::from(self.lease_duration.subsec_nanos() > 0);
        i32::try_from(seconds).unwrap_or(i32::MAX)
    }

    /// `namespace/name` of the Lease, for logs.
    pub(super) fn lease_ref(&self) -> String {
        format!("{}/{}", self.namespace, self.lease_name)
    }
}

/// This process's identity: env `POD_NAME`, else the host name, then `_` and a random suffix, so
/// a restarted process never mistakes its predecessor's Lease for its own.
pub fn default_identity() -> String {
    let pod_name = std::env::var("POD_NAME").ok();
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| std::env::var("HOSTNAME").ok());
    let suffix: String = rand::rng()
        .sample_iter(rand::distr::Alphanumeric)
        .take(8)
        .map(|b| char::from(b).to_ascii_lowercase())
        .collect();
    identity_from(pod_name.as_deref(), host.as_deref(), &suffix)
}

/// [`default_identity`] from its inputs, apart so the choice of base name is testable without
/// touching the environment.
pub(super) fn identity_from(pod_name: Option<&str>, host: Option<&str>, suffix: &str) -> String {
    let base = [pod_name, host]
        .into_iter()
        .flatten()
        .map(str::trim)
        .find(|name| !name.is_empty())
        .unwrap_or("vaultsync");
    format!("{base}_{suffix}")
}

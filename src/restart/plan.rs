//! What to do with a workload, given the digest it records and the digest of what it consumes
//! now. Pure.

/// The restart controller's decision for one workload.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Decision {
    /// None of the Secrets it consumes is managed by vaultsync: leave it alone.
    NotConsuming,
    /// First sight: record this digest on the workload, without a rollout.
    Baseline(String),
    /// It already runs with this content.
    Unchanged,
    /// The content changed: restart it with this digest.
    Restart(String),
}

/// Decides from the recorded digest and the current one (`None` when it consumes no managed
/// Secret).
pub fn decide(recorded: Option<&str>, current: Option<&str>) -> Decision {
    match (recorded, current) {
        (_, None) => Decision::NotConsuming,
        (None, Some(current)) => Decision::Baseline(current.to_string()),
        (Some(recorded), Some(current)) if recorded == current => Decision::Unchanged,
        (Some(_), Some(current)) => Decision::Restart(current.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_restart_only_when_a_recorded_digest_differs() {
        assert_eq!(decide(None, None), Decision::NotConsuming);
        assert_eq!(decide(Some("a"), None), Decision::NotConsuming);
        assert_eq!(decide(None, Some("a")), Decision::Baseline("a".into()));
        assert_eq!(decide(Some("a"), Some("a")), Decision::Unchanged);
        assert_eq!(decide(Some("a"), Some("b")), Decision::Restart("b".into()));
    }
}

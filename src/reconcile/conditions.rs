//! Status step: conditions with stable transition times, written only when something a reader
//! cares about changed (an idle refresh costs no API write).

use crate::crd::{Condition, ConditionStatus, SyncStatus};

/// The condition type summarising a sync.
pub const READY: &str = "Ready";

/// Replaces the Ready condition (kept first), keeping `lastTransitionTime` when the status did
/// not change.
pub fn with_ready(
    previous: &[Condition],
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) -> Vec<Condition> {
    let condition = condition(previous, READY, status, reason, message, generation, now);
    let mut conditions: Vec<Condition> = previous
        .iter()
        .filter(|c| c.type_ != READY)
        .cloned()
        .collect();
    conditions.insert(0, condition);
    conditions
}

/// Sets the condition of `condition.type_` in place (appended when new).
pub fn set_condition(conditions: &mut Vec<Condition>, condition: Condition) {
    match conditions.iter_mut().find(|c| c.type_ == condition.type_) {
        Some(existing) => *existing = condition,
        None => conditions.push(condition),
    }
}

/// A condition of `type_`, keeping the previous `lastTransitionTime` when its status held.
pub fn condition(
    previous: &[Condition],
    type_: &str,
    status: ConditionStatus,
    reason: &str,
    message: &str,
    generation: Option<i64>,
    now: &str,
) -> Condition {
    let transition = previous
        .iter()
        .find(|c| c.type_ == type_ && c.status == status)
        .map(|c| c.last_transition_time.clone())
        .unwrap_or_else(|| now.to_string());
    Condition {
        type_: type_.to_string(),
        status,
        reason: reason.to_string(),
        message: message.to_string(),
        last_transition_time: transition,
        observed_generation: generation,
    }
}

/// The Ready condition, if any.
pub fn ready(status: Option<&SyncStatus>) -> Option<&Condition> {
    status.and_then(|s| s.conditions.iter().find(|c| c.type_ == READY))
}

/// Whether two statuses differ in anything but the timestamps refreshed on every write.
pub fn differs(old: Option<&SyncStatus>, new: &SyncStatus) -> bool {
    let Some(old) = old else { return true };
    let strip = |s: &SyncStatus| SyncStatus {
        last_sync_time: None,
        next_refresh_time: None,
        ..s.clone()
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transition_time_is_kept_while_status_holds() {
        let first = with_ready(&[], ConditionStatus::True, "Synced", "ok", Some(1), "t1");
        let again = with_ready(&first, ConditionStatus::True, "Synced", "ok", Some(2), "t2");
        assert_eq!(again[0].last_transition_time, "t1");
        let failed = with_ready(
            &again,
            ConditionStatus::False,
            "VaultUnavailable",
            "down",
            Some(2),
            "t3",
        );
        assert_eq!(failed[0].last_transition_time, "t3");
        assert_eq!(failed.len(), 1);
    }

    #[test]
    fn timestamps_alone_do_not_count_as_a_change() {
        let a = SyncStatus {
            last_sync_time: Some("t1".into()),
            ..Default::default()
        };
        let b = SyncStatus {
            last_sync_time: Some("t2".into()),
            ..Default::default()
        };
        assert!(!differs(Some(&a), &b));
        let c = SyncStatus {
            observed_generation: Some(3),
            ..b
        };
        assert!(differs(Some(&a), &c));
    }
}

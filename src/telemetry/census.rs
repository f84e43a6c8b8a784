//! Resources by the status and reason of their `Ready` condition, counted at scrape time from
//! the operator's caches, with a bounded set of label values whatever the stored statuses say.

use std::collections::{BTreeMap, BTreeSet};

use crate::crd::ConditionStatus;

/// Counts the resources of one kind: calls `record` once per resource with its Ready condition's
/// status and reason, or `None` when it has none yet.
pub type Census = Box<dyn Fn(&mut Tally<'_>) + Send + Sync>;

/// Takes one resource's Ready condition status and reason (`None` when it has none yet).
pub type Tally<'a> = dyn FnMut(Option<(ConditionStatus, &str)>) + 'a;

/// The reason exported for a resource without a Ready condition (not reconciled yet).
pub const PENDING_REASON: &str = "Pending";
/// The reason exported for a reason that is not a CamelCase word, or beyond the first
/// [`MAX_REASONS`]: only a status someone else wrote can look like that.
pub const OTHER_REASON: &str = "Other";
/// Most distinct reasons counted per kind; the operator's vocabulary has about 25.
pub const MAX_REASONS: usize = 40;
/// Longest reason exported as itself.
const MAX_REASON_LEN: usize = 64;

/// Resources counted by (ready, reason).
#[derive(Debug, Default)]
pub struct ReadyTally {
    counts: BTreeMap<(&'static str, String), i64>,
    /// Reasons exported as themselves; one slot stays for [`OTHER_REASON`].
    admitted: BTreeSet<String>,
}

impl ReadyTally {
    /// Counts one resource.
    pub fn record(&mut self, ready: Option<(ConditionStatus, &str)>) {
        let (status, reason) = match ready {
            None => ("Unknown", PENDING_REASON),
            Some((status, reason)) => (status_label(status), reason),
        };
        let admit = looks_like_reason(reason)
            && (self.admitted.contains(reason) || self.admitted.len() + 1 < MAX_REASONS);
        let reason = if admit { reason } else { OTHER_REASON };
        if admit && reason != OTHER_REASON {
            self.admitted.insert(reason.to_owned());
        }
        *self.counts.entry((status, reason.to_owned())).or_default() += 1;
    }

    /// The counts: ((ready, reason), resources).
    pub fn counts(&self) -> impl Iterator<Item = (&str, &str, i64)> {
        self.counts
            .iter()
            .map(|((ready, reason), n)| (*ready, reason.as_str(), *n))
    }
}

fn status_label(status: ConditionStatus) -> &'static str {
    match status {
        ConditionStatus::True => "True",
        ConditionStatus::False => "False",
        ConditionStatus::Unknown => "Unknown",
    }
}

/// A condition reason as `metav1.Condition` describes it, limited to letters and digits.
fn looks_like_reason(reason: &str) -> bool {
    reason.len() <= MAX_REASON_LEN
        && reason.starts_with(|c: char| c.is_ascii_uppercase())
        && reason.chars().all(|c| c.is_ascii_alphanumeric())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_by_status_and_reason_with_pending_for_no_condition() {
        let mut tally = ReadyTally::default();
        tally.record(Some((ConditionStatus::True, "Synced")));
        tally.record(Some((ConditionStatus::True, "Synced")));
        tally.record(Some((ConditionStatus::False, "VaultUnavailable")));
        tally.record(None);
        let counts: Vec<_> = tally.counts().collect();
        assert_eq!(
            counts,
            [
                ("False", "VaultUnavailable", 1),
                ("True", "Synced", 2),
                ("Unknown", "Pending", 1)
            ]
        );
    }

    #[test]
    fn foreign_and_excess_reasons_fold_into_other() {
        let mut tally = ReadyTally::default();
        tally.record(Some((
            ConditionStatus::False,
            "no such reason: db-password",
        )));
        tally.record(Some((ConditionStatus::False, "lowercase")));
        for n in 0..(MAX_REASONS * 3) {
            tally.record(Some((ConditionStatus::False, &format!("Reason{n}"))));
        }
        let reasons: std::collections::BTreeSet<&str> =
            tally.counts().map(|(_, reason, _)| reason).collect();
        assert_eq!(reasons.len(), MAX_REASONS, "{reasons:?}");
        assert!(reasons.contains(OTHER_REASON));
        let total: i64 = tally.counts().map(|(_, _, n)| n).sum();
        assert_eq!(
            total,
            2 + 3 * MAX_REASONS as i64,
            "every resource is counted"
        );
    }
}

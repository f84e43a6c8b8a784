//! Status step for certificates, pure: the ExpiringSoon and ChainValid conditions.

use vaultsync_tls::ChainWarning;

use super::reason;
use crate::crd::{CertificateStatus, Condition, ConditionStatus};

/// Status, reason and message of the ExpiringSoon condition for a certificate `soon` to expire.
pub fn expiring_condition(
    facts: &CertificateStatus,
    soon: bool,
    renew_before: &str,
) -> (ConditionStatus, &'static str, String) {
    if soon {
        (
            ConditionStatus::True,
            reason::CERTIFICATE_EXPIRING_SOON,
            format!(
                "certificate {} (version {}) expires at {}, within renewBefore {renew_before}; renew it in the vault and vaultsync picks up the new version at the next refresh",
                facts.subject, facts.version, facts.not_after
            ),
        )
    } else {
        (
            ConditionStatus::False,
            reason::CERTIFICATE_VALID,
            format!(
                "certificate {} (version {}) expires at {}, more than renewBefore {renew_before} away",
                facts.subject, facts.version, facts.not_after
            ),
        )
    }
}

/// Status, reason and message of the ChainValid condition.
pub fn chain_condition(warnings: &[ChainWarning]) -> (ConditionStatus, &'static str, String) {
    match warnings.first() {
        None => (
            ConditionStatus::True,
            reason::CHAIN_COMPLETE,
            "the chain links from the leaf to a self-signed root, signature by signature".into(),
        ),
        Some(first) => (
            ConditionStatus::False,
            first.reason(),
            format!(
                "{}; the Secret holds the certificates that verified",
                warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        ),
    }
}

/// Whether the condition of `type_` is True; `None` when absent.
pub fn is_true(conditions: &[Condition], type_: &str) -> Option<bool> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status == ConditionStatus::True)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn facts() -> CertificateStatus {
        CertificateStatus {
            subject: "CN=web".into(),
            not_after: "2027-01-01T00:00:00Z".into(),
            version: "v1".into(),
            ..Default::default()
        }
    }

    #[test]
    fn expiring_condition_says_when_and_what_to_do() {
        let (state, why, message) = expiring_condition(&facts(), true, "720h");
        assert_eq!(
            (state, why),
            (ConditionStatus::True, reason::CERTIFICATE_EXPIRING_SOON)
        );
        assert!(message.contains("2027-01-01T00:00:00Z") && message.contains("renew it"));
        let (state, why, _) = expiring_condition(&facts(), false, "720h");
        assert_eq!(
            (state, why),
            (ConditionStatus::False, reason::CERTIFICATE_VALID)
        );
    }

    #[test]
    fn chain_warnings_make_a_false_condition_with_the_first_reason() {
        let (state, why, _) = chain_condition(&[]);
        assert_eq!(
            (state, why),
            (ConditionStatus::True, reason::CHAIN_COMPLETE)
        );
        let (state, why, message) = chain_condition(&[ChainWarning::ChainIncomplete {
            missing_issuer: "CN=Root".into(),
        }]);
        assert_eq!((state, why), (ConditionStatus::False, "ChainIncomplete"));
        assert!(message.contains("CN=Root"));
    }
}

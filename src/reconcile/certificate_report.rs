//! What a VaultCertificate adds to the report, pure: its facts in status, the `ExpiringSoon`
//! and `ChainValid` conditions with their Events, and the expiry metric.

use std::time::Duration;

use vaultsync_tls::ChainWarning;

use super::clock::Now;
use super::conditions::{condition, set_condition};
use super::kind::Extension;
use super::reason;
use super::report::Note;
use crate::crd::{
    CertificateStatus, Condition, ConditionStatus, SyncStatus, VaultCertificateStatus,
};
use crate::desired::certificate as cert;

/// Facts from a fresh conversion of the key and chain.
#[derive(Clone, Debug)]
pub struct Converted {
    /// The certificate's facts for status.
    pub certificate: CertificateStatus,
    /// What the chain check found.
    pub warnings: Vec<ChainWarning>,
}

/// One condition's state, reason and message.
#[derive(Clone, Debug, PartialEq)]
pub struct ConditionFacts {
    /// True or False.
    pub status: ConditionStatus,
    /// The reason.
    pub reason: &'static str,
    /// The message.
    pub message: String,
}

/// The certificate's own part of the report.
pub struct CertificateReport<'a> {
    /// `renewBefore` as written and as parsed.
    pub renew_before: (&'a str, Duration),
    /// The generation reconciled.
    pub generation: Option<i64>,
    /// The status written last.
    pub previous: &'a VaultCertificateStatus,
    /// A fresh conversion, if this attempt made one.
    pub converted: Option<&'a Converted>,
    /// The time of the reconcile.
    pub now: Now,
}

impl CertificateReport<'_> {
    /// The whole status around `sync`, and the Events of the certificate's transitions.
    pub fn extend(&self, sync: SyncStatus) -> Extension<VaultCertificateStatus> {
        let certificate = self
            .converted
            .map(|c| c.certificate.clone())
            .or_else(|| self.previous.certificate.clone());
        let mut status = VaultCertificateStatus { sync, certificate };
        let mut notes = Vec::new();
        let expiry = status.certificate.as_ref().and_then(cert::not_after_unix);
        if let (Some(facts), Some(not_after)) = (status.certificate.clone(), expiry) {
            self.expiring_soon(&mut status, &facts, not_after, &mut notes);
        }
        if let Some(converted) = self.converted {
            self.chain_valid(&mut status, &converted.warnings, &mut notes);
        }
        Extension {
            status,
            notes,
            expiry,
        }
    }

    fn expiring_soon(
        &self,
        status: &mut VaultCertificateStatus,
        facts: &CertificateStatus,
        not_after: i64,
        notes: &mut Vec<Note>,
    ) {
        let (renew_text, renew_before) = self.renew_before;
        let soon = cert::expiring_soon(self.now.unix, not_after, renew_before);
        let expiring = expiring_condition(facts, soon, renew_text);
        let was_soon = is_true(&self.previous.sync.conditions, reason::EXPIRING_SOON);
        self.set(status, reason::EXPIRING_SOON, &expiring);
        if soon && was_soon != Some(true) {
            notes.push(Note::warning(expiring.reason, expiring.message));
        } else if !soon && was_soon == Some(true) {
            let message = format!("certificate renewed: {}", expiring.message);
            notes.push(Note::normal(reason::CERTIFICATE_RENEWED, message));
        }
    }

    fn chain_valid(
        &self,
        status: &mut VaultCertificateStatus,
        warnings: &[ChainWarning],
        notes: &mut Vec<Note>,
    ) {
        let chain = chain_condition(warnings);
        let was_valid = is_true(&self.previous.sync.conditions, reason::CHAIN_VALID);
        self.set(status, reason::CHAIN_VALID, &chain);
        if chain.status == ConditionStatus::False && was_valid != Some(false) {
            notes.push(Note::warning(chain.reason, chain.message));
        }
    }

    fn set(&self, status: &mut VaultCertificateStatus, type_: &str, facts: &ConditionFacts) {
        let previous = &self.previous.sync.conditions;
        let now = self.now.rfc3339();
        set_condition(
            &mut status.sync.conditions,
            condition(
                previous,
                type_,
                facts.status,
                facts.reason,
                &facts.message,
                self.generation,
                &now,
            ),
        );
    }
}

/// The ExpiringSoon condition for a certificate `soon` to expire.
pub fn expiring_condition(
    facts: &CertificateStatus,
    soon: bool,
    renew_before: &str,
) -> ConditionFacts {
    if soon {
        ConditionFacts {
            status: ConditionStatus::True,
            reason: reason::CERTIFICATE_EXPIRING_SOON,
            message: format!(
                "certificate {} (version {}) expires at {}, within renewBefore {renew_before}; renew it in the vault and vaultsync picks up the new version at the next refresh",
                facts.subject, facts.version, facts.not_after
            ),
        }
    } else {
        ConditionFacts {
            status: ConditionStatus::False,
            reason: reason::CERTIFICATE_VALID,
            message: format!(
                "certificate {} (version {}) expires at {}, more than renewBefore {renew_before} away",
                facts.subject, facts.version, facts.not_after
            ),
        }
    }
}

/// The ChainValid condition.
pub fn chain_condition(warnings: &[ChainWarning]) -> ConditionFacts {
    match warnings.first() {
        None => ConditionFacts {
            status: ConditionStatus::True,
            reason: reason::CHAIN_COMPLETE,
            message: "the chain links from the leaf to a self-signed root, signature by signature"
                .into(),
        },
        Some(first) => ConditionFacts {
            status: ConditionStatus::False,
            reason: first.reason(),
            message: format!(
                "{}; the Secret holds the certificates that verified",
                warnings
                    .iter()
                    .map(ToString::to_string)
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        },
    }
}

/// Whether the condition of `type_` is True; `None` when absent.
fn is_true(conditions: &[Condition], type_: &str) -> Option<bool> {
    conditions
        .iter()
        .find(|c| c.type_ == type_)
        .map(|c| c.status == ConditionStatus::True)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

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
        let expiring = expiring_condition(&facts(), true, "720h");
        assert_eq!(
            (expiring.status, expiring.reason),
            (ConditionStatus::True, reason::CERTIFICATE_EXPIRING_SOON)
        );
        assert!(expiring.message.contains("2027-01-01T00:00:00Z"));
        assert!(expiring.message.contains("renew it"));
        let valid = expiring_condition(&facts(), false, "720h");
        assert_eq!(
            (valid.status, valid.reason),
            (ConditionStatus::False, reason::CERTIFICATE_VALID)
        );
    }

    #[test]
    fn chain_warnings_make_a_false_condition_with_the_first_reason() {
        let complete = chain_condition(&[]);
        assert_eq!(
            (complete.status, complete.reason),
            (ConditionStatus::True, reason::CHAIN_COMPLETE)
        );
        let broken = chain_condition(&[ChainWarning::ChainIncomplete {
            missing_issuer: "CN=Root".into(),
        }]);
        assert_eq!(
            (broken.status, broken.reason),
            (ConditionStatus::False, "ChainIncomplete")
        );
        assert!(broken.message.contains("CN=Root"));
    }

    fn report_at(
        unix: i64,
        previous: &VaultCertificateStatus,
    ) -> Extension<VaultCertificateStatus> {
        CertificateReport {
            renew_before: ("720h", Duration::from_secs(720 * 3600)),
            generation: Some(1),
            previous,
            converted: None,
            now: Now {
                instant: Instant::now(),
                unix,
            },
        }
        .extend(previous.sync.clone())
    }

    #[test]
    fn entering_the_renewal_window_warns_once_and_leaving_it_says_renewed() {
        let not_after = cert::not_after_unix(&facts()).unwrap();
        let calm = VaultCertificateStatus {
            sync: SyncStatus::default(),
            certificate: Some(facts()),
        };
        let far = report_at(not_after - 60 * 86_400, &calm);
        assert!(far.notes.is_empty());
        assert_eq!(far.expiry, Some(not_after));
        let near = report_at(not_after - 86_400, &far.status);
        assert_eq!(near.notes.len(), 1);
        assert_eq!(near.notes[0].reason, reason::CERTIFICATE_EXPIRING_SOON);
        assert!(report_at(not_after - 3600, &near.status).notes.is_empty());
        let renewed = VaultCertificateStatus {
            certificate: Some(CertificateStatus {
                not_after: "2028-01-01T00:00:00Z".into(),
                ..facts()
            }),
            ..near.status
        };
        let after = report_at(not_after - 3600, &renewed);
        assert_eq!(after.notes.len(), 1);
        assert_eq!(after.notes[0].reason, reason::CERTIFICATE_RENEWED);
    }
}

//! Pure certificate decisions: conversion options from the spec, the TLS Secret's data from a
//! converted bundle, the status facts, whether the certificate is expiring soon, and when to
//! look at the vault again.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use vaultsync_tls::{CaSource, CertificateInfo, ConvertOptions, KeyFormat, TlsBundle};

use crate::crd::{
    CaOutput, CertificateStatus, PrivateKeyFormat, VaultCertificateSpec, VaultCertificateStatus,
};
use crate::vault::SecretValue;

/// Secret key of the leaf and its intermediates.
pub const TLS_CRT: &str = "tls.crt";
/// Secret key of the private key.
pub const TLS_KEY: &str = "tls.key";
/// Secret key of the CA certificates.
pub const CA_CRT: &str = "ca.crt";
/// Default type of a certificate's Secret.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// Annotation on the Secret naming the keystore password Secret's version it was built with, so
/// a password change rebuilds the keystore. Never the password itself.
pub const KEYSTORE_PASSWORD_VERSION_ANNOTATION: &str = "vaultsync.dev/keystore-password-version";
/// Shortest delay between two scheduled vault reads, however close a threshold is.
const MIN_DELAY: Duration = Duration::from_secs(30);

/// Conversion options for `spec` at `now_unix`, with the keystore password when one is asked.
pub fn convert_options(
    spec: &VaultCertificateSpec,
    now_unix: i64,
    pkcs12_password: Option<String>,
) -> ConvertOptions {
    ConvertOptions {
        key_format: match spec.output.key_format {
            PrivateKeyFormat::PKCS8 => KeyFormat::Pkcs8,
            PrivateKeyFormat::PKCS1 => KeyFormat::Pkcs1,
            PrivateKeyFormat::SEC1 => KeyFormat::Sec1,
        },
        ca: match spec.output.ca {
            CaOutput::Chain => CaSource::Chain,
            CaOutput::Root => CaSource::Root,
        },
        pkcs12_password,
        now_unix,
    }
}

/// The Secret's data: `tls.crt`, `tls.key`, `ca.crt` when there are CA certificates, and the
/// keystore under `keystore_key` when one was built.
pub fn tls_data(bundle: &TlsBundle, keystore_key: Option<&str>) -> BTreeMap<String, SecretValue> {
    let mut data = BTreeMap::new();
    data.insert(
        TLS_CRT.to_string(),
        SecretValue::new(bundle.tls_crt.clone()),
    );
    data.insert(
        TLS_KEY.to_string(),
        SecretValue::new(bundle.tls_key.as_bytes().to_vec()),
    );
    if let Some(ca) = &bundle.ca_crt {
        data.insert(CA_CRT.to_string(), SecretValue::new(ca.clone()));
    }
    if let (Some(key), Some(keystore)) = (keystore_key, &bundle.pkcs12) {
        data.insert(key.to_string(), SecretValue::new(keystore.to_vec()));
    }
    data
}

/// The status facts about a leaf certificate of vault version `version`.
pub fn certificate_status(info: &CertificateInfo, version: &str) -> CertificateStatus {
    CertificateStatus {
        subject: info.subject.clone(),
        issuer: info.issuer.clone(),
        dns_names: info.dns_names.clone(),
        serial_number: info.serial_hex.clone(),
        sha1_thumbprint: info.sha1_thumbprint_hex.clone(),
        sha256_thumbprint: info.sha256_thumbprint_hex.clone(),
        not_before: rfc3339(info.not_before_unix),
        not_after: rfc3339(info.not_after_unix),
        key_algorithm: info.key_algorithm.clone(),
        version: version.to_string(),
    }
}

/// `notAfter` of a status, as Unix seconds.
pub fn not_after_unix(status: &CertificateStatus) -> Option<i64> {
    status
        .not_after
        .parse::<jiff::Timestamp>()
        .ok()
        .map(|t| t.as_second())
}

/// Whether a certificate valid until `not_after` is within `renew_before` of it at `now`.
pub fn expiring_soon(now: i64, not_after: i64, renew_before: Duration) -> bool {
    now >= not_after.saturating_sub(renew_before.as_secs() as i64)
}

/// When to read the vault next: the refresh interval, or earlier when the renewal window opens
/// or the certificate expires before that (never sooner than 30 s).
pub fn refresh_delay(
    interval: Duration,
    now: i64,
    not_after: Option<i64>,
    renew_before: Duration,
) -> Duration {
    let Some(not_after) = not_after else {
        return interval;
    };
    let renew_at = not_after.saturating_sub(renew_before.as_secs() as i64);
    let next_threshold = [renew_at, not_after].into_iter().find(|t| *t > now);
    match next_threshold {
        Some(at) => interval.min(Duration::from_secs((at - now) as u64).max(MIN_DELAY)),
        None => interval,
    }
}

/// The Secret's data when it already holds version `version` built from the same spec and
/// keystore password; `None` when the key and chain must be read again.
pub fn reusable_data(
    secret: &Secret,
    previous: &VaultCertificateStatus,
    version: &str,
    generation: Option<i64>,
    password_version: Option<&str>,
    force: bool,
) -> Option<BTreeMap<String, SecretValue>> {
    let same_version = previous.certificate.as_ref().map(|c| c.version.as_str()) == Some(version);
    let same_spec = previous.sync.observed_generation == generation;
    let recorded_password = secret
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(KEYSTORE_PASSWORD_VERSION_ANNOTATION))
        .map(String::as_str);
    if force || !same_version || !same_spec || recorded_password != password_version {
        return None;
    }
    let data = secret.data.as_ref()?;
    if !data.contains_key(TLS_CRT) || !data.contains_key(TLS_KEY) {
        return None;
    }
    Some(
        data.iter()
            .map(|(k, v)| (k.clone(), SecretValue::new(v.0.clone())))
            .collect(),
    )
}

fn rfc3339(unix: i64) -> String {
    jiff::Timestamp::from_second(unix)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    use k8s_openapi::ByteString;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    const DAY: i64 = 86_400;

    fn secret(keys: &[&str], password_version: Option<&str>) -> Secret {
        Secret {
            metadata: ObjectMeta {
                annotations: password_version.map(|v| {
                    [(
                        KEYSTORE_PASSWORD_VERSION_ANNOTATION.to_string(),
                        v.to_string(),
                    )]
                    .into()
                }),
                ..Default::default()
            },
            data: Some(
                keys.iter()
                    .map(|k| (k.to_string(), ByteString(b"x".to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn status(version: &str, generation: i64) -> VaultCertificateStatus {
        VaultCertificateStatus {
            sync: crate::crd::SyncStatus {
                observed_generation: Some(generation),
                ..Default::default()
            },
            certificate: Some(CertificateStatus {
                version: version.into(),
                ..Default::default()
            }),
        }
    }

    #[test]
    fn data_is_reused_only_when_nothing_that_shapes_it_changed() {
        let full = secret(&[TLS_CRT, TLS_KEY], None);
        let prev = status("v1", 2);
        assert!(reusable_data(&full, &prev, "v1", Some(2), None, false).is_some());
        assert!(reusable_data(&full, &prev, "v2", Some(2), None, false).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(3), None, false).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(2), None, true).is_none());
        assert!(reusable_data(&full, &prev, "v1", Some(2), Some("p1"), false).is_none());
        let partial = secret(&[TLS_CRT], None);
        assert!(reusable_data(&partial, &prev, "v1", Some(2), None, false).is_none());
        let with_password = secret(&[TLS_CRT, TLS_KEY], Some("p1"));
        assert!(reusable_data(&with_password, &prev, "v1", Some(2), Some("p1"), false).is_some());
        assert!(reusable_data(&with_password, &prev, "v1", Some(2), Some("p2"), false).is_none());
    }

    #[test]
    fn expiring_soon_starts_exactly_at_the_window() {
        let window = Duration::from_secs(30 * DAY as u64);
        let not_after = 100 * DAY;
        assert!(!expiring_soon(70 * DAY - 1, not_after, window));
        assert!(expiring_soon(70 * DAY, not_after, window));
        assert!(expiring_soon(101 * DAY, not_after, window));
    }

    #[test]
    fn refresh_comes_at_the_window_or_at_expiry_when_sooner_than_the_interval() {
        let hour = Duration::from_secs(3600);
        let window = Duration::from_secs(10 * DAY as u64);
        let not_after = 20 * DAY;
        // Far from the window: the interval.
        assert_eq!(refresh_delay(hour, 0, Some(not_after), window), hour);
        // The window opens in ten minutes.
        let now = 10 * DAY - 600;
        assert_eq!(
            refresh_delay(hour, now, Some(not_after), window),
            Duration::from_secs(600)
        );
        // Inside the window, expiry in five minutes.
        let now = not_after - 300;
        assert_eq!(
            refresh_delay(hour, now, Some(not_after), window),
            Duration::from_secs(300)
        );
        // Thresholds a second away still wait the minimum.
        assert_eq!(
            refresh_delay(hour, not_after - 1, Some(not_after), window),
            MIN_DELAY
        );
        // Expired, or unknown: the interval.
        assert_eq!(
            refresh_delay(hour, not_after + 1, Some(not_after), window),
            hour
        );
        assert_eq!(refresh_delay(hour, 0, None, window), hour);
    }

    #[test]
    fn status_times_round_trip() {
        let info = CertificateInfo {
            subject: "CN=a".into(),
            issuer: "CN=b".into(),
            dns_names: vec!["a.example".into()],
            serial_hex: "01".into(),
            sha1_thumbprint_hex: "AA".into(),
            sha256_thumbprint_hex: "BB".into(),
            not_before_unix: 1_700_000_000,
            not_after_unix: 1_800_000_000,
            key_algorithm: "EC-P256".into(),
        };
        let status = certificate_status(&info, "v1");
        assert_eq!(status.not_after, "2027-01-15T08:00:00Z");
        assert_eq!(not_after_unix(&status), Some(1_800_000_000));
        assert_eq!(status.version, "v1");
    }
}

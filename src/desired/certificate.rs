//! Pure certificate decisions: conversion options from the spec, the TLS Secret's data from a
//! converted bundle, the status facts, whether the certificate is expiring soon, and when to
//! look at the vault again.

use std::collections::BTreeMap;
use std::time::Duration;

use k8s_openapi::api::core::v1::Secret;
use vaultsync_tls::{
    CaSource, CertificateInfo, ConvertOptions, KeyFormat, TlsBundle, TrustBundleOptions,
};

use sha2::{Digest, Sha256};

use super::CONTENT_HASH_ANNOTATION;
use super::content_key::ContentKey;
use crate::crd::{CaOutput, CertificateStatus, PrivateKeyFormat, VaultCertificateSpec};
use crate::vault::SecretValue;

/// Secret key of the leaf and its intermediates.
pub const TLS_CRT: &str = "tls.crt";
/// Secret key of the private key.
pub const TLS_KEY: &str = "tls.key";
/// Secret key of the CA certificates.
pub const CA_CRT: &str = "ca.crt";
/// Default type of a certificate's Secret.
pub const TLS_SECRET_TYPE: &str = "kubernetes.io/tls";
/// Default type of a trust bundle's Secret: it holds no key, so it cannot be a TLS Secret.
pub const TRUST_BUNDLE_SECRET_TYPE: &str = "Opaque";
/// Annotation on a certificate's Secret with its [`build_stamp`].
pub const BUILD_ANNOTATION: &str = "vaultsync.dev/certificate-build";
/// Shortest delay between two scheduled vault reads, however close a threshold is.
const MIN_DELAY: Duration = Duration::from_secs(30);

/// Conversion options for `spec` at `now_unix`, with the keystore (or truststore) password when
/// one is asked.
pub fn convert_options(
    spec: &VaultCertificateSpec,
    now_unix: i64,
    password: Option<String>,
) -> ConvertOptions {
    let (pkcs12_password, trust_bundle) = match &spec.output.trust_bundle {
        Some(_) => (
            None,
            Some(TrustBundleOptions {
                truststore_password: password,
            }),
        ),
        None => (password, None),
    };
    ConvertOptions {
        trust_bundle,
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

/// The Secret's data for `spec`: the TLS files, or the trust bundle alone.
pub fn secret_data(
    spec: &VaultCertificateSpec,
    bundle: &TlsBundle,
) -> BTreeMap<String, SecretValue> {
    match (&spec.output.trust_bundle, &bundle.trust) {
        (Some(output), Some(trust)) => {
            let mut data = BTreeMap::new();
            data.insert(CA_CRT.to_string(), SecretValue::new(trust.pem.clone()));
            if let (Some(truststore), Some(bytes)) = (&output.truststore, &trust.truststore) {
                data.insert(truststore.key.clone(), SecretValue::new(bytes.clone()));
            }
            data
        }
        _ => tls_data(bundle, spec.output.pkcs12.as_ref().map(|p| p.key.as_str())),
    }
}

/// The Secret keys every build for `spec` holds.
pub fn required_keys(spec: &VaultCertificateSpec) -> &'static [&'static str] {
    if spec.output.trust_bundle.is_some() {
        &[CA_CRT]
    } else {
        &[TLS_CRT, TLS_KEY]
    }
}

/// The Secret key the status's synced version is recorded under.
pub fn version_key(spec: &VaultCertificateSpec) -> &'static str {
    required_keys(spec)[0]
}

/// The Secret's type when the spec names none.
pub fn default_type(spec: &VaultCertificateSpec) -> &'static str {
    if spec.output.trust_bundle.is_some() {
        TRUST_BUNDLE_SECRET_TYPE
    } else {
        TLS_SECRET_TYPE
    }
}

/// The Secret's data: `tls.crt`, `tls.key`, `ca.crt` when there are CA certificates, and the
/// keystore under `keystore_key` when one was built.
fn tls_data(bundle: &TlsBundle, keystore_key: Option<&str>) -> BTreeMap<String, SecretValue> {
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

/// What a certificate Secret's data was built from: the vault version, the options that shape
/// the files (`spec.output`, the Secret type) and the keystore password Secret's version. Stored
/// on the Secret in [`BUILD_ANNOTATION`]; never contains a value.
pub fn build_stamp(
    version: &str,
    spec: &VaultCertificateSpec,
    password_version: Option<&str>,
) -> String {
    let mut hasher = Sha256::new();
    hasher.update(serde_json::to_vec(&spec.output).unwrap_or_default());
    hasher.update(
        spec.target
            .type_
            .as_deref()
            .unwrap_or(default_type(spec))
            .as_bytes(),
    );
    let options = super::lower_hex(&hasher.finalize()[..8]);
    format!("{version}.{options}.{}", password_version.unwrap_or("-"))
}

/// The Secret's data when it provably holds what `stamp` describes, untouched since vaultsync
/// wrote it (its content hash matches); `None` when the key and chain must be read again.
/// Whatever the status says is not enough: it may be stale, and the Secret may have been edited.
pub fn reusable_data(
    secret: &Secret,
    stamp: &str,
    required: &[&str],
    force: bool,
    key: &ContentKey,
) -> Option<BTreeMap<String, SecretValue>> {
    if force {
        return None;
    }
    let annotations = secret.metadata.annotations.as_ref()?;
    if annotations.get(BUILD_ANNOTATION).map(String::as_str) != Some(stamp) {
        return None;
    }
    let data: BTreeMap<String, SecretValue> = secret
        .data
        .as_ref()?
        .iter()
        .map(|(k, v)| (k.clone(), SecretValue::new(v.0.clone())))
        .collect();
    if !required.iter().all(|k| data.contains_key(*k)) {
        return None;
    }
    // Keyed: whoever edits the Secret cannot recompute a hash that passes.
    let hash = key.hash(secret.type_.as_deref().unwrap_or("Opaque"), &data);
    (annotations.get(CONTENT_HASH_ANNOTATION) == Some(&hash)).then_some(data)
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
    const TLS: &[&str] = &[TLS_CRT, TLS_KEY];

    /// A Secret as vaultsync writes it: `keys`, build stamp, matching content hash.
    fn written(keys: &[&str], stamp: &str) -> Secret {
        written_under(&ContentKey::for_tests(), keys, stamp)
    }

    /// A Secret with `keys` and the build stamp whose content hash is computed under `key`.
    fn written_under(key: &ContentKey, keys: &[&str], stamp: &str) -> Secret {
        let data: BTreeMap<String, SecretValue> = keys
            .iter()
            .map(|k| (k.to_string(), SecretValue::new(format!("{k}-bytes"))))
            .collect();
        Secret {
            metadata: ObjectMeta {
                annotations: Some(
                    [
                        (BUILD_ANNOTATION.to_string(), stamp.to_string()),
                        (
                            CONTENT_HASH_ANNOTATION.to_string(),
                            key.hash(TLS_SECRET_TYPE, &data),
                        ),
                    ]
                    .into(),
                ),
                ..Default::default()
            },
            type_: Some(TLS_SECRET_TYPE.into()),
            data: Some(
                data.iter()
                    .map(|(k, v)| (k.clone(), ByteString(v.expose().to_vec())))
                    .collect(),
            ),
            ..Default::default()
        }
    }

    fn spec() -> VaultCertificateSpec {
        serde_json::from_value(serde_json::json!({
            "vault": {"url": "https://v.vault.azure.net/", "serviceAccountName": "app"},
            "certificate": {"name": "web"},
        }))
        .unwrap()
    }

    #[test]
    fn build_stamp_changes_with_version_output_type_and_password() {
        let base = spec();
        let stamp = build_stamp("v1", &base, None);
        assert_eq!(stamp, build_stamp("v1", &spec(), None));
        assert_ne!(stamp, build_stamp("v2", &base, None));
        assert_ne!(stamp, build_stamp("v1", &base, Some("uid/7")));
        let mut pkcs1 = spec();
        pkcs1.output.key_format = crate::crd::PrivateKeyFormat::PKCS1;
        assert_ne!(stamp, build_stamp("v1", &pkcs1, None));
        let mut opaque = spec();
        opaque.target.type_ = Some("Opaque".into());
        assert_ne!(stamp, build_stamp("v1", &opaque, None));
    }

    #[test]
    fn data_is_reused_only_when_the_secret_provably_holds_the_same_build() {
        let key = ContentKey::for_tests();
        let stamp = build_stamp("v1", &spec(), None);
        let good = written(&[TLS_CRT, TLS_KEY], &stamp);
        assert!(reusable_data(&good, &stamp, TLS, false, &key).is_some());
        assert!(
            reusable_data(&good, &stamp, TLS, true, &key).is_none(),
            "force"
        );
        let other = build_stamp("v2", &spec(), None);
        assert!(
            reusable_data(&good, &other, TLS, false, &key).is_none(),
            "new version"
        );
        let partial = written(&[TLS_CRT], &stamp);
        assert!(reusable_data(&partial, &stamp, TLS, false, &key).is_none());
        // Edited by someone: the content hash no longer matches.
        let mut edited = good.clone();
        edited
            .data
            .as_mut()
            .unwrap()
            .insert(TLS_KEY.into(), ByteString(b"tampered".to_vec()));
        assert!(reusable_data(&edited, &stamp, TLS, false, &key).is_none());
        let mut extra = good.clone();
        extra
            .data
            .as_mut()
            .unwrap()
            .insert("extra".into(), ByteString(b"x".to_vec()));
        assert!(reusable_data(&extra, &stamp, TLS, false, &key).is_none());
        // Edited with a hash recomputed by someone without the operator's key.
        let forger = ContentKey::new(&[9u8; 32]).unwrap();
        let forged = written_under(&forger, &[TLS_CRT, TLS_KEY], &stamp);
        assert!(reusable_data(&forged, &stamp, TLS, false, &key).is_none());
    }

    fn trust_bundle_spec() -> VaultCertificateSpec {
        serde_json::from_value(serde_json::json!({
            "vault": {"url": "https://v.vault.azure.net/", "serviceAccountName": "app"},
            "certificate": {"name": "corp-ca"},
            "output": {"trustBundle": {"truststore": {
                "passwordSecretRef": {"name": "pw", "key": "password"}}}},
        }))
        .unwrap()
    }

    fn converted(trust: Option<vaultsync_tls::TrustBundle>) -> TlsBundle {
        TlsBundle {
            tls_crt: "leaf".into(),
            tls_key: zeroize::Zeroizing::new("key".into()),
            ca_crt: Some("chain".into()),
            pkcs12: None,
            trust,
            info: CertificateInfo {
                subject: String::new(),
                issuer: String::new(),
                dns_names: Vec::new(),
                serial_hex: String::new(),
                sha1_thumbprint_hex: String::new(),
                sha256_thumbprint_hex: String::new(),
                not_before_unix: 0,
                not_after_unix: 0,
                key_algorithm: String::new(),
            },
            warnings: Vec::new(),
        }
    }

    #[test]
    fn a_trust_bundle_writes_the_ca_certificates_and_truststore_and_never_the_key() {
        let bundle_spec = trust_bundle_spec();
        let options = convert_options(&bundle_spec, 0, Some("pw".into()));
        assert_eq!(options.pkcs12_password, None, "no keystore of the key");
        assert_eq!(
            options.trust_bundle.unwrap().truststore_password.as_deref(),
            Some("pw")
        );
        assert_eq!(required_keys(&bundle_spec), [CA_CRT]);
        assert_eq!(version_key(&bundle_spec), CA_CRT);
        assert_eq!(default_type(&bundle_spec), "Opaque");
        let bundle = converted(Some(vaultsync_tls::TrustBundle {
            pem: "cas".into(),
            truststore: Some(b"p12".to_vec()),
            certificates: 2,
        }));
        let data = secret_data(&bundle_spec, &bundle);
        let keys: Vec<&str> = data.keys().map(String::as_str).collect();
        assert_eq!(keys, [CA_CRT, "truststore.p12"]);
        assert_eq!(data[CA_CRT].expose(), b"cas");

        let tls = spec();
        assert_eq!(default_type(&tls), TLS_SECRET_TYPE);
        assert_eq!(required_keys(&tls), [TLS_CRT, TLS_KEY]);
        let options = convert_options(&tls, 0, Some("pw".into()));
        assert_eq!(options.pkcs12_password.as_deref(), Some("pw"));
        assert!(options.trust_bundle.is_none());
        let keys: Vec<String> = secret_data(&tls, &converted(None)).into_keys().collect();
        assert_eq!(keys, [CA_CRT, TLS_CRT, TLS_KEY]);
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

//! Certificate conversion, off the async workers: parsing and key derivation are CPU work a
//! hostile vault can make expensive, so it runs on a few blocking threads with a time limit.

use std::time::Duration;

use super::super::SyncError;
use crate::crd::VaultCertificateSpec;
use crate::desired::certificate as cert;
use crate::vault::SecretBundle;
use vaultsync_tls::{BackingFormat, TlsBundle};

/// Converts a backing secret into the TLS bundle, off the async workers.
pub(super) async fn convert_backing(
    backing: SecretBundle,
    spec: &VaultCertificateSpec,
    now: i64,
    password: Option<String>,
) -> Result<TlsBundle, SyncError> {
    let format = backing
        .content_type
        .as_deref()
        .and_then(BackingFormat::from_content_type)
        .ok_or_else(|| SyncError::CertificateFormat(backing.content_type.clone()))?;
    if backing.value.expose_str().is_none() {
        return Err(SyncError::CertificateFormat(backing.content_type.clone()));
    }
    let options = cert::convert_options(spec, now, password);
    convert_off_the_workers(backing.value, format, options).await
}

/// Conversions running at once: parsing and key derivation are CPU work a hostile vault can
/// make expensive, so only a few threads ever do it.
static CONVERSIONS: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(2);
/// Longest the operator waits for one conversion.
const CONVERSION_TIMEOUT: Duration = Duration::from_secs(10);

/// Converts on a blocking thread, so the async workers (and with them the leader Lease renewal)
/// never wait for it; at most [`CONVERSIONS`] at once, each waited for at most
/// [`CONVERSION_TIMEOUT`].
async fn convert_off_the_workers(
    value: crate::vault::SecretValue,
    format: BackingFormat,
    options: vaultsync_tls::ConvertOptions,
) -> Result<TlsBundle, SyncError> {
    let permit = CONVERSIONS
        .acquire()
        .await
        .map_err(|_| SyncError::ConversionTimedOut(CONVERSION_TIMEOUT))?;
    let conversion = tokio::task::spawn_blocking(move || {
        // Held until the work ends, even when the caller stopped waiting for it.
        let _permit = permit;
        let text = value.expose_str().unwrap_or_default();
        vaultsync_tls::convert(text, format, &options)
    });
    match tokio::time::timeout(CONVERSION_TIMEOUT, conversion).await {
        Ok(Ok(converted)) => Ok(converted?),
        Ok(Err(_)) | Err(_) => Err(SyncError::ConversionTimedOut(CONVERSION_TIMEOUT)),
    }
}

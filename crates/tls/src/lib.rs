//! Turns an Azure Key Vault certificate's backing secret into the files of a
//! Kubernetes `kubernetes.io/tls` Secret, and validates them.
//!
//! Everything here is a pure function of its inputs (the current time is an
//! argument), so the operator can decide what to do with a result: write it,
//! or keep the last good Secret and report [`TlsError::reason`].
//!
//! Secrets never leak through this API: `tls.key` and the keystore are wiped
//! on drop and redacted from `Debug`, and no error message carries key
//! material or PEM bodies.
#![warn(missing_docs)]

mod bundle;
mod chain;
mod error;
mod info;
mod input;
mod key;
mod key_format;
mod keystore;
mod options;
mod pem;
mod pkcs12_mac;
mod trust;

use x509_parser::certificate::X509Certificate;

pub use bundle::{CertificateInfo, ChainWarning, TlsBundle};
pub use error::TlsError;
pub use keystore::KEYSTORE_ALIAS;
pub use options::{BackingFormat, CaSource, ConvertOptions, KeyFormat, TrustBundleOptions};
pub use trust::{TRUSTSTORE_ALIAS_PREFIX, TrustBundle};

/// Largest backing secret accepted, in bytes. Key Vault caps secrets at 25 KB; a certificate
/// with its chain stays far below this.
pub const MAX_INPUT_BYTES: usize = 1024 * 1024;
/// Most certificates one backing secret may hold (leaf, intermediates and root, with room to
/// spare): chain building is quadratic in it.
pub const MAX_CERTIFICATES: usize = 32;

/// Most key-derivation or MAC iterations a PKCS#12 container may ask for. The parser refuses
/// more before deriving anything (its own cap, which `tests/hostile.rs` pins); real exports use
/// 2,048 (Key Vault, older OpenSSL) to 600,000.
pub const MAX_PKCS12_ITERATIONS: u32 = 1_000_000;

/// Converts a backing secret `value` in `format` into TLS Secret files.
///
/// The leaf is the certificate matching the private key; its chain is
/// ordered leaf-upward whatever the upload order, verified signature by
/// signature. Missing issuers and unrelated certificates are
/// [`ChainWarning`]s, not errors: the Secret is still usable. An expired or
/// not-yet-valid leaf at `options.now_unix` is an error.
pub fn convert(
    value: &str,
    format: BackingFormat,
    options: &ConvertOptions,
) -> Result<TlsBundle, TlsError> {
    if value.len() > MAX_INPUT_BYTES {
        return Err(TlsError::InputTooLarge(value.len()));
    }
    let material = input::decode(value, format)?;
    let certs = parse_certificates(&material.certs)?;
    let key = &material.key;
    let chain = chain::build(&certs, key, options.now_unix)?;
    let leaf = &certs[chain.leaf];
    check_validity(leaf, options.now_unix)?;

    let der = |i: usize| material.certs[i].as_slice();
    let leaf_up = || {
        std::iter::once(chain.leaf)
            .chain(chain.intermediates.iter().copied())
            .map(der)
    };
    let ca_indices: Vec<usize> = match options.ca {
        CaSource::Chain => chain
            .intermediates
            .iter()
            .copied()
            .chain(chain.root)
            .collect(),
        CaSource::Root => chain.root.into_iter().collect(),
    };
    let pkcs12 = options
        .pkcs12_password
        .as_deref()
        .map(|password| keystore_for(key, &material.certs, &chain, password))
        .transpose()?;
    let trust = options
        .trust_bundle
        .as_ref()
        .map(|trust| {
            let password = trust.truststore_password.as_deref();
            trust_bundle_for(
                leaf,
                &material.certs,
                &chain,
                options.ca,
                &ca_indices,
                password,
            )
        })
        .transpose()?;
    Ok(TlsBundle {
        trust,
        tls_crt: pem_certs(leaf_up()),
        tls_key: key_format::encode(key, options.key_format)?,
        ca_crt: (!ca_indices.is_empty()).then(|| pem_certs(ca_indices.iter().map(|&i| der(i)))),
        pkcs12,
        info: info::describe(leaf, der(chain.leaf), key.algorithm()),
        warnings: chain.warnings,
    })
}

/// The PKCS#12 keystore: the key with the leaf, its intermediates and the root.
fn keystore_for(
    key: &key::PrivateKey,
    certs: &[Vec<u8>],
    chain: &chain::Chain,
    password: &str,
) -> Result<zeroize::Zeroizing<Vec<u8>>, TlsError> {
    let mut full: Vec<&[u8]> = std::iter::once(chain.leaf)
        .chain(chain.intermediates.iter().copied())
        .map(|i| certs[i].as_slice())
        .collect();
    if let Some(root) = chain.root.filter(|&r| r != chain.leaf) {
        full.push(&certs[root]);
    }
    let key_id = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, &certs[chain.leaf]);
    keystore::write(key, &full, key_id.as_ref(), password)
}

/// The trust bundle: the CA certificates `ca_indices`, after the certificate itself when it is
/// a CA (a private CA held in the vault) and is not already there as the root.
fn trust_bundle_for(
    leaf: &X509Certificate<'_>,
    certs: &[Vec<u8>],
    chain: &chain::Chain,
    ca: CaSource,
    ca_indices: &[usize],
    password: Option<&str>,
) -> Result<TrustBundle, TlsError> {
    let leaf_anchor = ca == CaSource::Chain && chain::is_ca(leaf) && chain.root != Some(chain.leaf);
    let anchors: Vec<&[u8]> = leaf_anchor
        .then_some(chain.leaf)
        .into_iter()
        .chain(ca_indices.iter().copied())
        .map(|i| certs[i].as_slice())
        .collect();
    trust::build(&anchors, password)
}

/// Parses every certificate, naming the first that does not parse by its position.
fn parse_certificates(ders: &[Vec<u8>]) -> Result<Vec<X509Certificate<'_>>, TlsError> {
    ders.iter()
        .enumerate()
        .map(|(i, der)| {
            x509_parser::parse_x509_certificate(der)
                .map(|(_, c)| c)
                .map_err(|e| TlsError::InvalidCertificate(format!("certificate {}: {e}", i + 1)))
        })
        .collect()
}

/// The leaf must be valid at `now_unix`.
fn check_validity(leaf: &X509Certificate<'_>, now_unix: i64) -> Result<(), TlsError> {
    let validity = leaf.validity();
    if now_unix < validity.not_before.timestamp() {
        return Err(TlsError::NotYetValid {
            not_before_unix: validity.not_before.timestamp(),
        });
    }
    if now_unix > validity.not_after.timestamp() {
        return Err(TlsError::Expired {
            not_after_unix: validity.not_after.timestamp(),
        });
    }
    Ok(())
}

fn pem_certs<'a>(ders: impl Iterator<Item = &'a [u8]>) -> String {
    let mut out = String::new();
    for der in ders {
        pem::encode_into(&mut out, "CERTIFICATE", der);
    }
    out
}

//! Decoding a backing secret's value into one private key and the raw
//! certificates, whatever container it came in.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use p12_keystore::Pkcs12Archive;
use zeroize::Zeroizing;

use crate::key::PrivateKey;
use crate::{BackingFormat, TlsError, pem};

/// What a backing secret holds, before any chain logic.
pub(crate) struct Material {
    /// The only private key.
    pub key: PrivateKey,
    /// DER certificates, duplicates removed, in input order.
    pub certs: Vec<Vec<u8>>,
}

/// Decodes `value` per `format`; exactly one distinct key and at least one
/// certificate must be present.
pub(crate) fn decode(value: &str, format: BackingFormat) -> Result<Material, TlsError> {
    let (keys, certs) = match format {
        BackingFormat::Pkcs12 => from_pkcs12(value)?,
        BackingFormat::Pem => from_pem(value)?,
    };
    if certs.len() > crate::MAX_CERTIFICATES {
        return Err(TlsError::TooManyCertificates(certs.len()));
    }
    let mut unique: Vec<Vec<u8>> = Vec::with_capacity(certs.len());
    for cert in certs {
        if !unique.contains(&cert) {
            unique.push(cert);
        }
    }
    if unique.is_empty() {
        return Err(TlsError::NoCertificate);
    }
    let mut distinct: Vec<PrivateKey> = Vec::with_capacity(1);
    for key in keys {
        // The same key may appear twice (e.g. re-exported bags); only
        // different keys are ambiguous.
        if !distinct.iter().any(|k| k.same_key(&key)) {
            distinct.push(key);
        }
    }
    match distinct.len() {
        0 => Err(TlsError::NoPrivateKey),
        1 => Ok(Material {
            key: distinct.remove(0),
            certs: unique,
        }),
        n => Err(TlsError::MultiplePrivateKeys(n)),
    }
}

fn from_pkcs12(value: &str) -> Result<(Vec<PrivateKey>, Vec<Vec<u8>>), TlsError> {
    // Values copied through YAML or terminals often gain line breaks.
    let compact: String = value.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    let pfx = Zeroizing::new(
        STANDARD
            .decode(compact.as_bytes())
            .map_err(|_| TlsError::InvalidBase64)?,
    );
    if crate::pkcs12_mac::declared_mac_iterations(&pfx)
        .is_some_and(|count| count > u64::from(crate::MAX_PKCS12_ITERATIONS))
    {
        return Err(TlsError::Pkcs12IterationsRefused);
    }
    // Key Vault always exports with the empty password.
    let archive = Pkcs12Archive::from_pkcs12(&pfx, "").map_err(|e| match e {
        // The parser's word for an iteration count over its cap (see MAX_PKCS12_ITERATIONS).
        p12_keystore::error::Error::InvalidParameters => TlsError::Pkcs12IterationsRefused,
        // Causes come from the parser and carry no payload, but bound them
        // so a condition message stays readable.
        other => TlsError::CorruptPkcs12(other.to_string().chars().take(160).collect()),
    })?;
    let keys = archive
        .keys
        .iter()
        .map(|bag| PrivateKey::from_pkcs8(bag.key.as_der()))
        .collect::<Result<Vec<_>, _>>()?;
    let certs = archive
        .certs
        .iter()
        .map(|bag| bag.cert.as_der().to_vec())
        .collect();
    Ok((keys, certs))
}

fn from_pem(value: &str) -> Result<(Vec<PrivateKey>, Vec<Vec<u8>>), TlsError> {
    let mut keys = Vec::new();
    let mut certs = Vec::new();
    for block in pem::parse(value)? {
        match block.label.as_str() {
            "CERTIFICATE" | "X509 CERTIFICATE" => certs.push(block.der.to_vec()),
            "PRIVATE KEY" => keys.push(PrivateKey::from_pkcs8(&block.der)?),
            "RSA PRIVATE KEY" => keys.push(PrivateKey::from_pkcs1(&block.der)?),
            "EC PRIVATE KEY" => keys.push(PrivateKey::from_sec1(&block.der)?),
            // OpenSSL writes the curve separately before SEC1 keys; the key
            // names its curve itself.
            "EC PARAMETERS" => {}
            "ENCRYPTED PRIVATE KEY" => {
                return Err(TlsError::UnsupportedKey(
                    "password-protected PKCS#8 key".into(),
                ));
            }
            other => {
                return Err(TlsError::InvalidPem(format!(
                    "unexpected block {}",
                    pem::printable_label(other)
                )));
            }
        }
    }
    Ok((keys, certs))
}

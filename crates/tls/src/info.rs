//! Facts about the leaf certificate for status fields and logs.

use ring::digest;
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::GeneralName;

use crate::CertificateInfo;

/// Describes `cert` (whose DER is `der`) with a key of `key_algorithm`.
pub(crate) fn describe(
    cert: &X509Certificate<'_>,
    der: &[u8],
    key_algorithm: &str,
) -> CertificateInfo {
    let dns_names = match cert.subject_alternative_name() {
        Ok(Some(san)) => san
            .value
            .general_names
            .iter()
            .filter_map(|n| match n {
                GeneralName::DNSName(name) => Some((*name).to_owned()),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let serial = cert.raw_serial();
    // DER adds a zero byte to keep positive serials positive; tools print
    // the number, not the encoding.
    let serial = match serial.iter().position(|&b| b != 0) {
        Some(first) => &serial[first..],
        None => &serial[serial.len().saturating_sub(1)..],
    };
    CertificateInfo {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        dns_names,
        serial_hex: upper_hex(serial),
        sha1_thumbprint_hex: upper_hex(
            digest::digest(&digest::SHA1_FOR_LEGACY_USE_ONLY, der).as_ref(),
        ),
        sha256_thumbprint_hex: upper_hex(digest::digest(&digest::SHA256, der).as_ref()),
        not_before_unix: cert.validity().not_before.timestamp(),
        not_after_unix: cert.validity().not_after.timestamp(),
        key_algorithm: key_algorithm.to_owned(),
    }
}

/// Upper-case hex without separators, as Key Vault and Windows print thumbprints.
pub(crate) fn upper_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(char::from(DIGITS[usize::from(b >> 4)]));
        s.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hex() {
        assert_eq!(upper_hex(&[0x00, 0xab, 0x5f]), "00AB5F");
        assert_eq!(upper_hex(&[]), "");
    }
}

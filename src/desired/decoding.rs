//! Per-source decoding: a vault secret is text, a Secret key may need bytes (a keystore stored
//! base64-encoded). Errors say what was expected, never which byte was wrong: the byte would be
//! part of the value.

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use zeroize::Zeroizing;

use crate::crd::Decoding;
use crate::vault::SecretValue;

/// Why a value could not be decoded. Carries no part of the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// Not standard base64 (after removing whitespace).
    #[error("the value is not valid base64")]
    NotBase64,
    /// Not URL-safe base64.
    #[error("the value is not valid URL-safe base64 (base64url)")]
    NotBase64Url,
}

/// Both paddings accepted: values come from people and tools that disagree on it.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// Standard base64 of `bytes`, padded, as Kubernetes and Docker write it.
pub fn encode_base64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// Decodes standard base64, ignoring ASCII whitespace (tools wrap base64 at 64 or 76 columns).
pub fn decode_base64(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    STANDARD
        .decode(without_whitespace(text).as_slice())
        .map_err(|_| DecodeError::NotBase64)
}

fn decode_base64_url(text: &[u8]) -> Result<Vec<u8>, DecodeError> {
    URL_SAFE
        .decode(without_whitespace(text).as_slice())
        .map_err(|_| DecodeError::NotBase64Url)
}

fn without_whitespace(text: &[u8]) -> Zeroizing<Vec<u8>> {
    Zeroizing::new(
        text.iter()
            .copied()
            .filter(|b| !b.is_ascii_whitespace())
            .collect(),
    )
}

/// Whether `content_type` marks a base64-encoded binary value (the `Auto` rule).
pub fn is_binary_content_type(content_type: Option<&str>) -> bool {
    let Some(content_type) = content_type else {
        return false;
    };
    let normalized = content_type.trim().to_ascii_lowercase();
    matches!(
        normalized.as_str(),
        "application/x-pkcs12" | "application/octet-stream"
    ) || normalized.replace(' ', "").ends_with(";base64")
}

/// The bytes a Secret key gets from a vault value read with `decoding`.
pub fn decode(
    decoding: Decoding,
    content_type: Option<&str>,
    value: SecretValue,
) -> Result<SecretValue, DecodeError> {
    let decoded = match decoding {
        Decoding::None => return Ok(value),
        Decoding::Auto if !is_binary_content_type(content_type) => return Ok(value),
        Decoding::Base64 | Decoding::Auto => decode_base64(value.expose())?,
        Decoding::Base64Url => decode_base64_url(value.expose())?,
    };
    Ok(SecretValue::new(decoded))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decoded(decoding: Decoding, content_type: Option<&str>, text: &str) -> Vec<u8> {
        decode(decoding, content_type, SecretValue::new(text))
            .unwrap()
            .expose()
            .to_vec()
    }

    #[test]
    fn base64_decodes_with_or_without_padding_and_across_line_breaks() {
        let binary: Vec<u8> = (0..=255).collect();
        let encoded = encode_base64(&binary);
        assert_eq!(decoded(Decoding::Base64, None, &encoded), binary);
        let wrapped: String = encoded
            .as_bytes()
            .chunks(76)
            .map(|line| format!("{}\n", std::str::from_utf8(line).unwrap()))
            .collect();
        assert_eq!(decoded(Decoding::Base64, None, &wrapped), binary);
        assert_eq!(decoded(Decoding::Base64, None, "AAE"), [0, 1]);
        assert_eq!(decoded(Decoding::Base64, None, "AAE="), [0, 1]);
    }

    #[test]
    fn base64url_uses_the_url_alphabet() {
        assert_eq!(decoded(Decoding::Base64Url, None, "-_8"), [0xfb, 0xff]);
        let err = decode(Decoding::Base64, None, SecretValue::new("-_8")).unwrap_err();
        assert_eq!(err, DecodeError::NotBase64);
        let err = decode(Decoding::Base64Url, None, SecretValue::new("+/8")).unwrap_err();
        assert_eq!(err, DecodeError::NotBase64Url);
    }

    #[test]
    fn auto_decodes_only_binary_content_types() {
        assert_eq!(
            decoded(Decoding::Auto, Some("application/x-pkcs12"), "AAE="),
            [0, 1]
        );
        assert_eq!(
            decoded(Decoding::Auto, Some("Application/Octet-Stream"), "AAE="),
            [0, 1]
        );
        assert_eq!(
            decoded(
                Decoding::Auto,
                Some("application/x-java-keystore; base64"),
                "AAE="
            ),
            [0, 1]
        );
        assert_eq!(decoded(Decoding::Auto, Some("text/plain"), "AAE="), b"AAE=");
        assert_eq!(decoded(Decoding::Auto, None, "AAE="), b"AAE=");
        assert_eq!(
            decoded(Decoding::None, Some("application/x-pkcs12"), "AAE="),
            b"AAE="
        );
    }

    #[test]
    fn a_decoding_error_never_shows_the_value() {
        let err = decode(Decoding::Base64, None, SecretValue::new("s3cr3t-!value")).unwrap_err();
        let text = format!("{err} {err:?}");
        assert!(!text.contains("s3cr3t") && !text.contains('!'), "{text}");
    }
}

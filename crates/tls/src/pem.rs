//! Lenient PEM reading and canonical PEM writing.
//!
//! Reading scans for BEGIN/END markers instead of lines so that values whose
//! newlines were mangled (CRLF, one long line, extra indentation) still parse;
//! text between blocks is ignored, as `openssl` does with "Bag Attributes".
//! Errors name the block label and position, never body content.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use zeroize::Zeroizing;

use crate::TlsError;

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// One decoded PEM block; the body is wiped on drop because it may be a key.
pub(crate) struct Block {
    /// The label between `BEGIN ` and the dashes, e.g. `CERTIFICATE`.
    pub label: String,
    /// The decoded DER body.
    pub der: Zeroizing<Vec<u8>>,
}

/// Splits PEM text into decoded blocks, in order of appearance.
pub(crate) fn parse(text: &str) -> Result<Vec<Block>, TlsError> {
    let mut blocks = Vec::new();
    let mut rest = text;
    while let Some(start) = rest.find(BEGIN) {
        let after_begin = &rest[start + BEGIN.len()..];
        let label_end = after_begin
            .find(DASHES)
            .ok_or_else(|| invalid(blocks.len(), "BEGIN line is not terminated"))?;
        let label = &after_begin[..label_end];
        let body_and_rest = &after_begin[label_end + DASHES.len()..];
        let end = body_and_rest
            .find(END)
            .ok_or_else(|| invalid(blocks.len(), "block has no END line"))?;
        let body = &body_and_rest[..end];
        if body.contains(BEGIN) {
            return Err(invalid(blocks.len(), "BEGIN line inside a block"));
        }
        let after_end = &body_and_rest[end + END.len()..];
        let end_label_len = after_end
            .find(DASHES)
            .ok_or_else(|| invalid(blocks.len(), "END line is not terminated"))?;
        if &after_end[..end_label_len] != label {
            return Err(invalid(
                blocks.len(),
                "END label does not match BEGIN label",
            ));
        }
        // RFC 1421 headers (Proc-Type, DEK-Info) mean legacy encryption, which
        // Key Vault never produces; a ':' cannot occur in base64.
        if body.contains(':') {
            return Err(invalid(blocks.len(), "PEM headers are not supported"));
        }
        let der = decode_body(body).ok_or_else(|| invalid(blocks.len(), "body is not base64"))?;
        blocks.push(Block {
            label: label.trim().to_owned(),
            der,
        });
        rest = &after_end[end_label_len + DASHES.len()..];
    }
    if blocks.is_empty() {
        return Err(TlsError::InvalidPem("no PEM block found".into()));
    }
    Ok(blocks)
}

fn decode_body(body: &str) -> Option<Zeroizing<Vec<u8>>> {
    let compact: Zeroizing<String> =
        Zeroizing::new(body.chars().filter(|c| !c.is_ascii_whitespace()).collect());
    if compact.is_empty() {
        return None;
    }
    STANDARD.decode(compact.as_bytes()).ok().map(Zeroizing::new)
}

fn invalid(index: usize, what: &str) -> TlsError {
    TlsError::InvalidPem(format!("block {}: {what}", index + 1))
}

/// A label safe to echo in messages: input text, so only short plain labels.
pub(crate) fn printable_label(label: &str) -> &str {
    let plain = label.len() <= 40
        && label
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == ' ');
    if plain { label } else { "<unrecognized>" }
}

/// Appends `der` as a PEM block with 64-character lines.
///
/// `out` may be a key buffer, so the intermediate base64 is wiped too.
pub(crate) fn encode_into(out: &mut String, label: &str, der: &[u8]) {
    let b64 = Zeroizing::new(STANDARD.encode(der));
    out.push_str(BEGIN);
    out.push_str(label);
    out.push_str("-----\n");
    // base64 output is ASCII, so byte chunks are valid UTF-8 boundaries.
    for line in b64.as_bytes().chunks(64) {
        out.push_str(std::str::from_utf8(line).unwrap_or_default());
        out.push('\n');
    }
    out.push_str(END);
    out.push_str(label);
    out.push_str("-----\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn one(label: &str, der: &[u8]) -> String {
        let mut s = String::new();
        encode_into(&mut s, label, der);
        s
    }

    #[test]
    fn round_trip_and_line_length() {
        let der: Vec<u8> = (0..=255).collect();
        let text = one("CERTIFICATE", &der);
        assert!(text.lines().all(|l| l.len() <= 64));
        let blocks = parse(&text).unwrap();
        assert_eq!(blocks.len(), 1);
        assert_eq!(blocks[0].label, "CERTIFICATE");
        assert_eq!(&blocks[0].der[..], &der[..]);
    }

    #[test]
    fn tolerates_crlf_single_line_and_noise() {
        let a = one("PRIVATE KEY", b"key-bytes").replace('\n', "\r\n");
        let b = one("CERTIFICATE", b"cert-bytes").replace('\n', " ");
        let text = format!("Bag Attributes: x\n{a}junk between\n{b}trailing");
        let blocks = parse(&text).unwrap();
        assert_eq!(blocks.len(), 2);
        assert_eq!(&blocks[0].der[..], b"key-bytes");
        assert_eq!(blocks[1].label, "CERTIFICATE");
    }

    #[test]
    fn rejects_malformed_without_echoing_content() {
        let cases = [
            "",
            "no markers here",
            "-----BEGIN CERTIFICATE-----\nAAAA\n",
            "-----BEGIN CERTIFICATE-----\nAAAA\n-----END PRIVATE KEY-----\n",
            "-----BEGIN CERTIFICATE-----\nSECRET!!\n-----END CERTIFICATE-----\n",
            "-----BEGIN CERTIFICATE-----\n\n-----END CERTIFICATE-----\n",
            "-----BEGIN RSA PRIVATE KEY-----\nProc-Type: 4,ENCRYPTED\nAAAA\n-----END RSA PRIVATE KEY-----",
            "-----BEGIN X-----\n-----BEGIN X-----\nAAAA\n-----END X-----",
            "-----BEGIN CERT",
        ];
        for c in cases {
            let err = parse(c).err().expect(c);
            assert!(!err.to_string().contains("SECRET"), "{err}");
        }
    }

    #[test]
    fn label_echo_is_restricted() {
        assert_eq!(printable_label("EC PARAMETERS"), "EC PARAMETERS");
        assert_eq!(printable_label("x\u{1b}[31m"), "<unrecognized>");
    }
}

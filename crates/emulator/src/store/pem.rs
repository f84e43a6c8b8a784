//! PEM encoding and decoding (RFC 7468 text blocks), enough for keys and certificate chains.

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

/// Decodes every `-----BEGIN {label}-----` block in order; `None` if a block is malformed.
pub(crate) fn decode_all(text: &str) -> Option<Vec<(String, Vec<u8>)>> {
    let mut out = Vec::new();
    let mut lines = text.lines().map(str::trim);
    while let Some(line) = lines.next() {
        let Some(label) = line
            .strip_prefix("-----BEGIN ")
            .and_then(|l| l.strip_suffix("-----"))
        else {
            continue;
        };
        let end = format!("-----END {label}-----");
        let mut b64 = String::new();
        let mut closed = false;
        for l in lines.by_ref() {
            if l == end {
                closed = true;
                break;
            }
            // Headers such as "Proc-Type:" only appear in legacy encrypted keys; skip them.
            if !l.contains(':') {
                b64.push_str(l);
            }
        }
        if !closed {
            return None;
        }
        out.push((label.to_owned(), STANDARD.decode(b64).ok()?));
    }
    Some(out)
}

/// Encodes one block with 64-character lines.
pub(crate) fn encode(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut s = format!("-----BEGIN {label}-----\n");
    for chunk in b64.as_bytes().chunks(64) {
        s.push_str(&String::from_utf8_lossy(chunk));
        s.push('\n');
    }
    s.push_str(&format!("-----END {label}-----\n"));
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip() {
        let der: Vec<u8> = (0..200u8).collect();
        let text = format!(
            "junk\n{}{}",
            encode("CERTIFICATE", &der),
            encode("PRIVATE KEY", &[1, 2])
        );
        let blocks = decode_all(&text).unwrap();
        assert_eq!(blocks[0], ("CERTIFICATE".into(), der));
        assert_eq!(blocks[1].0, "PRIVATE KEY");
        assert!(decode_all("-----BEGIN X-----\nAAAA\n").is_none());
    }
}

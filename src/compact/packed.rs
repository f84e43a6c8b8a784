//! JSON text kept per resource (the resource itself, its last status, its cached Secret), packed:
//! the field names
//! and values every resource repeats become one or two bytes, and timestamps, uids and vault
//! version ids (fixed-width digit and hex runs) become half their size or less. serde_json never
//! writes a raw control byte, so the bytes below 0x20 are free to stand for what was replaced;
//! unpacking gives back the exact text, whatever it holds.

/// Texts every resource or status repeats, one byte each (`0x02 + index`).
const SHORT: [&str; 27] = [
    "{\"apiVersion\":\"vaultsync.dev/v1alpha1\",\"kind\":\"VaultSecret\",\"metadata\":{",
    "{\"apiVersion\":\"vaultsync.dev/v1alpha1\",\"kind\":\"VaultCertificate\",\"metadata\":{",
    "\"generation\":",
    "\"name\":\"",
    "\"namespace\":\"",
    "\"uid\":\"",
    "\"spec\":{\"vault\":{\"url\":\"",
    "\"serviceAccountName\":\"",
    "\"data\":[",
    "\"keys\":[]",
    "\"dataFrom\":[]",
    "\"target\":{\"creationPolicy\":\"Owner\",\"deletionPolicy\":\"Delete\"}",
    "\"onVaultRemoval\":\"Keep\"",
    "\"refreshInterval\":\"",
    "\"key\":\"",
    "\"observedGeneration\":",
    "\"conditions\":[{\"type\":\"Ready\",\"status\":\"",
    "\"type\":\"",
    "\"status\":\"",
    "\"reason\":\"",
    "\"message\":\"",
    "\"lastTransitionTime\":\"",
    "\"secretName\":\"",
    "\"lastSyncTime\":\"",
    "\"nextRefreshTime\":\"",
    "\"versions\":[",
    "\"version\":\"",
];

/// Less frequent ones and those of cached Secrets, two bytes each ([`EXTENDED`] then the index;
/// at most 256).
const LONG: &[&str] = &[
    "\"True\"",
    "\"False\"",
    "\"Unknown\"",
    "\"Synced\"",
    "\"updated\":",
    "\"decoding\":\"",
    "\"annotations\":{",
    "\"status\":null",
    "\"template\":",
    "\"lastForceRefresh\":\"",
    "\"certificate\":{",
    "\"subject\":\"",
    "\"issuer\":\"",
    "\"dnsNames\":[",
    "\"serialNumber\":\"",
    "\"sha1Thumbprint\":\"",
    "\"sha256Thumbprint\":\"",
    "\"notBefore\":\"",
    "\"notAfter\":\"",
    "\"keyAlgorithm\":\"",
    "\"WithinBudget\"",
    "\"ExpiringSoon\"",
    "\"ChainValid\"",
    "\"CertificateValid\"",
    "\"ChainComplete\"",
    "\"vaultsync.dev/force-refresh\":\"",
    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"data\":{",
    "{\"apiVersion\":\"v1\",\"kind\":\"Secret\",\"metadata\":{",
    "\"metadata\":{\"annotations\":{\"vaultsync.dev/content-hash\":\"",
    "\"vaultsync.dev/content-hash\":\"",
    "\"vaultsync.dev/observed-content-hash\":\"",
    "\"vaultsync.dev/owner\":\"VaultSecret/",
    "\"vaultsync.dev/owner\":\"VaultCertificate/",
    "\"labels\":{\"app.kubernetes.io/managed-by\":\"vaultsync\",\"vaultsync.dev/owner-uid\":\"",
    "\"ownerReferences\":[{\"apiVersion\":\"vaultsync.dev/v1alpha1\",\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"VaultSecret\",\"name\":\"",
    "\"ownerReferences\":[{\"apiVersion\":\"vaultsync.dev/v1alpha1\",\"blockOwnerDeletion\":true,\"controller\":true,\"kind\":\"VaultCertificate\",\"name\":\"",
    "\"resourceVersion\":\"",
    "\"type\":\"Opaque\"}",
    "\"type\":\"kubernetes.io/tls\"}",
    "\":\"\"",
];

/// The whole text follows as is (it held a control byte: never from serde_json).
const RAW: u8 = 0x00;
/// A [`LONG`] text: its index follows.
const EXTENDED: u8 = 0x01;
/// 32 lowercase hex digits (a vault version id) in 16 bytes.
const HEX32: u8 = 0x1d;
/// A lowercase uid (8-4-4-4-12 hex digits) in 16 bytes.
const UID: u8 = 0x1e;
/// An RFC 3339 time to the second (`2026-12-02T03:00:00Z`), its 14 digits in 7 bytes.
const TIME: u8 = 0x1f;

/// JSON text, packed. Cheap to keep, a few microseconds to pack or unpack.
#[derive(Clone, PartialEq, Eq)]
pub struct Packed(Box<[u8]>);

impl std::fmt::Debug for Packed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Packed({} bytes)", self.0.len())
    }
}

impl Packed {
    /// `text`, packed.
    pub fn pack(text: &str) -> Self {
        let bytes = text.as_bytes();
        if bytes.iter().any(|b| *b < 0x20) {
            let mut raw = Vec::with_capacity(bytes.len() + 1);
            raw.push(RAW);
            raw.extend_from_slice(bytes);
            return Packed(raw.into_boxed_slice());
        }
        let mut out = Vec::with_capacity(bytes.len() / 2);
        let mut at = 0;
        while at < bytes.len() {
            at += pack_one(&bytes[at..], &mut out);
        }
        Packed(out.into_boxed_slice())
    }

    /// The text that was packed.
    pub fn unpack(&self) -> String {
        let bytes = &self.0;
        if bytes.first() == Some(&RAW) {
            return String::from_utf8_lossy(&bytes[1..]).into_owned();
        }
        let mut out = Vec::with_capacity(bytes.len() * 2);
        let mut at = 0;
        while at < bytes.len() {
            at += unpack_one(&bytes[at..], &mut out);
        }
        // Only valid UTF-8 and ASCII expansions went in.
        String::from_utf8(out)
            .unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
    }

    /// Bytes kept.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether nothing is kept.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// Packs what starts `rest` into `out`; returns how many bytes of `rest` it took.
fn pack_one(rest: &[u8], out: &mut Vec<u8>) -> usize {
    if let Some(digits) = time_digits(rest) {
        out.push(TIME);
        out.extend(digits.chunks(2).map(|pair| (pair[0] << 4) | pair[1]));
        return 20;
    }
    if is_uid(rest) {
        out.push(UID);
        let hex: Vec<u8> = rest[..36].iter().copied().filter(|b| *b != b'-').collect();
        push_hex(&hex, out);
        return 36;
    }
    if rest.len() >= 32 && rest[..32].iter().all(|b| hex_value(*b).is_some()) {
        out.push(HEX32);
        push_hex(&rest[..32], out);
        return 32;
    }
    if matches!(rest[0], b'"' | b'{') {
        let longest = |table: &[&str]| {
            table
                .iter()
                .enumerate()
                .filter(|(_, text)| rest.starts_with(text.as_bytes()))
                .max_by_key(|(_, text)| text.len())
                .map(|(index, text)| (index as u8, text.len()))
        };
        match (longest(&SHORT), longest(LONG)) {
            (Some((index, len)), long) if long.is_none_or(|(_, l)| l <= len) => {
                out.push(0x02 + index);
                return len;
            }
            (_, Some((index, len))) => {
                out.extend([EXTENDED, index]);
                return len;
            }
            _ => {}
        }
    }
    out.push(rest[0]);
    1
}

/// Unpacks what starts `rest` into `out`; returns how many bytes of `rest` it took.
fn unpack_one(rest: &[u8], out: &mut Vec<u8>) -> usize {
    match rest[0] {
        TIME if rest.len() >= 8 => {
            let digit = |i: usize| b'0' + ((rest[1 + i / 2] >> (4 * (1 - i % 2))) & 0x0f);
            let digits: Vec<u8> = (0..14).map(digit).collect();
            out.extend_from_slice(&digits[..4]);
            out.push(b'-');
            out.extend_from_slice(&digits[4..6]);
            out.push(b'-');
            out.extend_from_slice(&digits[6..8]);
            out.push(b'T');
            out.extend_from_slice(&digits[8..10]);
            out.push(b':');
            out.extend_from_slice(&digits[10..12]);
            out.push(b':');
            out.extend_from_slice(&digits[12..14]);
            out.push(b'Z');
            8
        }
        UID if rest.len() >= 17 => {
            let hex = hex_text(&rest[1..17]);
            for (i, group) in [8, 4, 4, 4, 12]
                .iter()
                .scan(0, |start, len| {
                    let range = *start..*start + len;
                    *start += len;
                    Some(range)
                })
                .enumerate()
            {
                if i > 0 {
                    out.push(b'-');
                }
                out.extend_from_slice(&hex[group]);
            }
            17
        }
        HEX32 if rest.len() >= 17 => {
            out.extend(hex_text(&rest[1..17]));
            17
        }
        EXTENDED if rest.len() >= 2 => {
            if let Some(text) = LONG.get(usize::from(rest[1])) {
                out.extend_from_slice(text.as_bytes());
            }
            2
        }
        code @ 0x02..0x1d => {
            out.extend_from_slice(SHORT[usize::from(code - 0x02)].as_bytes());
            1
        }
        byte => {
            out.push(byte);
            1
        }
    }
}

/// The 14 digits of an RFC 3339 time to the second starting `rest`, each as its value.
fn time_digits(rest: &[u8]) -> Option<[u8; 14]> {
    const SHAPE: &[u8; 20] = b"dddd-dd-ddTdd:dd:ddZ";
    let candidate = rest.get(..20)?;
    let mut digits = [0u8; 14];
    let mut n = 0;
    for (byte, shape) in candidate.iter().zip(SHAPE) {
        if *shape == b'd' {
            if !byte.is_ascii_digit() {
                return None;
            }
            digits[n] = byte - b'0';
            n += 1;
        } else if byte != shape {
            return None;
        }
    }
    Some(digits)
}

fn is_uid(rest: &[u8]) -> bool {
    rest.len() >= 36
        && rest[..36].iter().enumerate().all(|(i, b)| match i {
            8 | 13 | 18 | 23 => *b == b'-',
            _ => hex_value(*b).is_some(),
        })
}

/// The value of a lowercase hex digit.
fn hex_value(byte: u8) -> Option<u8> {
    match byte {
        b'0'..=b'9' => Some(byte - b'0'),
        b'a'..=b'f' => Some(byte - b'a' + 10),
        _ => None,
    }
}

/// Pushes lowercase hex digits (an even number) as bytes.
fn push_hex(hex: &[u8], out: &mut Vec<u8>) {
    for pair in hex.chunks(2) {
        let high = hex_value(pair[0]).unwrap_or(0);
        let low = hex_value(pair[1]).unwrap_or(0);
        out.push((high << 4) | low);
    }
}

fn hex_text(bytes: &[u8]) -> Vec<u8> {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    bytes
        .iter()
        .flat_map(|b| [DIGITS[usize::from(b >> 4)], DIGITS[usize::from(b & 0x0f)]])
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn round_trip(text: &str) -> Packed {
        let packed = Packed::pack(text);
        assert_eq!(packed.unpack(), text, "packed as {:?}", packed.0);
        packed
    }

    #[test]
    fn a_status_comes_back_exactly_and_is_at_most_half_its_size() {
        let status = r#"{"observedGeneration":3,"conditions":[{"type":"Ready","status":"True","reason":"Synced","message":"Secret app synced from 2 vault item(s)","lastTransitionTime":"2026-12-02T03:00:59Z","observedGeneration":3}],"secretName":"app","lastSyncTime":"2026-12-02T03:00:59Z","nextRefreshTime":"2026-12-02T03:01:58Z","versions":[{"key":"user","name":"db-user","version":"0123456789abcdef0123456789abcdef","updated":1764644459},{"key":"password","name":"db-pass","version":"fedcba9876543210fedcba9876543210"}]}"#;
        let packed = round_trip(status);
        assert!(
            packed.len() * 2 <= status.len(),
            "{} of {}",
            packed.len(),
            status.len()
        );
    }

    #[test]
    fn a_resource_comes_back_exactly() {
        round_trip(
            r#"{"apiVersion":"vaultsync.dev/v1alpha1","kind":"VaultSecret","metadata":{"generation":1,"name":"vs-01234","namespace":"bench","uid":"0a23456c-89ab-4def-8123-456789abcdef"},"spec":{"vault":{"url":"https://127.0.0.1:8443/","serviceAccountName":"app"},"data":[{"key":"value","name":"s01234"}],"keys":[],"dataFrom":[],"target":{"creationPolicy":"Owner","deletionPolicy":"Delete"},"onVaultRemoval":"Keep","refreshInterval":"60s"}}"#,
        );
    }

    #[test]
    fn near_misses_and_any_other_text_come_back_exactly() {
        for text in [
            "",
            "\"",
            "2026-12-02T03:00:59",
            "2026-12-02T03:00:59.123Z",
            "9999-99-99T99:99:99Z0000-00-00T00:00:00Z",
            "0123456789ABCDEF0123456789abcdef",
            "0123456789abcdef0123456789abcde",
            "0123456789abcdef0123456789abcdef0123456789abcdef0",
            "0a23456c-89ab-4def-8123-456789abcdeF",
            "0a23456c-89ab-4def-8123-456789abcdef-",
            "\"True\"\"False\"\"Tru\"\"status\":null\"status\":\"x",
            "naïve ✓ \\u0001 \"key\":\"ключ\"",
            "line\nbreak and \u{1} control bytes",
        ] {
            round_trip(text);
        }
    }

    #[test]
    fn every_table_text_comes_back_exactly_alone_and_together() {
        assert!(LONG.len() <= 256);
        let all: String = SHORT.iter().chain(LONG.iter()).copied().collect();
        round_trip(&all);
        for text in SHORT.iter().chain(LONG.iter()) {
            assert!(round_trip(text).len() <= 2);
        }
    }
}

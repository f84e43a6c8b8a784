//! The iteration count a PKCS#12 container's MAC declares, read before the parser derives
//! anything. The parser refuses counts above its cap, but it decodes the count as an `i32`:
//! a count of 2^31 or more reaches it as a DER decoding error, not as a count to refuse. Reading
//! the count here gives every oversized count the same precise reason.
//!
//! PFX ::= SEQUENCE { version INTEGER, authSafe ContentInfo, macData MacData OPTIONAL }
//! MacData ::= SEQUENCE { mac DigestInfo, macSalt OCTET STRING, iterations INTEGER DEFAULT 1 }

const SEQUENCE: u8 = 0x30;
const INTEGER: u8 = 0x02;
const OCTET_STRING: u8 = 0x04;

/// The MAC iteration count `pfx` declares (saturating at `u64::MAX`); `None` when it has no MAC
/// or its outer structure cannot be read (the parser then reports what is wrong).
pub(crate) fn declared_mac_iterations(pfx: &[u8]) -> Option<u64> {
    let (pfx, _) = element(pfx, SEQUENCE)?;
    let (_, rest) = element(pfx, INTEGER)?;
    let (_, rest) = element(rest, SEQUENCE)?;
    let (mac_data, _) = element(rest, SEQUENCE)?;
    let (_, rest) = element(mac_data, SEQUENCE)?;
    let (_, rest) = element(rest, OCTET_STRING)?;
    match element(rest, INTEGER) {
        Some((count, _)) => non_negative(count),
        None => Some(1),
    }
}

/// The content of the element with `tag` at the start of `input`, and what follows it.
fn element(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&found, rest) = input.split_first()?;
    if found != tag {
        return None;
    }
    let (&first, rest) = rest.split_first()?;
    let (length, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let octets = usize::from(first & 0x7f);
        if octets == 0 || octets > 4 || rest.len() < octets {
            return None;
        }
        let (length, rest) = rest.split_at(octets);
        let length = length
            .iter()
            .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
        (length, rest)
    };
    (rest.len() >= length).then(|| rest.split_at(length))
}

/// A DER INTEGER's value when it is not negative, saturating at `u64::MAX`.
fn non_negative(content: &[u8]) -> Option<u64> {
    let (&first, _) = content.split_first()?;
    if first & 0x80 != 0 {
        return None;
    }
    let significant: Vec<u8> = content.iter().copied().skip_while(|b| *b == 0).collect();
    if significant.len() > 8 {
        return Some(u64::MAX);
    }
    Some(
        significant
            .iter()
            .fold(0u64, |acc, b| (acc << 8) | u64::from(*b)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(tag: u8, content: &[u8]) -> Vec<u8> {
        assert!(content.len() < 0x80, "short form is enough here");
        [&[tag, content.len() as u8][..], content].concat()
    }

    fn pfx(count: Option<&[u8]>) -> Vec<u8> {
        let digest_info = tlv(SEQUENCE, &tlv(OCTET_STRING, &[0; 4]));
        let mut mac_data = [digest_info, tlv(OCTET_STRING, &[7; 8])].concat();
        if let Some(count) = count {
            mac_data.extend(tlv(INTEGER, count));
        }
        let body = [
            tlv(INTEGER, &[3]),
            tlv(SEQUENCE, &[]),
            tlv(SEQUENCE, &mac_data),
        ]
        .concat();
        tlv(SEQUENCE, &body)
    }

    #[test]
    fn reads_the_declared_count_of_any_size() {
        assert_eq!(
            declared_mac_iterations(&pfx(Some(&[0x08, 0x00]))),
            Some(2048)
        );
        assert_eq!(
            declared_mac_iterations(&pfx(Some(&[0x00, 0x80, 0, 0, 0]))),
            Some(1 << 31)
        );
        assert_eq!(
            declared_mac_iterations(&pfx(Some(&[0x7f; 12]))),
            Some(u64::MAX)
        );
        assert_eq!(declared_mac_iterations(&pfx(None)), Some(1), "DEFAULT 1");
    }

    #[test]
    fn anything_else_is_left_to_the_parser() {
        assert_eq!(
            declared_mac_iterations(&pfx(Some(&[0xff]))),
            None,
            "negative"
        );
        assert_eq!(declared_mac_iterations(b"not der"), None);
        let no_mac = tlv(SEQUENCE, &[tlv(INTEGER, &[3]), tlv(SEQUENCE, &[])].concat());
        assert_eq!(declared_mac_iterations(&no_mac), None);
        let mut truncated = pfx(Some(&[0x08, 0x00]));
        truncated.truncate(truncated.len() - 3);
        assert_eq!(declared_mac_iterations(&truncated), None);
    }
}

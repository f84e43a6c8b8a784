//! Random and derived identifiers: object versions, trace ids and GUID-shaped object ids. The
//! emulator's one hex encoder lives here.

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    hex::encode(bytes)
}

/// A fresh version id: 32 lowercase hex characters (also used for trace and correlation ids).
pub(crate) fn new_version() -> String {
    let mut b = [0u8; 16];
    // SystemRandom only fails if the OS RNG is unavailable; fall back to the clock so ids stay
    // unique rather than panicking.
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut b).is_err() {
        let n = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        b = n.to_le_bytes();
    }
    hex(&b)
}

/// A stable object id for an app in a tenant, formatted as a GUID.
pub(crate) fn object_id(tenant: &str, client_id: &str) -> String {
    let d = ring::digest::digest(
        &ring::digest::SHA256,
        format!("{tenant}/{client_id}").as_bytes(),
    );
    let h = hex(&d.as_ref()[..16]);
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

#[cfg(test)]
mod tests {
    #[test]
    fn shapes() {
        assert_eq!(super::hex(&[0, 0xab, 0x10]), "00ab10");
        let v = super::new_version();
        assert_eq!(v.len(), 32);
        assert_ne!(v, super::new_version());
        let oid = super::object_id("t", "c");
        assert_eq!(oid.len(), 36);
        assert_eq!(oid, super::object_id("t", "c"));
    }
}

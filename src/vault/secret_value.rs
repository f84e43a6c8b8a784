use std::fmt;
use std::sync::Arc;

use zeroize::Zeroizing;

/// A secret value that never prints itself (Debug and Display show `<redacted>`) and is wiped
/// from memory when its last holder drops it.
///
/// Bytes, because a Secret key may hold binary data (a PKCS#12 keystore). Shared (`Arc`) so that
/// one fetch can serve many resources without copying the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<Zeroizing<Vec<u8>>>);

impl SecretValue {
    /// Wraps a value read from the vault or built from it.
    pub fn new(value: impl Into<Vec<u8>>) -> Self {
        SecretValue(Arc::new(Zeroizing::new(value.into())))
    }

    /// The value itself, for building the Secret's data and nothing else.
    pub fn expose(&self) -> &[u8] {
        &self.0
    }

    /// The value as text, when it is UTF-8 (vault secrets always are).
    pub fn expose_str(&self) -> Option<&str> {
        std::str::from_utf8(&self.0).ok()
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SecretValue(<redacted>)")
    }
}

impl fmt::Display for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_and_display_never_show_the_value() {
        let value = SecretValue::new("hunter2");
        assert!(!format!("{value:?}").contains("hunter2"));
        assert!(!format!("{value}").contains("hunter2"));
        assert_eq!(value.expose(), b"hunter2");
    }
}

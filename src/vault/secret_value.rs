use std::fmt;
use std::sync::Arc;

/// A secret value that never prints itself: Debug and Display show `<redacted>`.
///
/// Shared (`Arc`) so that one fetch can serve many resources without copying the value.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Arc<str>);

impl SecretValue {
    /// Wraps a value read from the vault.
    pub fn new(value: impl Into<Arc<str>>) -> Self {
        SecretValue(value.into())
    }

    /// The value itself, for building the Secret's data and nothing else.
    pub fn expose(&self) -> &str {
        &self.0
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
        assert_eq!(value.expose(), "hunter2");
    }
}

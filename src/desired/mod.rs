//! Pure builders: from spec + vault data to the exact Secret to write. No I/O here.

pub mod certificate;
pub mod config_map;
pub mod content_key;
pub mod decoding;
pub mod public_key;
pub mod secret;
pub mod select;
pub mod shape;
pub mod template;
pub mod typed;

/// Label on every Secret vaultsync writes; the operator watches only Secrets carrying it.
pub const MANAGED_BY_LABEL: &str = "app.kubernetes.io/managed-by";
/// Value of [`MANAGED_BY_LABEL`].
pub const MANAGED_BY_VALUE: &str = "vaultsync";
/// Label naming the uid of the resource that manages the Secret.
pub const OWNER_UID_LABEL: &str = "vaultsync.dev/owner-uid";
/// Annotation naming the managing resource as `Kind/name`.
pub const OWNER_ANNOTATION: &str = "vaultsync.dev/owner";
/// Annotation an owner of an existing Secret sets to consent to its adoption, naming the
/// adopting resource as `Kind/name`.
pub const ADOPT_ANNOTATION: &str = "vaultsync.dev/adopt";
/// Secret types vaultsync never writes or adopts: they grant API access or belong to other tools.
pub const PROTECTED_SECRET_TYPES: [&str; 3] = [
    "kubernetes.io/service-account-token",
    "bootstrap.kubernetes.io/token",
    "helm.sh/release.v1",
];
/// Annotation with the keyed hash of the Secret's type and data (see [`content_key`]): equal
/// hash, nothing to write.
pub const CONTENT_HASH_ANNOTATION: &str = "vaultsync.dev/content-hash";

/// Annotation the operator's cache puts on a Secret in place of its values: the content hash of
/// the data it observed. Never written to the API server.
pub const OBSERVED_HASH_ANNOTATION: &str = "vaultsync.dev/observed-content-hash";

/// Lowercase hexadecimal of `bytes`, as digests are written in annotations.
pub(crate) fn lower_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn hex_is_lowercase_two_digits_a_byte() {
        assert_eq!(super::lower_hex(&[0x00, 0xab, 0x5f]), "00ab5f");
        assert_eq!(super::lower_hex(&[]), "");
    }
}

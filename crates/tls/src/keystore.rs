//! The optional PKCS#12 keystore output for Java and .NET consumers.
//!
//! Written with p12-keystore's defaults (PBES2 AES-256-CBC, PBKDF2 and an
//! HMAC-SHA-256 MAC), which OpenSSL 3 reads without its legacy provider.

use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKeyChain};
use zeroize::Zeroizing;

use crate::TlsError;
use crate::key::PrivateKey;

/// Alias of the key entry, stable so consumers can configure it
/// (`keytool -alias tls`).
pub const KEYSTORE_ALIAS: &str = "tls";

/// Builds a password-protected PKCS#12 with `key` and `chain` (leaf first).
pub(crate) fn write(
    key: &PrivateKey,
    chain: &[&[u8]],
    local_key_id: &[u8],
    password: &str,
) -> Result<Zeroizing<Vec<u8>>, TlsError> {
    let encode_err = |what: &str| TlsError::Pkcs12Encode(what.to_owned());
    let p12_key = p12_keystore::PrivateKey::from_der(key.pkcs8_der())
        .map_err(|_| encode_err("private key rejected"))?;
    let certs = chain
        .iter()
        .map(|der| Certificate::from_der(der))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| encode_err("certificate rejected"))?;
    let mut store = KeyStore::new();
    store.add_entry(
        KEYSTORE_ALIAS,
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(local_key_id.to_vec(), p12_key, certs)),
    );
    let bytes = store
        .writer(password)
        .write()
        .map_err(|e| TlsError::Pkcs12Encode(e.to_string()))?;
    Ok(Zeroizing::new(bytes))
}

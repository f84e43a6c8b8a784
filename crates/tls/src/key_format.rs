//! Writing `tls.key` in the encoding the user asked for.
//!
//! PKCS#1 and SEC1 are the inner structures of a PKCS#8 key, so conversion is
//! unwrapping; SEC1 additionally gets its curve named, because OpenSSL cannot
//! load a bare `EC PRIVATE KEY` without it.

use pkcs8::PrivateKeyInfoRef;
use pkcs8::der::{Decode, Encode};
use sec1::{EcParameters, EcPrivateKey};
use zeroize::Zeroizing;

use crate::key::PrivateKey;
use crate::{KeyFormat, TlsError, pem};

/// PEM text of `key` in `format`; the buffer is wiped on drop.
pub(crate) fn encode(key: &PrivateKey, format: KeyFormat) -> Result<Zeroizing<String>, TlsError> {
    let mut out = Zeroizing::new(String::new());
    match (format, key.curve()) {
        (KeyFormat::Pkcs8, _) => pem::encode_into(&mut out, "PRIVATE KEY", key.pkcs8_der()),
        (KeyFormat::Pkcs1, None) => {
            pem::encode_into(&mut out, "RSA PRIVATE KEY", inner(key)?);
        }
        (KeyFormat::Sec1, Some(curve)) => {
            let mut ec = EcPrivateKey::from_der(inner(key)?).map_err(|_| corrupt())?;
            ec.parameters = Some(EcParameters::NamedCurve(curve));
            let der = Zeroizing::new(ec.to_der().map_err(|_| corrupt())?);
            pem::encode_into(&mut out, "EC PRIVATE KEY", &der);
        }
        (format, _) => {
            return Err(TlsError::KeyFormatUnsupported {
                format,
                algorithm: key.algorithm().to_owned(),
            });
        }
    }
    Ok(out)
}

/// The algorithm-specific structure inside the PKCS#8 envelope.
fn inner(key: &PrivateKey) -> Result<&[u8], TlsError> {
    let info = PrivateKeyInfoRef::from_der(key.pkcs8_der()).map_err(|_| corrupt())?;
    Ok(info.private_key.as_bytes())
}

// Unreachable for keys that passed `PrivateKey` validation; kept as an error
// rather than a panic so a library bug cannot take the operator down.
fn corrupt() -> TlsError {
    TlsError::InvalidPrivateKey("cannot re-encode validated key".into())
}

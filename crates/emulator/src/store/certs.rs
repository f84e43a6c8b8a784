//! Certificate import: parse a PFX or PEM bundle, find the leaf, order the chain, and build the
//! certificate version plus the value of its backing secret (PFX or PEM), as Key Vault does.

use super::pem;
use super::{CertVersion, SecretMeta, StoreError, VaultData};
use crate::ids::new_version;
use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use x509_parser::prelude::{FromDer, GeneralName, X509Certificate};
use x509_parser::public_key::PublicKey;

/// Content type of a PKCS#12 backing secret.
pub(crate) const PKCS12: &str = "application/x-pkcs12";
/// Content type of a PEM backing secret.
pub(crate) const PEM: &str = "application/x-pem-file";

/// The uploaded material.
#[derive(Debug, Clone)]
pub(crate) enum Source {
    /// PKCS#12 DER and its password.
    Pfx(Vec<u8>, String),
    /// PEM text: PKCS#8 key and certificates, in any order.
    Pem(String),
}

/// An import request, already decoded from REST or control input.
#[derive(Debug, Clone)]
pub(crate) struct ImportInput {
    pub source: Source,
    /// Backing secret content type; defaults to the upload's format.
    pub content_type: Option<String>,
    pub exportable: bool,
    pub enabled: bool,
    pub tags: BTreeMap<String, String>,
    pub preserve_order: bool,
}

fn bad(msg: &str) -> StoreError {
    StoreError::BadParameter(msg.to_owned())
}

/// Decodes the upload into (PKCS#8 key, certificates as uploaded).
fn decode(source: &Source) -> Result<(Vec<u8>, Vec<Vec<u8>>), StoreError> {
    match source {
        Source::Pfx(der, pwd) => {
            let archive = p12_keystore::Pkcs12Archive::from_pkcs12(der, pwd).map_err(|_| {
                bad("The specified PKCS#12 X.509 certificate content can not be read. Please check if certificate is in valid PKCS#12 format.")
            })?;
            let key = archive.keys.first().ok_or_else(|| {
                bad("Private key is not specified in the specified X.509 PKCS#12 certificate content. Please specify private key in the X.509 certificate content.")
            })?;
            let certs = archive.certs.iter().map(|b| b.cert.as_der().to_vec());
            Ok((key.key.as_der().to_vec(), certs.collect()))
        }
        Source::Pem(text) => {
            let blocks = pem::decode_all(text).ok_or_else(|| {
                bad("The specified PEM X.509 certificate content is in an unexpected format. Please check if certificate is in valid PEM format.")
            })?;
            let mut key = None;
            let mut certs = Vec::new();
            for (label, der) in blocks {
                match label.as_str() {
                    "CERTIFICATE" => certs.push(der),
                    "PRIVATE KEY" => key = Some(der),
                    // Key Vault only takes PKCS#8 keys in PEM.
                    l if l.ends_with("PRIVATE KEY") => {
                        return Err(bad(
                            "The specified PEM X.509 certificate content is in an unexpected format. Please check if certificate is in valid PEM format. The private key must be in PKCS#8 format.",
                        ));
                    }
                    _ => {}
                }
            }
            let key = key.ok_or_else(|| {
                bad("Private key is not specified in the specified X.509 PEM certificate content. Please specify private key in the X.509 certificate content.")
            })?;
            Ok((key, certs))
        }
    }
}

/// The public key bytes (as in a certificate's subjectPublicKey) of a PKCS#8 key, if ring
/// understands the key type.
fn public_key_of(pkcs8: &[u8]) -> Option<Vec<u8>> {
    use ring::signature::{self as sig, KeyPair};
    let rng = ring::rand::SystemRandom::new();
    for alg in [
        &sig::ECDSA_P256_SHA256_ASN1_SIGNING,
        &sig::ECDSA_P384_SHA384_ASN1_SIGNING,
    ] {
        if let Ok(k) = sig::EcdsaKeyPair::from_pkcs8(alg, pkcs8, &rng) {
            return Some(k.public_key().as_ref().to_vec());
        }
    }
    if let Ok(k) = sig::RsaKeyPair::from_pkcs8(pkcs8) {
        return Some(k.public_key().as_ref().to_vec());
    }
    sig::Ed25519KeyPair::from_pkcs8_maybe_unchecked(pkcs8)
        .ok()
        .map(|k| k.public_key().as_ref().to_vec())
}

/// Orders certificates leaf first, then each issuer; unrelated ones keep upload order at the end.
fn order_chain(parsed: &[X509Certificate<'_>], key_pub: Option<&[u8]>) -> Vec<usize> {
    let n = parsed.len();
    let is_issuer_of_other = |i: usize| {
        (0..n).any(|j| {
            j != i
                && parsed[j].issuer().as_raw() == parsed[i].subject().as_raw()
                && parsed[j].subject().as_raw() != parsed[j].issuer().as_raw()
        })
    };
    let leaf = key_pub
        .and_then(|k| (0..n).find(|&i| &*parsed[i].public_key().subject_public_key.data == k))
        .or_else(|| (0..n).find(|&i| !is_issuer_of_other(i)))
        .unwrap_or(0);
    let mut order = vec![leaf];
    let mut cur = leaf;
    loop {
        let c = &parsed[cur];
        if c.subject().as_raw() == c.issuer().as_raw() {
            break;
        }
        let next = (0..n)
            .find(|&i| !order.contains(&i) && parsed[i].subject().as_raw() == c.issuer().as_raw());
        match next {
            Some(i) => {
                order.push(i);
                cur = i;
            }
            None => break,
        }
    }
    let rest: Vec<usize> = (0..n).filter(|i| !order.contains(i)).collect();
    order.extend(rest);
    order
}

/// Key properties and public JWK of the leaf's key.
fn key_info(leaf: &X509Certificate<'_>) -> (Value, Value) {
    match leaf.public_key().parsed() {
        Ok(PublicKey::RSA(rsa)) => {
            let n = rsa
                .modulus
                .iter()
                .skip_while(|b| **b == 0)
                .copied()
                .collect::<Vec<_>>();
            (
                json!({"kty": "RSA", "key_size": rsa.key_size()}),
                json!({"kty": "RSA", "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(rsa.exponent)}),
            )
        }
        Ok(PublicKey::EC(point)) => {
            let d = point.data();
            let (crv, len) = match d.len() {
                97 => ("P-384", 48),
                133 => ("P-521", 66),
                _ => ("P-256", 32),
            };
            let (x, y) = if d.len() == 1 + 2 * len {
                (&d[1..=len], &d[1 + len..])
            } else {
                (&d[..0], &d[..0])
            };
            (
                json!({"kty": "EC", "crv": crv}),
                json!({"kty": "EC", "crv": crv, "x": URL_SAFE_NO_PAD.encode(x), "y": URL_SAFE_NO_PAD.encode(y)}),
            )
        }
        _ => (json!({}), json!({})),
    }
}

/// The backing secret value: PEM (key first, then certificates) or base64 PFX with an empty
/// password. Without `exportable`, the private key is left out, as Key Vault does.
fn backing_value(
    content_type: &str,
    key: &[u8],
    chain: &[&[u8]],
    exportable: bool,
) -> Result<String, StoreError> {
    if content_type == PEM {
        let mut s = String::new();
        if exportable {
            s.push_str(&pem::encode("PRIVATE KEY", key));
        }
        for c in chain {
            s.push_str(&pem::encode("CERTIFICATE", c));
        }
        return Ok(s);
    }
    let certs = chain
        .iter()
        .map(|c| Certificate::from_der(c))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|_| bad("The certificate could not be encoded as PKCS#12."))?;
    let mut ks = KeyStore::new();
    if exportable {
        let key =
            PrivateKey::from_der(key).map_err(|_| bad("The private key is not valid PKCS#8."))?;
        let id = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, chain[0]);
        let chain = PrivateKeyChain::new(id.as_ref(), key, certs);
        ks.add_entry("1", KeyStoreEntry::PrivateKeyChain(chain));
    } else {
        for (i, c) in certs.into_iter().enumerate() {
            ks.add_entry(&format!("{}", i + 1), KeyStoreEntry::Certificate(c));
        }
    }
    let pfx = ks
        .writer("")
        .write()
        .map_err(|_| bad("The certificate could not be encoded as PKCS#12."))?;
    Ok(STANDARD.encode(pfx))
}

/// The upload, decoded: the PKCS#8 key, the certificates' DER as uploaded, and the chain order
/// (indexes into `ders`, leaf first).
struct Upload {
    key: Vec<u8>,
    ders: Vec<Vec<u8>>,
    order: Vec<usize>,
}

impl Upload {
    fn read(source: &Source) -> Result<Upload, StoreError> {
        let (key, ders) = decode(source)?;
        let parsed = ders
            .iter()
            .map(|d| X509Certificate::from_der(d).map(|(_, c)| c))
            .collect::<Result<Vec<_>, _>>()
            .map_err(|_| bad("The specified X.509 certificate content is invalid."))?;
        if parsed.is_empty() {
            return Err(bad(
                "The specified X.509 certificate content does not contain a certificate.",
            ));
        }
        let order = order_chain(&parsed, public_key_of(&key).as_deref());
        Ok(Upload { key, ders, order })
    }

    fn leaf(&self) -> &[u8] {
        &self.ders[self.order[0]]
    }

    /// The chain to store: as uploaded, or leaf first.
    fn chain(&self, preserve_order: bool) -> Vec<&[u8]> {
        if preserve_order {
            self.ders.iter().map(Vec::as_slice).collect()
        } else {
            self.order
                .iter()
                .map(|&i| self.ders[i].as_slice())
                .collect()
        }
    }
}

/// The backing secret's content type: asked for, or the upload's format.
fn content_type(input: &ImportInput) -> Result<&'static str, StoreError> {
    let default = match input.source {
        Source::Pfx(..) => PKCS12,
        Source::Pem(_) => PEM,
    };
    match input.content_type.as_deref().unwrap_or(default) {
        PEM => Ok(PEM),
        PKCS12 => Ok(PKCS12),
        _ => Err(bad(
            "The content type of the secret must be application/x-pkcs12 or application/x-pem-file.",
        )),
    }
}

/// The DNS names in the leaf's subjectAltName.
fn dns_names(leaf: &X509Certificate<'_>) -> Vec<String> {
    let Ok(Some(san)) = leaf.subject_alternative_name() else {
        return Vec::new();
    };
    san.value
        .general_names
        .iter()
        .filter_map(|g| match g {
            GeneralName::DNSName(d) => Some((*d).to_owned()),
            _ => None,
        })
        .collect()
}

/// A certificate version built from the leaf, as Key Vault describes an imported certificate.
fn cert_version(
    leaf_der: &[u8],
    input: &ImportInput,
    ct: &str,
    now: i64,
) -> Result<CertVersion, StoreError> {
    let (_, leaf) = X509Certificate::from_der(leaf_der)
        .map_err(|_| bad("The specified X.509 certificate content is invalid."))?;
    let (nbf, exp) = (
        leaf.validity().not_before.timestamp(),
        leaf.validity().not_after.timestamp(),
    );
    let (mut key_props, jwk) = key_info(&leaf);
    key_props["exportable"] = json!(input.exportable);
    key_props["reuse_key"] = json!(false);
    let mut x509_props = json!({"subject": leaf.subject().to_string(), "ekus": [], "key_usage": [],
        "validity_months": ((exp - nbf) / (30 * 86_400)).clamp(1, 1200)});
    let sans = dns_names(&leaf);
    if !sans.is_empty() {
        x509_props["sans"] = json!({"dns_names": sans});
    }
    let policy = json!({
        "key_props": key_props,
        "secret_props": {"contentType": ct},
        "x509_props": x509_props,
        "lifetime_actions": [{"trigger": {"lifetime_percentage": 80}, "action": {"action_type": "EmailContacts"}}],
        "issuer": {"name": "Unknown"},
        "attributes": {"enabled": true, "created": now, "updated": now},
    });
    let sha1 = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, leaf_der);
    Ok(CertVersion {
        version: new_version(),
        cer: leaf_der.to_vec(),
        x5t: URL_SAFE_NO_PAD.encode(sha1),
        nbf,
        exp,
        enabled: input.enabled,
        created: now,
        updated: now,
        tags: input.tags.clone(),
        policy,
        jwk,
        preserve_order: input.preserve_order,
    })
}

/// Imports a certificate into a vault: creates a certificate version and its backing secret
/// version (same name and version id). Returns the version id.
pub(crate) fn import(
    data: &mut VaultData,
    name: &str,
    input: ImportInput,
    now: i64,
) -> Result<String, StoreError> {
    super::validate::name(name)?;
    data.check_cert_writable(name)?;
    let upload = Upload::read(&input.source)?;
    let ct = content_type(&input)?;
    let value = backing_value(
        ct,
        &upload.key,
        &upload.chain(input.preserve_order),
        input.exportable,
    )?;
    let cert = cert_version(upload.leaf(), &input, ct, now)?;
    let meta = SecretMeta {
        content_type: Some(ct.to_owned()),
        tags: input.tags,
        enabled: input.enabled,
        nbf: Some(cert.nbf),
        exp: Some(cert.exp),
    };
    let version = cert.version.clone();
    data.add_cert(name, cert, value, meta);
    Ok(version)
}

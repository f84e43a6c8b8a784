//! The emulator's PKI: a CA generated at start (a real CA certificate, since rustls refuses a
//! self-signed leaf as a root) and a serving certificate for the vault and login hosts.

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use rustls::ServerConfig;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

/// The generated CA and the TLS configuration serving with its leaf.
pub(crate) struct Certs {
    pub ca_pem: String,
    pub server_config: Arc<ServerConfig>,
}

fn err(e: impl std::fmt::Display) -> String {
    e.to_string()
}

/// Generates the CA and serving certificate (ECDSA P-256) and builds the rustls config with
/// the ring provider, offering HTTP/2 and HTTP/1.1.
pub(crate) fn generate() -> Result<Certs, String> {
    let ca_key = KeyPair::generate().map_err(err)?;
    let mut ca = CertificateParams::default();
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "vaultsync emulator CA");
    dn.push(DnType::OrganizationName, "vaultsync");
    ca.distinguished_name = dn;
    ca.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    ca.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    let ca_cert = ca.self_signed(&ca_key).map_err(err)?;
    let issuer = Issuer::new(ca, ca_key);

    let leaf_key = KeyPair::generate().map_err(err)?;
    let mut leaf = CertificateParams::new(vec![
        "*.vault.localhost".to_owned(),
        "vault.localhost".to_owned(),
        "login.localhost".to_owned(),
        "localhost".to_owned(),
        crate::server::WORLDWIDE_LOGIN_HOST.to_owned(),
    ])
    .map_err(err)?;
    leaf.subject_alt_names
        .push(SanType::IpAddress(IpAddr::V4(Ipv4Addr::LOCALHOST)));
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, "vault.localhost");
    leaf.distinguished_name = dn;
    leaf.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    leaf.extended_key_usages = vec![ExtendedKeyUsagePurpose::ServerAuth];
    let leaf_cert = leaf.signed_by(&leaf_key, &issuer).map_err(err)?;

    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let key = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(leaf_key.serialize_der()));
    let chain: Vec<CertificateDer<'static>> = vec![leaf_cert.der().clone(), ca_cert.der().clone()];
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(err)?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(err)?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(Certs {
        ca_pem: ca_cert.pem(),
        server_config: Arc::new(config),
    })
}

//! Certificates made in the tests: root → intermediate → leaf with rcgen (ECDSA keys from ring,
//! RSA keys from `openssl genpkey`, which ring cannot generate), PFX files from `openssl pkcs12`,
//! and the openssl CLI to check what vaultsync wrote.

use std::io::Write;
use std::process::{Command, Stdio};

use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair};
use time::{Duration as TimeDuration, OffsetDateTime};

/// DNS name of every test leaf.
pub const SERVER_NAME: &str = "app.example.test";

/// Key algorithm of a test chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    /// ECDSA P-256.
    Ec,
    /// RSA 2048.
    Rsa,
}

/// A certificate in DER and PEM.
#[derive(Clone)]
pub struct Cert {
    /// DER.
    pub der: Vec<u8>,
    /// PEM.
    pub pem: String,
}

/// root → intermediate → leaf with the leaf's PKCS#8 key.
pub struct Chain {
    /// Self-signed root.
    pub root: Cert,
    /// Intermediate signed by the root.
    pub inter: Cert,
    /// Leaf signed by the intermediate.
    pub leaf: Cert,
    /// The leaf's key, PKCS#8 PEM.
    pub key_pem: String,
}

fn key(alg: Alg) -> KeyPair {
    match alg {
        Alg::Ec => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::Rsa => {
            let out = Command::new("openssl")
                .args([
                    "genpkey",
                    "-algorithm",
                    "RSA",
                    "-pkeyopt",
                    "rsa_keygen_bits:2048",
                ])
                .output()
                .expect("openssl CLI runs");
            assert!(out.status.success(), "openssl genpkey failed");
            KeyPair::from_pem(&String::from_utf8(out.stdout).unwrap()).unwrap()
        }
    }
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut params = CertificateParams::new(Vec::<String>::new()).unwrap();
    params.distinguished_name.push(DnType::CommonName, cn);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let now = OffsetDateTime::now_utc();
    params.not_before = now - TimeDuration::days(30);
    params.not_after = now + TimeDuration::days(3650);
    params
}

fn cert(c: rcgen::Certificate) -> Cert {
    Cert {
        der: c.der().to_vec(),
        pem: c.pem(),
    }
}

/// A chain whose leaf is valid from `from_days` to `until_days` (relative to now) and whose
/// root is called `root_cn`.
pub fn chain(alg: Alg, root_cn: &str, from_days: i64, until_days: i64) -> Chain {
    let root_key = key(alg);
    let root_params = ca_params(root_cn);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let inter_key = key(alg);
    let inter_params = ca_params(&format!("{root_cn} Intermediate"));
    let inter = inter_params.signed_by(&inter_key, &root_issuer).unwrap();
    let inter_issuer = Issuer::from_params(&inter_params, &inter_key);
    let leaf_key = key(alg);
    let mut leaf_params = CertificateParams::new(vec![SERVER_NAME.to_string()]).unwrap();
    leaf_params
        .distinguished_name
        .push(DnType::CommonName, SERVER_NAME);
    let now = OffsetDateTime::now_utc();
    leaf_params.not_before = now + TimeDuration::days(from_days);
    leaf_params.not_after = now + TimeDuration::days(until_days);
    let leaf = leaf_params.signed_by(&leaf_key, &inter_issuer).unwrap();
    Chain {
        root: cert(root),
        inter: cert(inter),
        leaf: cert(leaf),
        key_pem: leaf_key.serialize_pem(),
    }
}

/// PEM text of a key followed by certificates, in the order given.
pub fn pem_bundle(key_pem: Option<&str>, certs: &[&Cert]) -> String {
    let mut text = String::new();
    if let Some(key) = key_pem {
        text.push_str(key.trim_end());
        text.push('\n');
    }
    for c in certs {
        text.push_str(c.pem.trim_end());
        text.push('\n');
    }
    text
}

/// A PFX (empty password) written by `openssl pkcs12 -export` with certificates in the order
/// given.
pub fn pfx(key_pem: &str, certs: &[&Cert]) -> Vec<u8> {
    pfx_with(key_pem, certs, &[])
}

/// A PFX whose key derivation and MAC declare `iterations` (writing it takes about a second per
/// million).
pub fn pfx_with_iterations(key_pem: &str, certs: &[&Cert], iterations: u32) -> Vec<u8> {
    pfx_with(
        key_pem,
        certs,
        &["-iter", &iterations.to_string(), "-maciter"],
    )
}

fn pfx_with(key_pem: &str, certs: &[&Cert], extra: &[&str]) -> Vec<u8> {
    let dir = tempdir();
    let key_path = dir.join("key.pem");
    let certs_path = dir.join("certs.pem");
    std::fs::write(&key_path, key_pem).unwrap();
    std::fs::write(&certs_path, pem_bundle(None, certs)).unwrap();
    let out = Command::new("openssl")
        .args(["pkcs12", "-export", "-passout", "pass:", "-inkey"])
        .arg(&key_path)
        .arg("-in")
        .arg(&certs_path)
        .args(extra)
        .output()
        .expect("openssl CLI runs");
    let _ = std::fs::remove_dir_all(&dir);
    assert!(
        out.status.success(),
        "openssl pkcs12 -export: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// Runs `openssl ARGS` with `stdin`; returns stdout, failing the test on a non-zero exit.
pub fn openssl(args: &[&str], stdin: &[u8]) -> String {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl CLI runs");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The public key of a certificate and of a private key, as openssl prints them: equal when the
/// key belongs to the certificate.
pub fn public_keys(cert_pem: &str, key_pem: &str) -> (String, String) {
    (
        openssl(&["x509", "-noout", "-pubkey"], cert_pem.as_bytes()),
        openssl(&["pkey", "-pubout"], key_pem.as_bytes()),
    )
}

fn tempdir() -> std::path::PathBuf {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    let dir = std::env::temp_dir().join(format!(
        "vaultsync-pki-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// Serves one TLS handshake with `cert_chain_pem`/`key_pem` and connects a client that trusts
/// only `ca_pem` and checks `server_name`; returns the client's error, if any.
pub fn handshake(
    cert_chain_pem: &str,
    key_pem: &str,
    ca_pem: &str,
    server_name: &str,
) -> Result<(), String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
    use std::net::{TcpListener, TcpStream};
    use std::sync::Arc;

    let _ = rustls::crypto::ring::default_provider().install_default();
    let chain: Vec<CertificateDer<'static>> =
        CertificateDer::pem_slice_iter(cert_chain_pem.as_bytes())
            .collect::<Result<_, _>>()
            .map_err(|e| format!("tls.crt: {e}"))?;
    let key =
        PrivateKeyDer::from_pem_slice(key_pem.as_bytes()).map_err(|e| format!("tls.key: {e}"))?;
    let server_config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("server rejects tls.crt/tls.key: {e}"))?;
    let mut roots = rustls::RootCertStore::empty();
    for ca in CertificateDer::pem_slice_iter(ca_pem.as_bytes()) {
        roots
            .add(ca.map_err(|e| format!("ca.crt: {e}"))?)
            .map_err(|e| format!("ca.crt: {e}"))?;
    }
    let client_config = rustls::ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();

    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    let server = std::thread::spawn(move || {
        let (mut socket, _) = listener.accept().unwrap();
        let mut conn = rustls::ServerConnection::new(Arc::new(server_config)).unwrap();
        let mut stream = rustls::Stream::new(&mut conn, &mut socket);
        let mut buf = [0u8; 5];
        let _ = std::io::Read::read_exact(&mut stream, &mut buf);
        let _ = stream.write_all(b"pong!");
        let _ = stream.flush();
    });
    let name = ServerName::try_from(server_name.to_string()).unwrap();
    let mut conn = rustls::ClientConnection::new(Arc::new(client_config), name).unwrap();
    let mut socket = TcpStream::connect(addr).unwrap();
    let mut stream = rustls::Stream::new(&mut conn, &mut socket);
    let result = stream
        .write_all(b"ping!")
        .and_then(|_| {
            let mut reply = [0u8; 5];
            std::io::Read::read_exact(&mut stream, &mut reply).map(|_| reply)
        })
        .map_err(|e| e.to_string())
        .and_then(|reply| {
            (&reply == b"pong!")
                .then_some(())
                .ok_or_else(|| "unexpected reply".to_string())
        });
    drop(socket);
    let _ = server.join();
    result
}

/// A serving certificate for `127.0.0.1` (EC P-256) signed by a fresh root:
/// (root PEM, leaf PEM, leaf key PKCS#8 PEM).
pub fn loopback_server() -> (String, String, String) {
    let root_key = key(Alg::Ec);
    let root_params = ca_params("vaultsync test loopback root");
    let root = root_params.self_signed(&root_key).unwrap();
    let issuer = Issuer::from_params(&root_params, &root_key);
    let leaf_key = key(Alg::Ec);
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .unwrap()
        .signed_by(&leaf_key, &issuer)
        .unwrap();
    (root.pem(), leaf.pem(), leaf_key.serialize_pem())
}

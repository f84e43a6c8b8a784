//! Test PKI built on the fly: root → intermediate → leaf chains signed with
//! rcgen, RSA keys from the openssl CLI, and PFX/PEM encoders for inputs.
#![allow(dead_code)] // each test binary uses a different subset

pub mod mutate;

use std::io::Write;
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use rcgen::{BasicConstraints, CertificateParams, DnType, IsCa, Issuer, KeyPair, date_time_ymd};

/// 2025-06-01T00:00:00Z: inside every default validity window below.
pub const NOW: i64 = 1_748_736_000;

/// Key algorithms the tests cover.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Alg {
    P256,
    P384,
    Rsa,
}

pub const ALL_ALGS: [Alg; 3] = [Alg::P256, Alg::P384, Alg::Rsa];

/// One certificate in DER and PEM.
#[derive(Clone)]
pub struct Cert {
    pub der: Vec<u8>,
    pub pem: String,
}

/// root → intermediate → leaf, plus the leaf's PKCS#8 key.
pub struct Pki {
    pub root: Cert,
    pub inter: Cert,
    pub leaf: Cert,
    pub leaf_key_pem: String,
    pub leaf_key_der: Vec<u8>,
}

/// A fresh key pair; RSA keys come from `openssl genpkey` because rcgen with
/// ring cannot generate RSA. RSA generation is slow, so a few are reused.
pub fn key(alg: Alg) -> KeyPair {
    match alg {
        Alg::P256 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap(),
        Alg::P384 => KeyPair::generate_for(&rcgen::PKCS_ECDSA_P384_SHA384).unwrap(),
        Alg::Rsa => {
            // Each test runs on its own thread: a per-thread cursor keeps the
            // keys of up to two chains in one test distinct.
            static POOL: OnceLock<Vec<String>> = OnceLock::new();
            thread_local!(static NEXT: std::cell::Cell<usize> = const { std::cell::Cell::new(0) });
            let pool = POOL.get_or_init(|| (0..6).map(|_| openssl_rsa_key()).collect());
            let i = NEXT.with(|n| {
                let i = n.get();
                n.set(i + 1);
                i % pool.len()
            });
            KeyPair::from_pem(&pool[i]).unwrap()
        }
    }
}

fn openssl_rsa_key() -> String {
    let out = Command::new("openssl")
        .args([
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            "rsa_keygen_bits:2048",
        ])
        .output()
        .expect("openssl CLI");
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap()
}

fn ca_params(cn: &str) -> CertificateParams {
    let mut p = CertificateParams::new(Vec::<String>::new()).unwrap();
    p.distinguished_name.push(DnType::CommonName, cn);
    p.distinguished_name
        .push(DnType::OrganizationName, "Vaultsync Test");
    p.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    p.not_before = date_time_ymd(2020, 1, 1);
    p.not_after = date_time_ymd(2040, 1, 1);
    p
}

/// Leaf parameters valid from `from` to `until` (years, January 1st).
pub fn leaf_params(from: i32, until: i32) -> CertificateParams {
    let mut p =
        CertificateParams::new(vec!["app.example.com".into(), "www.example.com".into()]).unwrap();
    p.distinguished_name
        .push(DnType::CommonName, "app.example.com");
    p.not_before = date_time_ymd(from, 1, 1);
    p.not_after = date_time_ymd(until, 1, 1);
    p
}

fn cert(c: rcgen::Certificate) -> Cert {
    Cert {
        der: c.der().to_vec(),
        pem: c.pem(),
    }
}

/// A standard chain with all keys of `alg`.
pub fn pki(alg: Alg) -> Pki {
    pki_with(alg, leaf_params(2024, 2030), "Test Root CA")
}

/// A chain whose leaf has `leaf` params and whose root has CN `root_cn`.
pub fn pki_with(alg: Alg, leaf: CertificateParams, root_cn: &str) -> Pki {
    pki_full(alg, leaf, root_cn, 2040)
}

/// As [`pki_with`], with the intermediate valid until January 1st `inter_until`.
pub fn pki_full(alg: Alg, leaf: CertificateParams, root_cn: &str, inter_until: i32) -> Pki {
    let root_key = key(alg);
    let root_params = ca_params(root_cn);
    let root = root_params.self_signed(&root_key).unwrap();
    let root_issuer = Issuer::from_params(&root_params, &root_key);
    let inter_key = key(alg);
    let mut inter_params = ca_params(&format!("{root_cn} Intermediate"));
    inter_params.not_after = date_time_ymd(inter_until, 1, 1);
    let inter = inter_params.signed_by(&inter_key, &root_issuer).unwrap();
    let inter_issuer = Issuer::from_params(&inter_params, &inter_key);
    let leaf_key = key(alg);
    let leaf = leaf.signed_by(&leaf_key, &inter_issuer).unwrap();
    Pki {
        root: cert(root),
        inter: cert(inter),
        leaf: cert(leaf),
        leaf_key_pem: leaf_key.serialize_pem(),
        leaf_key_der: leaf_key.serialize_der(),
    }
}

/// A self-signed leaf with its own key.
pub fn self_signed(alg: Alg) -> (Cert, String) {
    let k = key(alg);
    let c = leaf_params(2024, 2030).self_signed(&k).unwrap();
    (cert(c), k.serialize_pem())
}

/// A self-signed CA certificate with its own key (a private root held in the vault).
pub fn self_signed_ca(alg: Alg) -> (Cert, String) {
    let k = key(alg);
    let c = ca_params("Held Root CA").self_signed(&k).unwrap();
    (cert(c), k.serialize_pem())
}

/// Concatenates PEM pieces the way Key Vault does (newline separated).
pub fn pem_join(parts: &[&str]) -> String {
    parts
        .iter()
        .map(|p| p.trim_end())
        .collect::<Vec<_>>()
        .join("\n")
        + "\n"
}

/// Base64 PFX (empty password) written by p12-keystore, certs in given order.
pub fn pfx_crate(key_der: &[u8], certs: &[&Cert]) -> String {
    use p12_keystore::{Certificate, KeyStore, KeyStoreEntry, PrivateKey, PrivateKeyChain};
    let key = PrivateKey::from_der(key_der).unwrap();
    let certs: Vec<_> = certs
        .iter()
        .map(|c| Certificate::from_der(&c.der).unwrap())
        .collect();
    let mut ks = KeyStore::new();
    ks.add_entry(
        "k",
        KeyStoreEntry::PrivateKeyChain(PrivateKeyChain::new(vec![1u8], key, certs)),
    );
    STANDARD.encode(ks.writer("").write().unwrap())
}

/// PFX encryption choices for `openssl pkcs12 -export`.
#[derive(Debug, Clone, Copy)]
pub enum OpensslPfx {
    /// OpenSSL 3 default: AES-256-CBC, PBKDF2, SHA-256 MAC.
    Default,
    /// `-legacy`: RC2-40 certificates, 3DES key, SHA-1 MAC.
    Legacy,
    /// 3DES everywhere with a SHA-1 MAC, as older Windows exports.
    TripleDes,
}

/// Base64 PFX (empty password) written by the openssl CLI.
pub fn pfx_openssl(key_pem: &str, certs: &[&Cert], mode: OpensslPfx) -> String {
    let dir = tempdir();
    let key_path = dir.join("key.pem");
    let certs_path = dir.join("certs.pem");
    std::fs::write(&key_path, key_pem).unwrap();
    let all: Vec<&str> = certs.iter().map(|c| c.pem.as_str()).collect();
    std::fs::write(&certs_path, pem_join(&all)).unwrap();
    let mut args: Vec<&str> = vec!["pkcs12", "-export", "-passout", "pass:"];
    args.extend([
        "-inkey",
        key_path.to_str().unwrap(),
        "-in",
        certs_path.to_str().unwrap(),
    ]);
    match mode {
        OpensslPfx::Default => {}
        OpensslPfx::Legacy => args.push("-legacy"),
        OpensslPfx::TripleDes => args.extend([
            "-keypbe",
            "PBE-SHA1-3DES",
            "-certpbe",
            "PBE-SHA1-3DES",
            "-macalg",
            "sha1",
        ]),
    }
    let out = Command::new("openssl").args(&args).output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    std::fs::remove_dir_all(&dir).ok();
    STANDARD.encode(out.stdout)
}

/// Runs the openssl CLI with `stdin`, returning (success, stdout, stderr).
pub fn openssl(args: &[&str], stdin: &[u8]) -> (bool, Vec<u8>, String) {
    let mut child = Command::new("openssl")
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("openssl CLI");
    child.stdin.take().unwrap().write_all(stdin).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.success(),
        out.stdout,
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A private scratch directory under the target dir's temp.
pub fn tempdir() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("vaultsync-tls-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// DER certificates in a PEM string, in order.
pub fn pem_ders(pem: &str) -> Vec<Vec<u8>> {
    pem.split("-----BEGIN CERTIFICATE-----")
        .skip(1)
        .map(|chunk| {
            let body: String = chunk
                .split("-----END CERTIFICATE-----")
                .next()
                .unwrap()
                .chars()
                .filter(|c| !c.is_whitespace())
                .collect();
            STANDARD.decode(body).unwrap()
        })
        .collect()
}

/// All permutations of `items`.
pub fn permutations<T: Clone>(items: &[T]) -> Vec<Vec<T>> {
    if items.len() <= 1 {
        return vec![items.to_vec()];
    }
    let mut out = Vec::new();
    for i in 0..items.len() {
        let mut rest = items.to_vec();
        let head = rest.remove(i);
        for mut tail in permutations(&rest) {
            tail.insert(0, head.clone());
            out.push(tail);
        }
    }
    out
}

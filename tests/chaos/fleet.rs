//! The resources under test and their vault objects: VaultSecret `vs{i}` reads vault secrets
//! `u{i}` (key `user`) and `p{i}` (key `password`); VaultCertificate `vc{j}` reads certificate
//! `c{j}`. Every write to the vault goes through here so the ledger knows it.

use std::sync::{Arc, Mutex};

use futures::{StreamExt, stream};
use kube::Api;
use kube::api::{ListParams, PostParams};
use rand::rngs::StdRng;
use rand::{Rng, RngCore};
use vaultsync::crd::{
    CertificateRef, SecretItem, Synced, VaultCertificate, VaultCertificateSpec, VaultSecret,
    VaultSecretSpec, VaultSource,
};
use vaultsync_emulator::{CertificateImport, SecretOptions};

use crate::ledger::{Ledger, Slot};
use crate::support::world::{TestNamespace, world_control};

/// Every resource checks its vault this often (the shortest interval the CRD allows).
pub const REFRESH: &str = "30s";
pub const REFRESH_SECS: u64 = 30;

/// The two keys of every VaultSecret's Secret and the vault secret prefix each follows.
pub const SECRET_KEYS: [(&str, &str); 2] = [("user", "u"), ("password", "p")];
/// The keys every VaultCertificate's Secret must hold.
pub const CERTIFICATE_KEYS: [&str; 2] = ["tls.crt", "tls.key"];

pub struct Fleet {
    pub t: TestNamespace,
    pub secrets: usize,
    pub certificates: usize,
    pub ledger: Arc<Mutex<Ledger>>,
}

impl Fleet {
    pub fn new(t: TestNamespace, secrets: usize, certificates: usize) -> Self {
        Fleet {
            t,
            secrets,
            certificates,
            ledger: Arc::default(),
        }
    }

    /// Writes the first revision of every vault object.
    pub fn seed(&self, rng: &mut StdRng) {
        for i in 0..self.secrets {
            for (key, _) in SECRET_KEYS {
                self.rotate_secret(i, key, rng);
            }
        }
        for j in 0..self.certificates {
            self.rotate_certificate(j);
        }
    }

    /// One rotation of a random vault object: a certificate one time in ten when there are any.
    pub fn rotate_random(&self, rng: &mut StdRng) {
        if self.certificates > 0 && rng.random_ratio(1, 10) {
            self.rotate_certificate(rng.random_range(0..self.certificates));
        } else {
            let (key, _) = SECRET_KEYS[rng.random_range(0..SECRET_KEYS.len())];
            self.rotate_secret(rng.random_range(0..self.secrets), key, rng);
        }
    }

    fn rotate_secret(&self, i: usize, key: &str, rng: &mut StdRng) {
        let prefix = SECRET_KEYS.iter().find(|(k, _)| *k == key).unwrap().1;
        // Random, so that finding it anywhere can only mean it leaked from the vault; the prefix
        // lets the leak scan find candidates in one pass.
        let value = format!(
            "{}{:016x}{:016x}",
            crate::leaks::VALUE_PREFIX,
            rng.next_u64(),
            rng.next_u64()
        );
        let slot: Slot = (format!("vs{i}"), key.to_owned());
        self.ledger
            .lock()
            .unwrap()
            .write(slot, value.clone(), value.clone());
        let options = SecretOptions {
            enabled: true,
            ..Default::default()
        };
        world_control()
            .set_secret(&self.t.vault, &format!("{prefix}{i}"), &value, options)
            .expect("set a vault secret");
    }

    fn rotate_certificate(&self, j: usize) {
        let key = rcgen::KeyPair::generate().unwrap();
        let name = format!("vc{j}.chaos.test");
        let mut params = rcgen::CertificateParams::new(vec![name.clone()]).unwrap();
        params
            .distinguished_name
            .push(rcgen::DnType::CommonName, name);
        let cert = params.self_signed(&key).unwrap();
        let key_pem = key.serialize_pem();
        let slot: Slot = (format!("vc{j}"), "tls.crt".to_owned());
        self.ledger.lock().unwrap().write(
            slot,
            pem_body(&cert.pem()),
            private_key_fragment(&key_pem),
        );
        world_control()
            .import_certificate(
                &self.t.vault,
                &format!("c{j}"),
                CertificateImport {
                    pem: Some(format!("{key_pem}{}", cert.pem())),
                    ..Default::default()
                },
            )
            .expect("import a certificate");
    }

    /// Creates every resource through the API, 16 at a time.
    pub async fn create_resources(&self) {
        let vault = VaultSource {
            url: self.t.vault_url.clone(),
            service_account_name: "app".into(),
        };
        let secrets: Api<VaultSecret> = Api::namespaced(self.t.client.clone(), &self.t.ns);
        stream::iter(0..self.secrets)
            .for_each_concurrent(16, |i| {
                let data = SECRET_KEYS
                    .iter()
                    .map(|(key, prefix)| SecretItem {
                        key: (*key).into(),
                        name: format!("{prefix}{i}"),
                        version: None,
                        decoding: Default::default(),
                    })
                    .collect();
                let resource = VaultSecret::new(
                    &format!("vs{i}"),
                    VaultSecretSpec {
                        on_vault_removal: Default::default(),
                        vault: vault.clone(),
                        data,
                        data_from: vec![],
                        keys: vec![],
                        template: None,
                        target: Default::default(),
                        refresh_interval: REFRESH.into(),
                    },
                );
                let secrets = secrets.clone();
                async move {
                    secrets
                        .create(&PostParams::default(), &resource)
                        .await
                        .expect("create a VaultSecret");
                }
            })
            .await;
        let certificates: Api<VaultCertificate> =
            Api::namespaced(self.t.client.clone(), &self.t.ns);
        stream::iter(0..self.certificates)
            .for_each_concurrent(16, |j| {
                let resource = VaultCertificate::new(
                    &format!("vc{j}"),
                    VaultCertificateSpec {
                        vault: vault.clone(),
                        certificate: CertificateRef {
                            name: format!("c{j}"),
                            version: None,
                        },
                        target: Default::default(),
                        output: Default::default(),
                        refresh_interval: REFRESH.into(),
                        renew_before: "720h".into(),
                    },
                );
                let certificates = certificates.clone();
                async move {
                    certificates
                        .create(&PostParams::default(), &resource)
                        .await
                        .expect("create a VaultCertificate");
                }
            })
            .await;
    }

    /// The Ready reason of every fleet resource, by name (resources of the bad-input table are
    /// left out); `None` while a resource has no Ready condition.
    pub async fn ready_reasons(&self) -> Vec<(String, Option<String>)> {
        let mut reasons = reasons_of::<VaultSecret>(&self.t, "vs").await;
        reasons.extend(reasons_of::<VaultCertificate>(&self.t, "vc").await);
        reasons
    }
}

async fn reasons_of<K>(t: &TestNamespace, prefix: &str) -> Vec<(String, Option<String>)>
where
    K: Synced
        + kube::Resource<Scope = k8s_openapi::NamespaceResourceScope, DynamicType = ()>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug,
{
    let api: Api<K> = Api::namespaced(t.client.clone(), &t.ns);
    let Ok(list) = api.list(&ListParams::default()).await else {
        return vec![];
    };
    list.items
        .iter()
        .filter_map(|r| {
            let name = r.meta().name.clone()?;
            let fleet = name
                .strip_prefix(prefix)
                .is_some_and(|n| n.parse::<usize>().is_ok());
            fleet.then(|| {
                let reason = crate::support::world::ready_reason(r).map(str::to_owned);
                (name, reason)
            })
        })
        .collect()
}

/// The base64 body of the first PEM block of `pem` (no header, footer or line breaks).
pub fn pem_body(pem: &str) -> String {
    pem.lines()
        .skip_while(|l| !l.starts_with("-----BEGIN"))
        .skip(1)
        .take_while(|l| !l.starts_with("-----END"))
        .collect()
}

/// 40 characters from the middle of a private key's PEM body: random key material that must
/// never appear outside a Secret.
fn private_key_fragment(key_pem: &str) -> String {
    let body = pem_body(key_pem);
    let start = body.len() / 2 - 20;
    body[start..start + 40].to_owned()
}

//! Where the content hash key comes from: a file the cluster admin provides, or else a Secret in
//! the operator's own namespace that the first replica creates and every later start reads, so
//! that replicas agree and a restart changes no recorded hash.

use std::path::{Path, PathBuf};

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::PostParams;
use kube::{Api, Client};
use zeroize::Zeroize;

use crate::desired::content_key::{ContentKey, KeyTooShort};

/// The data key of the key Secret.
pub const KEY_FIELD: &str = "key";

/// Why no content hash key could be had. Never carries key bytes.
#[derive(Debug, thiserror::Error)]
pub enum ContentKeyError {
    /// The key file could not be read.
    #[error("cannot read the content hash key file {path}: {source}")]
    File {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The key Secret could not be read or created (RBAC: the operator needs `get` on it and
    /// `create` on Secrets in its namespace).
    #[error("cannot {action} the content hash key Secret {namespace}/{name}: {source}")]
    Api {
        /// `read` or `create`.
        action: &'static str,
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// The cause (boxed: the API error is large and this path is cold).
        source: Box<kube::Error>,
    },
    /// The Secret holds no usable key.
    #[error("the content hash key Secret {namespace}/{name} has no usable `{KEY_FIELD}`: {source}")]
    Malformed {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
        /// What is wrong with it.
        source: KeyTooShort,
    },
    /// The file holds no usable key.
    #[error("the content hash key file {path} holds no usable key: {source}")]
    ShortFile {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        source: KeyTooShort,
    },
    /// Creation kept conflicting with a Secret that then could not be found.
    #[error("the content hash key Secret {namespace}/{name} kept appearing and disappearing")]
    Unsettled {
        /// Its namespace.
        namespace: String,
        /// Its name.
        name: String,
    },
}

/// The key in `path` (its raw bytes, at least 32).
///
/// # Errors
/// When the file cannot be read or is too short.
pub fn from_file(path: &Path) -> Result<ContentKey, ContentKeyError> {
    let mut bytes = std::fs::read(path).map_err(|source| ContentKeyError::File {
        path: path.to_path_buf(),
        source,
    })?;
    let key = ContentKey::new(&bytes).map_err(|source| ContentKeyError::ShortFile {
        path: path.to_path_buf(),
        source,
    });
    bytes.zeroize();
    key
}

/// The key held by Secret `namespace/name`, which is created with a fresh random key when it
/// does not exist. Replicas starting together agree: the create call lets one win and the
/// others read what it wrote.
///
/// # Errors
/// When the Secret can be neither read nor created, or holds a key too short.
pub async fn get_or_create(
    client: &Client,
    namespace: &str,
    name: &str,
) -> Result<ContentKey, ContentKeyError> {
    let api = Api::<Secret>::namespaced(client.clone(), namespace);
    let failed = |action, source| ContentKeyError::Api {
        action,
        namespace: namespace.to_string(),
        name: name.to_string(),
        source: Box::new(source),
    };
    // Read first: a restart never tries to create, so `get` alone suffices once it exists.
    for _ in 0..3 {
        if let Some(found) = api.get_opt(name).await.map_err(|e| failed("read", e))? {
            return key_of(&found, namespace, name);
        }
        match api
            .create(&PostParams::default(), &new_key_secret(name))
            .await
        {
            Ok(created) => {
                tracing::info!(%namespace, %name, "created the content hash key Secret");
                return key_of(&created, namespace, name);
            }
            // Another replica created it first: read theirs.
            Err(kube::Error::Api(status)) if status.code == 409 => continue,
            Err(e) => return Err(failed("create", e)),
        }
    }
    Err(ContentKeyError::Unsettled {
        namespace: namespace.to_string(),
        name: name.to_string(),
    })
}

fn key_of(secret: &Secret, namespace: &str, name: &str) -> Result<ContentKey, ContentKeyError> {
    let bytes = secret
        .data
        .as_ref()
        .and_then(|d| d.get(KEY_FIELD))
        .map_or(&[][..], |b| b.0.as_slice());
    ContentKey::new(bytes).map_err(|source| ContentKeyError::Malformed {
        namespace: namespace.to_string(),
        name: name.to_string(),
        source,
    })
}

/// A new immutable key Secret. It carries no managed-by label: it is not a synced Secret, and
/// the operator's caches must not hold it.
fn new_key_secret(name: &str) -> Secret {
    let mut bytes = ContentKey::generate_bytes();
    let secret = Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            labels: Some(
                [
                    ("app.kubernetes.io/name", "vaultsync"),
                    ("app.kubernetes.io/component", "content-hash-key"),
                ]
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .into(),
            ),
            annotations: Some(
                [(
                    "vaultsync.dev/purpose".to_string(),
                    "Key of the content hashes vaultsync records on the Secrets it writes. \
                     Deleting it makes every hash change once: each Secret is rewritten with the \
                     same data and each opted-in workload restarts once."
                        .to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        immutable: Some(true),
        type_: Some("Opaque".to_string()),
        data: Some([(KEY_FIELD.to_string(), ByteString(bytes.clone()))].into()),
        ..Default::default()
    };
    bytes.zeroize();
    secret
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_new_key_secret_is_immutable_unlabelled_and_holds_a_fresh_key() {
        let secret = new_key_secret("k");
        assert_eq!(secret.immutable, Some(true));
        let labels = secret.metadata.labels.clone().unwrap();
        assert!(!labels.contains_key(crate::desired::MANAGED_BY_LABEL));
        let key = &secret.data.as_ref().unwrap()[KEY_FIELD].0;
        assert_eq!(key.len(), 32);
        assert_ne!(key, &new_key_secret("k").data.unwrap()[KEY_FIELD].0);
        assert!(key_of(&secret, "ns", "k").is_ok());
    }

    #[test]
    fn a_secret_without_a_long_enough_key_is_refused_without_printing_it() {
        let mut secret = new_key_secret("k");
        secret.data = Some([(KEY_FIELD.to_string(), ByteString(b"short-key".to_vec()))].into());
        let error = key_of(&secret, "ns", "k").err().unwrap().to_string();
        assert!(
            error.contains("ns/k") && error.contains("9 bytes"),
            "{error}"
        );
        assert!(!error.contains("short-key"), "{error}");
        secret.data = None;
        assert!(key_of(&secret, "ns", "k").is_err());
    }

    #[test]
    fn key_files_are_read_raw() {
        let dir = std::env::temp_dir().join(format!("vaultsync-key-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("key");
        std::fs::write(&path, [5u8; 40]).unwrap();
        let from_file = from_file(&path).unwrap();
        let expected = ContentKey::new(&[5u8; 40]).unwrap();
        let data = Default::default();
        assert_eq!(
            from_file.hash("Opaque", &data),
            expected.hash("Opaque", &data)
        );
        std::fs::write(&path, b"too short").unwrap();
        assert!(matches!(
            super::from_file(&path),
            Err(ContentKeyError::ShortFile { .. })
        ));
        assert!(matches!(
            super::from_file(&dir.join("missing")),
            Err(ContentKeyError::File { .. })
        ));
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

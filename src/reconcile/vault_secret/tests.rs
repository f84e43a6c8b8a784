use std::sync::Arc;

use super::*;
use crate::crd::KeyFormat;
use crate::feed::Listing;
use crate::vault::{KeyProperties, SecretProperties};

fn source() -> Source {
    Source {
        key: "password".into(),
        name: "db".into(),
        version: None,
        bulk: false,
        decoding: Default::default(),
        public_key: None,
    }
}

/// A listing made before the rotation to `v2` (it still shows `v1`'s time), with `pushed`
/// announced since.
fn stale_listing(pushed: &str) -> Listing<SecretProperties> {
    let listed = SecretProperties {
        name: "db".into(),
        enabled: true,
        updated: Some(100),
        tags: Default::default(),
        content_type: None,
        managed: false,
    };
    Listing {
        items: Arc::new(vec![listed]),
        pushed: Arc::new([("db".to_string(), pushed.to_string())].into()),
    }
}

fn synced(version: &str, updated: i64) -> SyncStatus {
    SyncStatus {
        versions: vec![SyncedVersion {
            key: "password".into(),
            name: "db".into(),
            version: version.into(),
            updated: Some(updated),
            decoding: Default::default(),
            public_key: None,
        }],
        ..Default::default()
    }
}

#[test]
fn a_pushed_version_is_read_once_however_often_it_is_delivered() {
    let sources = [source()];
    let current: BTreeMap<String, SecretValue> =
        [("password".to_string(), SecretValue::new("v1 value"))].into();
    let listings = Listings {
        secrets: Some(stale_listing("v2")),
        keys: None,
    };
    // First delivery: v1 is synced, v2 was pushed: read.
    let (_, stale) = split_kept_and_stale(
        &sources,
        &listings,
        Some(&synced("v1", 100)),
        &current,
        false,
    );
    assert_eq!(stale.len(), 1);
    // A duplicate delivery after v2 was read: the listing is older than v2, yet nothing is
    // read.
    let (kept, stale) = split_kept_and_stale(
        &sources,
        &listings,
        Some(&synced("v2", 130)),
        &current,
        false,
    );
    assert!(stale.is_empty());
    assert_eq!(kept.versions[0].version, "v2");
    // A force refresh still reads.
    let (_, stale) = split_kept_and_stale(
        &sources,
        &listings,
        Some(&synced("v2", 130)),
        &current,
        true,
    );
    assert_eq!(stale.len(), 1);
}

fn key_source(format: KeyFormat) -> Source {
    Source {
        key: "signing.pem".into(),
        name: "signer".into(),
        version: None,
        bulk: false,
        decoding: Default::default(),
        public_key: Some(format),
    }
}

fn key_synced(format: KeyFormat) -> SyncStatus {
    SyncStatus {
        versions: vec![SyncedVersion {
            key: "signing.pem".into(),
            name: "signer".into(),
            version: "k1".into(),
            updated: Some(200),
            decoding: Default::default(),
            public_key: Some(format),
        }],
        ..Default::default()
    }
}

fn key_listing(updated: i64) -> Listing<KeyProperties> {
    Listing::plain(Arc::new(vec![KeyProperties {
        name: "Signer".into(),
        enabled: true,
        updated: Some(updated),
    }]))
}

#[test]
fn a_key_is_read_again_only_when_its_listing_or_format_changed() {
    let current: BTreeMap<String, SecretValue> = [(
        "signing.pem".to_string(),
        SecretValue::new("-----BEGIN PUBLIC KEY-----"),
    )]
    .into();
    let pem = [key_source(KeyFormat::Pem)];
    let unchanged = Listings {
        secrets: None,
        keys: Some(key_listing(200)),
    };
    let (kept, stale) = split_kept_and_stale(
        &pem,
        &unchanged,
        Some(&key_synced(KeyFormat::Pem)),
        &current,
        false,
    );
    assert!(stale.is_empty(), "an unchanged key is not read");
    assert_eq!(kept.versions[0].public_key, Some(KeyFormat::Pem));
    let rotated = Listings {
        secrets: None,
        keys: Some(key_listing(260)),
    };
    let (_, stale) = split_kept_and_stale(
        &pem,
        &rotated,
        Some(&key_synced(KeyFormat::Pem)),
        &current,
        false,
    );
    assert_eq!(stale.len(), 1, "a new key version is read");
    let jwk = [key_source(KeyFormat::Jwk)];
    let (_, stale) = split_kept_and_stale(
        &jwk,
        &unchanged,
        Some(&key_synced(KeyFormat::Pem)),
        &current,
        false,
    );
    assert_eq!(stale.len(), 1, "a changed format reads the key again");
    // A secret of the same name in the secret listing says nothing about the key.
    let secret_only = Listings {
        secrets: Some(Listing::plain(Arc::new(vec![SecretProperties {
            name: "signer".into(),
            enabled: true,
            updated: Some(200),
            tags: Default::default(),
            content_type: None,
            managed: false,
        }]))),
        keys: None,
    };
    let (_, stale) = split_kept_and_stale(
        &pem,
        &secret_only,
        Some(&key_synced(KeyFormat::Pem)),
        &current,
        false,
    );
    assert_eq!(stale.len(), 1, "without a key listing only a read can tell");
}

use std::sync::Arc;

use super::*;

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
        }],
        ..Default::default()
    }
}

#[test]
fn a_pushed_version_is_read_once_however_often_it_is_delivered() {
    let sources = [source()];
    let current: BTreeMap<String, SecretValue> =
        [("password".to_string(), SecretValue::new("v1 value"))].into();
    let listing = stale_listing("v2");
    // First delivery: v1 is synced, v2 was pushed: read.
    let (_, stale) = split_kept_and_stale(
        &sources,
        Some(&listing),
        Some(&synced("v1", 100)),
        &current,
        false,
    );
    assert_eq!(stale.len(), 1);
    // A duplicate delivery after v2 was read: the listing is older than v2, yet nothing is
    // read.
    let (kept, stale) = split_kept_and_stale(
        &sources,
        Some(&listing),
        Some(&synced("v2", 130)),
        &current,
        false,
    );
    assert!(stale.is_empty());
    assert_eq!(kept.versions[0].version, "v2");
    // A force refresh still reads.
    let (_, stale) = split_kept_and_stale(
        &sources,
        Some(&listing),
        Some(&synced("v2", 130)),
        &current,
        true,
    );
    assert_eq!(stale.len(), 1);
}

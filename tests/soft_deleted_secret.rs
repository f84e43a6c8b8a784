//! A vault secret that goes to Key Vault's deleted state (soft delete): the vault answers 404 as
//! for a missing secret, so the operator reports `SecretNotFound` and keeps the last good data;
//! once the secret is recovered, the next refresh syncs again.

mod support;

use std::time::Duration;
use support::world::{test_namespace, world};

const SYNC: Duration = Duration::from_secs(60);

#[tokio::test]
async fn soft_deleted_secret_reports_secret_not_found_and_keeps_data() {
    let t = test_namespace("softdel").await;
    t.set("gone", "gone-val-1");
    t.apply("softdel", "  data:\n  - key: 'a'\n    name: 'gone'\n");
    t.wait_reason("softdel", "Synced", SYNC).await;

    world().control().delete_secret(&t.vault, "gone").unwrap();
    t.force_refresh("vaultsecret", "softdel", "after-delete");
    t.wait_reason("softdel", "SecretNotFound", SYNC).await;
    assert_eq!(t.secret_data("softdel").await.unwrap()["a"], "gone-val-1");

    world()
        .control()
        .recover_deleted_secret(&t.vault, "gone")
        .unwrap();
    t.force_refresh("vaultsecret", "softdel", "after-recover");
    t.wait_reason("softdel", "Synced", SYNC).await;
    t.assert_no_leak(&["gone-val-1"]).await;
}

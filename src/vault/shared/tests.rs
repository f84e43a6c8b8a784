//! The sharing layer against the fake vault, on tokio's paused clock: time moves only when every
//! task waits, so waits are measured exactly.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{SharedVault, SharingOptions};
use crate::vault::fake::FakeVault;
use crate::vault::{Identity, VaultAccess, VaultError};

fn access(client_id: &str) -> VaultAccess {
    VaultAccess {
        vault_url: "https://v.vault.azure.net/".into(),
        identity: Identity {
            namespace: "ns".into(),
            service_account: "sa".into(),
            client_id: client_id.into(),
            tenant_id: "t".into(),
        },
    }
}

fn shared(options: SharingOptions) -> (Arc<FakeVault>, SharedVault) {
    let fake = Arc::new(FakeVault::default());
    fake.put_secret("db", "v1", "value");
    (fake.clone(), SharedVault::new(fake, options))
}

#[tokio::test(start_paused = true)]
async fn identical_reads_in_flight_are_made_once() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.set_delay(Duration::from_millis(200));
    let reader = access("c");
    let reads = (0..5).map(|_| vault.get_secret(&reader, "DB", None));
    let answers = futures::future::join_all(reads).await;
    assert!(
        answers
            .iter()
            .all(|a| a.as_ref().is_ok_and(|b| b.version == "v1"))
    );
    assert_eq!(fake.calls("secret"), 1);
    vault.get_secret(&access("c"), "db", None).await.unwrap();
    assert_eq!(
        fake.calls("secret"),
        2,
        "a read after the first finished asks again"
    );
}

#[tokio::test(start_paused = true)]
async fn one_listing_serves_an_identity_for_the_window_only() {
    let (fake, vault) = shared(SharingOptions {
        listing_ttl: Duration::from_secs(5),
        ..SharingOptions::default()
    });
    vault.list_secrets(&access("c")).await.unwrap();
    assert!(vault.has_fresh_listing(&access("c")));
    vault.list_secrets(&access("c")).await.unwrap();
    assert_eq!(fake.calls("list"), 1);
    vault.list_secrets(&access("other")).await.unwrap();
    assert_eq!(
        fake.calls("list"),
        2,
        "another identity never shares a listing"
    );
    tokio::time::advance(Duration::from_secs(6)).await;
    assert!(!vault.has_fresh_listing(&access("c")));
    vault.list_secrets(&access("c")).await.unwrap();
    assert_eq!(fake.calls("list"), 3);
}

#[tokio::test(start_paused = true)]
async fn the_token_bucket_spaces_requests_beyond_the_burst() {
    let (fake, vault) = shared(SharingOptions {
        requests_per_second: 10.0,
        burst: 2.0,
        ..SharingOptions::default()
    });
    let started = Instant::now();
    for name in ["a", "b", "c", "d", "e"] {
        let _ = vault.get_secret(&access("c"), name, None).await;
    }
    let elapsed = started.elapsed();
    assert_eq!(fake.calls("secret"), 5);
    // Two from the burst, then one every 100 ms.
    assert!(elapsed >= Duration::from_millis(300), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(400), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_closes_the_vault_for_that_long() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.fail_next([VaultError::Throttled {
        retry_after: Some(Duration::from_secs(7)),
    }]);
    let first = vault.get_secret(&access("c"), "db", None).await;
    assert!(matches!(first, Err(VaultError::Throttled { .. })));
    let started = Instant::now();
    vault
        .get_secret(&access("other"), "db", None)
        .await
        .unwrap();
    let waited = started.elapsed();
    assert!(waited >= Duration::from_secs(7), "{waited:?}");
    assert!(waited < Duration::from_secs(8), "{waited:?}");
}

#[tokio::test(start_paused = true)]
async fn a_hostile_retry_after_is_capped() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.fail_next([VaultError::Throttled {
        retry_after: Some(Duration::from_secs(86_400)),
    }]);
    let _ = vault.get_secret(&access("c"), "db", None).await;
    let started = Instant::now();
    vault.get_secret(&access("c"), "db", None).await.unwrap();
    assert_eq!(started.elapsed().as_secs(), 300);
}

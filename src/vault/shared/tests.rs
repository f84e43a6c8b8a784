//! The sharing layer against the fake vault, on tokio's paused clock: time moves only when every
//! task waits, so waits are measured exactly.

use std::sync::Arc;
use std::time::Duration;

use tokio::time::Instant;

use super::{SharedVault, SharingOptions};
use crate::vault::fake::FakeVault;
use crate::vault::{VaultAccess, VaultError};

fn access(client_id: &str) -> VaultAccess {
    VaultAccess::for_test("https://v.vault.azure.net/", client_id)
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
async fn listings_in_flight_are_shared_by_one_identity_only() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.set_delay(Duration::from_millis(200));
    let (reader, another) = (access("c"), access("other"));
    let same = (0..3).map(|_| vault.list_secrets(&reader));
    let other = vault.list_secrets(&another);
    let (same, other) = futures::join!(futures::future::join_all(same), other);
    assert!(same.iter().all(Result::is_ok) && other.is_ok());
    assert_eq!(
        fake.calls("list"),
        2,
        "one listing per identity: another identity never shares one"
    );
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
async fn a_request_that_meets_the_challenge_costs_two_tokens() {
    let (fake, vault) = shared(SharingOptions {
        requests_per_second: 10.0,
        burst: 2.0,
        ..SharingOptions::default()
    });
    fake.challenge_next(1);
    let started = Instant::now();
    for name in ["a", "b", "c"] {
        let _ = vault.get_secret(&access("c"), name, None).await;
    }
    // The first request took the whole burst (it reaches the vault twice); then one every
    // 100 ms: without the challenge, the second would have gone at once.
    let elapsed = started.elapsed();
    assert!(elapsed >= Duration::from_millis(200), "{elapsed:?}");
    assert!(elapsed < Duration::from_millis(300), "{elapsed:?}");
}

/// The Retry-After a paused vault answers with at once, without a request.
async fn deferred(vault: &SharedVault, client_id: &str) -> Duration {
    let started = Instant::now();
    let answer = vault.get_secret(&access(client_id), "db", None).await;
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "no sleeping inside the call"
    );
    match answer {
        Err(VaultError::Throttled {
            retry_after: Some(after),
        }) => after,
        other => panic!("expected a deferral, got {other:?}"),
    }
}

#[tokio::test(start_paused = true)]
async fn a_retry_after_pauses_the_vault_for_every_identity_without_holding_the_caller() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.fail_next([VaultError::Throttled {
        retry_after: Some(Duration::from_secs(7)),
    }]);
    let first = vault.get_secret(&access("c"), "db", None).await;
    assert!(matches!(first, Err(VaultError::Throttled { .. })));
    assert_eq!(deferred(&vault, "other").await, Duration::from_secs(7));
    tokio::time::advance(Duration::from_secs(3)).await;
    assert_eq!(deferred(&vault, "c").await, Duration::from_secs(4));
    assert_eq!(
        fake.calls("secret"),
        1,
        "deferred calls never reach the vault"
    );
    tokio::time::advance(Duration::from_secs(4)).await;
    vault
        .get_secret(&access("other"), "db", None)
        .await
        .unwrap();
    assert_eq!(fake.calls("secret"), 2);
}

#[tokio::test(start_paused = true)]
async fn a_hostile_retry_after_is_capped() {
    let (fake, vault) = shared(SharingOptions::default());
    fake.fail_next([VaultError::Throttled {
        retry_after: Some(Duration::from_secs(86_400)),
    }]);
    let _ = vault.get_secret(&access("c"), "db", None).await;
    assert_eq!(deferred(&vault, "c").await, Duration::from_secs(300));
}

#[tokio::test(start_paused = true)]
async fn demand_beyond_the_budget_is_deferred_not_queued_for_long() {
    let (fake, vault) = shared(SharingOptions {
        requests_per_second: 1.0,
        burst: 1.0,
        ..SharingOptions::default()
    });
    let reader = access("c");
    let names: Vec<String> = (0..4).map(|i| format!("s{i}")).collect();
    let reads = names
        .iter()
        .map(|name| vault.get_secret(&reader, name, None));
    let answers = futures::future::join_all(reads).await;
    let deferred = answers
        .iter()
        .filter(|a| matches!(a, Err(VaultError::OverBudget { .. })))
        .count();
    assert!(deferred >= 1, "{answers:?}");
    assert_eq!(fake.calls("secret"), 4 - deferred);
}

#[tokio::test(start_paused = true)]
async fn every_page_of_a_listing_counts_against_the_budget() {
    let fake = Arc::new(FakeVault::default());
    for i in 0..60 {
        fake.put_secret(&format!("s{i}"), "v1", "value");
    }
    let pages = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = pages.clone();
    let vault = SharedVault::new(
        fake,
        SharingOptions {
            requests_per_second: 10.0,
            burst: 3.0,
            ..SharingOptions::default()
        },
    )
    .with_observer(Arc::new(move |operation, _| {
        if operation == "ListSecrets" {
            counted.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        }
    }));
    let reader = access("c");
    assert_eq!(vault.list_secrets(&reader).await.unwrap().len(), 60);
    assert_eq!(
        pages.load(std::sync::atomic::Ordering::Relaxed),
        3,
        "60 secrets: 3 pages"
    );
    // Burst 3, all three taken by the listing's pages: the next request waits for a token.
    let started = Instant::now();
    vault.get_secret(&reader, "s1", None).await.unwrap();
    assert_eq!(started.elapsed(), Duration::from_millis(100));
}

#[tokio::test(start_paused = true)]
async fn a_listing_fetches_no_page_before_the_budget_allows_it() {
    let (fake, vault) = shared(SharingOptions {
        requests_per_second: 10.0,
        burst: 3.0,
        ..SharingOptions::default()
    });
    // With `db`, 150 secrets.
    for i in 0..149 {
        fake.put_secret(&format!("s{i}"), "v1", "value");
    }
    let started = Instant::now();
    let listing = vault.list_secrets(&access("c")).await.unwrap();
    assert_eq!(listing.len(), 150);
    // Six pages: three from the burst, the other three a tenth of a second apart.
    assert_eq!(started.elapsed(), Duration::from_millis(300));
}

#[test]
fn a_kept_listing_finds_every_name_whatever_its_case() {
    let listed = |name: &str| crate::vault::SecretProperties {
        name: name.into(),
        enabled: true,
        updated: Some(1),
        tags: Default::default(),
        content_type: None,
        managed: false,
    };
    let names = ["zeta", "Alpha", "mid-9", "MID-10", "beta", "db"];
    let items = super::kept(names.iter().map(|name| listed(name)).collect());
    let sorted: Vec<&str> = items.iter().map(|item| item.name.as_str()).collect();
    assert_eq!(sorted, ["Alpha", "beta", "db", "MID-10", "mid-9", "zeta"]);
    let listing = crate::feed::Listing::plain(items);
    for name in ["ZETA", "alpha", "Mid-10", "mid-9", "DB", "beta"] {
        let found = listing
            .find(name)
            .map(|item| item.name.to_ascii_lowercase());
        assert_eq!(found, Some(name.to_ascii_lowercase()));
    }
    assert!(listing.find("missing").is_none());
    assert!(listing.find("mid").is_none());
}

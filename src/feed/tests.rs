//! The feed against the fake vault, on tokio's paused clock: scans per period, wake-ups of the
//! followers of what changed only, identity isolation, scanners that go with their followers.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use super::*;
use crate::vault::fake::FakeVault;
use crate::vault::shared::SharingOptions;

fn access(client_id: &str) -> VaultAccess {
    VaultAccess::for_test("https://shop.vault.azure.net/", client_id)
}

fn key(name: &str) -> ObjectKey {
    ObjectKey {
        kind: "VaultSecret",
        namespace: "ns".into(),
        name: name.into(),
        uid: format!("uid-{name}"),
    }
}

fn following(names: &[&str], interval: u64) -> Interest {
    Interest {
        interval: Duration::from_secs(interval),
        secrets: Follow::names(names.iter().copied()),
        certificates: Follow::default(),
        keys: Follow::default(),
    }
}

/// A feed over a fake vault holding `secrets`, recording whom it wakes.
fn feed(secrets: &[&str]) -> (Arc<FakeVault>, ChangeFeed, Arc<Mutex<Vec<String>>>) {
    let fake = Arc::new(FakeVault::default());
    for name in secrets {
        fake.put_secret(name, "v1", "value");
    }
    let vault = SharedVault::new(fake.clone(), SharingOptions::default());
    let feed = ChangeFeed::new(vault, FeedOptions::default(), Metrics::new());
    let woken = Arc::new(Mutex::new(Vec::new()));
    let record = woken.clone();
    feed.set_wake(Arc::new(move |key: &ObjectKey| {
        record.lock().unwrap().push(key.name.clone())
    }));
    (fake, feed, woken)
}

#[tokio::test(start_paused = true)]
async fn one_scan_per_period_serves_every_follower_and_wakes_only_those_concerned() {
    let (fake, feed, woken) = feed(&["db", "api", "cache"]);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["DB"], 60));
    feed.follow(&key("b"), &reader, following(&["api"], 60));
    feed.follow(&key("c"), &reader, following(&["cache"], 300));
    for _ in 0..3 {
        assert!(
            feed.secrets(&reader, Need::IfCheaper)
                .await
                .unwrap()
                .is_some()
        );
    }
    assert_eq!(fake.calls("list"), 1, "one listing serves all three");

    fake.put_secret("db", "v2", "rotated");
    tokio::time::sleep(Duration::from_secs(70)).await;
    assert_eq!(
        fake.calls("list"),
        2,
        "the scanner lists once per shortest interval"
    );
    assert_eq!(*woken.lock().unwrap(), ["a"], "only db's follower is woken");
    assert!(feed.take_woken(&key("a")));
    assert!(!feed.take_woken(&key("a")), "a wake-up is taken once");
    assert!(!feed.take_woken(&key("b")));
    fake.delete_secret("api");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert!(
        feed.take_woken(&key("b")),
        "a deleted secret wakes its follower"
    );
    assert_eq!(fake.calls("secret"), 0, "a scan never reads values");
}

#[tokio::test(start_paused = true)]
async fn a_listing_never_serves_another_identity() {
    let (fake, feed, _) = feed(&["db"]);
    feed.follow(&key("a"), &access("team-a"), following(&["db"], 60));
    feed.follow(&key("b"), &access("team-b"), following(&["db"], 60));
    feed.secrets(&access("team-a"), Need::IfCheaper)
        .await
        .unwrap();
    feed.secrets(&access("team-b"), Need::IfCheaper)
        .await
        .unwrap();
    assert_eq!(fake.calls("list"), 2);
    assert_eq!(feed.scanner_count(), 2);
}

#[tokio::test(start_paused = true)]
async fn scanners_go_with_their_last_follower_and_stop_listing() {
    let (fake, feed, _) = feed(&["db"]);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["db"], 10));
    feed.follow(&key("b"), &reader, following(&["db"], 10));
    feed.secrets(&reader, Need::IfCheaper).await.unwrap();
    feed.forget("VaultSecret", "ns", "a", Some("uid-a"));
    assert_eq!(feed.scanner_count(), 1);
    feed.follow(&key("b"), &reader, following(&[], 10));
    assert_eq!(
        feed.scanner_count(),
        0,
        "following nothing (all pinned) unregisters"
    );
    let before = fake.calls("list");
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        fake.calls("list"),
        before,
        "a removed scanner lists no more"
    );
}

#[tokio::test(start_paused = true)]
async fn a_listing_costlier_than_the_followed_reads_is_not_made_again() {
    let names: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let (fake, feed, _) = feed(&refs);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["s1"], 60));
    assert!(
        feed.secrets(&reader, Need::IfCheaper)
            .await
            .unwrap()
            .is_some()
    );
    tokio::time::sleep(Duration::from_secs(200)).await;
    assert_eq!(
        fake.calls("list"),
        1,
        "four pages to follow one secret: the scanner does not list"
    );
    assert!(
        feed.secrets(&reader, Need::IfCheaper)
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        feed.secrets(&reader, Need::Required)
            .await
            .unwrap()
            .is_some(),
        "a bulk selector gets its listing"
    );
}

#[tokio::test(start_paused = true)]
async fn a_push_wakes_the_followers_of_that_object_in_that_vault_only() {
    let (fake, feed, woken) = feed(&["db", "api"]);
    feed.follow(&key("a"), &access("team-a"), following(&["db"], 3600));
    feed.follow(&key("b"), &access("team-b"), following(&["api"], 3600));
    let mut elsewhere = access("team-c");
    elsewhere.vault_url = "https://other.vault.azure.net/".into();
    feed.follow(&key("c"), &elsewhere, following(&["db"], 3600));
    feed.secrets(&access("team-a"), Need::IfCheaper)
        .await
        .unwrap();
    let change = PushedChange {
        vault_name: "SHOP".into(),
        object_type: ObjectType::Secret,
        object_name: "Db".into(),
        version: Some("v2".into()),
    };
    feed.pushed(&change);
    assert_eq!(*woken.lock().unwrap(), ["a"]);
    feed.pushed(&change);
    assert_eq!(
        *woken.lock().unwrap(),
        ["a"],
        "a repeated delivery of the same version wakes nobody"
    );
    let listing = feed
        .secrets(&access("team-a"), Need::IfCheaper)
        .await
        .unwrap()
        .unwrap();
    assert_eq!(listing.pushed_version("db"), Some("v2"));
    feed.pushed(&PushedChange {
        version: Some("v3".into()),
        ..change.clone()
    });
    assert_eq!(
        *woken.lock().unwrap(),
        ["a", "a"],
        "a newer version wakes again"
    );
    feed.pushed(&PushedChange {
        object_name: "unknown".into(),
        ..change
    });
    assert_eq!(
        woken.lock().unwrap().len(),
        2,
        "nobody follows it: nothing happens"
    );
    assert_eq!(fake.calls("secret"), 0, "a push never reads by itself");
}

#[test]
fn vault_names_come_from_the_host() {
    assert_eq!(vault_name("https://shop.vault.azure.net/"), "shop");
    assert_eq!(vault_name("https://bench.vault.localhost:8443/"), "bench");
}

#[tokio::test(start_paused = true)]
async fn refresh_demand_beyond_the_budget_is_reported_per_vault() {
    let names: Vec<String> = (0..100).map(|i| format!("s{i}")).collect();
    let fake = Arc::new(FakeVault::default());
    for name in &names {
        fake.put_secret(name, "v1", "value");
    }
    let options = SharingOptions {
        requests_per_second: 0.1,
        ..SharingOptions::default()
    };
    let vault = SharedVault::new(fake, options);
    let feed = ChangeFeed::new(vault, FeedOptions::default(), Metrics::new());
    // Ten identities, each following one secret every 30 s and reading it alone (a listing of
    // four pages costs more): 10 / 30 s = 0.33 requests/s against 0.1.
    for (i, name) in names.iter().take(10).enumerate() {
        let reader = access(&format!("team-{i}"));
        feed.follow(&key(&format!("r{i}")), &reader, following(&[name], 30));
        feed.secrets(&reader, Need::IfCheaper).await.ok();
    }
    tokio::time::advance(Duration::from_secs(100)).await;
    let ratio = feed
        .overrun("https://SHOP.vault.azure.net")
        .expect("over budget");
    assert!((3.0..3.5).contains(&ratio), "{ratio}");
    assert_eq!(feed.overrun("https://other.vault.azure.net/"), None);
}

#[tokio::test(start_paused = true)]
async fn the_first_scan_after_failed_ones_wakes_every_follower() {
    let (fake, feed, woken) = feed(&["db", "api"]);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["db"], 60));
    feed.follow(&key("b"), &reader, following(&["api"], 60));
    feed.secrets(&reader, Need::IfCheaper).await.unwrap();
    fake.fail_next([VaultError::Unavailable {
        detail: "503".into(),
    }]);
    // The scan due at 60 s fails; its retry comes 2 s later, not a period later.
    tokio::time::sleep(Duration::from_secs(61)).await;
    assert!(
        woken.lock().unwrap().is_empty(),
        "a failed scan wakes no one"
    );
    tokio::time::sleep(Duration::from_secs(4)).await;
    let mut all = woken.lock().unwrap().clone();
    all.sort();
    assert_eq!(
        all,
        ["a", "b"],
        "the vault is back: nothing changed, all are woken, well within a period"
    );
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(woken.lock().unwrap().len(), 2, "only once");
}

#[tokio::test(start_paused = true)]
async fn an_identity_that_may_not_list_reads_one_by_one() {
    let (fake, feed, _) = feed(&["db"]);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["db"], 60));
    fake.fail_next([VaultError::Forbidden {
        detail: "no list permission".into(),
    }]);
    assert!(
        feed.secrets(&reader, Need::IfCheaper)
            .await
            .unwrap()
            .is_none(),
        "the listing was only an optimisation"
    );
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert!(
        feed.secrets(&reader, Need::IfCheaper)
            .await
            .unwrap()
            .is_none()
    );
    assert_eq!(fake.calls("list"), 1, "not asked again for a while");
}

#[test]
fn failed_scans_are_retried_soon_then_less_often_within_a_fraction_of_the_period() {
    let minute = Duration::from_secs(60);
    let retries: Vec<u64> = (1..=5)
        .map(|n| scanner::retry_after_failure(n, minute).as_secs())
        .collect();
    assert_eq!(retries, [2, 4, 8, 10, 10]);
    let hour = Duration::from_secs(3600);
    assert_eq!(scanner::retry_after_failure(40, hour), hour / 6);
    let short = Duration::from_secs(1);
    assert_eq!(scanner::retry_after_failure(1, short), short);
}

#[tokio::test(start_paused = true)]
async fn a_follower_is_forgotten_by_its_uid_or_else_by_its_name() {
    let (_, feed, _) = feed(&["db"]);
    let reader = access("team");
    feed.follow(&key("a"), &reader, following(&["db"], 10));
    feed.forget("VaultSecret", "ns", "a", Some("another-uid"));
    assert_eq!(
        feed.scanner_count(),
        1,
        "a resource of another uid is not this one"
    );
    feed.forget("VaultSecret", "ns", "a", Some("uid-a"));
    assert_eq!(feed.scanner_count(), 0, "gone, and its scanner with it");
    feed.follow(&key("b"), &reader, following(&["db"], 10));
    feed.forget("VaultSecret", "ns", "b", None);
    assert_eq!(feed.scanner_count(), 0, "found by its name");
}

//! The official Rust SDK (azure_security_keyvault_secrets 1.x + azure_identity) against the
//! emulator: reads, paging, refusals, and fault handling through the SDK's retry policy.

mod common;

use azure_core::http::StatusCode;
use azure_security_keyvault_secrets::models::{
    SecretClientGetSecretOptions, SecretClientListSecretPropertiesOptions,
};
use common::*;
use futures::TryStreamExt;
use std::time::{Duration, Instant};
use vaultsync_emulator::{Fault, SecretOptions};

fn version_opts(v: &str) -> Option<SecretClientGetSecretOptions<'static>> {
    Some(SecretClientGetSecretOptions {
        secret_version: Some(v.to_owned()),
        ..Default::default()
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn get_latest_and_specific_version() {
    let fx = fixture().await;
    let c = fx.control();
    let v1 = c
        .set_secret("v1", "Db-Pass", "one", SecretOptions::default())
        .unwrap();
    let opts = SecretOptions {
        content_type: Some("text/plain".into()),
        ..Default::default()
    };
    let v2 = c.set_secret("v1", "db-pass", "two", opts).unwrap();
    let client = secret_client(&fx, "v1", TENANT, CLIENT);

    let latest = client
        .get_secret("db-pass", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(latest.value.as_deref(), Some("two"));
    assert_eq!(latest.content_type.as_deref(), Some("text/plain"));
    let id = latest.id.unwrap();
    assert_eq!(
        id,
        format!("{}secrets/Db-Pass/{v2}", fx.emu.vault_url("v1"))
    );
    assert_eq!(latest.attributes.unwrap().enabled, Some(true));

    let old = client
        .get_secret("DB-PASS", version_opts(&v1))
        .await
        .unwrap();
    assert_eq!(old.into_model().unwrap().value.as_deref(), Some("one"));

    // The challenge dance happened once: one anonymous 401, then authenticated calls.
    let counters = c.counters();
    assert_eq!(counters.by_op_status("v1", "GetSecret", 401), 1);
    assert_eq!(counters.by_op_status("v1", "GetSecret", 200), 2);
    assert_eq!(counters.by_op_status("", "Token", 200), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_pages_and_versions() {
    let fx = fixture().await;
    let c = fx.control();
    for i in 0..30 {
        c.set_secret("v1", &format!("s{i:02}"), "x", SecretOptions::default())
            .unwrap();
    }
    for _ in 0..3 {
        c.set_secret("v1", "s00", "y", SecretOptions::default())
            .unwrap();
    }
    let client = secret_client(&fx, "v1", TENANT, CLIENT);
    let opts = SecretClientListSecretPropertiesOptions {
        maxresults: Some(7),
        ..Default::default()
    };
    let mut pager = client.list_secret_properties(Some(opts)).unwrap();
    let mut names = Vec::new();
    while let Some(item) = pager.try_next().await.unwrap() {
        let id = item.id.unwrap();
        assert!(!id.ends_with('/'), "list ids carry no version: {id}");
        names.push(id.rsplit('/').next().unwrap().to_owned());
    }
    assert_eq!(names.len(), 30);
    assert_eq!(names[0], "s00");
    // 30 items / 7 per page = 5 pages.
    assert_eq!(c.counters().by_op_status("v1", "ListSecrets", 200), 5);

    let mut versions = client.list_secret_properties_versions("s00", None).unwrap();
    let mut n = 0;
    while let Some(item) = versions.try_next().await.unwrap() {
        assert_eq!(item.id.unwrap().rsplit('/').next().unwrap().len(), 32);
        n += 1;
    }
    assert_eq!(n, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_disabled_and_unauthorized() {
    let fx = fixture().await;
    let c = fx.control();
    c.set_secret("v1", "off", "x", SecretOptions::default())
        .unwrap();
    c.set_secret_enabled("v1", "off", None, false).unwrap();
    c.set_secret("v2", "other", "x", SecretOptions::default())
        .unwrap();
    let client = secret_client(&fx, "v1", TENANT, CLIENT);

    let e = client.get_secret("missing", None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(StatusCode::NotFound), "{e}");
    assert!(format!("{e:?}").contains("SecretNotFound"), "{e:?}");

    let e = client.get_secret("off", None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(StatusCode::Forbidden), "{e}");
    assert!(format!("{e:?}").contains("disabled secret"), "{e:?}");

    let e = client
        .get_secret("off", version_opts("0123456789abcdef0123456789abcdef"))
        .await
        .unwrap_err();
    assert_eq!(e.http_status(), Some(StatusCode::NotFound));

    // Authenticated app without a role assignment.
    let norole = secret_client(&fx, "v1", TENANT, NO_ROLE_CLIENT);
    let e = norole.get_secret("off", None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(StatusCode::Forbidden), "{e}");
    assert!(format!("{e:?}").contains("ForbiddenByRbac"), "{e:?}");

    // Identity of tenant-a on a vault of tenant-b: refused even with a role assignment.
    let cross = secret_client(&fx, "v2", TENANT, CLIENT);
    let e = cross.get_secret("other", None).await.unwrap_err();
    assert_eq!(e.http_status(), Some(StatusCode::Unauthorized), "{e}");
    assert!(
        c.counters().by_op_status("v2", "GetSecret", 401) >= 2,
        "challenge + refused token"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttle_with_retry_after_is_honoured() {
    let fx = fixture().await;
    let c = fx.control();
    c.set_secret("v1", "s", "v", SecretOptions::default())
        .unwrap();
    let client = secret_client(&fx, "v1", TENANT, CLIENT);
    client.get_secret("s", None).await.unwrap(); // challenge + token out of the way
    c.set_fault(
        "v1",
        Fault::Throttle {
            retry_after: Some(1),
            remaining: Some(1),
        },
    );
    let t0 = Instant::now();
    let s = client
        .get_secret("s", None)
        .await
        .unwrap()
        .into_model()
        .unwrap();
    assert_eq!(s.value.as_deref(), Some("v"));
    assert!(
        t0.elapsed() >= Duration::from_millis(950),
        "waited {:?}",
        t0.elapsed()
    );
    let counters = c.counters();
    assert_eq!(counters.by_op_status("v1", "GetSecret", 429), 1);
    assert_eq!(counters.by_op_status("v1", "GetSecret", 200), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unavailable_then_success_and_latency() {
    let fx = fixture().await;
    let c = fx.control();
    c.set_secret("v1", "s", "v", SecretOptions::default())
        .unwrap();
    let client = secret_client(&fx, "v1", TENANT, CLIENT);
    client.get_secret("s", None).await.unwrap();
    c.set_fault(
        "v1",
        Fault::Status {
            code: 503,
            remaining: Some(2),
        },
    );
    client.get_secret("s", None).await.unwrap();
    assert_eq!(c.counters().by_op_status("v1", "GetSecret", 503), 2);

    c.set_fault("v1", Fault::Latency(Duration::from_millis(300)));
    let t0 = Instant::now();
    client.get_secret("s", None).await.unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(300));
    c.clear_faults("v1");
    let t0 = Instant::now();
    client.get_secret("s", None).await.unwrap();
    assert!(t0.elapsed() < Duration::from_millis(300));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_connections_and_budget() {
    let fx = fixture().await;
    let c = fx.control();
    c.set_secret("v1", "s", "v", SecretOptions::default())
        .unwrap();
    let client = secret_client(&fx, "v1", TENANT, CLIENT);
    client.get_secret("s", None).await.unwrap();

    c.set_fault("v1", Fault::RefuseConnections);
    let e = client.get_secret("s", None).await.unwrap_err();
    assert_eq!(
        e.http_status(),
        None,
        "a connection error, not an HTTP status: {e}"
    );
    c.clear_faults("v1");
    client.get_secret("s", None).await.unwrap();

    c.set_fault(
        "v1",
        Fault::Budget {
            requests: 2,
            window: Duration::from_secs(60),
        },
    );
    let token = access_token(&fx).await;
    let url = format!("{}secrets/s?api-version=7.6", fx.emu.vault_url("v1"));
    let mut statuses = Vec::new();
    for _ in 0..3 {
        let r = fx.http.get(&url).bearer_auth(&token).send().await.unwrap();
        statuses.push((
            r.status().as_u16(),
            r.headers().get("retry-after").is_some(),
        ));
    }
    assert_eq!(statuses, vec![(200, false), (200, false), (429, true)]);
}

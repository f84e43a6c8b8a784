//! Starts the Event Grid push endpoint (when configured) and turns its events into wake-ups of
//! the change feed: each event wakes the resources that follow that object, which re-read it
//! through their own identities. Started only on the process that reconciles (a standby does not
//! listen, so Event Grid's retries reach the leader).

use std::net::SocketAddr;
use std::time::Duration;

use super::StartError;
use crate::config::RunConfig;
use crate::feed::{self, ChangeFeed, PushedChange};
use crate::push::{
    EntraVerification, ObjectChanged, ObjectType, PushHealth, PushServer, PushSettings,
    SharedSecret, TlsFiles,
};

/// How recent an authenticated delivery or handshake must be for push to count as healthy.
pub const HEALTHY_WITHIN: Duration = Duration::from_secs(24 * 3600);
/// How often push health is passed on to the feed.
const HEALTH_EVERY: Duration = Duration::from_secs(10);
/// Events waiting for the feed before deliveries are answered 503 (and retried by Event Grid).
const QUEUE: usize = 4096;

/// Binds the push endpoint if `--push-addr` is set and feeds its events to `feed`; returns the
/// bound address.
pub async fn start(
    config: &RunConfig,
    extra_ca_pem: Option<&str>,
    feed: ChangeFeed,
) -> Result<Option<SocketAddr>, StartError> {
    let Some(addr) = config.push.addr else {
        return Ok(None);
    };
    let settings = settings(config, addr, extra_ca_pem)?;
    let (sink, mut changes) = tokio::sync::mpsc::channel::<ObjectChanged>(QUEUE);
    let server = PushServer::bind(settings, sink)
        .await
        .map_err(|e| StartError::Push(e.to_string()))?;
    let bound = server.local_addr();
    tokio::spawn(report_health(server.health(), feed.clone()));
    tokio::spawn(async move {
        if let Err(err) = server.run().await {
            tracing::error!(error = %err, "the push endpoint stopped");
        }
    });
    tokio::spawn(async move {
        while let Some(change) = changes.recv().await {
            feed.pushed(&pushed(&change));
        }
    });
    tracing::info!(addr = %bound, "Event Grid push endpoint listening");
    Ok(Some(bound))
}

/// The endpoint's settings from the flags.
fn settings(
    config: &RunConfig,
    addr: SocketAddr,
    extra_ca_pem: Option<&str>,
) -> Result<PushSettings, StartError> {
    let push = &config.push;
    let mut settings = PushSettings::new(addr);
    settings.tls = push
        .tls_cert_file
        .clone()
        .zip(push.tls_key_file.clone())
        .map(|(cert_chain, private_key)| TlsFiles {
            cert_chain,
            private_key,
        });
    settings.shared_secret = push.shared_secret_file.clone().map(|file| SharedSecret {
        header: push.shared_secret_header.clone(),
        file,
    });
    if let Some(audience) = &push.entra_audience {
        let tenant = config.tenant_id.clone().ok_or_else(|| {
            StartError::Push("--push-entra-audience needs --tenant-id".to_string())
        })?;
        let http = crate::vault::azure::http_client(extra_ca_pem, config.allow_loopback_hosts)
            .map_err(|e| StartError::Push(e.to_string()))?;
        settings.entra = Some(EntraVerification {
            authority_host: config
                .authority_host
                .clone()
                .unwrap_or_else(|| "https://login.microsoftonline.com".to_string()),
            tenant,
            audience: audience.clone(),
            http,
        });
    }
    Ok(settings)
}

/// The feed's view of one event.
fn pushed(change: &ObjectChanged) -> PushedChange {
    PushedChange {
        vault_name: change.vault_name.clone(),
        object_type: match change.object_type {
            ObjectType::Secret => feed::ObjectType::Secret,
            ObjectType::Certificate => feed::ObjectType::Certificate,
            ObjectType::Key => feed::ObjectType::Key,
        },
        object_name: change.object_name.clone(),
        version: change.version.clone(),
    }
}

/// Tells the feed, every few seconds, whether push is healthy (it then polls less often).
async fn report_health(health: PushHealth, feed: ChangeFeed) {
    loop {
        feed.set_push_healthy(health.is_healthy_within(HEALTHY_WITHIN));
        tokio::time::sleep(HEALTH_EVERY).await;
    }
}

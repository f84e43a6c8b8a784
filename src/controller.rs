//! Wires the operator together: API client, vault, narrow watches, controllers, HTTP endpoints,
//! graceful shutdown.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::controller::{Action, Config as ControllerConfig};
use kube::runtime::events::{Recorder, Reporter};
use kube::runtime::reflector::{self, ObjectRef};
use kube::runtime::{Controller, WatchStreamExt, watcher};
use kube::{Api, Client, ResourceExt};

use crate::config::RunConfig;
use crate::crd::{FORCE_REFRESH_ANNOTATION, VaultSecret};
use crate::desired::{MANAGED_BY_LABEL, MANAGED_BY_VALUE, OWNER_ANNOTATION};
use crate::http::{self, Health};
use crate::reconcile::{self, Context, Settings, SyncError, vault_secret};
use crate::telemetry::Metrics;
use crate::vault::azure::{AzureOptions, AzureVault};
use crate::vault::shared::{SharedVault, SharingOptions};

/// Errors that stop the operator from starting.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// No usable Kubernetes configuration.
    #[error("failed to configure the Kubernetes client: {0}")]
    Kube(String),
    /// The extra CA file could not be read or used.
    #[error("failed to set up the vault client: {0}")]
    Vault(String),
    /// The HTTP endpoint could not bind.
    #[error("failed to listen on {addr}: {source}")]
    Listen {
        /// The address.
        addr: std::net::SocketAddr,
        /// The cause.
        source: std::io::Error,
    },
}

async fn client(config: &RunConfig) -> Result<Client, StartError> {
    let kube_config = match &config.kubeconfig {
        Some(path) => {
            let kubeconfig = kube::config::Kubeconfig::read_from(path)
                .map_err(|e| StartError::Kube(e.to_string()))?;
            kube::Config::from_custom_kubeconfig(kubeconfig, &Default::default())
                .await
                .map_err(|e| StartError::Kube(e.to_string()))?
        }
        None => kube::Config::infer()
            .await
            .map_err(|e| StartError::Kube(e.to_string()))?,
    };
    Client::try_from(kube_config).map_err(|e| StartError::Kube(e.to_string()))
}

/// A VaultSecret is reconciled when its generation or force-refresh annotation changes, not on
/// its own status writes.
fn spec_or_force_refresh(resource: &VaultSecret) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    let mut hasher = std::collections::hash_map::DefaultHasher::new();
    resource.metadata.generation.hash(&mut hasher);
    resource
        .annotations()
        .get(FORCE_REFRESH_ANNOTATION)
        .hash(&mut hasher);
    resource.uid().hash(&mut hasher);
    Some(hasher.finish())
}

/// Maps a managed Secret to the resource named in its owner annotation.
fn owner_of(secret: Secret, kind: &str) -> Option<ObjectRef<VaultSecret>> {
    let owner = secret.annotations().get(OWNER_ANNOTATION)?;
    let (owner_kind, name) = owner.split_once('/')?;
    let namespace = secret.namespace()?;
    (owner_kind == kind).then(|| ObjectRef::new(name).within(&namespace))
}

fn error_policy(_resource: Arc<VaultSecret>, error: &SyncError, _ctx: Arc<Context>) -> Action {
    tracing::warn!(error = %error, "reconcile could not record its result; retrying");
    Action::requeue(reconcile::requeue::jitter(Duration::from_secs(10), 0.3))
}

/// Runs the operator until SIGINT or SIGTERM.
pub async fn run(config: RunConfig) -> Result<(), StartError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = client(&config).await?;
    let metrics = Metrics::new();
    let health = Health::default();

    let extra_ca_pem =
        match &config.extra_ca_file {
            Some(path) => Some(std::fs::read_to_string(path).map_err(|e| {
                StartError::Vault(format!("failed to read {}: {e}", path.display()))
            })?),
            None => None,
        };
    let azure = AzureVault::new(
        client.clone(),
        AzureOptions {
            authority_host: config.authority_host.clone(),
            extra_ca_pem,
            disable_challenge_resource_verification: config
                .insecure_disable_challenge_resource_verification,
            api_version: None,
        },
    )
    .map_err(|e| StartError::Vault(e.to_string()))?;
    let observer_metrics = metrics.clone();
    let vault = SharedVault::new(
        Arc::new(azure),
        SharingOptions {
            requests_per_second: config.vault_requests_per_second,
            ..Default::default()
        },
    )
    .with_observer(Arc::new(move |operation, outcome| {
        observer_metrics.vault_request(operation, outcome)
    }));

    let (vault_secrets, secrets): (Api<VaultSecret>, Api<Secret>) = match &config.namespace {
        Some(ns) => (
            Api::namespaced(client.clone(), ns),
            Api::namespaced(client.clone(), ns),
        ),
        None => (Api::all(client.clone()), Api::all(client.clone())),
    };
    let managed =
        watcher::Config::default().labels(&format!("{MANAGED_BY_LABEL}={MANAGED_BY_VALUE}"));
    let (secret_store, secret_writer) = reflector::store();
    let secret_events = watcher(secrets, managed)
        .default_backoff()
        .reflect(secret_writer)
        .touched_objects();
    let (vs_store, vs_writer) = reflector::store();
    let vs_events = watcher(vault_secrets, watcher::Config::default())
        .default_backoff()
        .reflect(vs_writer)
        .applied_objects()
        .predicate_filter(spec_or_force_refresh, Default::default());

    let reporter = Reporter {
        controller: "vaultsync".into(),
        instance: std::env::var("POD_NAME").ok(),
    };
    let recorder = Recorder::new(client.clone(), reporter);
    let settings = Settings {
        default_tenant: config.tenant_id.clone(),
    };
    let ctx = Context::new(
        client.clone(),
        vault,
        secret_store.clone(),
        recorder,
        metrics.clone(),
        settings,
    );

    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.metrics_addr,
            source,
        })?;
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let http_stop = wait_for(stop_rx.clone());
    let server = tokio::spawn(http::serve(
        listener,
        metrics.clone(),
        health.clone(),
        http_stop,
    ));

    let ready_health = health.clone();
    let (ready_vs, ready_secrets) = (vs_store.clone(), secret_store.clone());
    tokio::spawn(async move {
        let _ = ready_vs.wait_until_ready().await;
        let _ = ready_secrets.wait_until_ready().await;
        ready_health.set_ready(true);
    });

    tracing::info!(namespace = ?config.namespace, "vaultsync starting");
    let forget_ctx = ctx.clone();
    Controller::for_stream(vs_events, vs_store)
        .with_config(ControllerConfig::default().concurrency(config.concurrency))
        .watches_stream(secret_events, |secret| owner_of(secret, vault_secret::KIND))
        .graceful_shutdown_on(shutdown_signal(stop_tx))
        .run(vault_secret::reconcile, error_policy, ctx)
        .for_each(|result| {
            if let Err(kube::runtime::controller::Error::ObjectNotFound(object)) = &result {
                // The resource is gone: drop its schedule and per-object metrics.
                let ns = object.namespace.clone().unwrap_or_default();
                forget_ctx
                    .schedule
                    .forget(vault_secret::KIND, &ns, &object.name);
                forget_ctx
                    .metrics
                    .forget_object(vault_secret::KIND, &ns, &object.name);
                forget_ctx.metrics.set_managed_secrets(
                    vault_secret::KIND,
                    forget_ctx.schedule.managed_count(vault_secret::KIND) as i64,
                );
            }
            futures::future::ready(())
        })
        .await;
    health.set_ready(false);
    let _ = server.await;
    tracing::info!("vaultsync stopped");
    Ok(())
}

async fn wait_for(mut stop: tokio::sync::watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopped| *stopped).await;
}

async fn shutdown_signal(stop: tokio::sync::watch::Sender<bool>) {
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = async { match term.as_mut() { Some(t) => { t.recv().await; } None => futures::future::pending().await } } => {}
    }
    tracing::info!("shutdown requested");
    let _ = stop.send(true);
}

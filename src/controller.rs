//! Wires the operator together: API client, vault, narrow watches, controllers, HTTP endpoints,
//! graceful shutdown.

pub mod content_key;
mod error;
mod parts;
mod push;
mod queue;
mod runner;
mod shelf;
mod vault_client;
pub(crate) mod watches;

use std::sync::Arc;
use std::time::Duration;

use futures::future::BoxFuture;
use kube::Client;

use crate::config::RunConfig;
use crate::crd::{VaultCertificate, VaultSecret};
use crate::feed::Wake;
use crate::http::{self, Health};
use crate::leader::{ElectionConfig, Elector, Leader};
use crate::reconcile::{self, Context, Kind, SecretCache};
use crate::telemetry::{Census, Metrics};
pub use error::StartError;
use parts::Parts;
use runner::Runner;
use shelf::{ResourceAt, Shelf};
use watches::{Routes, Scope};

/// Reconciles `resource`, then sets when it is reconciled again in the schedule's wakes. A
/// failure to record the result is retried in about ten seconds.
async fn reconcile_and_wake<K: Kind>(resource: Arc<K>, ctx: Arc<Context>) {
    let key = reconcile::ObjectKey::of(resource.as_ref());
    let after = match reconcile::reconcile::<K>(resource, ctx.clone()).await {
        Ok(reconcile::Revisit(after)) => after,
        Err(error) => {
            tracing::warn!(error = %error, "reconcile could not record its result; retrying");
            let roll = rand::random_range(-1.0..=1.0);
            reconcile::requeue::spread(Duration::from_secs(10), 0.3, roll)
        }
    };
    ctx.schedule
        .wake_at(&key, std::time::Instant::now() + after);
}

/// Runs the operator until SIGINT or SIGTERM.
pub async fn run(config: RunConfig) -> Result<(), StartError> {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Parts {
        election,
        client,
        metrics,
        extra_ca_pem,
        scopes,
        secret_cache,
        mut secret_events,
        events,
        ctx,
    } = Parts::build(&config).await?;
    let health = Health::default();
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let restarts = crate::restart::start(
        &client,
        &scopes,
        secret_cache.clone(),
        events,
        metrics.clone(),
        &config.restarts,
        stop_rx.clone(),
    );
    if let Some((tap, _)) = &restarts {
        secret_events = secret_events.into_iter().map(|e| tap.observe(e)).collect();
    }
    let secret_events = parts::with_managed_config_maps(&client, &scopes, secret_events);
    let server = serve_http(&config, &metrics, &health, &stop_rx).await?;
    let wired = Wired::new(&client, &scopes, secret_events, &ctx, &config, &stop_rx);
    tokio::spawn(report_ready(wired.filled, secret_cache, health.clone()));

    tracing::info!(namespaces = ?config.namespaces, "vaultsync starting");
    tokio::spawn(shutdown_signal(stop_tx));
    // No reconcile before this process may reconcile: alone, or holding the Lease.
    let Some(role) = Role::take(election, &client, &metrics, &health, stop_rx.clone()).await else {
        let _ = server.await;
        tracing::info!("vaultsync stopped while standing by");
        return Ok(());
    };
    for route in wired.routes {
        tokio::spawn(route);
    }
    push::start(&config, extra_ca_pem.as_deref(), ctx.feed.clone()).await?;
    if let Some((_, restarter)) = restarts {
        tokio::spawn(restarter);
    }
    // Each controller finishes its in-flight reconciles after the stop signal, then ends.
    role.run(futures::future::join_all(wired.controllers))
        .await?;
    health.set_ready(false);
    role.release().await;
    let _ = server.await;
    tracing::info!("vaultsync stopped");
    Ok(())
}

/// Binds the health, readiness and metrics endpoints and serves them until `stop`.
async fn serve_http(
    config: &RunConfig,
    metrics: &Metrics,
    health: &Health,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, StartError> {
    let listener = tokio::net::TcpListener::bind(config.metrics_addr)
        .await
        .map_err(|source| StartError::Listen {
            addr: config.metrics_addr,
            source,
        })?;
    Ok(tokio::spawn(http::serve(
        listener,
        metrics.clone(),
        health.clone(),
        wait_for(stop.clone()),
    )))
}

/// Ready once every resource cache and every managed-Secret cache has its first listing.
async fn report_ready(filled: Vec<BoxFuture<'static, ()>>, secrets: SecretCache, health: Health) {
    futures::future::join_all(filled).await;
    secrets.wait_until_ready().await;
    health.set_ready(true);
}

/// Both kinds' controllers in every scope, not yet running.
struct Wired {
    /// The controllers.
    controllers: Vec<BoxFuture<'static, ()>>,
    /// Routing of managed-Secret changes and due wakes to their resources, started with the
    /// controllers: a standby neither watches nor queues them.
    routes: Vec<BoxFuture<'static, ()>>,
    /// Futures that end when each resource cache is filled.
    filled: Vec<BoxFuture<'static, ()>>,
}

impl Wired {
    fn new(
        client: &Client,
        scopes: &[Scope],
        secret_events: Vec<watches::SecretEvents>,
        ctx: &Arc<Context>,
        config: &RunConfig,
        stop: &tokio::sync::watch::Receiver<bool>,
    ) -> Self {
        let mut wired = Wired {
            controllers: Vec::new(),
            routes: Vec::new(),
            filled: Vec::new(),
        };
        let mut wakes = Vec::new();
        for (scope, secrets) in scopes.iter().zip(secret_events) {
            let (vs_tx, vs_rx) = futures::channel::mpsc::unbounded();
            let (vc_tx, vc_rx) = futures::channel::mpsc::unbounded();
            let routes = Routes {
                vault_secrets: vs_tx,
                vault_certificates: vc_tx,
            };
            wakes.push((scope.clone(), routes.clone()));
            wired.routes.push(Box::pin(watches::route(secrets, routes)));
            let concurrency = config.concurrency;
            let (run, filled) =
                controller::<VaultSecret>(client, scope, vs_rx, ctx, concurrency, stop);
            wired.controllers.push(run);
            wired.filled.push(filled);
            let (run, filled) =
                controller::<VaultCertificate>(client, scope, vc_rx, ctx, concurrency, stop);
            wired.controllers.push(run);
            wired.filled.push(filled);
        }
        let wake = wake_through(wakes);
        ctx.feed.set_wake(wake.clone());
        let timers = ctx.schedule.clone().run_wakes(wake, stop.clone());
        wired.routes.push(Box::pin(timers));
        wired
    }
}

/// Wakes a resource through the controller of the scope holding its namespace.
fn wake_through(scopes: Vec<(Scope, Routes)>) -> Wake {
    Arc::new(move |key: &reconcile::ObjectKey| {
        let Some((_, routes)) = scopes
            .iter()
            .find(|(scope, _)| scope.as_ref().is_none_or(|ns| *ns == key.namespace))
        else {
            return;
        };
        routes.send(key.kind, ResourceAt::new(&key.namespace, &key.name));
    })
}

/// The controller of kind `K` in `scope`, also triggered by `routed` (changes to its Secrets,
/// due wakes), and a future that ends when its first listing is in.
fn controller<K: Kind>(
    client: &Client,
    scope: &Scope,
    routed: futures::channel::mpsc::UnboundedReceiver<ResourceAt>,
    ctx: &Arc<Context>,
    concurrency: u16,
    stop: &tokio::sync::watch::Receiver<bool>,
) -> (BoxFuture<'static, ()>, BoxFuture<'static, ()>) {
    let events = watches::resources::<K>(client, scope, ctx.schedule.clone());
    let shelf = Arc::new(Shelf::default());
    ctx.metrics
        .add_census(K::KIND, census::<K>(shelf.clone(), ctx.schedule.clone()));
    let (filled, mut is_filled) = tokio::sync::watch::channel(false);
    let runner = Runner {
        shelf,
        ctx: ctx.clone(),
        concurrency: usize::from(concurrency),
        filled,
    };
    let run = runner.run::<K>(events, routed, wait_for(stop.clone()));
    let filled = async move {
        let _ = is_filled.wait_for(|filled| *filled).await;
    };
    (Box::pin(run), Box::pin(filled))
}

/// Counts the resources on `shelf` by their Ready condition (kept in `schedule`), for
/// `vaultsync_resources`.
fn census<K: Kind>(shelf: Arc<Shelf>, schedule: Arc<reconcile::Schedule>) -> Census {
    Box::new(move |record| {
        let mut places = Vec::new();
        shelf.for_each(|at| places.push(at.clone()));
        let places = places.iter().map(|at| (at.namespace(), at.name()));
        schedule.readiness(K::KIND, places, record);
    })
}

/// Whether this process may reconcile: alone (no leader election) or as the elected leader.
enum Role {
    Alone,
    Leader(Leader),
}

impl Role {
    /// Without leader election, at once; with it, once the Lease is ours. A standby is healthy
    /// and only waits, so it reports ready meanwhile. `None` when stopped while standing by.
    async fn take(
        election: Option<ElectionConfig>,
        client: &Client,
        metrics: &Metrics,
        health: &Health,
        stop: tokio::sync::watch::Receiver<bool>,
    ) -> Option<Self> {
        let Some(election) = election else {
            metrics.set_leader(true);
            return Some(Self::Alone);
        };
        health.set_ready(true);
        let elector = Elector::new(client.clone(), election, metrics.clone());
        tokio::select! {
            leader = elector.acquire() => {
                // Ready again once the caches the controllers now start have synced.
                health.set_ready(false);
                Some(Self::Leader(leader))
            }
            () = wait_for(stop) => None,
        }
    }

    /// Runs the controllers to their end; when leadership is lost first, drops them at once
    /// (aborting in-flight reconciles) and fails, so the process exits and restarts as a
    /// standby.
    async fn run(&self, controllers: impl Future) -> Result<(), StartError> {
        match self {
            Self::Alone => {
                controllers.await;
                Ok(())
            }
            Self::Leader(leader) => tokio::select! {
                _ = controllers => Ok(()),
                () = leader.lost() => Err(StartError::LeadershipLost),
            },
        }
    }

    /// Hands the Lease to a standby at once; call after the controllers stopped.
    async fn release(self) {
        if let Self::Leader(leader) = self {
            leader.release().await;
        }
    }
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

//! The parts the operator is built from before anything runs: the API client, the content hash
//! key, the shared vault, the managed-Secret watches of each scope and the reconcile context.

use std::sync::Arc;

use futures::StreamExt;
use kube::Client;

use super::vault_client::{extra_ca, shared_vault};
use super::watches::{self, Scope};
use super::{StartError, content_key};
use crate::config::RunConfig;
use crate::desired::content_key::ContentKey;
use crate::feed::FeedOptions;
use crate::leader::ElectionConfig;
use crate::reconcile::{Context, SecretCache, Settings};
use crate::telemetry::Metrics;
use crate::telemetry::events::Events;
use crate::vault::host::HostPolicy;

/// Everything the operator needs built before it starts watching and serving.
pub(super) struct Parts {
    /// Leader election settings, when enabled.
    pub election: Option<ElectionConfig>,
    /// The API client.
    pub client: Client,
    /// The metrics registry.
    pub metrics: Metrics,
    /// Extra PEM roots trusted for the vault, the authority and push deliveries' issuers.
    pub extra_ca_pem: Option<String>,
    /// Where the controllers look.
    pub scopes: Vec<Scope>,
    /// The cache of managed Secrets over every scope.
    pub secret_cache: SecretCache,
    /// Each scope's managed-Secret changes.
    pub secret_events: Vec<watches::SecretEvents>,
    /// The Event publisher.
    pub events: Events,
    /// What every reconcile shares.
    pub ctx: Arc<Context>,
}

impl Parts {
    /// Builds the parts from `config`; fails on a configuration or API problem found at start.
    pub async fn build(config: &RunConfig) -> Result<Self, StartError> {
        let election =
            ElectionConfig::from_run_config(config).map_err(StartError::LeaderElection)?;
        let client = client(config).await?;
        let content_key = load_content_key(config, &client).await?;
        let metrics = Metrics::new();
        let extra_ca_pem = extra_ca(config)?;
        let vault = shared_vault(config, &client, &metrics, extra_ca_pem.clone())?;
        let scopes = scopes(&config.namespaces);
        let (secret_cache, secret_events) = managed_secret_watches(&client, &scopes, &content_key);
        let events = Events::new(client.clone(), "vaultsync", std::env::var("POD_NAME").ok());
        let ctx = Arc::new(Context::new(
            client.clone(),
            vault,
            secret_cache.clone(),
            events.clone(),
            metrics.clone(),
            settings(config, &content_key),
        ));
        Ok(Parts {
            election,
            client,
            metrics,
            extra_ca_pem,
            scopes,
            secret_cache,
            secret_events,
            events,
            ctx,
        })
    }
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

/// Each scope's managed-Secret events merged with its managed-ConfigMap events (trust bundles),
/// so that an edited or deleted ConfigMap is restored like a Secret.
pub(super) fn with_managed_config_maps(
    client: &Client,
    scopes: &[Scope],
    secret_events: Vec<watches::SecretEvents>,
) -> Vec<watches::SecretEvents> {
    secret_events
        .into_iter()
        .zip(scopes)
        .map(|(events, scope)| {
            futures::stream::select(events, watches::managed_config_maps(client, scope)).boxed()
        })
        .collect()
}

/// What every reconcile reads from the run configuration.
fn settings(config: &RunConfig, content_key: &ContentKey) -> Settings {
    Settings {
        default_tenant: config.tenant_id.clone(),
        vault_hosts: HostPolicy::new(&config.allowed_vault_hosts),
        reconcile_timeout: config.reconcile_timeout,
        namespace_concurrency: usize::from(config.namespace_concurrency),
        concurrency: usize::from(config.concurrency),
        feed: FeedOptions {
            push_stretch: config.push.poll_stretch.max(1),
        },
        content_key: content_key.clone(),
    }
}

/// The content hash key: from `--content-hash-key-file`, else from the key Secret in the
/// operator's namespace (created on first start).
async fn load_content_key(config: &RunConfig, client: &Client) -> Result<ContentKey, StartError> {
    let key = match &config.content_hash_key_file {
        Some(path) => content_key::from_file(path)?,
        None => {
            let namespace = config
                .leader_election_namespace
                .clone()
                .filter(|ns| !ns.is_empty())
                .unwrap_or_else(|| client.default_namespace().to_string());
            content_key::get_or_create(client, &namespace, &config.content_hash_key_secret).await?
        }
    };
    Ok(key)
}

/// One scope for all namespaces, or one per listed namespace, each once: a repeated one would
/// run two controllers over the same objects.
fn scopes(listed: &[String]) -> Vec<Scope> {
    let mut namespaces: Vec<String> = listed
        .iter()
        .map(|ns| ns.trim().to_string())
        .filter(|ns| !ns.is_empty())
        .collect();
    namespaces.sort();
    namespaces.dedup();
    if namespaces.is_empty() {
        vec![None]
    } else {
        namespaces.into_iter().map(Some).collect()
    }
}

/// The managed-Secret watch of each scope: one cache over all, and each scope's event stream.
fn managed_secret_watches(
    client: &Client,
    scopes: &[Scope],
    content_key: &ContentKey,
) -> (SecretCache, Vec<watches::SecretEvents>) {
    let (stores, events): (Vec<_>, Vec<_>) = scopes
        .iter()
        .map(|scope| watches::managed_secrets(client, scope, content_key.clone()))
        .unzip();
    (SecretCache::new(stores), events)
}

//! Where the Lease lives: the reads and writes an election needs, behind a trait so the election
//! runtime is testable against an in-memory Lease, and their Kubernetes implementation.

use async_trait::async_trait;
use k8s_openapi::api::coordination::v1::Lease;
use kube::api::PostParams;
use kube::{Api, Client};

/// Field manager of the Lease writes.
const FIELD_MANAGER: &str = "vaultsync-leader-election";

/// The Lease reads and writes an election needs; a seam so the election logic is testable
/// without an API server.
#[async_trait]
pub(super) trait LeaseStore: Send + Sync {
    async fn get(&self) -> Result<Option<Lease>, kube::Error>;
    async fn create(&self, lease: &Lease) -> Result<Lease, kube::Error>;
    /// Replaces the Lease; fails with 409 Conflict when its `resourceVersion` is stale.
    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error>;
}

/// One named Lease on the API server.
pub(super) struct KubeLeases {
    api: Api<Lease>,
    name: String,
}

impl KubeLeases {
    /// The Lease `name` in `namespace`.
    pub(super) fn new(client: Client, namespace: &str, name: &str) -> Self {
        Self {
            api: Api::namespaced(client, namespace),
            name: name.to_owned(),
        }
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

#[async_trait]
impl LeaseStore for KubeLeases {
    async fn get(&self) -> Result<Option<Lease>, kube::Error> {
        self.api.get_opt(&self.name).await
    }

    async fn create(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.api.create(&post_params(), lease).await
    }

    async fn replace(&self, lease: &Lease) -> Result<Lease, kube::Error> {
        self.api.replace(&self.name, &post_params(), lease).await
    }
}

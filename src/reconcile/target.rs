//! Reads and writes of the object a resource manages, a Secret or a ConfigMap, always in the
//! Secret shape (see `desired::config_map`), so that the guard, the apply step and the restore
//! path are written once.

use k8s_openapi::api::core::v1::{ConfigMap, Secret};
use kube::Api;
use kube::api::{Patch, PatchParams, PostParams};

use crate::crd::TargetObject;
use crate::desired::config_map::{config_map_from, secret_view};

/// The API of one namespace's Secrets or ConfigMaps.
pub enum TargetApi {
    /// Secrets.
    Secrets(Api<Secret>),
    /// ConfigMaps, seen as Secrets.
    ConfigMaps(Api<ConfigMap>),
}

impl TargetApi {
    /// The API for `object`s in `namespace`.
    pub fn new(client: &kube::Client, namespace: &str, object: TargetObject) -> Self {
        match object {
            TargetObject::Secret => TargetApi::Secrets(Api::namespaced(client.clone(), namespace)),
            TargetObject::ConfigMap => {
                TargetApi::ConfigMaps(Api::namespaced(client.clone(), namespace))
            }
        }
    }

    /// The object named `name`, if any.
    pub async fn get_opt(&self, name: &str) -> Result<Option<Secret>, kube::Error> {
        match self {
            TargetApi::Secrets(api) => api.get_opt(name).await,
            TargetApi::ConfigMaps(api) => Ok(api.get_opt(name).await?.map(secret_view)),
        }
    }

    /// Creates the object; fails with 409 when one of that name exists.
    pub async fn create(&self, params: &PostParams, object: &Secret) -> Result<(), kube::Error> {
        match self {
            TargetApi::Secrets(api) => api.create(params, object).await.map(drop),
            TargetApi::ConfigMaps(api) => {
                api.create(params, &config_map_from(object)).await.map(drop)
            }
        }
    }

    /// Replaces the whole object (its `resourceVersion` guards against a concurrent change).
    pub async fn replace(
        &self,
        name: &str,
        params: &PostParams,
        object: &Secret,
    ) -> Result<(), kube::Error> {
        match self {
            TargetApi::Secrets(api) => api.replace(name, params, object).await.map(drop),
            TargetApi::ConfigMaps(api) => api
                .replace(name, params, &config_map_from(object))
                .await
                .map(drop),
        }
    }

    /// Server-side applies the object.
    pub async fn apply(
        &self,
        name: &str,
        params: &PatchParams,
        object: &Secret,
    ) -> Result<(), kube::Error> {
        match self {
            TargetApi::Secrets(api) => api
                .patch(name, params, &Patch::Apply(object))
                .await
                .map(drop),
            TargetApi::ConfigMaps(api) => api
                .patch(name, params, &Patch::Apply(config_map_from(object)))
                .await
                .map(drop),
        }
    }
}

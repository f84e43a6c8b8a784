//! One sync of a VaultCertificate: what every path starts from, and the three paths, cheapest
//! first: unchanged in the vault (nothing read), a first sync led by the listing (one read of
//! the key and chain), and a read of the metadata, then of the key and chain unless the Secret
//! already holds that build.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;

use super::conversion::convert_backing;
use super::password::{Password, keystore_password};
use super::{note_reread, read_backing, read_certificate, reusable};
use crate::crd::{VaultCertificate, VaultCertificateStatus};
use crate::desired::certificate as cert;
use crate::reconcile::certificate_report::Converted;
use crate::reconcile::kind::Written;
use crate::reconcile::plan::Plan;
use crate::reconcile::{Context, SyncError, steps};
use crate::vault::{CertificateBundle, SecretBundle, SecretValue};

/// What one sync knows before reading the certificate.
pub(super) struct Attempt<'a> {
    resource: &'a VaultCertificate,
    ctx: &'a Context,
    plan: &'a Plan<VaultCertificate>,
    start: steps::Start,
    password: Option<Password>,
    previous: VaultCertificateStatus,
    /// The Secret as it is, with its values, unless absent or about to be adopted.
    current: Option<Secret>,
}

impl<'a> Attempt<'a> {
    /// Resolves the identity, runs the guard, follows the certificate in the change feed and
    /// reads the keystore password and the current Secret.
    pub(super) async fn begin(
        resource: &'a VaultCertificate,
        ctx: &'a Context,
        plan: &'a Plan<VaultCertificate>,
    ) -> Result<Self, SyncError> {
        let start = steps::start(resource, ctx, plan).await?;
        ctx.feed
            .follow(&plan.key, &start.access, resource.interest(plan));
        let password = keystore_password(ctx, resource).await?;
        let current = match start.existing.as_ref().filter(|_| !start.adopt) {
            Some(existing) => {
                let last = plan.entry.last_desired.as_ref();
                Some(steps::with_values(ctx, &plan.key.namespace, existing, last).await?)
            }
            None => None,
        };
        Ok(Attempt {
            resource,
            ctx,
            plan,
            start,
            password,
            previous: plan.previous.clone().unwrap_or_default(),
            current,
        })
    }

    /// Unchanged in the vault (by the listing, or pinned) and the Secret holds this build:
    /// written from what it holds, nothing read. `None` when the vault must be read.
    pub(super) async fn unchanged(&self) -> Result<Option<Written<Converted>>, SyncError> {
        let Some(found) = self
            .resource
            .unchanged(self.ctx, &self.start.access, &self.previous, self.plan)
            .await?
        else {
            return Ok(None);
        };
        let stamp = self.stamp(&found);
        match self.reuse(&found, &stamp)? {
            Some(data) => self.write(&found, &stamp, data).await.map(Some),
            None => Ok(None),
        }
    }

    /// Never synced, following the latest, and listed: one read of the backing secret gives
    /// the version and the content (the metadata read would only have named that version).
    pub(super) async fn first_from_listing(&self) -> Result<Option<Written<Converted>>, SyncError> {
        let Some(listed) = self
            .resource
            .listed_first_sync(self.ctx, &self.start.access, &self.previous)
            .await?
        else {
            return Ok(None);
        };
        let backing = read_backing(
            self.ctx,
            &self.start.access,
            &listed.name,
            None,
            &listed.name,
        )
        .await?;
        let found = CertificateBundle {
            version: backing.version.clone(),
            secret_name: listed.name.clone(),
            secret_version: backing.version.clone(),
            enabled: true,
            updated: listed.updated,
            name: listed.name,
        };
        note_reread(self.ctx, self.plan, &found);
        self.convert(backing, &found).await.map(Some)
    }

    /// Reads the certificate's metadata, then its key and chain unless the Secret already holds
    /// this build.
    pub(super) async fn read(&self) -> Result<Written<Converted>, SyncError> {
        let found = read_certificate(self.ctx, &self.start.access, &self.resource.spec).await?;
        note_reread(self.ctx, self.plan, &found);
        let stamp = self.stamp(&found);
        if let Some(data) = self.reuse(&found, &stamp)? {
            return self.write(&found, &stamp, data).await;
        }
        let backing = read_backing(
            self.ctx,
            &self.start.access,
            &found.secret_name,
            Some(&found.secret_version),
            &found.name,
        )
        .await?;
        self.convert(backing, &found).await
    }

    /// What the Secret is built from: certificate version, output spec and password version.
    fn stamp(&self, found: &CertificateBundle) -> String {
        let password_version = self.password.as_ref().map(|p| p.version.as_str());
        cert::build_stamp(&found.version, &self.resource.spec, password_version)
    }

    fn reuse(
        &self,
        found: &CertificateBundle,
        stamp: &str,
    ) -> Result<Option<BTreeMap<String, SecretValue>>, SyncError> {
        reusable(
            self.current.as_ref(),
            &self.previous,
            found,
            stamp,
            cert::required_keys(&self.resource.spec),
            self.plan,
            self.ctx,
        )
    }

    /// Converts the key and chain and writes the Secret built from them.
    async fn convert(
        &self,
        backing: SecretBundle,
        found: &CertificateBundle,
    ) -> Result<Written<Converted>, SyncError> {
        let password = self.password.as_ref().map(|p| p.value.clone());
        let spec = &self.resource.spec;
        let bundle = convert_backing(backing, spec, self.plan.now.unix, password).await?;
        let stamp = self.stamp(found);
        self.resource
            .write_converted(self.ctx, self.plan, &self.start, found, &stamp, &bundle)
            .await
    }

    /// Writes the Secret holding `data` as it already is (nothing converted).
    async fn write(
        &self,
        found: &CertificateBundle,
        stamp: &str,
        data: BTreeMap<String, SecretValue>,
    ) -> Result<Written<Converted>, SyncError> {
        self.resource
            .write(self.ctx, self.plan, &self.start, found, stamp, data, None)
            .await
    }
}

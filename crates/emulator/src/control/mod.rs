//! The in-process control handle: create vaults and identities, seed objects, inject faults,
//! move the clock and read counters. The HTTP control surface ([`http`]) calls the same methods.

pub(crate) mod http;
mod keys;
pub mod seed;
mod types;

use crate::counters::Counters;
pub use crate::directory::Permission;
use crate::events::payload::{ObjectType, VaultEvent};
use crate::events::spec::{EventSubscription, SubscriptionStatus};
use crate::faults::Fault;
use crate::state::{State, Vault};
use crate::store::certs::{self, ImportInput, Source};
use crate::store::{SecretMeta, StoreError, VaultData};
use crate::test_issuer::TEST_ISSUER;
use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
pub use types::{CertificateImport, ControlError, SecretOptions};

/// Cheap, clonable handle on the emulator's state.
#[derive(Clone)]
pub struct Control {
    state: Arc<State>,
}

impl std::fmt::Debug for Control {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Control")
            .field("port", &self.state.port)
            .finish_non_exhaustive()
    }
}

impl Control {
    pub(crate) fn new(state: Arc<State>) -> Control {
        Control { state }
    }

    fn vault(&self, vault: &str) -> Result<Arc<Vault>, ControlError> {
        self.state
            .vault(vault)
            .ok_or_else(|| ControlError::VaultNotFound(vault.to_owned()))
    }

    fn with_vault<T>(
        &self,
        vault: &str,
        f: impl FnOnce(&mut VaultData, i64) -> Result<T, StoreError>,
    ) -> Result<T, ControlError> {
        let v = self.vault(vault)?;
        let now = self.state.clock.now();
        let mut data = v.write();
        Ok(f(&mut data, now)?)
    }

    /// Creates (or re-homes) a vault in a tenant; the tenant becomes known to Entra.
    pub fn create_vault(&self, vault: &str, tenant: &str) {
        let name = vault.to_ascii_lowercase();
        self.state.dir_mut().tenants.insert(tenant.to_owned());
        let mut vaults = self.state.vaults.write().unwrap_or_else(|e| e.into_inner());
        let data = vaults
            .remove(&name)
            .map(|old| std::mem::take(&mut *old.write()))
            .unwrap_or_default();
        vaults.insert(
            name.clone(),
            Arc::new(Vault {
                name,
                tenant: tenant.to_owned(),
                data: RwLock::new(data),
            }),
        );
    }

    /// Trusts an OIDC issuer (e.g. a cluster's service account issuer) with its JWKS document.
    pub fn trust_issuer(&self, issuer: &str, jwks_json: &str) -> Result<(), ControlError> {
        let jwks: serde_json::Value = serde_json::from_str(jwks_json)
            .map_err(|e| ControlError::BadParameter(format!("JWKS is not JSON: {e}")))?;
        if !jwks.get("keys").is_some_and(serde_json::Value::is_array) {
            return Err(ControlError::BadParameter(
                "JWKS has no \"keys\" array".into(),
            ));
        }
        self.state.dir_mut().issuers.insert(issuer.to_owned(), jwks);
        Ok(())
    }

    /// Registers an application (client id) in a tenant.
    pub fn register_app(&self, tenant: &str, client_id: &str) {
        let mut dir = self.state.dir_mut();
        dir.tenants.insert(tenant.to_owned());
        dir.apps.insert(client_id.to_owned(), tenant.to_owned());
    }

    /// Lets tokens of `issuer` with `sub == subject` be exchanged for `client_id`'s tokens.
    pub fn add_federated_credential(&self, client_id: &str, issuer: &str, subject: &str) {
        self.state.dir_mut().federated.insert((
            client_id.to_owned(),
            issuer.to_owned(),
            subject.to_owned(),
        ));
    }

    /// Grants permissions on a vault (added to any already granted).
    pub fn assign_role(&self, client_id: &str, vault: &str, perms: &[Permission]) {
        let key = (client_id.to_owned(), vault.to_ascii_lowercase());
        let mut dir = self.state.dir_mut();
        dir.roles
            .entry(key)
            .or_default()
            .extend(perms.iter().copied());
    }

    /// Removes every permission of a client on a vault.
    pub fn revoke_roles(&self, client_id: &str, vault: &str) {
        let key = (client_id.to_owned(), vault.to_ascii_lowercase());
        self.state.dir_mut().roles.remove(&key);
    }

    /// Adds a secret version; returns the version id.
    pub fn set_secret(
        &self,
        vault: &str,
        name: &str,
        value: &str,
        opts: SecretOptions,
    ) -> Result<String, ControlError> {
        let meta = SecretMeta {
            content_type: opts.content_type,
            tags: opts.tags,
            enabled: opts.enabled,
            nbf: opts.nbf,
            exp: opts.exp,
        };
        let v = self.vault(vault)?;
        let now = self.state.clock.now();
        let mut data = v.write();
        let version = data.set_secret(name, value.to_owned(), meta, now)?;
        let (e, s) = data.find_secret(name, Some(&version))?;
        self.state.events.publish(VaultEvent::new_version(
            &v.name,
            &self.state.vault_base(&v.name),
            ObjectType::Secret,
            &e.name,
            &version,
            s.meta.nbf,
            s.meta.exp,
            now,
        ));
        Ok(version)
    }

    /// Enables or disables a version (the latest when `version` is `None`).
    pub fn set_secret_enabled(
        &self,
        vault: &str,
        name: &str,
        version: Option<&str>,
        enabled: bool,
    ) -> Result<(), ControlError> {
        self.with_vault(vault, |d, now| {
            d.update_secret(name, version, now, |m| m.enabled = enabled)
                .map(|_| ())
        })
    }

    /// Deletes a secret with all its versions: it goes to the deleted state, as in a vault with
    /// soft delete, where it holds its name until recovered or purged.
    pub fn delete_secret(&self, vault: &str, name: &str) -> Result<(), ControlError> {
        self.with_vault(vault, |d, now| d.delete_secret(name, now).map(|_| ()))
    }

    /// Recovers a deleted secret with all its versions.
    pub fn recover_deleted_secret(&self, vault: &str, name: &str) -> Result<(), ControlError> {
        self.with_vault(vault, |d, _| d.secrets.recover(name).map(|_| ()))
    }

    /// Purges a deleted secret, freeing its name.
    pub fn purge_deleted_secret(&self, vault: &str, name: &str) -> Result<(), ControlError> {
        self.with_vault(vault, |d, _| d.secrets.purge(name))
    }

    /// Imports a certificate (new version); returns the version id.
    pub fn import_certificate(
        &self,
        vault: &str,
        name: &str,
        cert: CertificateImport,
    ) -> Result<String, ControlError> {
        let source = match (cert.pfx_der, cert.pem) {
            (Some(der), None) => Source::Pfx(der, cert.password.unwrap_or_default()),
            (None, Some(pem)) => Source::Pem(pem),
            _ => {
                return Err(ControlError::BadParameter(
                    "give exactly one of pfx_der and pem".into(),
                ));
            }
        };
        let input = ImportInput {
            source,
            content_type: cert.content_type,
            exportable: cert.exportable,
            enabled: true,
            tags: BTreeMap::new(),
            preserve_order: cert.preserve_order,
        };
        let v = self.vault(vault)?;
        let now = self.state.clock.now();
        let mut data = v.write();
        let version = certs::import(&mut data, name, input, now)?;
        let (e, c) = data.find_cert(name, Some(&version))?;
        self.state.events.publish(VaultEvent::new_version(
            &v.name,
            &self.state.vault_base(&v.name),
            ObjectType::Certificate,
            &e.name,
            &version,
            Some(c.nbf),
            Some(c.exp),
            now,
        ));
        Ok(version)
    }

    /// Fault injection: replaces the value of the latest certificate version's backing secret
    /// (same version id), as if the stored key and chain were damaged. Key Vault validates
    /// imports, so tests need this to show how a corrupt PFX, a PEM without a key or a key that
    /// does not match the certificate is reported.
    pub fn overwrite_certificate_secret(
        &self,
        vault: &str,
        name: &str,
        value: &str,
    ) -> Result<(), ControlError> {
        self.with_vault(vault, |d, _| {
            let version = d.find_cert(name, None)?.1.version.clone();
            d.secrets.find_mut(name, Some(&version))?.1.value = value.to_owned();
            Ok(())
        })
    }

    /// Names the port in the challenge's resource (`https://vault.localhost:{port}`), which
    /// Python's SDK needs to keep challenge resource verification on with a non-443 port.
    pub fn set_challenge_resource_port(&self, include_port: bool) {
        self.state
            .challenge_port
            .store(include_port, std::sync::atomic::Ordering::Relaxed);
    }

    /// Moves the emulator clock; returns the total offset in seconds.
    pub fn advance_clock(&self, secs: i64) -> i64 {
        let offset = self.state.clock.advance(secs);
        // Expiry thresholds the jump crossed fire now rather than at the next periodic scan.
        self.state.events.clock_moved();
        offset
    }

    /// Subscribes a webhook to a vault's Event Grid events; returns the subscription id. The
    /// validation handshake runs in the background: the subscription delivers only once
    /// [`Control::event_subscription`] reports it `Active`.
    pub fn subscribe_events(
        &self,
        subscription: EventSubscription,
    ) -> Result<String, ControlError> {
        self.vault(&subscription.vault)?;
        self.state.events.subscribe(subscription)
    }

    /// Deletes a subscription; returns whether it existed.
    pub fn unsubscribe_events(&self, id: &str) -> bool {
        self.state.events.unsubscribe(id)
    }

    /// A subscription's state, counters and delivery log.
    pub fn event_subscription(&self, id: &str) -> Option<SubscriptionStatus> {
        self.state.events.status(id)
    }

    /// Fault injection: deliver every event `extra_copies` more times (same event id), as Event
    /// Grid's at-least-once delivery may.
    pub fn set_event_duplicates(&self, id: &str, extra_copies: u32) -> Result<(), ControlError> {
        let sub = self
            .state
            .events
            .get(id)
            .ok_or_else(|| ControlError::NotFound(format!("event subscription {id}")))?;
        sub.set_duplicates(extra_copies);
        Ok(())
    }

    /// The manual validation of an Event Grid schema subscription (a GET of its
    /// `validationUrl`); true when the code matched within 5 minutes of the handshake.
    pub fn validate_event_subscription(&self, id: &str, code: &str) -> bool {
        self.state
            .events
            .get(id)
            .is_some_and(|s| s.validate_manually(code))
    }

    /// The emulator's current time (Unix seconds).
    pub fn now(&self) -> i64 {
        self.state.clock.now()
    }

    /// Adds a fault to a vault's data plane (replacing one of the same kind).
    pub fn set_fault(&self, vault: &str, fault: Fault) {
        self.state.faults.set(vault, fault);
    }

    /// Makes the Entra token endpoint answer 503 `temporarily_unavailable` (or serve again).
    pub fn set_entra_unavailable(&self, unavailable: bool) {
        self.state
            .entra_unavailable
            .store(unavailable, std::sync::atomic::Ordering::Relaxed);
    }

    /// Sets the lifetime (`expires_in`, seconds) of the access tokens issued from now on.
    pub fn set_token_lifetime(&self, secs: i64) {
        self.state
            .token_lifetime
            .store(secs, std::sync::atomic::Ordering::Relaxed);
    }

    /// Removes all faults of a vault.
    pub fn clear_faults(&self, vault: &str) {
        self.state.faults.clear(vault);
    }

    /// A snapshot of the request counters.
    pub fn counters(&self) -> Counters {
        self.state
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }

    /// Requests that have arrived for `vault` so far (any operation or outcome), counted before
    /// any handling: unlike [`Self::counters`], which counts each request when it is answered,
    /// this is the rate clients sent at.
    pub fn arrivals(&self, vault: &str) -> u64 {
        let arrivals = self
            .state
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner());
        arrivals
            .get(&vault.to_ascii_lowercase())
            .copied()
            .unwrap_or(0)
    }

    /// Zeroes the request counters.
    pub fn reset_counters(&self) {
        *self
            .state
            .counters
            .lock()
            .unwrap_or_else(|e| e.into_inner()) = Counters::default();
        self.state
            .arrivals
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clear();
    }

    /// Trusts the built-in test issuer (also done by `EmulatorConfig::test_issuer`).
    pub fn enable_test_issuer(&self) {
        self.state.enable_test_issuer();
    }

    /// Mints a ServiceAccount-like token from the test issuer, valid `ttl_secs` from the
    /// emulator's now (negative for an already expired token).
    pub fn mint_test_token(&self, subject: &str, audience: &str, ttl_secs: i64) -> String {
        let now = self.state.clock.now();
        self.state
            .test_issuer
            .mint(now, subject, audience, ttl_secs)
    }

    /// The test issuer's URL (the `iss` of minted tokens).
    pub fn test_issuer(&self) -> &str {
        TEST_ISSUER
    }

    /// The test issuer's JWKS document.
    pub fn test_issuer_jwks(&self) -> String {
        self.state.test_issuer.jwks().to_string()
    }
}

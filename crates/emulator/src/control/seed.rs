//! Seed documents: the JSON shapes of the control surface's create calls, and applying a whole
//! seed file (vaults, apps, issuers, federated credentials, roles, secrets) at start.

use crate::control::{Control, ControlError, Permission, SecretOptions};
use serde::{Deserialize, Serialize};

/// A vault in a tenant.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct VaultSpec {
    /// Vault name (the `{vault}` of `{vault}.vault.localhost`).
    pub name: String,
    /// Tenant id.
    pub tenant: String,
}

/// An application registration.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AppSpec {
    /// Tenant id.
    pub tenant: String,
    /// Client (application) id.
    pub client_id: String,
}

/// A trusted OIDC issuer and its JWKS (a JSON object or a string holding one).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct IssuerSpec {
    /// Issuer URL (`iss`).
    pub issuer: String,
    /// JWKS document.
    pub jwks: serde_json::Value,
}

/// A federated identity credential; `issuer` defaults to the test issuer.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FederatedSpec {
    /// Client id.
    pub client_id: String,
    /// Issuer URL; the built-in test issuer when absent.
    pub issuer: Option<String>,
    /// Subject, e.g. `system:serviceaccount:ns:sa`.
    pub subject: String,
}

/// A role assignment.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RoleSpec {
    /// Client id.
    pub client_id: String,
    /// Vault name.
    pub vault: String,
    /// Permissions granted.
    pub permissions: Vec<Permission>,
}

/// A secret to seed.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SecretSpec {
    /// Vault name.
    pub vault: String,
    /// Secret name.
    pub name: String,
    /// Value.
    pub value: String,
    /// Metadata.
    #[serde(flatten)]
    pub options: SecretOptions,
}

/// A seed file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct Seed {
    /// Vaults to create.
    pub vaults: Vec<VaultSpec>,
    /// Applications to register.
    pub apps: Vec<AppSpec>,
    /// Issuers to trust.
    pub issuers: Vec<IssuerSpec>,
    /// Federated credentials.
    pub federated_credentials: Vec<FederatedSpec>,
    /// Role assignments.
    pub role_assignments: Vec<RoleSpec>,
    /// Secrets.
    pub secrets: Vec<SecretSpec>,
}

/// The JWKS text of an issuer spec (accepts an object or a JSON string).
pub(crate) fn jwks_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

/// Applies a seed in dependency order (vaults and apps before roles and secrets).
pub fn apply_seed(control: &Control, seed: &Seed) -> Result<(), ControlError> {
    for v in &seed.vaults {
        control.create_vault(&v.name, &v.tenant);
    }
    for a in &seed.apps {
        control.register_app(&a.tenant, &a.client_id);
    }
    for i in &seed.issuers {
        control.trust_issuer(&i.issuer, &jwks_text(&i.jwks))?;
    }
    for f in &seed.federated_credentials {
        let issuer = f.issuer.as_deref().unwrap_or(control.test_issuer());
        control.add_federated_credential(&f.client_id, issuer, &f.subject);
    }
    for r in &seed.role_assignments {
        control.assign_role(&r.client_id, &r.vault, &r.permissions);
    }
    for s in &seed.secrets {
        control.set_secret(&s.vault, &s.name, &s.value, s.options.clone())?;
    }
    Ok(())
}

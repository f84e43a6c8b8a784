//! Key fixtures for tests: create a key version and sign with it, as POST /keys/{name}/create
//! and POST /keys/{name}/{version}/sign do, without an identity.

use super::{Control, ControlError};
use crate::events::payload::{ObjectType, VaultEvent};
use crate::ids::new_version;
use crate::store::keys::{self, KeyVersion};

impl Control {
    /// Creates a key version (`kty` `RSA` or `EC`; `size` for RSA, P-256 for EC), as Key Vault
    /// generates it; returns the version id.
    pub fn create_key(
        &self,
        vault: &str,
        name: &str,
        kty: &str,
        size: Option<u64>,
    ) -> Result<String, ControlError> {
        let v = self.vault(vault)?;
        let now = self.state.clock.now();
        let (name, version) = {
            let mut data = v.write();
            data.keys.check_writable(name)?;
            let material = keys::generate(kty, size, Some("P-256"))?;
            let version = new_version();
            data.keys.push(
                name,
                KeyVersion {
                    version: version.clone(),
                    key_ops: keys::default_ops(&material),
                    kty: kty.to_owned(),
                    material,
                    enabled: true,
                    created: now,
                    updated: now,
                    tags: Default::default(),
                },
            );
            let (entry, _) = data.keys.find(name, None)?;
            (entry.name.clone(), version)
        };
        // As Key Vault does for a new key version.
        self.state.events.publish(VaultEvent::new_version(
            &v.name,
            &self.state.vault_base(&v.name),
            ObjectType::Key,
            &name,
            &version,
            None,
            None,
            now,
        ));
        Ok(version)
    }

    /// Signs `digest` with the latest version of key `name` (`alg` as Key Vault names it, for
    /// example `RS256` or `ES256`); returns the raw signature.
    pub fn sign_digest(
        &self,
        vault: &str,
        name: &str,
        alg: &str,
        digest: &[u8],
    ) -> Result<Vec<u8>, ControlError> {
        self.with_vault(vault, |data, _| {
            let (_, version) = data.keys.find(name, None)?;
            keys::sign(version, alg, digest)
        })
    }
}

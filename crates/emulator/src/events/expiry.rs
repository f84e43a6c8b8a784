//! Near-expiry and expiry events: Key Vault fires `…NearExpiry` 30 days before a version's `exp`
//! and `…Expired` at `exp`. The dispatcher calls [`crossed`] with the span of emulator time since
//! its last look, so each threshold fires once as the clock passes it (moving the clock back and
//! forth again fires it again, as a real clock never does).

use super::payload::{Change, ObjectType, VaultEvent, new_guid};
use crate::state::State;

/// How long before `exp` the near-expiry event fires.
pub(crate) const NEAR_EXPIRY_SECS: i64 = 30 * 86_400;

/// Events for every live secret and certificate version whose thresholds lie in `(from, to]`.
/// Secrets backing a certificate are left out: their certificate reports for them.
pub(crate) fn crossed(state: &State, from: i64, to: i64) -> Vec<VaultEvent> {
    let mut out = Vec::new();
    if to <= from {
        return out;
    }
    let vaults: Vec<_> = state
        .vaults
        .read()
        .unwrap_or_else(|e| e.into_inner())
        .values()
        .cloned()
        .collect();
    for vault in vaults {
        if state.events.of_vault(&vault.name).is_empty() {
            continue;
        }
        let base = state.vault_base(&vault.name);
        let data = vault.read();
        let mut check = |object_type, name: &str, version: &str, nbf, exp: Option<i64>| {
            let Some(exp) = exp else { return };
            for (change, at) in [
                (Change::NearExpiry, exp - NEAR_EXPIRY_SECS),
                (Change::Expired, exp),
            ] {
                if from < at && at <= to {
                    out.push(VaultEvent {
                        id: new_guid(),
                        time: at,
                        vault: vault.name.clone(),
                        object_type,
                        change,
                        name: name.to_owned(),
                        version: version.to_owned(),
                        nbf,
                        exp: Some(exp),
                        vault_base: base.clone(),
                    });
                }
            }
        };
        for entry in data.secrets.live.values() {
            for v in entry.versions.iter().filter(|v| !v.managed) {
                check(
                    ObjectType::Secret,
                    &entry.name,
                    &v.version,
                    v.meta.nbf,
                    v.meta.exp,
                );
            }
        }
        for entry in data.certs.live.values() {
            for v in &entry.versions {
                check(
                    ObjectType::Certificate,
                    &entry.name,
                    &v.version,
                    Some(v.nbf),
                    Some(v.exp),
                );
            }
        }
    }
    out
}

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
    let mut events = Vec::new();
    if to <= from {
        return events;
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
        let mut crossing = Crossing {
            vault: &vault.name,
            vault_base: state.vault_base(&vault.name),
            from,
            to,
            events: &mut events,
        };
        let data = vault.read();
        for entry in data.secrets.live.values() {
            for v in entry.versions.iter().filter(|v| !v.managed) {
                let version = Version {
                    name: &entry.name,
                    version: &v.version,
                    nbf: v.meta.nbf,
                };
                crossing.check(ObjectType::Secret, version, v.meta.exp);
            }
        }
        for entry in data.certs.live.values() {
            for v in &entry.versions {
                let version = Version {
                    name: &entry.name,
                    version: &v.version,
                    nbf: Some(v.nbf),
                };
                crossing.check(ObjectType::Certificate, version, Some(v.exp));
            }
        }
    }
    events
}

/// One object version, as its events name it.
struct Version<'a> {
    name: &'a str,
    version: &'a str,
    nbf: Option<i64>,
}

/// The thresholds crossed in one vault during `(from, to]`, collected into `events`.
struct Crossing<'a> {
    vault: &'a str,
    vault_base: String,
    from: i64,
    to: i64,
    events: &'a mut Vec<VaultEvent>,
}

impl Crossing<'_> {
    /// Adds the near-expiry and expiry events of `version` (expiring at `exp`) crossed in the
    /// span.
    fn check(&mut self, object_type: ObjectType, version: Version<'_>, exp: Option<i64>) {
        let Some(exp) = exp else { return };
        for (change, at) in [
            (Change::NearExpiry, exp - NEAR_EXPIRY_SECS),
            (Change::Expired, exp),
        ] {
            if self.from < at && at <= self.to {
                self.events.push(VaultEvent {
                    id: new_guid(),
                    time: at,
                    vault: self.vault.to_owned(),
                    object_type,
                    change,
                    name: version.name.to_owned(),
                    version: version.version.to_owned(),
                    nbf: version.nbf,
                    exp: Some(exp),
                    vault_base: self.vault_base.clone(),
                });
            }
        }
    }
}

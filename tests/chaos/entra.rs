//! Entra down while tokens expire: every token lives [`TOKEN_LIFETIME_SECS`] for the whole run,
//! so credentials renew about every 30 s; then Entra answers 503 for [`OUTAGE`]. Tokens in hand
//! stay valid throughout, so nothing may fail, and Entra must not be asked on every request.

use std::time::{Duration, Instant};

use vaultsync_emulator::{Counters, Permission, SecretOptions};

use crate::fleet::{Fleet, REFRESH_SECS};
use crate::leaks::VALUE_PREFIX;
use crate::replicas::Replicas;
use crate::support::eventually::{check, eventually};
use crate::support::kubectl;
use crate::support::world::{ENTRA_TENANT_ID, backdrop, world_control};

/// Lifetime of every Entra token: credentials renew from 5 minutes before expiry, so each
/// identity renews about every 30 s and tokens expire many times in a run.
pub const TOKEN_LIFETIME_SECS: i64 = 330;
/// How long Entra is down: well within the 300 s a renewed token still has to live.
pub const OUTAGE: Duration = Duration::from_secs(45);
/// When, into the outage, the new resource is created: more than 30 s after the last renewal,
/// so the identity's token is inside its renewal window and the credential must ask Entra (and
/// fail) before it may fall back to the token it holds.
const LATE_AFTER: Duration = Duration::from_secs(32);
/// The VaultSecret created during the outage, reading another vault.
const LATE: &str = "entra-late";

/// What the outage showed.
#[derive(Debug, Default)]
pub struct Outage {
    /// Token requests Entra refused while down.
    pub refused: u64,
    /// Fleet resources seen not Synced meanwhile: "name: reason".
    pub not_synced: Vec<String>,
    /// How soon the resource created during the outage was Synced.
    pub late_synced_after: Option<Duration>,
}

fn tokens(counters: &Counters, status: u16) -> u64 {
    counters.sum_where(|k| k.operation == "Token" && k.status == status)
}

/// Runs the outage, then waits for a successful renewal.
pub async fn outage(fleet: &Fleet, replicas: &mut Replicas) -> Outage {
    let control = world_control();
    let late_vault = late_vault(fleet);
    let before = control.counters();
    control.set_entra_unavailable(true);
    let down = Instant::now();
    let mut seen = Outage::default();
    let mut late_applied = None;
    while down.elapsed() < OUTAGE {
        tokio::time::sleep(Duration::from_secs(2)).await;
        replicas.revive();
        // A new vault client takes its token from the credential, not from a client's cache.
        if late_applied.is_none() && down.elapsed() > LATE_AFTER {
            apply_late(fleet, &late_vault);
            late_applied = Some(Instant::now());
        }
        if let (Some(at), None) = (late_applied, seen.late_synced_after)
            && late_reason(fleet).as_deref() == Some("Synced")
        {
            seen.late_synced_after = Some(at.elapsed());
        }
        for (name, reason) in fleet.ready_reasons().await {
            if reason.as_deref() != Some("Synced") {
                seen.not_synced.push(format!("{name}: {reason:?}"));
            }
        }
    }
    control.set_entra_unavailable(false);
    let during = control.counters();
    seen.refused = tokens(&during, 503) - tokens(&before, 503);
    let renewals_before = tokens(&during, 200);
    eventually(
        "a token renewal after the Entra outage",
        Duration::from_secs(REFRESH_SECS * 2),
        || async {
            let renewals = tokens(&world_control().counters(), 200);
            check(renewals > renewals_before, "no renewal")
        },
    )
    .await;
    seen
}

/// A second vault the namespace's identity may read, holding secret `late`; returns its URL.
fn late_vault(fleet: &Fleet) -> String {
    let control = world_control();
    let vault = format!("{}late", fleet.t.vault);
    control.create_vault(&vault, ENTRA_TENANT_ID);
    control.assign_role(
        &fleet.t.client_id,
        &vault,
        &[Permission::SecretsRead, Permission::List],
    );
    let value = format!("{}{:032x}", VALUE_PREFIX, rand::random::<u128>());
    fleet.ledger.lock().unwrap().remember_secret(value.clone());
    let options = SecretOptions {
        enabled: true,
        ..Default::default()
    };
    control.set_secret(&vault, "late", &value, options).unwrap();
    backdrop().emulator.vault_url(&vault)
}

/// Applies VaultSecret [`LATE`], reading `late` from `vault_url`.
fn apply_late(fleet: &Fleet, vault_url: &str) {
    let yaml = format!(
        "apiVersion: vaultsync.dev/v1alpha1\nkind: VaultSecret\nmetadata:\n  name: {LATE}\n  \
         namespace: {}\nspec:\n  vault:\n    url: {vault_url}\n    serviceAccountName: app\n  \
         data:\n  - key: k\n    name: late\n",
        fleet.t.ns
    );
    let out = crate::support::kubectl_apply(&yaml);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn late_reason(fleet: &Fleet) -> Option<String> {
    let out = kubectl(
        &[
            "get",
            "vaultsecret",
            LATE,
            "-n",
            &fleet.t.ns,
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Ready\")].reason}",
        ],
        "",
    );
    let reason = String::from_utf8_lossy(&out.stdout).trim().to_owned();
    (!reason.is_empty()).then_some(reason)
}

//! The reconcile path, one function for both kinds. Read it in this order:
//!
//! 1. [`plan`] (pure): which object, the status to build on (what this process last wrote), and
//!    whether the vault is due: the refresh time came, the spec changed, or a force refresh was
//!    asked for.
//! 2. Not due: [`steps::recheck`] makes sure the Secret still is what was last written, from
//!    memory, without the vault. Due: the kind's [`Kind::sync`] (in [`vault_secret`] and
//!    [`vault_certificate`]) resolves the identity and runs the ownership guard before any vault
//!    read ([`steps::start`]), reads only what changed, builds the desired Secret (pure, in
//!    `crate::desired`) and applies it ([`apply`]: no write when nothing changed). A failed sync
//!    restores a Secret deleted or edited meanwhile ([`steps::restore_after_failure`]).
//! 3. [`report`] (pure): the new status, Events, schedule update, metrics and requeue delay; the
//!    kind adds its own conditions through [`Kind::extend`].
//! 4. [`commit`]: the only I/O after the sync.
//!
//! Each failure is a [`SyncError`] variant naming the step, with its condition reason and retry
//! rule.

pub mod apply;
mod certificate_report;
pub mod clock;
mod commit;
mod conditions;
mod context;
mod error;
pub mod fairness;
pub mod guard;
pub mod identity;
mod kind;
pub mod plan;
pub mod reason;
mod report;
pub mod requeue;
mod schedule;
mod secret_cache;
pub mod steps;
mod target;
pub mod vault_certificate;
pub mod vault_secret;
mod wakes;

use std::sync::Arc;

pub use context::{Context, Settings};
pub use error::{Retry, SyncError};
pub use kind::{Extension, Kind, Refresh, Written};
pub use requeue::Revisit;
pub use schedule::{ObjectKey, Schedule};
pub use secret_cache::{SecretCache, SecretStore};

/// How soon a reconcile that found its namespace's slots taken comes back.
const SLOT_RETRY: std::time::Duration = std::time::Duration::from_secs(1);

/// A target type admission refuses, on an object stored before that rule existed.
fn protected_target<K: Kind>(resource: &K) -> Option<SyncError> {
    let type_ = resource.target().type_.as_deref()?;
    crate::desired::PROTECTED_SECRET_TYPES
        .contains(&type_)
        .then(|| SyncError::InvalidSpec(format!("target.type {type_} is never written")))
}

/// The sync stopped before asking the vault because this operator's own budget for it is spent:
/// not a failure of anything, so the status and its condition stay as they are, a change that
/// woke the resource stays pending, and the resource comes back when the budget allows.
fn wait_for_budget(
    ctx: &Context,
    key: &ObjectKey,
    woken: bool,
    wait: std::time::Duration,
) -> Revisit {
    if woken {
        ctx.feed.keep_woken(key);
    }
    tracing::debug!(namespace = %key.namespace, name = %key.name, ?wait, "vault request budget spent; requeued");
    let roll = rand::random_range(0.0..=1.0);
    Revisit(requeue::spread(wait, 0.5, roll))
}

/// Reconciles one resource of kind `K`. Failures are reported through status and Events; the
/// returned error only covers failing to write that status.
pub async fn reconcile<K: Kind>(resource: Arc<K>, ctx: Arc<Context>) -> Result<Revisit, SyncError> {
    let resource = resource.as_ref();
    let key = ObjectKey::of(resource);
    let Some(_slot) = ctx.slots.try_take(&key.namespace) else {
        // The namespace has its share of workers busy: give this one back, look again shortly.
        let roll = rand::random_range(-1.0..=1.0);
        return Ok(Revisit(requeue::spread(SLOT_RETRY, 0.5, roll)));
    };
    let entry = ctx.schedule.get(&key);
    let woken = ctx.feed.take_woken(&key);
    let mut plan = plan::plan(resource, entry, ctx.clock.now(), woken);
    plan.overrun = ctx.feed.overrun(&resource.vault().url);
    let spec_error = plan
        .spec_error()
        .or_else(|| resource.spec_problem().map(SyncError::InvalidSpec))
        .or_else(|| protected_target(resource));
    let result = match (spec_error, plan.last_if_not_due()) {
        (Some(err), _) => Err(err),
        (None, Some(last)) => steps::recheck(resource, &ctx, &plan.key, last).await,
        (None, None) => {
            let deadline = ctx.settings.reconcile_timeout;
            let result = tokio::time::timeout(deadline, resource.sync(&ctx, &plan))
                .await
                .unwrap_or(Err(SyncError::DeadlineExceeded(deadline)));
            if result.is_err() {
                steps::restore_after_failure(resource, &ctx, &plan).await;
            }
            if let Some(wait) = result.as_ref().err().and_then(SyncError::budget_wait) {
                return Ok(wait_for_budget(&ctx, &key, woken, wait));
            }
            result
        }
    };
    let roll = rand::random_range(-1.0..=1.0);
    let report = report::report(resource, &plan, result, roll);
    commit::commit(&ctx, resource, &plan, report).await
}

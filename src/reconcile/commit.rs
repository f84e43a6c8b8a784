//! Commit step: the only I/O after a sync. Publishes the report's Events, updates the schedule
//! and the metrics, and writes the status; returns when to reconcile again.

use kube::api::{Api, Patch, PatchParams};

use super::kind::Kind;
use super::plan::Plan;
use super::report::{Note, Report, ScheduleUpdate};
use super::schedule::Readiness;
use super::{Context, ObjectKey, Revisit, SyncError};
use crate::telemetry::ReconcileOutcome;
use crate::telemetry::events::Occurrence;

/// Carries out `report` for `resource`. Only a failed status write is returned as an error;
/// everything else a sync can fail at is already in the report.
pub async fn commit<K: Kind>(
    ctx: &Context,
    resource: &K,
    plan: &Plan<K>,
    report: Report<K::Status>,
) -> Result<Revisit, SyncError> {
    let reference = resource.object_ref(&());
    for note in &report.notes {
        publish(ctx, &reference, note).await;
    }
    record(ctx, plan, &report);
    if let Some(status) = report.status {
        write_status::<K>(ctx, &plan.key, status).await?;
    }
    Ok(Revisit(report.requeue))
}

/// Updates the schedule and the metrics.
fn record<K: Kind>(ctx: &Context, plan: &Plan<K>, report: &Report<K::Status>) {
    let key = &plan.key;
    let elapsed = plan.now.instant.elapsed();
    match &report.schedule {
        ScheduleUpdate::Synced {
            generation,
            force_refresh,
            next_due,
            desired,
        } => ctx.schedule.update(key, |entry| {
            entry.generation = *generation;
            entry.force_refresh = force_refresh.clone();
            if let Some(delay) = next_due {
                entry.due = Some(plan.now.instant + *delay);
            }
            entry.last_desired = Some(desired.as_ref().clone());
            entry.failures = 0;
        }),
        ScheduleUpdate::Failed { failures } => ctx.schedule.update(key, |entry| {
            entry.failures = *failures;
            entry.due = None;
        }),
    }
    match &report.failure {
        None => {
            ctx.metrics
                .reconcile_finished(K::KIND, ReconcileOutcome::Success, elapsed);
            ctx.metrics
                .record_sync(K::KIND, &key.namespace, &key.name, plan.now.unix);
        }
        Some(failure) => {
            let reason = failure.reason;
            tracing::warn!(kind = K::KIND, namespace = %key.namespace, name = %key.name, reason, error = %failure.message, "sync failed");
            ctx.metrics
                .reconcile_finished(K::KIND, ReconcileOutcome::Failure { reason }, elapsed);
        }
    }
    // Counting walks every entry: do it only when the managed set grew, not per reconcile.
    if report.newly_managed {
        let count = ctx.schedule.managed_count(K::KIND) as i64;
        ctx.metrics.set_managed_secrets(K::KIND, count);
    }
    if let Some(not_after) = report.expiry {
        ctx.metrics
            .set_certificate_expiry(&key.namespace, &key.name, not_after);
    }
}

/// Writes `status` (merge patch of the status subresource) and remembers it as the truth.
async fn write_status<K: Kind>(
    ctx: &Context,
    key: &ObjectKey,
    status: K::Status,
) -> Result<(), SyncError> {
    #[derive(Debug, serde::Serialize)]
    struct Body<S> {
        status: S,
    }
    let remembered = serde_json::to_string(&status)
        .ok()
        .map(String::into_boxed_str);
    let ready = Readiness::of(K::sync_part(&status));
    let api: Api<K> = Api::namespaced(ctx.client.clone(), &key.namespace);
    api.patch_status(
        &key.name,
        &PatchParams::default(),
        &Patch::Merge(Body { status }),
    )
    .await
    .map_err(SyncError::WriteStatus)?;
    ctx.schedule.update(key, |entry| {
        entry.last_status = remembered;
        entry.status_written = true;
        entry.ready = ready;
    });
    Ok(())
}

/// Publishes an Event about `reference`, logging (not failing) when the API refuses it.
async fn publish(
    ctx: &Context,
    reference: &k8s_openapi::api::core::v1::ObjectReference,
    note: &Note,
) {
    let occurrence = Occurrence {
        type_: note.type_,
        action: "Sync",
        reason: &note.reason,
        note: &note.message,
    };
    ctx.events.publish(reference, &occurrence).await;
}

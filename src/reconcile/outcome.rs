//! After a sync attempt, for either kind: the status to write (only if it changed), the Events
//! for transitions, metrics, the per-object schedule, and when to look again.

use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::controller::Action;
use kube::runtime::events::{Event, EventType};

use super::apply::Applied;
use super::status::{differs, now_rfc3339, ready, with_ready};
use super::{Context, ObjectKey, SyncError, reason, requeue};
use crate::crd::{ConditionStatus, SyncStatus};
use crate::desired::secret::DesiredSecret;
use crate::telemetry::ReconcileOutcome;

/// What the caller knows about the attempt.
pub struct Outcome<'a> {
    /// Kind of the resource.
    pub kind: &'static str,
    /// The resource.
    pub key: &'a ObjectKey,
    /// Its generation.
    pub generation: Option<i64>,
    /// Its current status.
    pub status: Option<&'a SyncStatus>,
    /// Reference for Events.
    pub object_ref: ObjectReference,
    /// Target Secret name.
    pub secret_name: String,
    /// Force-refresh value to record.
    pub force_refresh: Option<String>,
    /// Delay until the next vault read after a success.
    pub interval: Duration,
    /// Spread applied to `interval` (±fraction): 0 when it is a deadline such as a certificate's
    /// renewal window, which must not be overshot.
    pub jitter: f64,
    /// When the reconcile started.
    pub started: Instant,
    /// Whether this attempt read the vault (so the schedule moves on).
    pub vault_read: bool,
}

/// Computes status, publishes Events and metrics, updates the schedule, and decides the requeue.
/// Returns the status to write, if it changed.
pub async fn finish(
    ctx: &Context,
    outcome: Outcome<'_>,
    result: Result<(DesiredSecret, Applied), SyncError>,
) -> (Option<SyncStatus>, Action) {
    let now = now_rfc3339();
    let previous = outcome.status.cloned().unwrap_or_default();
    let previous_reason = ready(outcome.status).map(|c| c.reason.clone());
    let key = outcome.key;
    let elapsed = outcome.started.elapsed();
    match result {
        Ok((desired, applied)) => {
            let message = format!(
                "Secret {} holds {} key(s) from the vault",
                desired.name,
                desired.data.len()
            );
            let mut status = SyncStatus {
                observed_generation: outcome.generation,
                conditions: with_ready(
                    &previous.conditions,
                    ConditionStatus::True,
                    reason::SYNCED,
                    &message,
                    outcome.generation,
                    &now,
                ),
                secret_name: Some(desired.name.clone()),
                last_sync_time: previous.last_sync_time.clone(),
                next_refresh_time: previous.next_refresh_time.clone(),
                versions: desired.versions.clone(),
                last_force_refresh: outcome.force_refresh.clone(),
            };
            let delay = if outcome.vault_read {
                requeue::jitter(outcome.interval, outcome.jitter)
            } else {
                ctx.schedule.get(key).due.map_or(outcome.interval, |d| {
                    d.saturating_duration_since(Instant::now())
                })
            };
            let changed = applied != Applied::Unchanged
                || differs(Some(&previous), &status)
                || previous.last_sync_time.is_none();
            if changed {
                status.last_sync_time = Some(now.clone());
                status.next_refresh_time = Some(rfc3339_after(delay));
            }
            if applied != Applied::Unchanged {
                let verb = if applied == Applied::Created {
                    "Created"
                } else {
                    "Updated"
                };
                publish(
                    ctx,
                    &outcome.object_ref,
                    EventType::Normal,
                    &format!("Secret{verb}"),
                    &format!(
                        "{verb} Secret {} ({} keys)",
                        desired.name,
                        desired.data.len()
                    ),
                )
                .await;
            } else if previous_reason.as_deref() != Some(reason::SYNCED)
                && previous_reason.is_some()
            {
                publish(
                    ctx,
                    &outcome.object_ref,
                    EventType::Normal,
                    reason::SYNCED,
                    &message,
                )
                .await;
            }
            let mut newly_managed = false;
            ctx.schedule.update(key, |entry| {
                newly_managed = entry.last_desired.is_none();
                entry.generation = outcome.generation;
                entry.force_refresh = outcome.force_refresh.clone();
                if outcome.vault_read || entry.due.is_none() {
                    entry.due = Some(Instant::now() + delay);
                }
                entry.last_desired = Some(desired);
                entry.failures = 0;
            });
            ctx.metrics
                .reconcile_finished(outcome.kind, ReconcileOutcome::Success, elapsed);
            ctx.metrics.record_sync(
                outcome.kind,
                &key.namespace,
                &key.name,
                jiff::Timestamp::now().as_second(),
            );
            // Counting walks every entry: do it only when the managed set grew, not per reconcile.
            if newly_managed {
                ctx.metrics.set_managed_secrets(
                    outcome.kind,
                    ctx.schedule.managed_count(outcome.kind) as i64,
                );
            }
            (changed.then_some(status), Action::requeue(delay))
        }
        Err(err) => {
            let reason = err.reason();
            let kept = if previous.last_sync_time.is_some() {
                "; the Secret keeps its last synced data"
            } else {
                ""
            };
            let message = format!("{err}{kept}");
            let status = SyncStatus {
                observed_generation: outcome.generation,
                conditions: with_ready(
                    &previous.conditions,
                    ConditionStatus::False,
                    reason,
                    &message,
                    outcome.generation,
                    &now,
                ),
                secret_name: previous
                    .secret_name
                    .clone()
                    .or(Some(outcome.secret_name.clone())),
                ..previous.clone()
            };
            if previous_reason.as_deref() != Some(reason) {
                publish(
                    ctx,
                    &outcome.object_ref,
                    EventType::Warning,
                    reason,
                    &message,
                )
                .await;
            }
            tracing::warn!(kind = outcome.kind, namespace = %key.namespace, name = %key.name, reason, error = %err, "sync failed");
            let mut failures = 0;
            ctx.schedule.update(key, |entry| {
                entry.failures += 1;
                failures = entry.failures;
                // A failed read is retried by backoff, not by the refresh schedule.
                entry.due = None;
            });
            let retry = err.retry();
            let delay = requeue::after_failure(retry, failures);
            ctx.metrics.reconcile_finished(
                outcome.kind,
                ReconcileOutcome::Failure { reason },
                elapsed,
            );
            // A spec error waits for an edit (which triggers a reconcile) and is re-checked only
            // slowly: a bulk selection can also be fixed from the vault side.
            (
                differs(Some(&previous), &status).then_some(status),
                Action::requeue(delay),
            )
        }
    }
}

/// Publishes an Event about `reference`, logging (not failing) when the API refuses it.
pub(super) async fn publish(
    ctx: &Context,
    reference: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: &str,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(truncate_bytes(note, 1000).to_string()),
        action: "Sync".to_string(),
        secondary: None,
    };
    if let Err(err) = ctx.recorder.publish(&event, reference).await {
        tracing::warn!(error = %err, "failed to publish an Event");
    }
}

fn rfc3339_after(delay: Duration) -> String {
    let at = jiff::Timestamp::now() + jiff::SignedDuration::from_secs(delay.as_secs() as i64);
    at.to_string()
}

/// At most `max` bytes of `text`, cut at a character boundary (the API limits Event notes in
/// bytes).
fn truncate_bytes(text: &str, max: usize) -> &str {
    let mut end = text.len().min(max);
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

#[cfg(test)]
mod tests {
    #[test]
    fn notes_are_cut_in_bytes_at_a_character_boundary() {
        let text = "é".repeat(600);
        let cut = super::truncate_bytes(&text, 1000);
        assert_eq!(cut.len(), 1000);
        assert_eq!(super::truncate_bytes("ab", 1000), "ab");
        assert_eq!(super::truncate_bytes("aé", 2), "a");
    }
}

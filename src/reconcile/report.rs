//! Report step, pure: after a sync attempt, the new status (only when a reader would see a
//! change), the Events for transitions, the schedule update, the metrics to record and when to
//! look again. [`super::commit`] carries it out; nothing here does I/O.

use std::time::Duration;

use kube::runtime::events::EventType;

use super::apply::Applied;
use super::conditions::{condition, differs, ready, set_condition, with_ready};
use super::kind::{Extension, Kind, Refresh, Written};
use super::plan::Plan;
use super::{SyncError, reason, requeue};
use crate::crd::{ConditionStatus, SyncStatus};
use crate::desired::secret::DesiredSecret;

/// Spread of a refresh interval (±10 %).
const REFRESH_SPREAD: f64 = 0.1;

/// One Event to publish about the resource.
#[derive(Clone, Debug, PartialEq)]
pub struct Note {
    /// Normal or Warning.
    pub type_: EventType,
    /// The Event reason.
    pub reason: String,
    /// The Event note (no values).
    pub message: String,
}

impl Note {
    /// A Normal Event.
    pub fn normal(reason: &str, message: impl Into<String>) -> Self {
        Note {
            type_: EventType::Normal,
            reason: reason.to_string(),
            message: message.into(),
        }
    }

    /// A Warning Event.
    pub fn warning(reason: &str, message: impl Into<String>) -> Self {
        Note {
            type_: EventType::Warning,
            reason: reason.to_string(),
            message: message.into(),
        }
    }
}

/// How the in-memory schedule changes.
#[derive(Debug)]
pub enum ScheduleUpdate {
    /// The Secret holds `desired`.
    Synced {
        /// The generation synced.
        generation: Option<i64>,
        /// The force-refresh value acted upon.
        force_refresh: Option<String>,
        /// When the vault is next due, from now; `None` keeps the current deadline.
        next_due: Option<Duration>,
        /// The Secret as written or confirmed.
        desired: Box<DesiredSecret>,
    },
    /// The attempt failed for the `failures`-th time in a row; backoff, not the refresh
    /// schedule, decides the next read.
    Failed {
        /// Consecutive failures, this one included.
        failures: u32,
    },
}

/// A failed attempt, as the log and the metrics see it.
#[derive(Debug)]
pub struct Failure {
    /// The condition reason.
    pub reason: &'static str,
    /// The condition message.
    pub message: String,
}

/// Everything the commit step does after one reconcile.
pub struct Report<S> {
    /// The status to write; `None` when nothing a reader cares about changed.
    pub status: Option<S>,
    /// Events to publish, in order.
    pub notes: Vec<Note>,
    /// The schedule change.
    pub schedule: ScheduleUpdate,
    /// When to reconcile again.
    pub requeue: Duration,
    /// What failed, for metrics and the log; `None` on success.
    pub failure: Option<Failure>,
    /// Whether this resource now has a Secret for the first time (the managed count grew).
    pub newly_managed: bool,
    /// The certificate's notAfter (Unix seconds), for the expiry metric.
    pub expiry: Option<i64>,
}

/// Computes the report of one attempt. `roll`, uniform in [-1, 1], spreads the delays.
pub fn report<K: Kind>(
    resource: &K,
    plan: &Plan<K>,
    result: Result<Written<K::Learned>, SyncError>,
    roll: f64,
) -> Report<K::Status> {
    let previous = plan.previous.clone().unwrap_or_default();
    match result {
        Ok(written) => succeeded(resource, plan, &previous, written, roll),
        Err(err) => failed(resource, plan, &previous, &err, roll),
    }
}

fn succeeded<K: Kind>(
    resource: &K,
    plan: &Plan<K>,
    previous: &K::Status,
    written: Written<K::Learned>,
    roll: f64,
) -> Report<K::Status> {
    let Written {
        desired,
        applied,
        learned,
    } = written;
    let before = K::sync_part(previous);
    let generation = resource.meta().generation;
    let delay = next_read(resource, plan, previous, learned.as_ref(), roll);
    let message = format!(
        "Secret {} holds {} key(s) from the vault",
        desired.name,
        desired.data.len()
    );
    let mut sync = SyncStatus {
        observed_generation: generation,
        conditions: with_ready(
            &before.conditions,
            ConditionStatus::True,
            reason::SYNCED,
            &message,
            generation,
            &plan.now.rfc3339(),
        ),
        secret_name: Some(desired.name.clone()),
        last_sync_time: before.last_sync_time.clone(),
        next_refresh_time: before.next_refresh_time.clone(),
        versions: desired.versions.clone(),
        last_force_refresh: plan.force_refresh_to_record(),
    };
    budget_condition(&mut sync.conditions, &before.conditions, plan, generation);
    let changed = applied != Applied::Unchanged
        || differs(Some(before), &sync)
        || before.last_sync_time.is_none();
    if changed {
        sync.last_sync_time = Some(plan.now.rfc3339());
        sync.next_refresh_time = Some(plan.now.rfc3339_after(delay));
    }
    let previous_reason = ready(Some(before)).map(|c| c.reason.as_str());
    let notes = success_notes(applied, &desired, previous_reason, message);
    let extension = resource.extend(sync, previous, learned.as_ref(), plan.now);
    let schedule = ScheduleUpdate::Synced {
        generation,
        force_refresh: plan.force_refresh_to_record(),
        next_due: (plan.reads_vault() || plan.entry.due.is_none()).then_some(delay),
        desired: Box::new(desired),
    };
    let mut report = finish::<K>(previous, changed, extension, notes, schedule, delay, None);
    report.newly_managed = plan.entry.last_desired.is_none();
    report
}

/// When to read the vault next after a success: the kind's refresh after a read, else the
/// deadline already set.
fn next_read<K: Kind>(
    resource: &K,
    plan: &Plan<K>,
    previous: &K::Status,
    learned: Option<&K::Learned>,
    roll: f64,
) -> Duration {
    // A success implies the interval parsed (an unusable one stops the reconcile first).
    let interval = plan.interval.clone().unwrap_or_default();
    if !plan.reads_vault() {
        return plan.entry.due.map_or(interval, |due| {
            due.saturating_duration_since(plan.now.instant)
        });
    }
    // Demand beyond the vault's budget: refreshes stretch (visibly, see `budget_condition`)
    // rather than take the budget from first syncs.
    let interval = interval.mul_f64(plan.overrun.unwrap_or(1.0).clamp(1.0, 100.0));
    match resource.refresh(interval, previous, learned, plan.now) {
        Refresh::Spread(interval) => requeue::spread(interval, REFRESH_SPREAD, roll),
        Refresh::Exact(deadline) => deadline,
    }
}

/// The `RefreshOnSchedule` condition: False while the refresh demand on the resource's vault
/// exceeds its request budget; True again (only when it was False) once it fits.
fn budget_condition<K: Kind>(
    conditions: &mut Vec<crate::crd::Condition>,
    before: &[crate::crd::Condition],
    plan: &Plan<K>,
    generation: Option<i64>,
) {
    let had = before.iter().any(|c| c.type_ == REFRESH_ON_SCHEDULE);
    let (status, reason, message) = match plan.overrun {
        Some(ratio) => (
            ConditionStatus::False,
            reason::VAULT_BUDGET_EXCEEDED,
            format!(
                "keeping every resource of this vault fresh needs {ratio:.1} times the vault's \
                 request budget (--vault-requests-per-second): refreshes run {ratio:.1} times \
                 later than refreshInterval. Raise refreshInterval or the budget, or let \
                 resources share a ServiceAccount so one listing serves them all"
            ),
        ),
        None if had => (
            ConditionStatus::True,
            reason::WITHIN_BUDGET,
            "refreshes run on schedule".to_string(),
        ),
        None => return,
    };
    let refresh = condition(
        before,
        REFRESH_ON_SCHEDULE,
        status,
        reason,
        &message,
        generation,
        &plan.now.rfc3339(),
    );
    set_condition(conditions, refresh);
}

/// Condition type saying whether refreshes keep to `refreshInterval`.
pub const REFRESH_ON_SCHEDULE: &str = "RefreshOnSchedule";

/// Events of a success: the Secret written, or the sync working again after a failure.
fn success_notes(
    applied: Applied,
    desired: &DesiredSecret,
    previous_reason: Option<&str>,
    message: String,
) -> Vec<Note> {
    let keys = desired.data.len();
    match applied {
        Applied::Created => vec![Note::normal(
            "SecretCreated",
            format!("Created Secret {} ({keys} keys)", desired.name),
        )],
        Applied::Updated => vec![Note::normal(
            "SecretUpdated",
            format!("Updated Secret {} ({keys} keys)", desired.name),
        )],
        Applied::Unchanged if previous_reason.is_some_and(|r| r != reason::SYNCED) => {
            vec![Note::normal(reason::SYNCED, message)]
        }
        Applied::Unchanged => Vec::new(),
    }
}

fn failed<K: Kind>(
    resource: &K,
    plan: &Plan<K>,
    previous: &K::Status,
    err: &SyncError,
    roll: f64,
) -> Report<K::Status> {
    let before = K::sync_part(previous);
    let generation = resource.meta().generation;
    let why = err.reason();
    let kept = if before.last_sync_time.is_some() {
        "; the Secret keeps its last synced data"
    } else {
        ""
    };
    let message = format!("{err}{kept}");
    let sync = SyncStatus {
        observed_generation: generation,
        conditions: with_ready(
            &before.conditions,
            ConditionStatus::False,
            why,
            &message,
            generation,
            &plan.now.rfc3339(),
        ),
        secret_name: before
            .secret_name
            .clone()
            .or_else(|| Some(resource.target_name())),
        ..before.clone()
    };
    let mut notes = Vec::new();
    if ready(Some(before)).map(|c| c.reason.as_str()) != Some(why) {
        notes.push(Note::warning(why, message.clone()));
    }
    let failures = plan.entry.failures.saturating_add(1);
    let interval = plan.interval.clone().unwrap_or(Duration::MAX);
    let delay = requeue::after_failure(err.retry(), failures, roll, interval);
    let extension = resource.extend(sync, previous, None, plan.now);
    let schedule = ScheduleUpdate::Failed { failures };
    let failure = Failure {
        reason: why,
        message,
    };
    finish::<K>(
        previous,
        false,
        extension,
        notes,
        schedule,
        delay,
        Some(failure),
    )
}

/// Joins the shared part and the kind's extension; the status is written when the shared part
/// changed in a way that moves its timestamps, or anything else in it changed.
fn finish<K: Kind>(
    previous: &K::Status,
    changed: bool,
    extension: Extension<K::Status>,
    mut notes: Vec<Note>,
    schedule: ScheduleUpdate,
    requeue: Duration,
    failure: Option<Failure>,
) -> Report<K::Status> {
    notes.extend(extension.notes);
    let status = extension.status;
    let write = changed || differs_beyond_timestamps::<K>(previous, &status);
    Report {
        status: write.then_some(status),
        notes,
        schedule,
        requeue,
        failure,
        newly_managed: false,
        expiry: extension.expiry,
    }
}

/// Whether two whole statuses differ in anything but the shared timestamps.
fn differs_beyond_timestamps<K: Kind>(old: &K::Status, new: &K::Status) -> bool {
    let strip = |status: &K::Status| {
        let mut status = status.clone();
        let sync = K::sync_part_mut(&mut status);
        sync.last_sync_time = None;
        sync.next_refresh_time = None;
        status
    };
    strip(old) != strip(new)
}

#[cfg(test)]
mod tests;

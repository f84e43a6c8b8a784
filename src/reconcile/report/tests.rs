//! The report of each kind of attempt, computed without an API server or a vault.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use kube::api::ObjectMeta;

use super::*;
use crate::crd::{SyncedVersion, VaultSecret, VaultSecretSpec, VaultSource};
use crate::desired::content_key::ContentKey;
use crate::desired::secret::{Owner, desired_secret};
use crate::reconcile::clock::Now;
use crate::reconcile::plan::plan;
use crate::reconcile::schedule::Entry;
use crate::reconcile::vault_secret::RemovedKey;
use crate::vault::{SecretValue, VaultError};

const INTERVAL: Duration = Duration::from_secs(600);

fn resource() -> VaultSecret {
    let mut resource = VaultSecret::new(
        "app",
        VaultSecretSpec {
            on_vault_removal: Default::default(),
            vault: VaultSource {
                url: "https://v.vault.azure.net/".into(),
                service_account_name: "sa".into(),
            },
            data: vec![],
            data_from: vec![],
            keys: vec![],
            target: Default::default(),
            template: None,
            refresh_interval: "10m".into(),
        },
    );
    resource.metadata = ObjectMeta {
        namespace: Some("ns".into()),
        uid: Some("u1".into()),
        generation: Some(1),
        ..resource.metadata
    };
    resource
}

fn now() -> Now {
    Now {
        instant: Instant::now(),
        unix: 1_800_000_000,
    }
}

fn desired() -> DesiredSecret {
    let owner = Owner {
        kind: "VaultSecret",
        api_version: "vaultsync.dev/v1alpha1".into(),
        name: "app".into(),
        namespace: "ns".into(),
        uid: "u1".into(),
    };
    let data = BTreeMap::from([("db".to_string(), SecretValue::new("x"))]);
    let versions = vec![SyncedVersion {
        key: "db".into(),
        name: "db".into(),
        version: "v1".into(),
        updated: Some(1),
        decoding: Default::default(),
        public_key: None,
    }];
    let key = ContentKey::for_tests();
    desired_secret(
        &owner,
        &Default::default(),
        "app",
        "Opaque",
        data,
        versions,
        &key,
    )
}

fn written(applied: Applied) -> Result<Written<Vec<RemovedKey>>, SyncError> {
    Ok(Written {
        desired: desired(),
        applied,
        learned: None,
    })
}

fn outage() -> Result<Written<Vec<RemovedKey>>, SyncError> {
    Err(SyncError::ReadSecret {
        name: "db".into(),
        source: VaultError::Unavailable {
            detail: "the connection to v.vault.azure.net:443 was refused".into(),
        },
    })
}

/// The entry and status the commit step would leave after `report`.
fn remembered(report: &Report<SyncStatus>, before: Entry, status: Option<&SyncStatus>) -> Entry {
    let mut entry = before;
    match &report.schedule {
        ScheduleUpdate::Synced {
            generation,
            next_due,
            desired,
            ..
        } => {
            entry.generation = *generation;
            entry.last_desired = Some(desired.as_ref().clone());
            entry.failures = 0;
            if let Some(delay) = next_due {
                entry.due = Some(Instant::now() + *delay);
            }
        }
        ScheduleUpdate::Failed { failures } => {
            entry.failures = *failures;
            entry.due = None;
        }
    }
    if let Some(status) = report.status.as_ref().or(status) {
        entry.last_status = serde_json::to_string(status)
            .ok()
            .map(String::into_boxed_str);
    }
    entry
}

#[test]
fn a_first_sync_writes_status_announces_the_secret_and_schedules_the_refresh() {
    let plan = plan(&resource(), Entry::default(), now(), false);
    let report = report(&resource(), &plan, written(Applied::Created), 0.0);
    let status = report.status.as_ref().expect("a first sync writes status");
    let ready = &status.conditions[0];
    assert_eq!(
        (ready.type_.as_str(), ready.reason.as_str()),
        ("Ready", "Synced")
    );
    assert_eq!(
        status.last_sync_time.as_deref(),
        Some("2027-01-15T08:00:00Z")
    );
    assert_eq!(
        status.next_refresh_time.as_deref(),
        Some("2027-01-15T08:10:00Z")
    );
    assert_eq!(
        report.notes,
        vec![Note::normal("SecretCreated", "Created Secret app (1 keys)")]
    );
    assert_eq!(report.requeue, INTERVAL);
    assert!(report.newly_managed && report.failure.is_none());
    assert!(matches!(
        report.schedule,
        ScheduleUpdate::Synced { next_due: Some(d), .. } if d == INTERVAL
    ));
}

#[test]
fn an_idle_refresh_writes_nothing_and_spreads_the_next_one() {
    let first_plan = plan(&resource(), Entry::default(), now(), false);
    let first = report(&resource(), &first_plan, written(Applied::Created), 0.0);
    let entry = remembered(&first, Entry::default(), None);
    let due = Entry {
        due: Some(Instant::now()),
        ..entry
    };
    let idle_plan = plan(&resource(), due, now(), false);
    let idle = report(&resource(), &idle_plan, written(Applied::Unchanged), 1.0);
    assert!(idle.status.is_none(), "an idle refresh costs no API write");
    assert!(idle.notes.is_empty());
    assert_eq!(idle.requeue, Duration::from_secs(660));
    assert!(!idle.newly_managed);
}

#[test]
fn a_recheck_before_the_refresh_keeps_the_deadline() {
    let first_plan = plan(&resource(), Entry::default(), now(), false);
    let first = report(&resource(), &first_plan, written(Applied::Created), 0.0);
    let entry = remembered(&first, Entry::default(), None);
    let clock = now();
    let pending = Entry {
        due: Some(clock.instant + Duration::from_secs(30)),
        ..entry
    };
    let recheck_plan = plan(&resource(), pending, clock, false);
    assert!(!recheck_plan.due);
    let recheck = report(&resource(), &recheck_plan, written(Applied::Unchanged), 1.0);
    assert_eq!(recheck.requeue, Duration::from_secs(30));
    assert!(matches!(
        recheck.schedule,
        ScheduleUpdate::Synced { next_due: None, .. }
    ));
}

#[test]
fn an_outage_warns_once_keeps_the_data_and_backs_off() {
    let first_plan = plan(&resource(), Entry::default(), now(), false);
    let first = report(&resource(), &first_plan, written(Applied::Created), 0.0);
    let entry = remembered(&first, Entry::default(), None);

    let failing_plan = plan(
        &resource(),
        Entry {
            due: None,
            ..entry.clone()
        },
        now(),
        false,
    );
    let failed = report(&resource(), &failing_plan, outage(), 0.0);
    let status = failed.status.as_ref().expect("the failure is reported");
    let ready = &status.conditions[0];
    assert_eq!(ready.reason, "VaultUnavailable");
    assert_eq!(
        ready.message,
        "failed to read vault secret db: the vault is unavailable: the connection to \
         v.vault.azure.net:443 was refused; the Secret keeps its last synced data"
    );
    assert_eq!(status.versions.len(), 1, "the synced versions stay");
    assert_eq!(failed.notes.len(), 1);
    assert_eq!(failed.notes[0].type_, EventType::Warning);
    assert_eq!(failed.requeue, Duration::from_secs(5));
    assert_eq!(
        failed.failure.as_ref().map(|f| f.reason),
        Some("VaultUnavailable")
    );

    let after = remembered(&failed, entry, None);
    let again_plan = plan(&resource(), after, now(), false);
    let again = report(&resource(), &again_plan, outage(), 0.0);
    assert!(
        again.status.is_none() && again.notes.is_empty(),
        "no Event storm"
    );
    assert_eq!(again.requeue, Duration::from_secs(10), "backoff doubles");
}

#[test]
fn recovering_announces_the_sync_again() {
    let first_plan = plan(&resource(), Entry::default(), now(), false);
    let first = report(&resource(), &first_plan, written(Applied::Created), 0.0);
    let entry = remembered(&first, Entry::default(), None);
    let failed = report(
        &resource(),
        &plan(&resource(), entry.clone(), now(), false),
        outage(),
        0.0,
    );
    let after = remembered(&failed, entry, None);
    let recovered = report(
        &resource(),
        &plan(&resource(), after, now(), false),
        written(Applied::Unchanged),
        0.0,
    );
    assert_eq!(recovered.notes.len(), 1);
    assert_eq!(recovered.notes[0].reason, "Synced");
    let ready = &recovered
        .status
        .as_ref()
        .expect("recovery is written")
        .conditions[0];
    assert_eq!(ready.reason, "Synced");
}

#[test]
fn an_invalid_spec_waits_for_an_edit() {
    let plan = plan(&resource(), Entry::default(), now(), false);
    let invalid = Err(SyncError::InvalidSpec("two sources produce key db".into()));
    let report = report(&resource(), &plan, invalid, 0.0);
    assert_eq!(report.requeue, Duration::from_secs(1800));
    let ready = &report.status.as_ref().expect("reported").conditions[0];
    assert_eq!(ready.reason, "InvalidSpec");
    assert!(
        !ready.message.contains("keeps its last synced data"),
        "nothing was synced yet"
    );
}

#[test]
fn demand_beyond_the_vault_budget_stretches_refreshes_and_says_so() {
    let first_plan = plan(&resource(), Entry::default(), now(), false);
    let first = report(&resource(), &first_plan, written(Applied::Created), 0.0);
    let entry = remembered(&first, Entry::default(), None);
    let due = Entry {
        due: Some(Instant::now()),
        ..entry
    };
    let mut busy_plan = plan(&resource(), due.clone(), now(), false);
    busy_plan.overrun = Some(2.5);
    let busy = report(&resource(), &busy_plan, written(Applied::Unchanged), 0.0);
    assert_eq!(busy.requeue, INTERVAL.mul_f64(2.5), "the refresh stretches");
    let status = busy.status.as_ref().expect("the condition is written");
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "RefreshOnSchedule")
        .expect("RefreshOnSchedule");
    assert_eq!(condition.reason, "VaultBudgetExceeded");
    assert!(
        condition.message.contains("2.5 times"),
        "{}",
        condition.message
    );

    let entry = remembered(&busy, due, None);
    let calm_plan = plan(
        &resource(),
        Entry {
            due: Some(Instant::now()),
            ..entry
        },
        now(),
        false,
    );
    let calm = report(&resource(), &calm_plan, written(Applied::Unchanged), 0.0);
    let status = calm.status.as_ref().expect("the recovery is written");
    let condition = status
        .conditions
        .iter()
        .find(|c| c.type_ == "RefreshOnSchedule")
        .expect("RefreshOnSchedule");
    assert_eq!(condition.reason, "WithinBudget");
    assert_eq!(calm.requeue, INTERVAL);
}

use super::*;

fn key(uid: &str) -> ObjectKey {
    ObjectKey {
        kind: "VaultSecret",
        namespace: "ns".into(),
        name: "app".into(),
        uid: uid.into(),
    }
}

#[test]
fn a_recreated_object_drops_what_was_kept_for_the_old_one() {
    let schedule = Schedule::default();
    schedule.update(&key("old"), |e| e.failures = 3);
    assert_eq!(schedule.get(&key("old")).failures, 3);
    assert_eq!(schedule.get(&key("new")).failures, 0);
    schedule.update(&key("new"), |e| e.failures = 1);
    assert_eq!(schedule.inner.lock().unwrap().by_place.len(), 1);
}

#[test]
fn a_resource_wakes_once_at_its_latest_time_and_not_after_it_is_forgotten() {
    let schedule = Schedule::default();
    let start = Instant::now();
    let secs = std::time::Duration::from_secs;
    schedule.wake_at(&key("a"), start + secs(60));
    schedule.wake_at(&key("a"), start + secs(5));
    assert_eq!(schedule.take_due(start + secs(4)), vec![]);
    assert_eq!(schedule.take_due(start + secs(5)), vec![key("a")]);
    assert_eq!(schedule.take_due(start + secs(120)), vec![]);

    schedule.wake_at(&key("a"), start + secs(5));
    schedule.forget("VaultSecret", "ns", "app");
    assert_eq!(schedule.take_due(start + secs(120)), vec![]);

    // A re-created resource does not inherit the old one's wake.
    schedule.wake_at(&key("a"), start + secs(5));
    schedule.update(&key("b"), |e| e.failures = 1);
    assert_eq!(schedule.take_due(start + secs(120)), vec![]);
}

#[test]
fn a_trigger_counts_once_per_value_and_afresh_for_a_new_uid() {
    let schedule = Schedule::default();
    assert!(schedule.trigger_changed(&key("a"), 1));
    assert!(!schedule.trigger_changed(&key("a"), 1));
    assert!(schedule.trigger_changed(&key("a"), 2));
    assert!(schedule.trigger_changed(&key("b"), 2));
    schedule.forget("VaultSecret", "ns", "app");
    assert!(schedule.trigger_changed(&key("b"), 2));
}

#[test]
fn the_managed_count_follows_writes_recreations_and_deletions() {
    let schedule = Schedule::default();
    let desired = crate::desired::secret::desired_secret(
        &crate::desired::secret::Owner {
            kind: "VaultSecret",
            api_version: "vaultsync.dev/v1alpha1".into(),
            name: "app".into(),
            namespace: "ns".into(),
            uid: "old".into(),
        },
        &Default::default(),
        "app",
        "Opaque",
        Default::default(),
        vec![],
        &crate::desired::content_key::ContentKey::for_tests(),
    );
    let written = |e: &mut Entry| e.last_desired = Some(desired.clone());
    schedule.update(&key("old"), written);
    schedule.update(&key("old"), written);
    assert_eq!(schedule.managed_count("VaultSecret"), 1);
    assert_eq!(schedule.managed_count("VaultCertificate"), 0);
    // Re-created under the same name: the old entry and its Secret no longer count.
    schedule.update(&key("new"), |e| e.failures = 1);
    assert_eq!(schedule.managed_count("VaultSecret"), 0);
    schedule.update(&key("new"), written);
    assert_eq!(schedule.managed_count("VaultSecret"), 1);
    schedule.forget("VaultSecret", "ns", "app");
    assert_eq!(schedule.managed_count("VaultSecret"), 0);
    assert_eq!(schedule.get(&key("new")).failures, 0);
}

fn status_with_ready(status: ConditionStatus, reason: &str) -> SyncStatus {
    SyncStatus {
        conditions: vec![crate::crd::Condition {
            type_: "Ready".into(),
            status,
            reason: reason.into(),
            message: String::new(),
            last_transition_time: String::new(),
            observed_generation: None,
        }],
        ..Default::default()
    }
}

fn readiness_of(
    schedule: &Schedule,
    keys: Vec<ObjectKey>,
) -> Vec<Option<(ConditionStatus, String)>> {
    let mut seen = Vec::new();
    let kind = keys.first().map_or("VaultSecret", |key| key.kind);
    let places = keys.iter().map(|key| (&*key.namespace, &*key.name));
    schedule.readiness(kind, places, &mut |ready| {
        seen.push(ready.map(|(status, reason)| (status, reason.to_string())))
    });
    seen
}

#[test]
fn an_observed_status_is_kept_until_this_process_writes_one() {
    let schedule = Schedule::default();
    let failing = status_with_ready(ConditionStatus::False, "VaultUnreachable");
    schedule.observe_status(&key("a"), &failing, "observed-1".into());
    let newer = status_with_ready(ConditionStatus::True, "Synced");
    schedule.observe_status(&key("a"), &newer, "observed-2".into());
    assert_eq!(
        schedule.get(&key("a")).last_status.as_deref(),
        Some("observed-2")
    );
    assert_eq!(
        readiness_of(&schedule, vec![key("a")]),
        vec![Some((ConditionStatus::True, "Synced".to_string()))]
    );

    schedule.update(&key("a"), |entry| {
        entry.last_status = Some("written".into());
        entry.status_written = true;
        entry.ready = Readiness::of(&failing);
    });
    // A watch event still carrying an older status does not replace what was written.
    schedule.observe_status(&key("a"), &newer, "observed-3".into());
    assert_eq!(
        schedule.get(&key("a")).last_status.as_deref(),
        Some("written")
    );
    assert_eq!(
        readiness_of(&schedule, vec![key("a")]),
        vec![Some((
            ConditionStatus::False,
            "VaultUnreachable".to_string()
        ))]
    );
}

#[test]
fn readiness_is_unknown_for_unseen_and_recreated_resources() {
    let schedule = Schedule::default();
    let ready = status_with_ready(ConditionStatus::True, "Synced");
    schedule.observe_status(&key("old"), &ready, "{}".into());
    let unseen = ObjectKey {
        name: "other".into(),
        ..key("old")
    };
    assert_eq!(
        readiness_of(&schedule, vec![unseen, key("old")]),
        vec![None, Some((ConditionStatus::True, "Synced".to_string()))]
    );
    // A re-created object starts without the old object's status.
    schedule.observe_status(&key("new"), &SyncStatus::default(), "{}".into());
    assert_eq!(readiness_of(&schedule, vec![key("new")]), vec![None]);
}

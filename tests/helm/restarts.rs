//! The chart's `restarts` values: off by default with no access to any workload; on, exactly
//! get/list/watch/patch on Deployments, StatefulSets and DaemonSets, and the flags.

use serde_json::Value;

use super::{container_args, find, helm, of_kind, render, restricted_values, text};

const NS: &str = "vaultsync-system";
const WORKLOADS: [&str; 3] = ["daemonsets", "deployments", "statefulsets"];

/// Every `(resource, verbs)` the role grants in API group `apps`.
fn apps_rules(role: &Value) -> Vec<(String, Vec<String>)> {
    let mut granted = Vec::new();
    for rule in role["rules"].as_array().expect("rules") {
        let groups = rule["apiGroups"].as_array().expect("apiGroups");
        if !groups.iter().any(|g| g == "apps" || g == "*") {
            continue;
        }
        let mut verbs: Vec<String> = rule["verbs"]
            .as_array()
            .expect("verbs")
            .iter()
            .map(|v| v.as_str().expect("a verb").to_string())
            .collect();
        verbs.sort();
        for resource in rule["resources"].as_array().expect("resources") {
            granted.push((
                resource.as_str().expect("a resource").to_string(),
                verbs.clone(),
            ));
        }
    }
    granted.sort();
    granted
}

fn restart_args(deployment: &Value) -> Vec<String> {
    container_args(deployment)
        .into_iter()
        .filter(|a| a.starts_with("--restart"))
        .collect()
}

#[test]
fn off_by_default_with_no_access_to_workloads() {
    let objects = render("vaultsync", NS, &[]);
    let role = find(&objects, "ClusterRole", "vaultsync", None);
    assert!(apps_rules(role).is_empty(), "{:?}", apps_rules(role));
    for role in of_kind(&objects, "Role") {
        assert!(apps_rules(role).is_empty(), "{role}");
    }
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    assert!(restart_args(deployment).is_empty());
}

#[test]
fn on_grants_exactly_get_list_watch_patch_on_the_three_kinds_and_passes_the_flags() {
    let objects = render(
        "vaultsync",
        NS,
        &[
            "--set",
            "restarts.enabled=true",
            "--set",
            "restarts.paused=true",
            "--set",
            "restarts.debounce=2s",
            "--set",
            "restarts.maxInProgress=4",
            "--set",
            "restarts.maxInProgressPerNamespace=2",
        ],
    );
    let role = find(&objects, "ClusterRole", "vaultsync", None);
    let expected: Vec<(String, Vec<String>)> = WORKLOADS
        .iter()
        .map(|r| {
            (
                r.to_string(),
                ["get", "list", "patch", "watch"].map(String::from).to_vec(),
            )
        })
        .collect();
    assert_eq!(apps_rules(role), expected);
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    assert_eq!(
        restart_args(deployment),
        [
            "--restarts",
            "--restarts-paused=true",
            "--restart-debounce=2s",
            "--restart-max-in-progress=4",
            "--restart-max-in-progress-per-namespace=2",
            "--restart-progress-deadline=10m",
        ]
    );

    // With watchNamespaces, the same grant in each watched namespace's Role only.
    let values = restricted_values();
    let restricted = render(
        "rel",
        "ops",
        &[
            "-f",
            values.to_str().expect("utf-8 path"),
            "--set",
            "restarts.enabled=true",
        ],
    );
    assert!(of_kind(&restricted, "ClusterRole").is_empty());
    for ns in ["team-a", "team-b"] {
        let role = find(&restricted, "Role", "rel-vaultsync", Some(ns));
        assert_eq!(apps_rules(role), expected);
    }
}

#[test]
fn the_schema_refuses_a_cap_of_zero_and_a_bad_window() {
    let chart = super::chart_dir();
    for bad in [
        "restarts.maxInProgress=0",
        "restarts.maxInProgressPerNamespace=0",
        "restarts.debounce=soon",
    ] {
        let out = helm(&[
            "template",
            "vaultsync",
            chart.to_str().expect("utf-8 path"),
            "--set",
            bad,
        ]);
        assert!(!out.status.success(), "{bad} rendered");
        let field = bad.split('=').next().unwrap().replace("restarts.", "");
        assert!(text(&out).contains(&field), "{bad}: {}", text(&out));
    }
}

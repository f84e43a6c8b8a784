//! The chart's alert rules under `promtool test rules`: rendered by `helm template` with the
//! chart's defaults and run against the synthetic series of `tests/prometheus/alerts.test.yaml`,
//! where every alert has a case that fires and one that stays silent.

mod support;

use std::collections::BTreeSet;

use serde_json::Value;
use support::chart::{temp_dir, text};
use support::prometheus::{chart_rule_file, promtool};

const RULE_TESTS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/tests/prometheus/alerts.test.yaml"
);

/// A directory holding the rules of `release` as `rules.yaml` and the rule tests beside them.
fn rule_test_dir(release: &str) -> std::path::PathBuf {
    let dir = temp_dir("alert-rules");
    std::fs::write(dir.join("rules.yaml"), chart_rule_file(release, &[])).unwrap();
    std::fs::copy(RULE_TESTS, dir.join("alerts.test.yaml")).unwrap();
    dir
}

fn alert_names(rules: &Value) -> BTreeSet<String> {
    rules["groups"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default())
        .filter_map(|r| r["alert"].as_str().map(str::to_owned))
        .collect()
}

#[test]
fn chart_alert_rules_pass_promtool_check_and_unit_tests() {
    let dir = rule_test_dir("vaultsync");
    let check = promtool(&dir, &["check", "rules", "rules.yaml"]);
    assert!(
        check.status.success(),
        "promtool check rules: {}",
        text(&check)
    );
    let run = promtool(&dir, &["test", "rules", "alerts.test.yaml"]);
    println!("{}", text(&run));
    assert!(run.status.success(), "promtool test rules: {}", text(&run));
}

#[test]
fn every_alert_has_a_firing_and_a_silent_case() {
    let rules: Value =
        serde_json::from_str(&chart_rule_file("vaultsync", &[])).expect("the rule file is JSON");
    let alerts = alert_names(&rules);
    assert!(alerts.len() >= 4, "{alerts:?}");
    let tests: Value = serde_saphyr::from_str(&std::fs::read_to_string(RULE_TESTS).unwrap())
        .expect("the rule tests are YAML");
    let cases: Vec<&Value> = tests["tests"]
        .as_array()
        .expect("a tests list")
        .iter()
        .flat_map(|t| t["alert_rule_test"].as_array().into_iter().flatten())
        .collect();
    for alert in &alerts {
        let of_alert = || cases.iter().filter(|c| c["alertname"] == alert.as_str());
        let fires = of_alert().any(|c| c["exp_alerts"].as_array().is_some_and(|a| !a.is_empty()));
        let silent = of_alert().any(|c| c["exp_alerts"].as_array().is_some_and(Vec::is_empty));
        assert!(fires, "{alert} has no case where it fires in {RULE_TESTS}");
        assert!(
            silent,
            "{alert} has no case where it stays silent in {RULE_TESTS}"
        );
    }
}

/// The rule tests can fail: the same tests against another release's rules, which select that
/// release's job, see none of their series and fail.
#[test]
fn the_rule_tests_fail_against_rules_that_select_another_job() {
    let dir = rule_test_dir("other");
    let rules = std::fs::read_to_string(dir.join("rules.yaml")).unwrap();
    assert!(
        rules.contains(r#"job=\"other-vaultsync-metrics\""#),
        "{rules}"
    );
    let run = promtool(&dir, &["test", "rules", "alerts.test.yaml"]);
    assert!(!run.status.success(), "{}", text(&run));
    assert!(
        text(&run).contains("VaultsyncSyncFailing"),
        "the failure names the alert: {}",
        text(&run)
    );
}

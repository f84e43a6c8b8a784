//! Offline checks of the chart: `helm lint`, what `helm template` renders, what the schema refuses,
//! and that the alert rules only use metrics and labels the operator exports.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Value, json};
use vaultsync::telemetry::Metrics;

use super::{chart_dir, container_args, find, helm, of_kind, render, restricted_values, text};

const NS: &str = "vaultsync-system";

fn values_file() -> String {
    restricted_values()
        .to_str()
        .expect("utf-8 path")
        .to_string()
}

#[test]
fn lint_passes_for_default_and_non_default_values() {
    let chart = chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    let values = values_file();
    for args in [
        vec!["lint", "--strict", chart],
        vec!["lint", "--strict", chart, "-f", &values],
    ] {
        let out = helm(&args);
        assert!(out.status.success(), "{args:?}: {}", text(&out));
        assert!(text(&out).contains("1 chart(s) linted, 0 chart(s) failed"));
    }
}

#[test]
fn default_render_is_cluster_wide_highly_available_and_hardened() {
    let objects = render("vaultsync", NS, &[]);
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    assert_eq!(deployment["spec"]["replicas"], 2);
    let args = container_args(deployment);
    for expected in [
        "run",
        "--log-format=json",
        "--metrics-addr=0.0.0.0:8080",
        "--leader-elect",
        "--leader-election-namespace=vaultsync-system",
        "--leader-election-lease-name=vaultsync-leader",
        "--leader-election-lease-duration=15s",
        "--namespace-concurrency=4",
        "--reconcile-timeout=60s",
    ] {
        assert!(
            args.iter().any(|a| a == expected),
            "{expected} missing from {args:?}"
        );
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--namespace=")),
        "{args:?}"
    );

    let pod = &deployment["spec"]["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "vaultsync");
    assert_eq!(pod["securityContext"]["runAsUser"], 65532);
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    assert_eq!(
        pod["securityContext"]["seccompProfile"]["type"],
        "RuntimeDefault"
    );
    let container = &pod["containers"][0];
    let security = &container["securityContext"];
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"], json!(["ALL"]));
    assert_eq!(security["runAsUser"], 65532);
    assert_eq!(container["ports"][0]["containerPort"], 8080);
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(container["readinessProbe"]["httpGet"]["port"], "metrics");
    assert!(container["resources"]["requests"]["memory"].is_string());
    assert!(container["resources"]["limits"]["memory"].is_string());
    let env: BTreeMap<&str, &str> = container["env"]
        .as_array()
        .expect("env")
        .iter()
        .map(|e| {
            let field = e["valueFrom"]["fieldRef"]["fieldPath"]
                .as_str()
                .unwrap_or("");
            (e["name"].as_str().expect("env name"), field)
        })
        .collect();
    assert_eq!(env.get("POD_NAME"), Some(&"metadata.name"));
    assert_eq!(env.get("POD_NAMESPACE"), Some(&"metadata.namespace"));

    let role = find(&objects, "ClusterRole", "vaultsync", None);
    let binding = find(&objects, "ClusterRoleBinding", "vaultsync", None);
    assert_eq!(binding["roleRef"]["name"], "vaultsync");
    assert_eq!(
        binding["subjects"],
        json!([{"kind": "ServiceAccount", "name": "vaultsync", "namespace": NS}])
    );
    assert_eq!(
        verbs(role, "", "secrets"),
        ["create", "get", "list", "patch", "update", "watch"]
    );
    assert_eq!(verbs(role, "", "serviceaccounts/token"), ["create"]);
    assert_eq!(
        verbs(role, "vaultsync.dev", "vaultcertificates"),
        ["get", "list", "watch"]
    );
    assert_eq!(verbs(role, "events.k8s.io", "events"), ["create", "patch"]);
    // The only Roles are the Lease's and the content hash key's, in the release namespace.
    let roles = of_kind(&objects, "Role");
    assert_eq!(roles.len(), 2);
    let lease = find(&objects, "Role", "vaultsync-leader-election", Some(NS));
    assert_eq!(
        verbs(lease, "coordination.k8s.io", "leases"),
        ["create", "get", "update"]
    );
    let key = find(&objects, "Role", "vaultsync-content-hash-key", Some(NS));
    assert_eq!(verbs(key, "", "secrets"), ["create", "get"]);
    let get_rule = key["rules"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["verbs"] == json!(["get"]))
        .expect("a get rule");
    assert_eq!(
        get_rule["resourceNames"],
        json!(["vaultsync-content-hash-key"]),
        "get is limited to the key Secret"
    );
    assert!(
        args.iter()
            .any(|a| a == "--content-hash-key-secret=vaultsync-content-hash-key")
    );

    let pdb = find(&objects, "PodDisruptionBudget", "vaultsync", Some(NS));
    assert_eq!(pdb["spec"]["minAvailable"], 1);
    let service = find(&objects, "Service", "vaultsync-metrics", Some(NS));
    assert_eq!(service["spec"]["ports"][0]["port"], 8080);
    find(&objects, "ServiceAccount", "vaultsync", Some(NS));
    assert!(of_kind(&objects, "ServiceMonitor").is_empty());
    assert!(of_kind(&objects, "PrometheusRule").is_empty());
}

#[test]
fn restricted_render_grants_access_only_in_the_watched_namespaces() {
    let values = values_file();
    let objects = render("rel", "ops", &["-f", &values]);
    assert!(of_kind(&objects, "ClusterRole").is_empty());
    assert!(of_kind(&objects, "ClusterRoleBinding").is_empty());
    let roles = of_kind(&objects, "Role");
    assert_eq!(
        roles.len(),
        3,
        "one Role per watched namespace, the content hash key's and no Lease Role"
    );
    find(
        &objects,
        "Role",
        "rel-vaultsync-content-hash-key",
        Some("ops"),
    );
    for ns in ["team-a", "team-b"] {
        let role = find(&objects, "Role", "rel-vaultsync", Some(ns));
        assert_eq!(
            verbs(role, "", "secrets"),
            ["create", "get", "list", "patch", "update", "watch"]
        );
        let binding = find(&objects, "RoleBinding", "rel-vaultsync", Some(ns));
        assert_eq!(binding["subjects"][0]["namespace"], "ops");
        assert_eq!(binding["roleRef"]["kind"], "Role");
    }

    let deployment = find(&objects, "Deployment", "rel-vaultsync", Some("ops"));
    assert_eq!(deployment["spec"]["replicas"], 1);
    assert_eq!(
        deployment["spec"]["strategy"]["type"], "Recreate",
        "without leader election an update must not overlap two operators"
    );
    let args = container_args(deployment);
    for expected in [
        "--namespace=team-a,team-b",
        "--allowed-vault-hosts=vault.azure.net,.vault.usgovcloudapi.net",
        "--namespace-concurrency=2",
        "--log-format=text",
        "--tenant-id=11111111-2222-3333-4444-555555555555",
    ] {
        assert!(
            args.iter().any(|a| a == expected),
            "{expected} missing from {args:?}"
        );
    }
    assert!(
        !args.iter().any(|a| a.starts_with("--leader-elect")),
        "{args:?}"
    );
    let template = &deployment["spec"]["template"]["metadata"];
    assert_eq!(template["labels"]["azure.workload.identity/use"], "true");
    assert_eq!(template["annotations"]["example.com/scrape"], "false");
    assert!(
        of_kind(&objects, "PodDisruptionBudget").is_empty(),
        "no PDB for one replica"
    );

    let account = find(&objects, "ServiceAccount", "rel-vaultsync", Some("ops"));
    let annotations = &account["metadata"]["annotations"];
    assert_eq!(
        annotations["azure.workload.identity/client-id"],
        "66666666-7777-8888-9999-000000000000"
    );
    assert_eq!(
        annotations["azure.workload.identity/tenant-id"],
        "11111111-2222-3333-4444-555555555555"
    );
    assert_eq!(annotations["example.com/owner"], "platform-team");

    let monitor = find(&objects, "ServiceMonitor", "rel-vaultsync", Some("ops"));
    assert_eq!(monitor["metadata"]["labels"]["release"], "prometheus");
    assert_eq!(monitor["spec"]["endpoints"][0]["port"], "metrics");
    let rule = find(&objects, "PrometheusRule", "rel-vaultsync", Some("ops"));
    let alerts = alert_exprs(rule);
    let names: Vec<&str> = alerts.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "VaultsyncCertificateExpiringSoon",
            "VaultsyncNotReconciling",
            "VaultsyncSecretStale",
            "VaultsyncSyncFailing"
        ]
    );
    assert!(alerts["VaultsyncCertificateExpiringSoon"].contains("< 21 * 86400"));
    assert!(alerts["VaultsyncSyncFailing"].contains("job=\"rel-vaultsync-metrics\""));
}

#[test]
fn alerts_use_only_metrics_and_labels_the_operator_exports() {
    let objects = render(
        "vaultsync",
        NS,
        &["--set", "metrics.prometheusRule.enabled=true"],
    );
    let rule = find(&objects, "PrometheusRule", "vaultsync", Some(NS));
    let exported = exported_metrics();
    for (alert, expr) in alert_exprs(rule) {
        let used = metric_names(&expr);
        assert!(!used.is_empty(), "{alert} uses no vaultsync metric: {expr}");
        let mut available: BTreeSet<String> = BTreeSet::from(["job".to_string()]);
        for metric in &used {
            let labels = exported.get(metric).unwrap_or_else(|| {
                panic!("{alert} uses {metric}, which the operator does not export")
            });
            available.extend(labels.iter().cloned());
        }
        for label in label_names(&expr) {
            assert!(
                available.contains(&label),
                "{alert} uses label {label} that {used:?} lack: {expr}"
            );
        }
    }
}

#[test]
fn alert_for_durations_come_from_values() {
    let objects = render(
        "vaultsync",
        NS,
        &[
            "--set",
            "metrics.prometheusRule.enabled=true",
            "--set",
            "metrics.prometheusRule.notReconcilingFor=1m",
            "--set",
            "metrics.prometheusRule.syncFailingFor=2m",
            "--set",
            "metrics.prometheusRule.secretStaleFor=3m",
            "--set",
            "metrics.prometheusRule.certificateExpiringFor=4m",
        ],
    );
    let rule = find(&objects, "PrometheusRule", "vaultsync", Some(NS));
    let durations: BTreeMap<String, String> = rule["spec"]["groups"][0]["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .map(|r| {
            (
                r["alert"].as_str().unwrap().to_string(),
                r["for"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    let expected = [
        ("VaultsyncCertificateExpiringSoon", "4m"),
        ("VaultsyncNotReconciling", "1m"),
        ("VaultsyncSecretStale", "3m"),
        ("VaultsyncSyncFailing", "2m"),
    ]
    .map(|(a, d)| (a.to_string(), d.to_string()));
    assert_eq!(durations, BTreeMap::from(expected));
}

#[test]
fn dashboard_config_map_is_off_by_default_and_carries_the_dashboard() {
    let objects = render("vaultsync", NS, &[]);
    assert!(
        !objects.iter().any(|o| o["kind"] == "ConfigMap"),
        "no dashboard by default"
    );
    let objects = render(
        "vaultsync",
        NS,
        &["--set", "metrics.dashboard.enabled=true"],
    );
    let map = find(&objects, "ConfigMap", "vaultsync-dashboard", Some(NS));
    assert_eq!(map["metadata"]["labels"]["grafana_dashboard"], "1");
    let shipped = std::fs::read_to_string(chart_dir().join("dashboards/vaultsync.json")).unwrap();
    let rendered = map["data"]["vaultsync.json"]
        .as_str()
        .expect("the dashboard key");
    assert_eq!(
        rendered.trim_end(),
        shipped.trim_end(),
        "the file, unchanged"
    );
    let dashboard: Value = serde_json::from_str(rendered).expect("valid JSON");
    assert_eq!(dashboard["uid"], "vaultsync");

    let objects = render(
        "rel",
        NS,
        &[
            "--set",
            "metrics.dashboard.enabled=true",
            "--set",
            "metrics.dashboard.namespace=monitoring",
            "--set",
            "metrics.dashboard.labels.grafana_dashboard=null",
            "--set",
            "metrics.dashboard.labels.team_dashboards=yes",
            "--set",
            "metrics.dashboard.annotations.grafana_folder=Platform",
        ],
    );
    let map = find(
        &objects,
        "ConfigMap",
        "rel-vaultsync-dashboard",
        Some("monitoring"),
    );
    let labels = &map["metadata"]["labels"];
    assert_eq!(labels["team_dashboards"], "yes");
    assert!(labels.get("grafana_dashboard").is_none(), "{labels}");
    assert_eq!(map["metadata"]["annotations"]["grafana_folder"], "Platform");
}

#[test]
fn schema_and_template_refuse_bad_values_naming_the_field() {
    for (set, expected) in [
        ("replicaCount=0", "/replicaCount"),
        ("logFormat=xml", "/logFormat"),
        ("colour=blue", "additional properties 'colour' not allowed"),
        (
            "leaderElection.leaseDuration=soon",
            "/leaderElection/leaseDuration",
        ),
        ("watchNamespaces={Team_A}", "/watchNamespaces/0"),
        ("image.pullPolicy=Sometimes", "/image/pullPolicy"),
        (
            "metrics.serviceMonitor.extra=1",
            "additional properties 'extra' not allowed",
        ),
        (
            "leaderElection.enabled=false",
            "replicaCount > 1 needs leaderElection.enabled",
        ),
        ("tokenPolicy.enabled=maybe", "/tokenPolicy/enabled"),
        (
            "networkPolicy.httpsCidrs={example.com}",
            "/networkPolicy/httpsCidrs/0",
        ),
        (
            "networkPolicy.apiServer.ports={0}",
            "/networkPolicy/apiServer/ports/0",
        ),
    ] {
        let chart = chart_dir();
        let out = helm(&[
            "template",
            "vaultsync",
            chart.to_str().unwrap(),
            "--set",
            set,
        ]);
        assert!(!out.status.success(), "--set {set} was accepted");
        let message = text(&out);
        assert!(message.contains(expected), "--set {set}: {message}");
    }
}

#[test]
fn token_policy_binds_the_release_service_account_and_denies() {
    let objects = render("vaultsync", NS, &[]);
    let name = "vaultsync-token-policy-vaultsync-system";
    let policy = find(&objects, "ValidatingAdmissionPolicy", name, None);
    assert_eq!(policy["apiVersion"], "admissionregistration.k8s.io/v1");
    let spec = &policy["spec"];
    assert_eq!(spec["failurePolicy"], "Fail");
    assert_eq!(
        spec["matchConditions"][0]["expression"],
        "request.userInfo.username == \"system:serviceaccount:vaultsync-system:vaultsync\""
    );
    let rules = spec["matchConstraints"]["resourceRules"]
        .as_array()
        .expect("resourceRules");
    assert!(
        rules
            .iter()
            .any(|r| r["resources"] == json!(["serviceaccounts/token"])
                && r["operations"] == json!(["CREATE"])
                && r["apiGroups"] == json!([""])),
        "{rules:?}"
    );
    let validations = spec["validations"].as_array().expect("validations");
    assert_eq!(validations.len(), 3);
    let expressions: Vec<&str> = validations
        .iter()
        .map(|v| v["expression"].as_str().expect("expression"))
        .collect();
    assert!(expressions[0].contains("['api://AzureADTokenExchange']"));
    assert!(expressions[1].contains("object.spec.expirationSeconds <= 600"));
    assert!(expressions[2].contains("'kubernetes.io/service-account-token'"));
    for validation in validations {
        assert_eq!(validation["reason"], "Forbidden");
        assert!(
            validation["message"]
                .as_str()
                .is_some_and(|m| !m.is_empty())
        );
        assert!(validation["messageExpression"].is_string());
    }
    let binding = find(&objects, "ValidatingAdmissionPolicyBinding", name, None);
    assert_eq!(binding["spec"]["policyName"], name);
    assert_eq!(binding["spec"]["validationActions"], json!(["Deny"]));
    assert!(binding["spec"]["matchResources"].is_null());

    // An existing ServiceAccount is the one matched.
    let objects = render(
        "rel",
        "ops",
        &[
            "--set",
            "serviceAccount.create=false",
            "--set",
            "serviceAccount.name=existing",
        ],
    );
    let policy = find(
        &objects,
        "ValidatingAdmissionPolicy",
        "rel-vaultsync-token-policy-ops",
        None,
    );
    assert_eq!(
        policy["spec"]["matchConditions"][0]["expression"],
        "request.userInfo.username == \"system:serviceaccount:ops:existing\""
    );

    // Off on request; refused, not silently dropped, below Kubernetes 1.30.
    let off = render("vaultsync", NS, &["--set", "tokenPolicy.enabled=false"]);
    assert!(of_kind(&off, "ValidatingAdmissionPolicy").is_empty());
    assert!(of_kind(&off, "ValidatingAdmissionPolicyBinding").is_empty());
    let chart = chart_dir();
    let chart = chart.to_str().expect("utf-8 path");
    let old = helm(&["template", "vaultsync", chart, "--kube-version", "1.29.0"]);
    assert!(
        !old.status.success(),
        "rendered the policy for Kubernetes 1.29"
    );
    assert!(
        text(&old).contains("tokenPolicy.enabled needs Kubernetes 1.30+")
            && text(&old).contains("set tokenPolicy.enabled=false"),
        "{}",
        text(&old)
    );
    let old_off = helm(&[
        "template",
        "vaultsync",
        chart,
        "--kube-version",
        "1.29.0",
        "--set",
        "tokenPolicy.enabled=false",
    ]);
    assert!(old_off.status.success(), "{}", text(&old_off));
}

#[test]
fn network_policy_is_off_by_default_and_allows_only_what_the_operator_uses() {
    assert!(of_kind(&render("vaultsync", NS, &[]), "NetworkPolicy").is_empty());

    // On with default values: the ports, from and to anywhere.
    let objects = render("vaultsync", NS, &["--set", "networkPolicy.enabled=true"]);
    let policy = find(&objects, "NetworkPolicy", "vaultsync", Some(NS));
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    assert_eq!(
        policy["spec"]["podSelector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(policy["spec"]["policyTypes"], json!(["Ingress", "Egress"]));
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{"ports": [{"port": 8080, "protocol": "TCP"}]}])
    );
    assert_eq!(
        policy["spec"]["egress"],
        json!([
            {"ports": [{"port": 443, "protocol": "TCP"}, {"port": 6443, "protocol": "TCP"}]},
            {"ports": [{"port": 443, "protocol": "TCP"}]},
            {"ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}]}
        ])
    );

    // Narrowed (tests/helm/restricted-values.yaml).
    let values = values_file();
    let objects = render("rel", "ops", &["-f", &values]);
    let policy = find(&objects, "NetworkPolicy", "rel-vaultsync", Some("ops"));
    assert_eq!(
        policy["spec"]["ingress"],
        json!([{
            "ports": [{"port": 8080, "protocol": "TCP"}],
            "from": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}]
        }])
    );
    assert_eq!(
        policy["spec"]["egress"],
        json!([
            {
                "ports": [{"port": 6443, "protocol": "TCP"}],
                "to": [{"ipBlock": {"cidr": "10.0.0.1/32"}}, {"ipBlock": {"cidr": "fd00::1/128"}}]
            },
            {"ports": [{"port": 443, "protocol": "TCP"}], "to": [{"ipBlock": {"cidr": "20.0.0.0/8"}}]},
            {
                "ports": [{"port": 53, "protocol": "UDP"}, {"port": 53, "protocol": "TCP"}],
                "to": [{
                    "namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                    "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}
                }]
            }
        ])
    );
}

/// The verbs of `role`'s rules for `group`/`resource`, sorted.
fn verbs(role: &Value, group: &str, resource: &str) -> Vec<String> {
    let mut verbs: Vec<String> = role["rules"]
        .as_array()
        .expect("rules")
        .iter()
        .filter(|rule| {
            let has = |key: &str, value: &str| {
                rule[key]
                    .as_array()
                    .is_some_and(|v| v.iter().any(|x| x == value))
            };
            has("apiGroups", group) && has("resources", resource)
        })
        .flat_map(|rule| rule["verbs"].as_array().expect("verbs").clone())
        .map(|v| v.as_str().expect("verb").to_string())
        .collect();
    verbs.sort();
    verbs
}

fn alert_exprs(rule: &Value) -> BTreeMap<String, String> {
    rule["spec"]["groups"]
        .as_array()
        .expect("groups")
        .iter()
        .flat_map(|group| group["rules"].as_array().expect("rules").clone())
        .map(|r| {
            let name = r["alert"].as_str().expect("alert name").to_string();
            (name, r["expr"].as_str().expect("expr").to_string())
        })
        .collect()
}

/// Every sample name the operator's registry encodes, with its label names, after recording one
/// of each kind of observation.
/// Every metric the operator registers, by the name queries use, with its labels (`le` of
/// histograms too): the registry's catalog, so metrics added later are known here at once.
fn exported_metrics() -> BTreeMap<String, BTreeSet<String>> {
    let mut exported: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for metric in Metrics::new().catalog() {
        let mut labels: BTreeSet<String> = metric.labels.iter().map(|l| l.to_string()).collect();
        if metric.metric_type == "histogram" {
            labels.insert("le".to_string());
        }
        for name in metric.sample_names() {
            exported.insert(name, labels.clone());
        }
    }
    exported
}

/// `vaultsync_*` identifiers in a PromQL expression.
fn metric_names(expr: &str) -> BTreeSet<String> {
    identifiers(expr)
        .filter(|id| id.starts_with("vaultsync_"))
        .collect()
}

/// Label names a PromQL expression relies on: in `by (...)` and in `{label="..."}` selectors.
fn label_names(expr: &str) -> BTreeSet<String> {
    let mut labels = BTreeSet::new();
    for (open, close) in [("by (", ')'), ("{", '}')] {
        for part in expr.split(open).skip(1) {
            let inner = &part[..part.find(close).unwrap_or(part.len())];
            labels.extend(inner.split(',').filter_map(|item| {
                let name = item.split(['=', '!', '~']).next()?.trim();
                (!name.is_empty()).then(|| name.to_string())
            }));
        }
    }
    labels
}

fn identifiers(expr: &str) -> impl Iterator<Item = String> + '_ {
    expr.split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

#[test]
fn push_is_off_by_default_and_when_on_has_its_own_service_secret_and_port() {
    let objects = render("vaultsync", NS, &[]);
    assert!(
        of_kind(&objects, "Service")
            .iter()
            .all(|s| !s["metadata"]["name"].as_str().unwrap().ends_with("-push"))
    );
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    assert!(
        !container_args(deployment)
            .iter()
            .any(|a| a.starts_with("--push"))
    );

    let on = [
        "--set",
        "push.enabled=true",
        "--set",
        "push.sharedSecret.secretName=push-key",
        "--set",
        "push.tlsSecretName=push-tls",
        "--set",
        "networkPolicy.enabled=true",
    ];
    let objects = render("vaultsync", NS, &on);
    let service = find(&objects, "Service", "vaultsync-push", Some(NS));
    assert_eq!(
        service["spec"]["ports"],
        json!([{"name": "push", "port": 443, "targetPort": "push", "protocol": "TCP"}])
    );
    let deployment = find(&objects, "Deployment", "vaultsync", Some(NS));
    let args = container_args(deployment);
    for expected in [
        "--push-addr=0.0.0.0:8443",
        "--push-shared-secret-file=/var/run/vaultsync/push/secret",
        "--push-tls-cert-file=/var/run/vaultsync/push-tls/tls.crt",
        "--push-poll-stretch=10",
    ] {
        assert!(args.iter().any(|a| a == expected), "{expected} in {args:?}");
    }
    let volumes = &deployment["spec"]["template"]["spec"]["volumes"];
    assert_eq!(volumes[0]["secret"]["secretName"], "push-key");
    assert_eq!(volumes[1]["secret"]["secretName"], "push-tls");
    let policy = find(&objects, "NetworkPolicy", "vaultsync", Some(NS));
    assert_eq!(
        policy["spec"]["ingress"][1],
        json!({"ports": [{"port": 8443, "protocol": "TCP"}]})
    );

    let missing = helm(&[
        "template",
        "vaultsync",
        chart_dir().to_str().unwrap(),
        "--set",
        "push.enabled=true",
    ]);
    assert!(!missing.status.success());
    assert!(
        text(&missing).contains("push.sharedSecret.secretName is required"),
        "{}",
        text(&missing)
    );
}

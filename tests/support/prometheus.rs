//! Prometheus for tests: the chart's alert rules as a rule file, `promtool`, and a real
//! Prometheus server on loopback scraping an operator, queried through its HTTP API.
//!
//! The binaries are Debian's, unpacked by `hack/ensure-prometheus.sh` (which `hack/test.sh` runs).

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::Duration;

use serde_json::Value;
use vaultsync_testenv::{Watchdog, guard_pid};

use super::chart::{find, render, temp_dir};
use super::eventually::eventually;

/// The job name the chart's rules select for release `vaultsync` (`<fullname>-metrics`).
pub const JOB: &str = "vaultsync-metrics";

/// The directory holding `prometheus` and `promtool`, unpacked on first use.
pub fn prometheus_dir() -> &'static Path {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("hack/ensure-prometheus.sh");
        let out = Command::new("bash")
            .arg(&script)
            .output()
            .expect("hack/ensure-prometheus.sh runs");
        assert!(
            out.status.success(),
            "hack/ensure-prometheus.sh failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let stdout = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(
            stdout
                .lines()
                .last()
                .expect("the script prints its directory"),
        )
    })
}

/// `promtool ARGS` run in `dir`.
pub fn promtool(dir: &Path, args: &[&str]) -> Output {
    Command::new(prometheus_dir().join("promtool"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("promtool runs")
}

/// The chart's alert rules for `release` in namespace `vaultsync-system`, with the
/// `metrics.prometheusRule.*` overrides in `values` (`key=value`), as a Prometheus rule file:
/// the PrometheusRule's `spec`, which is exactly the rule-file format.
pub fn chart_rule_file(release: &str, values: &[&str]) -> String {
    let mut args = vec![
        "--set".to_string(),
        "metrics.prometheusRule.enabled=true".into(),
    ];
    for value in values {
        args.push("--set".into());
        args.push(format!("metrics.prometheusRule.{value}"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let objects = render(release, "vaultsync-system", &args);
    let name = if release.contains("vaultsync") {
        release.to_string()
    } else {
        format!("{release}-vaultsync")
    };
    let rule = find(&objects, "PrometheusRule", &name, Some("vaultsync-system"));
    // JSON is YAML, and keeps the rule text exactly as rendered.
    serde_json::to_string_pretty(&rule["spec"]).expect("the rule spec serializes")
}

/// A Prometheus server on 127.0.0.1, scraping one target every second and evaluating its rules
/// every second. Stopped when dropped, or by its watchdog if the test process dies first.
pub struct Prometheus {
    /// `http://127.0.0.1:PORT`.
    pub url: String,
    /// Its log file.
    pub log: PathBuf,
    child: Child,
    _guard: Watchdog,
    http: reqwest::Client,
}

impl Prometheus {
    /// Starts Prometheus scraping `target` (`host:port`, path `/metrics`) as job [`JOB`], with
    /// `rules` as its rule file, and waits until it is ready.
    pub async fn start(target: &str, rules: &str) -> Self {
        let dir = temp_dir("prometheus");
        std::fs::write(dir.join("rules.yaml"), rules).expect("write the rule file");
        let config = format!(
            "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\n  evaluation_interval: 1s\n\
             rule_files: [rules.yaml]\n\
             scrape_configs:\n  - job_name: {JOB}\n    static_configs:\n      - targets: ['{target}']\n"
        );
        let config_file = dir.join("prometheus.yml");
        std::fs::write(&config_file, config).expect("write the configuration");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .expect("a free port")
            .port();
        let log = dir.join("prometheus.log");
        let out = std::fs::File::create(&log).expect("create the log");
        let child = Command::new(prometheus_dir().join("prometheus"))
            .arg(format!("--config.file={}", config_file.display()))
            .arg(format!(
                "--storage.tsdb.path={}",
                dir.join("data").display()
            ))
            .arg(format!("--web.listen-address=127.0.0.1:{port}"))
            .arg("--log.level=warn")
            .current_dir(&dir)
            .stdin(Stdio::null())
            .stdout(out.try_clone().expect("log handle"))
            .stderr(out)
            .spawn()
            .expect("prometheus starts");
        let guard = guard_pid(child.id()).expect("prometheus watchdog");
        let _ = rustls::crypto::ring::default_provider().install_default();
        let prometheus = Prometheus {
            url: format!("http://127.0.0.1:{port}"),
            log,
            child,
            _guard: guard,
            http: reqwest::Client::builder()
                .timeout(Duration::from_secs(10))
                .build()
                .expect("HTTP client"),
        };
        let ready = format!("{}/-/ready", prometheus.url);
        eventually("Prometheus ready", Duration::from_secs(30), || async {
            match prometheus.http.get(&ready).send().await {
                Ok(r) if r.status().is_success() => Ok(()),
                Ok(r) => Err(format!("{}; log: {}", r.status(), prometheus.log_text())),
                Err(e) => Err(format!("{e}; log: {}", prometheus.log_text())),
            }
        })
        .await;
        prometheus
    }

    /// What Prometheus logged.
    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// `GET /api/v1/PATH?QUERY` and its `data`; fails on an API error.
    pub async fn api(&self, path: &str, query: &[(&str, &str)]) -> Result<Value, String> {
        let mut url = url::Url::parse(&format!("{}/api/v1/{path}", self.url))
            .map_err(|e| format!("{path}: {e}"))?;
        url.query_pairs_mut().extend_pairs(query);
        let response = self
            .http
            .get(url)
            .send()
            .await
            .map_err(|e| format!("{path}: {e}"))?;
        let bytes = response.bytes().await.map_err(|e| format!("{path}: {e}"))?;
        let body: Value = serde_json::from_slice(&bytes).map_err(|e| format!("{path}: {e}"))?;
        if body["status"] != "success" {
            return Err(format!("{path} {query:?}: {body}"));
        }
        Ok(body["data"].clone())
    }

    /// The result of the instant query `expr`: one entry per series.
    pub async fn query(&self, expr: &str) -> Result<Vec<Value>, String> {
        let data = self.api("query", &[("query", expr)]).await?;
        Ok(data["result"].as_array().cloned().unwrap_or_default())
    }

    /// The state of alerting rule `alert`: `inactive`, `pending` or `firing`.
    pub async fn alert_state(&self, alert: &str) -> Result<String, String> {
        let data = self.api("rules", &[("type", "alert")]).await?;
        let rules = data["groups"]
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|g| g["rules"].as_array().cloned().unwrap_or_default());
        rules
            .into_iter()
            .find(|r| r["name"] == alert)
            .and_then(|r| r["state"].as_str().map(str::to_owned))
            .ok_or_else(|| format!("no alerting rule {alert}"))
    }

    /// The active (pending or firing) alerts named `alert`, from `/api/v1/alerts`.
    pub async fn alerts(&self, alert: &str) -> Result<Vec<Value>, String> {
        let data = self.api("alerts", &[]).await?;
        Ok(data["alerts"]
            .as_array()
            .into_iter()
            .flatten()
            .filter(|a| a["labels"]["alertname"] == alert)
            .cloned()
            .collect())
    }
}

impl Drop for Prometheus {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

//! Operator processes started by a test (rather than the world's shared one): each with its
//! own metrics address and log, queried over HTTP.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::PathBuf;
use std::process::{Child, ExitStatus};
use std::time::Duration;

use vaultsync_testenv::{Watchdog, guard_pid};

use super::eventually::{check, eventually_every};
use super::world::{backdrop, free_metrics_addr, spawn_operator};

/// How long waiting for an operator to serve may take.
const SERVING: Duration = Duration::from_secs(60);

/// One operator process of a test, with its own metrics address and log file.
pub struct Operator {
    /// The name it was started with (its log file and `POD_NAME` derive from it).
    pub name: String,
    /// The process.
    pub child: Child,
    /// Its health and metrics address.
    pub metrics_addr: String,
    /// Its combined stdout and stderr.
    pub log: PathBuf,
    _guard: Watchdog,
}

impl Operator {
    /// Starts the operator binary with the test defaults plus `extra`, `POD_NAME` set to
    /// `name`, logging to `<log_prefix>-<name>.log`.
    pub fn start(name: &str, log_prefix: &str, extra: &[&str]) -> Self {
        let metrics_addr = free_metrics_addr();
        let log = backdrop().dir.join(format!("{log_prefix}-{name}.log"));
        let log_filter =
            std::env::var("VAULTSYNC_TEST_LOG").unwrap_or_else(|_| "info,kube=warn".into());
        let envs = [("POD_NAME", name), ("RUST_LOG", log_filter.as_str())];
        let child = spawn_operator(&metrics_addr, extra, &envs, &log);
        let guard = guard_pid(child.id()).expect("operator guard");
        Self {
            name: name.to_owned(),
            child,
            metrics_addr,
            log,
            _guard: guard,
        }
    }

    /// Whether `holder` is this process's identity (`POD_NAME` + `_` + random suffix).
    pub fn is(&self, holder: &str) -> bool {
        holder.starts_with(&format!("{}_", self.name))
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn audit_lines(&self) -> usize {
        self.log()
            .lines()
            .filter(|line| line.contains(r#""target":"vaultsync::audit""#))
            .count()
    }

    /// `GET path` on the operator's HTTP endpoint: (status, body).
    pub fn get(&self, path: &str) -> (u16, String) {
        let mut stream = TcpStream::connect(&self.metrics_addr).expect("connect to the operator");
        stream
            .set_read_timeout(Some(Duration::from_secs(5)))
            .unwrap();
        write!(
            stream,
            "GET {path} HTTP/1.1\r\nHost: test\r\nConnection: close\r\n\r\n"
        )
        .unwrap();
        let mut raw = String::new();
        stream.read_to_string(&mut raw).expect("read the response");
        let (head, body) = raw.split_once("\r\n\r\n").expect("an HTTP response");
        let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap();
        (status, body.to_owned())
    }

    /// Sum of the samples of `metric` (any labels).
    pub fn metric_sum(&self, metric: &str) -> f64 {
        let (_, body) = self.get("/metrics");
        body.lines()
            .filter(|line| {
                line.strip_prefix(metric)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    pub fn reconciles(&self) -> f64 {
        self.metric_sum("vaultsync_reconciles_total")
    }

    pub fn vault_requests(&self) -> f64 {
        self.metric_sum("vaultsync_vault_requests_total")
    }

    pub fn leader_gauge(&self) -> f64 {
        self.metric_sum("vaultsync_leader")
    }

    pub fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(status.success(), "kill {signal} failed");
    }

    pub async fn wait_exit(&mut self, timeout: Duration) -> ExitStatus {
        let what = format!("{} exiting", self.name);
        eventually_every(&what, timeout, Duration::from_millis(50), || {
            let exited = self.child.try_wait().unwrap();
            let log = self.log();
            async move { exited.ok_or_else(|| format!("still running; log tail:\n{}", tail(&log))) }
        })
        .await
    }

    /// Waits until the HTTP endpoint answers (the process is up).
    pub async fn wait_serving(&self) {
        let what = format!("{} serving HTTP", self.name);
        eventually_every(&what, SERVING, Duration::from_millis(100), || async {
            let serving = TcpStream::connect(&self.metrics_addr).is_ok();
            check(serving, format!("log tail:\n{}", tail(&self.log())))
        })
        .await
    }
}

impl Drop for Operator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The last 20 lines of `text`.
pub fn tail(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(20)..].join("\n")
}

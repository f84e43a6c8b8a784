//! An [`Operator`] serving only one test's namespace, with flags of the test's own: restartable
//! with the same flags and log, its metrics filtered by label.

use std::time::Duration;

use super::eventually::{check, eventually_every};
use super::operator::{Operator, tail};
use super::world::TestNamespace;

/// One operator process serving one namespace, killed when dropped.
pub struct ScopedOperator {
    inner: Operator,
    namespace: String,
    args: Vec<String>,
}

impl ScopedOperator {
    /// Starts an operator for `t`'s namespace with `extra` flags.
    pub fn start(t: &TestNamespace, extra: &[&str]) -> Self {
        let mut args = vec!["--namespace".to_string(), t.ns.clone()];
        args.extend(extra.iter().map(|a| a.to_string()));
        let inner = spawn(&t.ns, &args);
        Self {
            inner,
            namespace: t.ns.clone(),
            args,
        }
    }

    /// Kills the process and starts it again with the same flags, appending to the same log.
    pub fn restart(&mut self) {
        let _ = self.inner.child.kill();
        let _ = self.inner.child.wait();
        self.inner = spawn(&self.namespace, &self.args);
    }

    /// Everything it logged so far.
    pub fn log(&self) -> String {
        self.inner.log()
    }

    /// Its last log lines, for failure messages.
    pub fn log_tail(&self) -> String {
        tail(&self.inner.log())
    }

    /// The body of `GET /metrics`.
    pub fn metrics(&self) -> String {
        self.inner.get("/metrics").1
    }

    /// Sum of the samples of `metric` whose labels contain every one of `labels`
    /// (`name="value"` each).
    pub fn metric_sum(&self, metric: &str, labels: &[&str]) -> f64 {
        self.metrics()
            .lines()
            .filter(|line| {
                line.strip_prefix(metric)
                    .is_some_and(|rest| rest.starts_with('{') || rest.starts_with(' '))
            })
            .filter(|line| labels.iter().all(|l| line.contains(l)))
            .filter_map(|line| line.rsplit(' ').next()?.parse::<f64>().ok())
            .sum()
    }

    /// Waits until the log contains `line` at least `times` times (e.g. a start-up message).
    pub async fn wait_logged(&self, line: &str, times: usize, within: Duration) {
        let what = format!("the operator logging {line:?} {times} time(s)");
        eventually_every(&what, within, Duration::from_millis(100), || async {
            let count = self.log().matches(line).count();
            check(
                count >= times,
                format!("{count} so far; log tail:\n{}", self.log_tail()),
            )
        })
        .await
    }
}

fn spawn(namespace: &str, args: &[String]) -> Operator {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    Operator::start("operator", namespace, &args)
}

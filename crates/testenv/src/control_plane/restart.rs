//! Restarting one control-plane process in place, on the same ports and with the same data, so
//! chaos tests can show what a client does while its API server or etcd goes away and returns.

use std::time::{Duration, Instant};

use super::{ControlPlane, etcd_health};
use crate::StartError;

/// A process of the control plane that can be restarted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Component {
    /// etcd: kube-apiserver stays up and answers errors until it is back.
    Etcd,
    /// kube-apiserver: every client connection and watch is cut.
    ApiServer,
}

/// How long a stopping process may shut down gracefully before it is killed.
const GRACE: Duration = Duration::from_secs(10);
/// How often readiness is polled after a restart.
const POLL: Duration = Duration::from_millis(200);

impl ControlPlane {
    /// Stops `component` (SIGTERM, SIGKILL after 10 s), starts it again with the same flags and
    /// data directory, and waits until the control plane serves again: etcd healthy (for
    /// [`Component::Etcd`]) and kube-apiserver's `/readyz` green.
    ///
    /// # Errors
    /// When the process cannot be started again, exits, or the control plane is not ready
    /// within `timeout`.
    pub async fn restart(&self, component: Component, timeout: Duration) -> Result<(), StartError> {
        let (index, step) = match component {
            Component::Etcd => (0, "restart etcd"),
            Component::ApiServer => (1, "restart kube-apiserver"),
        };
        self.processes()[index].restart(step, GRACE)?;
        let deadline = Instant::now() + timeout;
        if component == Component::Etcd {
            let port = self.etcd_port;
            self.wait_after_restart(index, step, (deadline, timeout), || async move {
                match etcd_health(port).await {
                    Ok(true) => Ok(()),
                    Ok(false) => Err("etcd says not healthy".to_string()),
                    Err(e) => Err(e.to_string()),
                }
            })
            .await?;
        }
        let client = self
            .client()
            .await
            .map_err(|e| StartError::prepare(step, e))?;
        self.wait_after_restart(1, step, (deadline, timeout), || {
            let client = client.clone();
            async move {
                let request = http::Request::get("/readyz")
                    .body(Vec::new())
                    .expect("a static request is valid");
                match client.request_text(request).await {
                    Ok(body) if body.trim() == "ok" => Ok(()),
                    Ok(body) => Err(format!("readyz said {body}")),
                    Err(e) => Err(e.to_string()),
                }
            }
        })
        .await
    }

    /// Polls `probe` until it answers `Ok` while process `index` runs, until `deadline` (the end
    /// of the restart's `timeout`).
    async fn wait_after_restart<Fut>(
        &self,
        index: usize,
        step: &'static str,
        (deadline, timeout): (Instant, Duration),
        mut probe: impl FnMut() -> Fut,
    ) -> Result<(), StartError>
    where
        Fut: std::future::Future<Output = Result<(), String>>,
    {
        loop {
            self.processes()[index].check_running(step)?;
            let last_problem = match probe().await {
                Ok(()) => return Ok(()),
                Err(problem) => problem,
            };
            if Instant::now() > deadline {
                return Err(StartError::NotReady {
                    step,
                    seconds: timeout.as_secs(),
                    last_problem,
                    log: self.processes()[index].log.clone(),
                });
            }
            tokio::time::sleep(POLL).await;
        }
    }
}

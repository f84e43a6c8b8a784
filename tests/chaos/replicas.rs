//! Two operator replicas with leader election on one Lease, as a Deployment of two would run;
//! like a kubelet, [`Replicas::revive`] starts again any replica that has exited.

use std::time::Duration;

use crate::support::eventually::eventually_every;
use crate::support::operator::Operator;
use crate::support::world::TestNamespace;

const LEASE: &str = "vaultsync-leader";
const NAMES: [&str; 2] = ["replica-a", "replica-b"];

pub struct Replicas {
    ns: String,
    flags: Vec<String>,
    pub operators: Vec<Operator>,
    /// SIGKILLs sent by the test.
    pub kills: usize,
    /// Replicas that exited without being killed by the test: "name: exit status".
    pub exits: Vec<String>,
}

impl Replicas {
    /// Starts both replicas on the tenant's namespace with a vault budget of `rps` requests/s.
    pub async fn start(t: &TestNamespace, rps: f64) -> Self {
        let flags = [
            "--namespace",
            &t.ns,
            "--leader-elect",
            "--leader-election-namespace",
            &t.ns,
            "--leader-election-lease-name",
            LEASE,
            "--leader-election-lease-duration",
            "4s",
            "--leader-election-renew-deadline",
            "3s",
            "--leader-election-retry-period",
            "500ms",
            "--vault-requests-per-second",
            &rps.to_string(),
        ]
        .map(str::to_owned)
        .to_vec();
        let mut replicas = Replicas {
            ns: t.ns.clone(),
            flags,
            operators: vec![],
            kills: 0,
            exits: vec![],
        };
        for name in NAMES {
            let operator = replicas.spawn(name);
            replicas.operators.push(operator);
        }
        for operator in &replicas.operators {
            operator.wait_serving().await;
        }
        replicas
    }

    fn spawn(&self, name: &str) -> Operator {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        Operator::start(name, &self.ns, &flags)
    }

    /// The index of the replica that leads (its `vaultsync_leader` gauge is 1; the Lease holder's
    /// name alone cannot tell a restarted replica from its killed predecessor), waiting up to
    /// 30 s for one to lead.
    pub async fn leader(&self) -> usize {
        eventually_every(
            "a replica leading",
            Duration::from_secs(30),
            Duration::from_millis(100),
            || async {
                let leading: Vec<usize> = (0..self.operators.len())
                    .filter(|i| serving(&self.operators[*i]))
                    .filter(|i| self.operators[*i].leader_gauge() == 1.0)
                    .collect();
                match leading[..] {
                    [one] => Ok(one),
                    _ => Err(format!("leading: {leading:?}")),
                }
            },
        )
        .await
    }

    /// SIGKILLs replica `index` and starts it again at once (its log continues in the same file).
    pub async fn kill(&mut self, index: usize) {
        let operator = &mut self.operators[index];
        operator.child.kill().expect("SIGKILL a replica");
        operator.wait_exit(Duration::from_secs(10)).await;
        self.kills += 1;
        let name = operator.name.clone();
        self.operators[index] = self.spawn(&name);
    }

    /// Starts again every replica that exited on its own, recording why it exited.
    pub fn revive(&mut self) {
        for index in 0..self.operators.len() {
            let status = self.operators[index].child.try_wait().expect("try_wait");
            if let Some(status) = status {
                let name = self.operators[index].name.clone();
                self.exits.push(format!("{name}: {status}"));
                self.operators[index] = self.spawn(&name);
            }
        }
    }

    /// Both replicas' logs, every incarnation.
    pub fn logs(&self) -> String {
        self.operators.iter().map(Operator::log).collect()
    }

    /// The metrics text of every running replica.
    pub fn metrics(&self) -> String {
        self.operators
            .iter()
            .filter(|op| serving(op))
            .map(|op| op.get("/metrics").1)
            .collect()
    }

    /// Resident memory of replica `index` in KiB.
    pub fn rss_kib(&self, index: usize) -> u64 {
        let pid = self.operators[index].child.id();
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
        status
            .lines()
            .find_map(|l| l.strip_prefix("VmRSS:"))
            .and_then(|v| v.split_whitespace().next()?.parse().ok())
            .unwrap_or(0)
    }
}

/// Whether the replica runs and answers on its HTTP endpoint.
fn serving(operator: &Operator) -> bool {
    vaultsync_testenv::is_alive(operator.child.id())
        && std::net::TcpStream::connect(&operator.metrics_addr).is_ok()
}

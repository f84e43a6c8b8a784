use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use k8s_openapi::api::core::v1::ServiceAccount;
use kube::config::{KubeConfigOptions, Kubeconfig};
use kube::{Api, Client};

use crate::process::{ManagedProcess, Watchdog};
use crate::tools::{ToolPaths, ensure_tools};
use crate::{StartError, pki};

mod restart;
pub use restart::Component;

/// How to start a control plane. `Default` is right for almost every test.
#[derive(Debug, Clone)]
pub struct ControlPlaneOptions {
    /// Use these binaries instead of running `hack/ensure-tools.sh`.
    pub tools: Option<ToolPaths>,
    /// Serve kube-apiserver on this port instead of a free one (tests of the port-clash error).
    pub apiserver_port: Option<u16>,
    /// Bound on each readiness wait.
    pub ready_timeout: Duration,
    /// Prepare for kubelets ([`crate::Node`]): the Node authorizer and NodeRestriction admission,
    /// a client certificate for kube-apiserver → kubelet calls (logs, exec), kube-scheduler, and
    /// the controllers pods need (PodDisruptionBudget status, the `kube-root-ca.crt` ConfigMap of
    /// projected ServiceAccount volumes). Off by default: no test without pods pays for it.
    pub nodes: bool,
}

impl Default for ControlPlaneOptions {
    fn default() -> Self {
        ControlPlaneOptions {
            tools: None,
            apiserver_port: None,
            ready_timeout: Duration::from_secs(90),
            nodes: false,
        }
    }
}

/// A running etcd + kube-apiserver + kube-controller-manager on 127.0.0.1.
///
/// Dropping it stops the processes (SIGTERM, then SIGKILL) and removes its directories.
pub struct ControlPlane {
    tools: ToolPaths,
    run_dir: PathBuf,
    log_dir: PathBuf,
    kubeconfig_path: PathBuf,
    kubeconfig_text: String,
    server_url: String,
    ca_pem: String,
    sa_public_key_pem: String,
    /// etcd, kube-apiserver, kube-controller-manager (and kube-scheduler) in that order; behind a
    /// lock so that a shared control plane can restart one of them in place.
    processes: std::sync::Mutex<Vec<ManagedProcess>>,
    etcd_port: u16,
    watchdog: Option<Watchdog>,
    nodes: bool,
}

/// Directory names shared with the watchdog so a crashed run leaves nothing behind.
struct Dirs {
    run: PathBuf,
    logs: PathBuf,
    pids: PathBuf,
}

impl Dirs {
    fn create() -> Result<Self, StartError> {
        let step = "create directories";
        // tmpfs keeps etcd fast; fall back to the regular temp dir.
        let shm = Path::new("/dev/shm");
        let base = if shm.is_dir() {
            shm.to_path_buf()
        } else {
            std::env::temp_dir()
        };
        let run = tempfile::Builder::new()
            .prefix("vaultsync-cp-")
            .tempdir_in(&base)
            .map_err(|e| StartError::prepare(step, e))?
            .keep();
        let logs = tempfile::Builder::new()
            .prefix("vaultsync-cp-logs-")
            .tempdir()
            .map_err(|e| StartError::prepare(step, e))?
            .keep();
        let pids = run.join("pids");
        Ok(Dirs { run, logs, pids })
    }
}

pub(crate) fn free_port() -> Result<u16, StartError> {
    let listener =
        TcpListener::bind("127.0.0.1:0").map_err(|e| StartError::prepare("find free port", e))?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(|e| StartError::prepare("find free port", e))
}

fn write(path: &Path, contents: &str) -> Result<(), StartError> {
    std::fs::write(path, contents).map_err(|e| StartError::prepare("write certificates", e))
}

impl ControlPlane {
    /// Starts a private control plane and waits until it is ready.
    pub async fn start(options: ControlPlaneOptions) -> Result<ControlPlane, StartError> {
        let tools = match options.tools.clone() {
            Some(tools) => tools,
            None => tokio::task::spawn_blocking(ensure_tools)
                .await
                .map_err(|e| StartError::prepare("ensure tools", e))??,
        };
        let dirs = Dirs::create()?;
        let watchdog = Watchdog::start(&dirs.pids, &[&dirs.run, &dirs.logs])?;
        let mut plane = ControlPlane {
            tools,
            run_dir: dirs.run.clone(),
            log_dir: dirs.logs.clone(),
            kubeconfig_path: dirs.run.join("kubeconfig"),
            kubeconfig_text: String::new(),
            server_url: String::new(),
            ca_pem: String::new(),
            sa_public_key_pem: String::new(),
            processes: Default::default(),
            etcd_port: 0,
            watchdog: Some(watchdog),
            nodes: options.nodes,
        };
        match plane.boot(&options, &dirs).await {
            Ok(()) => Ok(plane),
            Err(err) => {
                // Keep the logs the error names; remove everything else.
                plane.teardown(false);
                Err(err)
            }
        }
    }

    async fn boot(&mut self, options: &ControlPlaneOptions, dirs: &Dirs) -> Result<(), StartError> {
        let pki = self.write_pki(&dirs.run)?;
        let timeout = options.ready_timeout;
        let etcd_url = self.start_etcd(dirs, timeout).await?;
        let api_port = match options.apiserver_port {
            Some(port) => port,
            None => free_port()?,
        };
        self.server_url = format!("https://127.0.0.1:{api_port}");
        let args = apiserver_args(
            &etcd_url,
            api_port,
            &self.server_url,
            &dirs.run,
            options.nodes,
        );
        let apiserver = ManagedProcess::spawn(
            "kube-apiserver",
            "start kube-apiserver",
            &self.tools.binary("kube-apiserver"),
            &args,
            &dirs.logs,
            &dirs.pids,
        )?;
        self.processes_mut().push(apiserver);
        self.kubeconfig_text = admin_kubeconfig(&self.server_url, &pki);
        write(&self.kubeconfig_path, &self.kubeconfig_text)?;
        let client = self
            .client()
            .await
            .map_err(|e| StartError::prepare("build client", e))?;
        wait_for_apiserver(&mut self.processes_mut()[1], &client, timeout).await?;
        self.start_controller_manager(options.nodes, dirs, &client, timeout)
            .await?;
        if options.nodes {
            self.start_scheduler(dirs).await?;
        }
        Ok(())
    }

    /// Generates the cluster's CA, serving, admin and ServiceAccount keys into `run`.
    fn write_pki(&mut self, run: &Path) -> Result<pki::Pki, StartError> {
        let pki = pki::generate().map_err(|e| StartError::prepare("generate certificates", e))?;
        let file = |name: &str| run.join(name);
        write(&file("ca.crt"), &pki.ca_cert)?;
        write(&file("ca.key"), &pki.ca_key)?;
        write(&file("apiserver.crt"), &pki.serving_cert)?;
        write(&file("apiserver.key"), &pki.serving_key)?;
        write(&file("sa.key"), &pki.sa_private_key)?;
        write(&file("sa.pub"), &pki.sa_public_key)?;
        write(&file("admin.crt"), &pki.admin_cert)?;
        write(&file("admin.key"), &pki.admin_key)?;
        self.ca_pem = pki.ca_cert.clone();
        self.sa_public_key_pem = pki.sa_public_key.clone();
        Ok(pki)
    }

    /// Starts etcd on free loopback ports and waits for it; returns its client URL.
    async fn start_etcd(&mut self, dirs: &Dirs, timeout: Duration) -> Result<String, StartError> {
        let etcd_port = free_port()?;
        let etcd_peer_port = free_port()?;
        self.etcd_port = etcd_port;
        let etcd_url = format!("http://127.0.0.1:{etcd_port}");
        let peer_url = format!("http://127.0.0.1:{etcd_peer_port}");
        let etcd = ManagedProcess::spawn(
            "etcd",
            "start etcd",
            &self.tools.binary("etcd"),
            &[
                "--name=default".into(),
                format!("--data-dir={}", dirs.run.join("etcd").display()),
                format!("--listen-client-urls={etcd_url}"),
                format!("--advertise-client-urls={etcd_url}"),
                format!("--listen-peer-urls={peer_url}"),
                format!("--initial-advertise-peer-urls={peer_url}"),
                format!("--initial-cluster=default={peer_url}"),
                "--unsafe-no-fsync".into(),
                "--log-level=warn".into(),
            ],
            &dirs.logs,
            &dirs.pids,
        )?;
        self.processes_mut().push(etcd);
        wait_for_etcd(&mut self.processes_mut()[0], etcd_port, timeout).await?;
        Ok(etcd_url)
    }

    /// Starts kube-controller-manager (with the node controllers when nodes join) and waits
    /// for it.
    async fn start_controller_manager(
        &mut self,
        nodes: bool,
        dirs: &Dirs,
        client: &Client,
        timeout: Duration,
    ) -> Result<(), StartError> {
        let mut controllers = String::from(
            "garbage-collector-controller,namespace-controller,serviceaccount-controller,deployment-controller,replicaset-controller,statefulset-controller,daemonset-controller",
        );
        if nodes {
            // The kubelet registers its node with the not-ready taint; the node lifecycle
            // controller lifts it once the node reports Ready (checked every second here).
            controllers.push_str(
                ",disruption-controller,root-ca-certificate-publisher-controller,node-lifecycle-controller",
            );
        }
        let file = |name: &str| dirs.run.join(name);
        let kcm = ManagedProcess::spawn(
            "kube-controller-manager",
            "start kube-controller-manager",
            &self.tools.binary("kube-controller-manager"),
            &[
                format!("--kubeconfig={}", self.kubeconfig_path.display()),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
                format!("--controllers={controllers}"),
                format!(
                    "--service-account-private-key-file={}",
                    file("sa.key").display()
                ),
                format!("--root-ca-file={}", file("ca.crt").display()),
                "--use-service-account-credentials=false".into(),
                "--concurrent-gc-syncs=5".into(),
                // client-go's default 20 requests/s makes thousands of workloads (benches) wait
                // minutes for their first status.
                "--kube-api-qps=200".into(),
                "--kube-api-burst=400".into(),
                "--node-monitor-period=1s".into(),
            ],
            &dirs.logs,
            &dirs.pids,
        )?;
        self.processes_mut().push(kcm);
        wait_for_controller_manager(&mut self.processes_mut()[2], client, timeout).await
    }

    /// Starts kube-scheduler; a scheduler that cannot start exits at once.
    async fn start_scheduler(&mut self, dirs: &Dirs) -> Result<(), StartError> {
        let scheduler = ManagedProcess::spawn(
            "kube-scheduler",
            "start kube-scheduler",
            &self.tools.binary("kube-scheduler"),
            &[
                format!("--kubeconfig={}", self.kubeconfig_path.display()),
                "--secure-port=0".into(),
                "--leader-elect=false".into(),
            ],
            &dirs.logs,
            &dirs.pids,
        )?;
        self.processes_mut().push(scheduler);
        // No health endpoint without a serving port: a scheduler that cannot start exits at
        // once (bad kubeconfig, flags), and that is what this catches.
        tokio::time::sleep(Duration::from_millis(300)).await;
        self.processes_mut()[3].check_running("start kube-scheduler")
    }

    /// A new admin client (`system:masters`) for the current tokio runtime.
    pub async fn client(&self) -> Result<Client, kube::Error> {
        let config = self.kube_config_from(&self.kubeconfig_text).await?;
        Client::try_from(config)
    }

    /// The admin client's configuration, to adjust before building a client (for example
    /// `default_retry = false`, so that a 429 from the Eviction API reaches the test instead of
    /// being retried until the budget allows it).
    pub async fn client_config(&self) -> Result<kube::Config, kube::Error> {
        self.kube_config_from(&self.kubeconfig_text).await
    }

    /// A client that authenticates with a bearer token (for example a ServiceAccount's), so tests
    /// can prove what RBAC allows.
    pub async fn client_with_token(&self, token: &str) -> Result<Client, kube::Error> {
        let text = self.token_kubeconfig(token);
        let config = self.kube_config_from(&text).await?;
        Client::try_from(config)
    }

    async fn kube_config_from(&self, text: &str) -> Result<kube::Config, kube::Error> {
        let kubeconfig = Kubeconfig::from_yaml(text).map_err(kube::Error::InferKubeconfig)?;
        kube::Config::from_custom_kubeconfig(kubeconfig, &KubeConfigOptions::default())
            .await
            .map_err(kube::Error::InferKubeconfig)
    }

    /// A token of ServiceAccount `namespace/name` from the TokenRequest API, valid for
    /// `duration` (Go-style, such as `1h`).
    pub fn service_account_token(
        &self,
        namespace: &str,
        name: &str,
        duration: &str,
    ) -> std::io::Result<String> {
        let out = self
            .kubectl()
            .args(["create", "token", name, "-n", namespace])
            .arg(format!("--duration={duration}"))
            .output()?;
        // stderr only: stdout is the token.
        if !out.status.success() {
            return Err(std::io::Error::other(format!(
                "TokenRequest for {namespace}/{name} failed: {}",
                String::from_utf8_lossy(&out.stderr)
            )));
        }
        let token = String::from_utf8(out.stdout).map_err(std::io::Error::other)?;
        Ok(token.trim().to_string())
    }

    /// Writes a kubeconfig that authenticates with `token` and returns its path.
    pub fn write_token_kubeconfig(&self, name: &str, token: &str) -> std::io::Result<PathBuf> {
        let path = self.run_dir.join(format!("kubeconfig-{name}"));
        std::fs::write(&path, self.token_kubeconfig(token))?;
        Ok(path)
    }

    fn token_kubeconfig(&self, token: &str) -> String {
        kubeconfig_json(
            &self.server_url,
            &self.ca_pem,
            serde_json::json!({ "token": token }),
        )
    }

    /// The admin kubeconfig file.
    pub fn kubeconfig_path(&self) -> &Path {
        &self.kubeconfig_path
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server_url(&self) -> &str {
        &self.server_url
    }

    /// The ServiceAccount token issuer (`iss` of every token the server signs).
    pub fn issuer(&self) -> &str {
        &self.server_url
    }

    /// PEM of the cluster CA (it signed the serving certificate).
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// PEM of the public key that verifies ServiceAccount tokens.
    pub fn service_account_public_key_pem(&self) -> &str {
        &self.sa_public_key_pem
    }

    /// The binaries this control plane runs.
    pub fn tools(&self) -> &ToolPaths {
        &self.tools
    }

    /// Directory of the processes' log files.
    pub fn log_dir(&self) -> &Path {
        &self.log_dir
    }

    /// A `kubectl` of the server's version, pointed at this control plane as admin.
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.tools.binary("kubectl"));
        cmd.env("KUBECONFIG", &self.kubeconfig_path);
        cmd
    }

    /// Process ids of etcd, kube-apiserver, kube-controller-manager, kube-scheduler (with
    /// [`ControlPlaneOptions::nodes`]) and the watchdog.
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.processes().iter().map(|p| p.pid()).collect();
        pids.extend(self.watchdog.as_ref().map(|w| w.pid()));
        pids
    }

    /// The directories this control plane owns (removed at teardown).
    pub fn dirs(&self) -> Vec<PathBuf> {
        vec![self.run_dir.clone(), self.log_dir.clone()]
    }

    /// The JSON Web Key Set served at `/openid/v1/jwks` (what an OIDC relying party, such as Entra,
    /// fetches to verify ServiceAccount tokens).
    pub async fn jwks(&self) -> Result<String, kube::Error> {
        let client = self.client().await?;
        let request = http::Request::get("/openid/v1/jwks")
            .body(Vec::new())
            .map_err(kube::Error::HttpError)?;
        client.request_text(request).await
    }

    /// Whether this control plane was started with [`ControlPlaneOptions::nodes`].
    pub fn accepts_nodes(&self) -> bool {
        self.nodes
    }

    /// The directory holding the certificates, keys and kubeconfigs (removed at teardown).
    pub(crate) fn run_dir(&self) -> &Path {
        &self.run_dir
    }

    fn processes(&self) -> std::sync::MutexGuard<'_, Vec<ManagedProcess>> {
        self.processes
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn processes_mut(&mut self) -> &mut Vec<ManagedProcess> {
        self.processes
            .get_mut()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    /// Stops everything now (the same as dropping it).
    pub fn stop(self) {}

    fn teardown(&mut self, remove_logs: bool) {
        for process in self.processes_mut().iter_mut().rev() {
            process.stop(Duration::from_secs(10));
        }
        self.processes_mut().clear();
        self.watchdog = None;
        let _ = std::fs::remove_dir_all(&self.run_dir);
        if remove_logs {
            let _ = std::fs::remove_dir_all(&self.log_dir);
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        if !self.processes_mut().is_empty() || self.watchdog.is_some() {
            self.teardown(true);
        }
    }
}

/// kube-apiserver's flags: loopback only, RBAC (and the Node authorizer when nodes join), the
/// ServiceAccount issuer at its own URL so TokenRequest, OIDC discovery and JWKS work.
fn apiserver_args(
    etcd_url: &str,
    api_port: u16,
    server: &str,
    run: &Path,
    nodes: bool,
) -> Vec<String> {
    let file = |name: &str| run.join(name);
    let authorization = if nodes { "Node,RBAC" } else { "RBAC" };
    let mut args = vec![
        format!("--etcd-servers={etcd_url}"),
        "--bind-address=127.0.0.1".into(),
        "--advertise-address=127.0.0.1".into(),
        format!("--secure-port={api_port}"),
        format!("--cert-dir={}", file("apiserver-certs").display()),
        format!("--tls-cert-file={}", file("apiserver.crt").display()),
        format!("--tls-private-key-file={}", file("apiserver.key").display()),
        format!("--client-ca-file={}", file("ca.crt").display()),
        format!("--authorization-mode={authorization}"),
        format!("--service-account-issuer={server}"),
        format!("--service-account-jwks-uri={server}/openid/v1/jwks"),
        format!("--service-account-key-file={}", file("sa.pub").display()),
        format!(
            "--service-account-signing-key-file={}",
            file("sa.key").display()
        ),
        "--service-cluster-ip-range=10.0.0.0/24".into(),
        "--allow-privileged=true".into(),
        "--endpoint-reconciler-type=none".into(),
        "--enable-priority-and-fairness=false".into(),
    ];
    if nodes {
        args.extend([
            "--enable-admission-plugins=NodeRestriction".into(),
            format!(
                "--kubelet-client-certificate={}",
                file("admin.crt").display()
            ),
            format!("--kubelet-client-key={}", file("admin.key").display()),
        ]);
    }
    args
}

fn admin_kubeconfig(server: &str, pki: &pki::Pki) -> String {
    kubeconfig_json(
        server,
        &pki.ca_cert,
        serde_json::json!({
            "client-certificate-data": STANDARD.encode(&pki.admin_cert),
            "client-key-data": STANDARD.encode(&pki.admin_key),
        }),
    )
}

pub(crate) fn kubeconfig_json(server: &str, ca_pem: &str, user: serde_json::Value) -> String {
    serde_json::json!({
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": "testenv", "cluster": {
            "server": server,
            "certificate-authority-data": STANDARD.encode(ca_pem),
        }}],
        "users": [{"name": "testenv", "user": user}],
        "contexts": [{"name": "testenv", "context": {"cluster": "testenv", "user": "testenv"}}],
        "current-context": "testenv",
    })
    .to_string()
}

async fn wait_for_etcd(
    etcd: &mut ManagedProcess,
    port: u16,
    timeout: Duration,
) -> Result<(), StartError> {
    let every = Duration::from_millis(100);
    etcd.wait_until("wait for etcd", timeout, every, || async {
        match etcd_health(port).await {
            Ok(true) => Ok(()),
            Ok(false) => Err("health endpoint says not healthy".to_string()),
            Err(e) => Err(e.to_string()),
        }
    })
    .await
}

async fn etcd_health(port: u16) -> std::io::Result<bool> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port)).await?;
    stream
        .write_all(b"GET /health HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .await?;
    let mut response = String::new();
    stream.read_to_string(&mut response).await?;
    Ok(response.contains("\"health\":\"true\""))
}

async fn wait_for_apiserver(
    apiserver: &mut ManagedProcess,
    client: &Client,
    timeout: Duration,
) -> Result<(), StartError> {
    let step = "wait for kube-apiserver readiness";
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(client.clone());
    let every = Duration::from_millis(200);
    apiserver
        .wait_until(step, timeout, every, || async {
            let request = http::Request::get("/readyz")
                .body(Vec::new())
                .expect("a static request is valid");
            match client.request_text(request).await {
                Ok(body) if body.trim() == "ok" => match namespaces.get_opt("default").await {
                    Ok(Some(_)) => Ok(()),
                    Ok(None) => Err("namespace default not created yet".to_string()),
                    Err(e) => Err(e.to_string()),
                },
                Ok(body) => Err(format!("readyz said {body}")),
                Err(e) => Err(e.to_string()),
            }
        })
        .await
}

/// The ServiceAccount controller creates `default` in every namespace: seeing it proves
/// kube-controller-manager is running its controllers.
async fn wait_for_controller_manager(
    kcm: &mut ManagedProcess,
    client: &Client,
    timeout: Duration,
) -> Result<(), StartError> {
    let accounts: Api<ServiceAccount> = Api::namespaced(client.clone(), "default");
    let every = Duration::from_millis(200);
    kcm.wait_until(
        "wait for kube-controller-manager",
        timeout,
        every,
        || async {
            match accounts.get_opt("default").await {
                Ok(Some(_)) => Ok(()),
                Ok(None) => Err("ServiceAccount default/default not created yet".to_string()),
                Err(e) => Err(e.to_string()),
            }
        },
    )
    .await
}

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

use k8s_openapi::api::core::v1::Namespace;
use kube::api::{ObjectMeta, PostParams};
use kube::{Api, Client};

use crate::{ControlPlane, ControlPlaneOptions};

static SHARED: OnceLock<Result<ControlPlane, String>> = OnceLock::new();

/// The control plane shared by every test in this test binary, started on first use.
///
/// It is started on a thread of its own so that it does not depend on any one test's runtime;
/// its watchdog removes it when the test binary exits. Isolate tests with [`unique_namespace`].
///
/// # Panics
/// When the control plane cannot start: the message names the step and the log file.
pub fn shared() -> &'static ControlPlane {
    let result = SHARED.get_or_init(|| {
        std::thread::spawn(|| {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .map_err(|e| e.to_string())?;
            runtime
                .block_on(ControlPlane::start(ControlPlaneOptions::default()))
                .map_err(|e| e.to_string())
        })
        .join()
        .unwrap_or_else(|_| Err("the control plane start thread panicked".into()))
    });
    match result {
        Ok(plane) => plane,
        Err(message) => panic!("local control plane unavailable: {message}"),
    }
}

/// Creates a fresh namespace `PREFIX-<pid>-<n>` and returns its name.
pub async fn unique_namespace(client: &Client, prefix: &str) -> Result<String, kube::Error> {
    static COUNTER: AtomicU32 = AtomicU32::new(0);
    let name = format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let namespace = Namespace {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            ..Default::default()
        },
        ..Default::default()
    };
    Api::<Namespace>::all(client.clone())
        .create(&PostParams::default(), &namespace)
        .await?;
    Ok(name)
}

//! Warm start-up time of the local control plane (binaries already built): start and tear down
//! several times, print each run and the median. `cargo bench -p vaultsync-testenv --bench startup`.

use std::time::{Duration, Instant};

use vaultsync_testenv::{ControlPlane, ControlPlaneOptions, ensure_tools};

fn main() {
    let runs: usize = std::env::var("VAULTSYNC_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let tools = ensure_tools().expect("tools are built");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let mut times: Vec<Duration> = Vec::new();
    for run in 1..=runs {
        let started = Instant::now();
        let plane = runtime
            .block_on(ControlPlane::start(ControlPlaneOptions {
                tools: Some(tools.clone()),
                ..Default::default()
            }))
            .expect("control plane starts");
        let ready = started.elapsed();
        let stop = Instant::now();
        drop(plane);
        println!(
            "run {run}: ready in {:.2}s, torn down in {:.2}s",
            ready.as_secs_f64(),
            stop.elapsed().as_secs_f64()
        );
        times.push(ready);
    }
    times.sort();
    println!(
        "median start-up (etcd + kube-apiserver + kube-controller-manager ready): {:.2}s over {runs} runs",
        times[runs / 2].as_secs_f64()
    );
}

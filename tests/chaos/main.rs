//! Chaos and soak: a fleet of VaultSecrets and VaultCertificates on the real control plane and
//! the vault emulator, two operator replicas with leader election, a stream of rotations
//! throughout, and in turn: SIGKILLs of the leader, kube-apiserver and etcd restarts, a vault
//! outage of ten minutes of vault time, a 429 storm, Entra down while tokens expire, and a table of malformed and hostile
//! resources. A watch checks every Secret event; at the end a table of figures is printed and
//! every figure that must be zero is asserted.
//!
//! `cargo test --test chaos -- --nocapture` runs the short mode (also part of
//! `cargo test --workspace`); `VAULTSYNC_SOAK=long` runs the scale (see the README's
//! "Chaos and soak"). `VAULTSYNC_SOAK_SEED` replays a run's random choices.
//!
//! This binary restarts the shared control plane, so it holds one test only, and never starts
//! the world's operator: its replicas are the only operators here.

#[path = "../support/mod.rs"]
mod support;

mod bad_inputs;
mod entra;
mod fleet;
mod leaks;
mod ledger;
mod observer;
mod phases;
mod rate;
mod replicas;
mod report;
mod scale;

use std::sync::Arc;
use std::time::{Duration, Instant};

use rand::SeedableRng;
use rand::rngs::StdRng;

use fleet::Fleet;
use phases::Run;
use support::world::test_namespace_without_operator;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chaos_and_soak() {
    let scale = scale::from_env();
    let seed: u64 = std::env::var("VAULTSYNC_SOAK_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(rand::random);
    println!("chaos: {scale:?}, VAULTSYNC_SOAK_SEED={seed}");
    let started = Instant::now();
    let mut rng = StdRng::seed_from_u64(seed);
    let t = test_namespace_without_operator("chaos").await;
    let fleet = Arc::new(Fleet::new(t, scale.secrets, scale.certificates));
    fleet.seed(&mut rng);
    support::world::world_control().set_token_lifetime(entra::TOKEN_LIFETIME_SECS);

    let mut run = Run::start(fleet.clone(), scale).await;
    let rotations = run.rotate_throughout(StdRng::seed_from_u64(seed ^ 1));
    run.kills(&mut rng).await;
    run.control_plane_restarts().await;
    run.vault_outage().await;
    run.throttling_storm().await;
    run.entra_outage().await;
    run.bad_inputs().await;
    rotations.abort();
    run.finish(Duration::from_secs(fleet::REFRESH_SECS * 2))
        .await;
    let figures = run.figures(started.elapsed()).await;
    report::print(&scale, &figures);
    report::assert_clean(&figures);
}

//! How big and how long a run is: `VAULTSYNC_SOAK=short` (the default, part of
//! `cargo test --workspace`), `medium` or `long` (the 1,000 + 100 and 50 kills).

use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Scale {
    pub name: &'static str,
    pub secrets: usize,
    pub certificates: usize,
    pub kills: usize,
    /// Vault writes per second, throughout.
    pub rotations_per_second: f64,
    /// The operator's per-vault budget (`--vault-requests-per-second`).
    pub budget: f64,
    /// Real time the vault is down for (its clock moves 10 minutes meanwhile).
    pub outage: Duration,
    /// Real time the vault answers only 429.
    pub storm: Duration,
}

pub fn from_env() -> Scale {
    let name = std::env::var("VAULTSYNC_SOAK").unwrap_or_default();
    match name.as_str() {
        "long" => Scale {
            name: "long",
            secrets: 1000,
            certificates: 100,
            kills: 50,
            rotations_per_second: 5.0,
            budget: 100.0,
            outage: Duration::from_secs(120),
            storm: Duration::from_secs(60),
        },
        "medium" => Scale {
            name: "medium",
            secrets: 300,
            certificates: 30,
            kills: 15,
            rotations_per_second: 3.0,
            budget: 50.0,
            outage: Duration::from_secs(60),
            storm: Duration::from_secs(30),
        },
        "" | "short" => Scale {
            name: "short",
            secrets: 100,
            certificates: 10,
            kills: 4,
            rotations_per_second: 2.0,
            budget: 20.0,
            outage: Duration::from_secs(30),
            storm: Duration::from_secs(15),
        },
        other => panic!("VAULTSYNC_SOAK={other}: expected short, medium or long"),
    }
}

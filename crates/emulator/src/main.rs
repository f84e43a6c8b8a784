//! `vaultsync-emulator`: runs the Key Vault + Entra emulator until SIGINT/SIGTERM and prints one
//! JSON line with its coordinates when ready.

use clap::Parser;
use std::path::PathBuf;
use vaultsync_emulator::{Emulator, EmulatorConfig, Seed, apply_seed};

/// Azure Key Vault + Entra ID emulator over HTTPS on 127.0.0.1.
#[derive(Parser, Debug)]
#[command(version, about)]
struct Args {
    /// Port on 127.0.0.1 (0 = a free port).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Trust the built-in test issuer (mint tokens via POST /_emulator/test-issuer/token).
    #[arg(long)]
    test_issuer: bool,
    /// Seed file (JSON: vaults, apps, issuers, federated_credentials, role_assignments, secrets).
    #[arg(long)]
    seed: Option<PathBuf>,
    /// Name the port in the challenge resource (lets Python's SDK keep challenge verification on).
    #[arg(long)]
    challenge_port: bool,
    /// Write the CA certificate (PEM) to this file.
    #[arg(long)]
    ca_out: Option<PathBuf>,
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args = Args::parse();
    let emu = Emulator::start(EmulatorConfig {
        port: args.port,
        test_issuer: args.test_issuer,
    })
    .await?;
    emu.control()
        .set_challenge_resource_port(args.challenge_port);
    if let Some(path) = &args.seed {
        let seed: Seed = serde_json::from_slice(&std::fs::read(path)?)?;
        apply_seed(emu.control(), &seed)?;
    }
    if let Some(path) = &args.ca_out {
        std::fs::write(path, emu.ca_pem())?;
    }
    let ready = serde_json::json!({
        "port": emu.port(),
        "ca_file": args.ca_out,
        "authority_host": emu.authority_host(),
        "control_url": emu.control_url(),
        "test_issuer": emu.control().test_issuer(),
    });
    println!("{ready}");
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    emu.shutdown().await;
    Ok(())
}

//! Azure Key Vault data plane + Entra ID token endpoint emulator, served over HTTPS on loopback.
//!
//! The emulator is faithful enough that the official Azure SDKs (Rust 1.x, Python, Go) work
//! against it unmodified: vault hosts are `{vault}.vault.localhost`, the authority is
//! `login.localhost`, both behind one TLS listener whose CA is generated at start
//! ([`Emulator::ca_pem`]). See the crate's README for the Key Vault and Entra behaviours it
//! implements and those it does not.
//!
//! ```no_run
//! # async fn demo() -> Result<(), vaultsync_emulator::EmulatorError> {
//! use vaultsync_emulator::{Emulator, EmulatorConfig, Permission, SecretOptions};
//! let emu = Emulator::start(EmulatorConfig { port: 0, test_issuer: true }).await?;
//! let c = emu.control();
//! c.create_vault("v1", "tenant-a");
//! c.register_app("tenant-a", "app-1");
//! c.add_federated_credential("app-1", c.test_issuer(), "system:serviceaccount:ns:sa");
//! c.assign_role("app-1", "v1", &[Permission::SecretsRead, Permission::List]);
//! c.set_secret("v1", "db-password", "hunter2", SecretOptions::default()).unwrap();
//! # Ok(()) }
//! ```

mod clock;
mod control;
mod counters;
mod directory;
mod entra;
mod errors;
mod events;
mod faults;
mod ids;
mod jwt;
mod kv;
mod server;
mod state;
mod store;
mod test_issuer;
mod tls;
mod urlenc;

pub use control::seed::{
    AppSpec, FederatedSpec, IssuerSpec, RoleSpec, SecretSpec, Seed, VaultSpec, apply_seed,
};
pub use control::{CertificateImport, Control, ControlError, Permission, SecretOptions};
pub use counters::{CounterKey, Counters};
pub use events::spec::{
    AttemptOutcome, DeliveryAttempt, EntraDelivery, EventSchema, EventSubscription, RetryPolicy,
    SubscriptionState, SubscriptionStatus,
};
pub use faults::Fault;

use std::sync::Arc;

/// How to start an [`Emulator`].
#[derive(Debug, Clone, Default)]
pub struct EmulatorConfig {
    /// TCP port on 127.0.0.1; 0 picks a free port.
    pub port: u16,
    /// Trust the built-in test issuer from the start (see [`Control::mint_test_token`]).
    pub test_issuer: bool,
}

/// Errors starting the emulator.
#[derive(Debug, thiserror::Error)]
pub enum EmulatorError {
    /// Binding or serving the listener failed.
    #[error("emulator I/O: {0}")]
    Io(#[from] std::io::Error),
    /// Generating the CA / serving certificate or the TLS config failed.
    #[error("emulator TLS setup: {0}")]
    Tls(String),
    /// The Event Grid queue of this state already has a dispatcher.
    #[error("the Event Grid queue already has a dispatcher")]
    EventQueueTaken,
}

/// A running emulator. Stops when [`Emulator::shutdown`] is awaited or when dropped.
pub struct Emulator {
    port: u16,
    ca_pem: String,
    control: Control,
    server: server::ServerHandle,
    _events: AbortOnDrop,
}

/// Aborts a task when dropped.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

impl Emulator {
    /// Generates the CA and serving certificate, binds the listener and starts serving.
    /// The listener accepts connections when this returns.
    pub async fn start(config: EmulatorConfig) -> Result<Emulator, EmulatorError> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", config.port)).await?;
        let port = listener.local_addr()?.port();
        let certs = tls::generate().map_err(EmulatorError::Tls)?;
        let state = Arc::new(state::State::new(port).map_err(EmulatorError::Tls)?);
        if config.test_issuer {
            state.enable_test_issuer();
        }
        let control = Control::new(state.clone());
        let jobs = state
            .events
            .take_receiver()
            .ok_or(EmulatorError::EventQueueTaken)?;
        let events = tokio::spawn(events::dispatcher::run(state.clone(), jobs));
        let router = login_router(state.clone(), control.clone(), &certs.ca_pem);
        let server = server::spawn(listener, certs.server_config.clone(), state, router);
        Ok(Emulator {
            port,
            ca_pem: certs.ca_pem,
            control,
            server,
            _events: AbortOnDrop(events),
        })
    }

    /// The port the HTTPS listener is bound to on 127.0.0.1.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// PEM of the CA that signed the serving certificate: add it as a trusted root in clients.
    pub fn ca_pem(&self) -> &str {
        &self.ca_pem
    }

    /// The Entra authority host, e.g. `https://login.localhost:8443`.
    pub fn authority_host(&self) -> String {
        format!("https://login.localhost:{}", self.port)
    }

    /// The vault URL as the SDKs want it, e.g. `https://v1.vault.localhost:8443/`.
    pub fn vault_url(&self, vault: &str) -> String {
        format!(
            "https://{}.vault.localhost:{}/",
            vault.to_ascii_lowercase(),
            self.port
        )
    }

    /// The control URL, e.g. `https://127.0.0.1:8443/_emulator`.
    pub fn control_url(&self) -> String {
        format!("https://127.0.0.1:{}/_emulator", self.port)
    }

    /// In-process control handle (cheap to clone).
    pub fn control(&self) -> &Control {
        &self.control
    }

    /// Stops accepting, closes open connections and waits for the server task to end.
    pub async fn shutdown(self) {
        self.server.shutdown().await;
    }
}

/// The routes of the login host: Entra's endpoints and the control surface.
fn login_router(state: Arc<state::State>, control: Control, ca_pem: &str) -> axum::Router {
    entra::router(state)
        .merge(control::http::router(control, ca_pem))
        .fallback(|| async { errors::kv_error(404, "NotFound", "No such endpoint.") })
}

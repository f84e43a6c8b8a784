//! Shared emulator state: the directory, the vaults, faults, counters and the clock, plus the
//! host names both Entra and the data plane derive from the port.

use crate::clock::Clock;
use crate::counters::{CounterKey, Counters};
use crate::directory::Directory;
use crate::entra::signing::SigningKey;
use crate::events::EventGrid;
use crate::faults::Faults;
use crate::store::VaultData;
use crate::test_issuer::{TEST_ISSUER, TestIssuer};
use ring::hmac;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock, RwLockReadGuard, RwLockWriteGuard};

/// The resource (token audience) of Key Vault in this emulator.
pub(crate) const VAULT_RESOURCE: &str = "https://vault.localhost";
/// The emulator's own authority host name (without port).
pub(crate) const LOGIN_HOST: &str = "login.localhost";

/// A vault: its tenant and objects.
#[derive(Debug)]
pub(crate) struct Vault {
    pub name: String,
    pub tenant: String,
    pub data: RwLock<VaultData>,
}

impl Vault {
    pub fn read(&self) -> RwLockReadGuard<'_, VaultData> {
        self.data.read().unwrap_or_else(|e| e.into_inner())
    }
    pub fn write(&self) -> RwLockWriteGuard<'_, VaultData> {
        self.data.write().unwrap_or_else(|e| e.into_inner())
    }
}

/// Everything the server and the control handle share.
pub(crate) struct State {
    pub port: u16,
    pub clock: Clock,
    /// Key for the HS256 access tokens this emulator issues; random per process.
    pub token_key: hmac::Key,
    pub directory: RwLock<Directory>,
    pub vaults: RwLock<HashMap<String, Arc<Vault>>>,
    pub faults: Faults,
    pub counters: Mutex<Counters>,
    /// Requests per vault counted when they arrive, before any handling: the rate a client
    /// sent at, which `counters` (counted when answered) blurs by the time each answer took.
    pub arrivals: Mutex<HashMap<String, u64>>,
    pub test_issuer: TestIssuer,
    /// Put the port in the challenge's resource (Python's SDK compares host:port).
    pub challenge_port: AtomicBool,
    /// Entra's RS256 signing key, generated on first use.
    entra_key: OnceLock<SigningKey>,
    /// Event Grid subscriptions and the queue to their delivery task.
    pub events: EventGrid,
    /// The token endpoint answers 503 while set (an Entra outage).
    pub entra_unavailable: AtomicBool,
    /// Lifetime of the access tokens issued, in seconds (`expires_in`).
    pub token_lifetime: AtomicI64,
}

impl State {
    /// Fresh state for a listener on `port`.
    pub fn new(port: u16) -> Result<State, String> {
        let rng = ring::rand::SystemRandom::new();
        let token_key = hmac::Key::generate(hmac::HMAC_SHA256, &rng)
            .map_err(|_| "cannot generate token key".to_owned())?;
        Ok(State {
            port,
            clock: Clock::default(),
            token_key,
            directory: RwLock::default(),
            vaults: RwLock::default(),
            faults: Faults::default(),
            counters: Mutex::default(),
            arrivals: Mutex::default(),
            test_issuer: TestIssuer::generate()?,
            challenge_port: AtomicBool::new(false),
            entra_key: OnceLock::new(),
            events: EventGrid::default(),
            entra_unavailable: AtomicBool::new(false),
            token_lifetime: AtomicI64::new(crate::entra::DEFAULT_TOKEN_LIFETIME),
        })
    }

    /// Read access to the directory (poison-tolerant: a panicking writer must not wedge tests).
    pub fn dir(&self) -> RwLockReadGuard<'_, Directory> {
        self.directory.read().unwrap_or_else(|e| e.into_inner())
    }

    /// Write access to the directory.
    pub fn dir_mut(&self) -> RwLockWriteGuard<'_, Directory> {
        self.directory.write().unwrap_or_else(|e| e.into_inner())
    }

    /// A vault by (case-insensitive) name.
    pub fn vault(&self, name: &str) -> Option<Arc<Vault>> {
        let vaults = self.vaults.read().unwrap_or_else(|e| e.into_inner());
        vaults.get(&name.to_ascii_lowercase()).cloned()
    }

    /// Entra's token-signing key (generated on the first call, which is slow: call it from a
    /// blocking context).
    pub fn entra_key(&self) -> &SigningKey {
        self.entra_key.get_or_init(SigningKey::generate)
    }

    /// Trusts the built-in test issuer.
    pub fn enable_test_issuer(&self) {
        let jwks = self.test_issuer.jwks().clone();
        self.dir_mut().issuers.insert(TEST_ISSUER.to_owned(), jwks);
    }

    /// Counts one request.
    /// Counts a request to `vault` as it arrives.
    pub fn arrive(&self, vault: &str) {
        let mut arrivals = self.arrivals.lock().unwrap_or_else(|e| e.into_inner());
        *arrivals.entry(vault.to_ascii_lowercase()).or_default() += 1;
    }

    pub fn count(&self, vault: &str, operation: &str, client_id: &str, status: u16) {
        let mut c = self.counters.lock().unwrap_or_else(|e| e.into_inner());
        c.add(CounterKey {
            vault: vault.to_owned(),
            operation: operation.to_owned(),
            client_id: client_id.to_owned(),
            status,
        });
    }

    /// `https://{vault}.vault.localhost:{port}`, the base of object ids.
    pub fn vault_base(&self, vault: &str) -> String {
        format!("https://{vault}.vault.localhost:{}", self.port)
    }

    /// The resource named in the challenge: `https://vault.localhost`, or with the port when
    /// enabled (Python's SDK verifies the challenge against the vault's host:port).
    pub fn challenge_resource(&self) -> String {
        if self.challenge_port.load(Ordering::Relaxed) {
            format!("{}:{}", VAULT_RESOURCE, self.port)
        } else {
            VAULT_RESOURCE.to_owned()
        }
    }

    /// Whether `aud` names Key Vault (with or without the port / trailing slash).
    pub fn is_vault_audience(&self, aud: &str) -> bool {
        let aud = aud.strip_suffix('/').unwrap_or(aud);
        aud == VAULT_RESOURCE || aud == format!("{}:{}", VAULT_RESOURCE, self.port)
    }

    /// `https://login.localhost:{port}`.
    pub fn authority(&self) -> String {
        format!("https://{LOGIN_HOST}:{}", self.port)
    }
}

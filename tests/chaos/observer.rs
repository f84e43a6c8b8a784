//! Watches every Secret event the API server sends for the chaos namespace and checks each one:
//! every key present and non-empty, every value one the vault really had for that key. It
//! records in the ledger when each revision first appeared.
//!
//! Caveat: while kube-apiserver or etcd restarts, the watch is cut and resumes with a fresh
//! list; a state that existed only inside that gap cannot be seen by any client.

use std::sync::{Arc, Mutex};
use std::time::Instant;

use futures::StreamExt;
use k8s_openapi::api::core::v1::Secret;
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Api, Client};

use crate::fleet::{CERTIFICATE_KEYS, SECRET_KEYS, pem_body};
use crate::ledger::{Ledger, Slot};

/// What the watch saw that must never happen, and how much it saw.
#[derive(Debug, Default)]
pub struct Sightings {
    /// Secret events checked.
    pub events: u64,
    /// Events of a Secret with a key missing or empty: "name: what" (never a value).
    pub empty_or_missing: Vec<String>,
    /// Events holding a value the vault never had for that key.
    pub unknown_values: Vec<String>,
    /// Watch errors (the watch resumes by itself).
    pub watch_errors: u64,
}

/// Starts the watch on its own task; the returned sightings fill as events arrive.
pub fn watch(client: Client, ns: &str, ledger: Arc<Mutex<Ledger>>) -> Arc<Mutex<Sightings>> {
    let sightings = Arc::new(Mutex::new(Sightings::default()));
    let api: Api<Secret> = Api::namespaced(client, ns);
    let out = sightings.clone();
    tokio::spawn(async move {
        let mut events = watcher::watcher(api, watcher::Config::default())
            .default_backoff()
            .boxed();
        while let Some(event) = events.next().await {
            match event {
                Ok(Event::Apply(secret) | Event::InitApply(secret)) => {
                    check(&secret, &ledger, &mut out.lock().unwrap());
                }
                Ok(_) => {}
                Err(_) => out.lock().unwrap().watch_errors += 1,
            }
        }
    });
    sightings
}

fn check(secret: &Secret, ledger: &Mutex<Ledger>, sightings: &mut Sightings) {
    let Some(name) = secret.metadata.name.clone() else {
        return;
    };
    let required: Vec<&str> = if name.starts_with("vs") {
        SECRET_KEYS.iter().map(|(key, _)| *key).collect()
    } else if name.starts_with("vc") {
        CERTIFICATE_KEYS.to_vec()
    } else {
        return;
    };
    let mut ledger = ledger.lock().unwrap();
    if !ledger.tracks(&(name.clone(), required[0].to_owned())) {
        return;
    }
    sightings.events += 1;
    let now = Instant::now();
    let data = secret.data.clone().unwrap_or_default();
    for key in required {
        let Some(value) = data.get(key).filter(|v| !v.0.is_empty()) else {
            sightings
                .empty_or_missing
                .push(format!("{name}: key {key} missing or empty"));
            continue;
        };
        let text = String::from_utf8_lossy(&value.0);
        let marker = match key {
            "tls.crt" => pem_body(&text),
            "tls.key" => continue,
            _ => text.into_owned(),
        };
        let slot: Slot = (name.clone(), key.to_owned());
        if !ledger.observe(&slot, &marker, now) {
            sightings.unknown_values.push(format!(
                "{name}: key {key} holds a value the vault never had"
            ));
        }
    }
}

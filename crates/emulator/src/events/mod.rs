//! Event Grid for the emulator's vaults: webhook subscriptions with Azure's validation
//! handshakes, Key Vault events in the Event Grid and CloudEvents 1.0 schemas, asynchronous
//! at-least-once delivery with Azure's retry rules, an optional duplicate-delivery fault and a
//! delivery log per subscription.
//!
//! Changes are queued ([`EventGrid::publish`] never blocks the request that made them); one
//! dispatcher task ([`dispatcher::run`]) validates subscriptions, fans events out to delivery
//! tasks and watches the clock for expiry thresholds.

mod client;
pub(crate) mod dispatcher;
mod expiry;
mod handshake;
pub(crate) mod payload;
mod send;
pub mod spec;
mod subscription;

use crate::control::ControlError;
use payload::VaultEvent;
use spec::{EventSubscription, SubscriptionStatus};
use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};
use subscription::Subscription;
use tokio::sync::mpsc;

/// Work for the dispatcher.
pub(crate) enum Job {
    /// Run the validation handshake of a new subscription.
    Validate(Arc<Subscription>),
    /// Deliver an event to the vault's active subscriptions.
    Publish(VaultEvent),
    /// The clock moved: look for objects that crossed an expiry threshold.
    ScanExpiry,
}

/// The subscriptions and the queue to the dispatcher.
pub(crate) struct EventGrid {
    subscriptions: Mutex<HashMap<String, Arc<Subscription>>>,
    jobs: mpsc::UnboundedSender<Job>,
    receiver: Mutex<Option<mpsc::UnboundedReceiver<Job>>>,
}

impl Default for EventGrid {
    fn default() -> Self {
        let (jobs, receiver) = mpsc::unbounded_channel();
        EventGrid {
            subscriptions: Mutex::default(),
            jobs,
            receiver: Mutex::new(Some(receiver)),
        }
    }
}

impl EventGrid {
    fn subs(&self) -> MutexGuard<'_, HashMap<String, Arc<Subscription>>> {
        self.subscriptions.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The dispatcher's end of the queue (once).
    pub fn take_receiver(&self) -> Option<mpsc::UnboundedReceiver<Job>> {
        self.receiver
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    fn queue(&self, job: Job) {
        // Fails only when the dispatcher is gone, i.e. the emulator is shutting down.
        let _ = self.jobs.send(job);
    }

    /// Registers a subscription and queues its handshake; returns its id.
    pub fn subscribe(&self, spec: EventSubscription) -> Result<String, ControlError> {
        let sub = Arc::new(Subscription::new(spec)?);
        let id = sub.id.clone();
        self.subs().insert(id.clone(), sub.clone());
        self.queue(Job::Validate(sub));
        Ok(id)
    }

    /// Removes a subscription; deliveries in flight stop before their next attempt.
    pub fn unsubscribe(&self, id: &str) -> bool {
        match self.subs().remove(id) {
            Some(sub) => {
                sub.remove();
                true
            }
            None => false,
        }
    }

    /// A subscription by id.
    pub fn get(&self, id: &str) -> Option<Arc<Subscription>> {
        self.subs().get(id).cloned()
    }

    /// The status of a subscription.
    pub fn status(&self, id: &str) -> Option<SubscriptionStatus> {
        self.get(id).map(|s| s.status())
    }

    /// Subscriptions of a vault (any state).
    pub fn of_vault(&self, vault: &str) -> Vec<Arc<Subscription>> {
        self.subs()
            .values()
            .filter(|s| s.spec.vault.eq_ignore_ascii_case(vault))
            .cloned()
            .collect()
    }

    /// Whether any subscription exists (the expiry scan is skipped otherwise).
    pub fn is_empty(&self) -> bool {
        self.subs().is_empty()
    }

    /// Queues an event; returns at once.
    pub fn publish(&self, event: VaultEvent) {
        if !self.of_vault(&event.vault).is_empty() {
            self.queue(Job::Publish(event));
        }
    }

    /// Asks the dispatcher to look for crossed expiry thresholds now.
    pub fn clock_moved(&self) {
        self.queue(Job::ScanExpiry);
    }
}

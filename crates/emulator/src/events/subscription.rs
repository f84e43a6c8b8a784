//! A live subscription: its settings, HTTP client, handshake state, counters and delivery log.

use super::client;
use super::payload::new_guid;
use super::spec::{
    AttemptOutcome, DeliveryAttempt, EventSubscription, SubscriptionState, SubscriptionStatus,
};
use crate::control::ControlError;
use std::collections::{BTreeMap, VecDeque};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

/// Attempts kept in the log.
const LOG_LIMIT: usize = 1000;
/// How long the `validationUrl` of an Event Grid schema handshake stays usable.
const MANUAL_VALIDATION_WINDOW: Duration = Duration::from_secs(300);

/// Mutable part of a subscription.
struct Progress {
    state: SubscriptionState,
    validation_code: String,
    validation_started: Option<Instant>,
    attempts: u64,
    delivered: u64,
    dropped: u64,
    skipped_inactive: u64,
    statuses: BTreeMap<u16, u64>,
    log: VecDeque<DeliveryAttempt>,
    /// Extra copies of every event to deliver (a fault for idempotency tests).
    duplicates: u32,
    /// Cached Entra token and its expiry (emulator clock).
    token: Option<(String, i64)>,
}

/// One subscription.
pub(crate) struct Subscription {
    pub id: String,
    pub spec: EventSubscription,
    pub client: reqwest::Client,
    removed: AtomicBool,
    progress: Mutex<Progress>,
}

impl Subscription {
    /// Checks the endpoint and builds the client; the handshake is still to run.
    pub fn new(spec: EventSubscription) -> Result<Subscription, ControlError> {
        let client = client::build(&spec.endpoint, spec.ca_pem.as_deref())?;
        if spec.retry.max_attempts == 0 || spec.retry.delays.is_empty() {
            return Err(ControlError::BadParameter(
                "retry needs max_attempts >= 1 and at least one delay".into(),
            ));
        }
        Ok(Subscription {
            id: new_guid().to_ascii_uppercase(),
            spec,
            client,
            removed: AtomicBool::new(false),
            progress: Mutex::new(Progress {
                state: SubscriptionState::Validating,
                validation_code: new_guid(),
                validation_started: None,
                attempts: 0,
                delivered: 0,
                dropped: 0,
                skipped_inactive: 0,
                statuses: BTreeMap::new(),
                log: VecDeque::new(),
                duplicates: 0,
                token: None,
            }),
        })
    }

    fn progress(&self) -> MutexGuard<'_, Progress> {
        self.progress.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Marks the subscription deleted.
    pub fn remove(&self) {
        self.removed.store(true, Ordering::Relaxed);
    }

    /// Whether it was deleted.
    pub fn is_removed(&self) -> bool {
        self.removed.load(Ordering::Relaxed)
    }

    /// Whether events are delivered.
    pub fn is_active(&self) -> bool {
        !self.is_removed() && self.progress().state == SubscriptionState::Active
    }

    /// Starts the handshake clock; returns the validation code.
    pub fn begin_validation(&self) -> String {
        let mut p = self.progress();
        p.validation_started = Some(Instant::now());
        p.validation_code.clone()
    }

    /// Records the handshake's result.
    pub fn set_state(&self, state: SubscriptionState) {
        self.progress().state = state;
    }

    /// A GET of the `validationUrl`: activates when the code matches within 5 minutes.
    pub fn validate_manually(&self, code: &str) -> bool {
        let mut p = self.progress();
        let in_time = p
            .validation_started
            .is_some_and(|t| t.elapsed() <= MANUAL_VALIDATION_WINDOW);
        let ok = in_time && p.validation_code == code && !self.is_removed();
        if ok {
            p.state = SubscriptionState::Active;
        }
        ok
    }

    /// How many copies of each event to deliver.
    pub fn copies(&self) -> u32 {
        1 + self.progress().duplicates
    }

    /// Sets the duplicate-delivery fault.
    pub fn set_duplicates(&self, extra_copies: u32) {
        self.progress().duplicates = extra_copies;
    }

    /// Counts an event that happened while not active.
    pub fn skip_inactive(&self) {
        self.progress().skipped_inactive += 1;
    }

    /// A cached Entra token still valid at `now` for at least 5 minutes.
    pub fn cached_token(&self, now: i64) -> Option<String> {
        let p = self.progress();
        p.token
            .as_ref()
            .filter(|(_, exp)| *exp > now + 300)
            .map(|(t, _)| t.clone())
    }

    /// Caches an Entra token.
    pub fn cache_token(&self, token: String, exp: i64) {
        self.progress().token = Some((token, exp));
    }

    /// Logs one attempt.
    pub fn record(&self, attempt: DeliveryAttempt) {
        let mut p = self.progress();
        p.attempts += 1;
        *p.statuses.entry(attempt.status.unwrap_or(0)).or_insert(0) += 1;
        match attempt.outcome {
            AttemptOutcome::Delivered => p.delivered += 1,
            AttemptOutcome::Dropped => p.dropped += 1,
            AttemptOutcome::WillRetry => {}
        }
        if p.log.len() == LOG_LIMIT {
            p.log.pop_front();
        }
        p.log.push_back(attempt);
    }

    /// A snapshot for the control API.
    pub fn status(&self) -> SubscriptionStatus {
        let p = self.progress();
        SubscriptionStatus {
            id: self.id.clone(),
            vault: self.spec.vault.to_ascii_lowercase(),
            state: p.state.clone(),
            attempts: p.attempts,
            delivered: p.delivered,
            dropped: p.dropped,
            skipped_inactive: p.skipped_inactive,
            statuses: p.statuses.clone(),
            log: p.log.iter().cloned().collect(),
        }
    }
}

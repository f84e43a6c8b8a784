//! Public shapes of an Event Grid subscription: what a test asks for ([`EventSubscription`]) and
//! what it can observe afterwards ([`SubscriptionStatus`]).

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::time::Duration;

/// The event schema a subscription delivers in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
pub enum EventSchema {
    /// Event Grid schema: a JSON array of events, validated with a `SubscriptionValidationEvent`.
    #[default]
    EventGrid,
    /// CloudEvents 1.0 in structured mode, validated with the `OPTIONS` abuse-protection
    /// handshake.
    CloudEvents,
}

/// Microsoft Entra authentication of deliveries: the emulator's Entra issues a token for
/// `audience` in `tenant` and sends it as `Authorization: Bearer`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntraDelivery {
    /// Tenant whose v2.0 issuer signs the token.
    pub tenant: String,
    /// The webhook application's id or application id URI (`aud`).
    pub audience: String,
}

/// When failed deliveries are tried again.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RetryPolicy {
    /// Waits between attempts; the last one repeats.
    pub delays: Vec<Duration>,
    /// Attempts per event, the first included (Azure: 1..=30, default 30).
    pub max_attempts: u32,
    /// How long an event may wait for delivery (Azure default: 1,440 minutes).
    pub ttl: Duration,
    /// Apply Azure's per-status minimum waits (404: 5 min, 408: 2 min, 503: 30 s, others 10 s).
    /// Off in [`RetryPolicy::quick`] so tests need not wait minutes.
    pub status_floors: bool,
}

impl RetryPolicy {
    /// Azure's schedule: 10 s, 30 s, 1 min, 5 min, 10 min, 30 min, 1 h, 3 h, 6 h, then every
    /// 12 h, at most 30 attempts within 24 h.
    pub fn azure() -> RetryPolicy {
        let mins = |m: u64| Duration::from_secs(m * 60);
        RetryPolicy {
            delays: vec![
                Duration::from_secs(10),
                Duration::from_secs(30),
                mins(1),
                mins(5),
                mins(10),
                mins(30),
                mins(60),
                mins(180),
                mins(360),
                mins(720),
            ],
            max_attempts: 30,
            ttl: mins(1440),
            status_floors: true,
        }
    }

    /// A short schedule for tests: 50 ms, 100 ms, 200 ms, then every 400 ms, 10 attempts.
    pub fn quick() -> RetryPolicy {
        let ms = Duration::from_millis;
        RetryPolicy {
            delays: vec![ms(50), ms(100), ms(200), ms(400)],
            max_attempts: 10,
            ttl: Duration::from_secs(60),
            status_floors: false,
        }
    }

    /// The wait after failed attempt number `attempt` (1-based).
    pub(crate) fn delay_after(&self, attempt: u32, status: Option<u16>) -> Duration {
        let step = self
            .delays
            .get(attempt.saturating_sub(1) as usize)
            .or(self.delays.last())
            .copied()
            .unwrap_or_default();
        if !self.status_floors {
            return step;
        }
        let floor = match status {
            Some(404) => Duration::from_secs(300),
            Some(408) => Duration::from_secs(120),
            Some(503) => Duration::from_secs(30),
            _ => Duration::from_secs(10),
        };
        step.max(floor)
    }
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy::azure()
    }
}

/// A webhook subscription to one vault's events.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventSubscription {
    /// Vault whose events are delivered.
    pub vault: String,
    /// Webhook URL, `http` or `https`, on a loopback host (127.0.0.0/8, `::1`, `localhost` or a
    /// `*.localhost` name, which is resolved to 127.0.0.1).
    pub endpoint: String,
    /// Delivery schema.
    #[serde(default)]
    pub schema: EventSchema,
    /// Static headers sent with every request (Azure's "delivery attributes"), e.g. a shared
    /// secret.
    #[serde(default)]
    pub delivery_headers: BTreeMap<String, String>,
    /// Entra bearer-token authentication of every request.
    #[serde(default)]
    pub entra: Option<EntraDelivery>,
    /// PEM of the CA to trust for an `https` endpoint (only this CA is trusted).
    #[serde(default)]
    pub ca_pem: Option<String>,
    /// Retry schedule.
    #[serde(default)]
    pub retry: RetryPolicy,
}

impl EventSubscription {
    /// A subscription with the defaults: Event Grid schema, no headers, no Entra token, Azure's
    /// retry schedule.
    pub fn new(vault: &str, endpoint: &str) -> EventSubscription {
        EventSubscription {
            vault: vault.to_owned(),
            endpoint: endpoint.to_owned(),
            schema: EventSchema::EventGrid,
            delivery_headers: BTreeMap::new(),
            entra: None,
            ca_pem: None,
            retry: RetryPolicy::azure(),
        }
    }
}

/// Where a subscription stands.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "state", content = "reason")]
pub enum SubscriptionState {
    /// The validation handshake has not finished.
    Validating,
    /// Validated: events are delivered.
    Active,
    /// The handshake failed; no events are delivered. Event Grid schema subscriptions can still
    /// be activated by a GET of the `validationUrl` within 5 minutes.
    Failed(String),
}

/// What became of one delivery attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum AttemptOutcome {
    /// 200–204: delivered.
    Delivered,
    /// Failed; another attempt is scheduled.
    WillRetry,
    /// Failed for good: a status Event Grid does not retry (400, 401, 403, 413), or attempts or
    /// time-to-live exhausted. Without a dead-letter destination the event is dropped.
    Dropped,
}

/// One delivery attempt, as logged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DeliveryAttempt {
    /// The event's `id`.
    pub event_id: String,
    /// The event type, e.g. `Microsoft.KeyVault.SecretNewVersionCreated`.
    pub event_type: String,
    /// The object the event is about.
    pub object_name: String,
    /// 1-based attempt number for this copy of the event.
    pub attempt: u32,
    /// HTTP status, when the endpoint answered.
    pub status: Option<u16>,
    /// Transport error, when it did not.
    pub error: Option<String>,
    /// What happened next.
    pub outcome: AttemptOutcome,
}

/// A subscription's state, counters and recent attempts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SubscriptionStatus {
    /// Subscription id.
    pub id: String,
    /// Vault.
    pub vault: String,
    /// Handshake state.
    pub state: SubscriptionState,
    /// Delivery attempts made (duplicates included).
    pub attempts: u64,
    /// Events (or duplicate copies) acknowledged with 200–204.
    pub delivered: u64,
    /// Events given up on.
    pub dropped: u64,
    /// Events that happened while the subscription was not active, hence never delivered.
    pub skipped_inactive: u64,
    /// Attempts by HTTP status (0 for transport errors).
    pub statuses: BTreeMap<u16, u64>,
    /// The most recent attempts, oldest first (at most 1,000).
    pub log: Vec<DeliveryAttempt>,
}

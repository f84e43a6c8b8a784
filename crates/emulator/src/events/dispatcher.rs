//! The one task behind Event Grid: runs handshakes, fans events out to one delivery task per
//! (subscription, copy), retries failures on the subscription's schedule and scans for expiry
//! thresholds once a second and whenever the clock is moved. Aborting it (the emulator's drop)
//! aborts every delivery in flight.

use super::Job;
use super::expiry;
use super::handshake;
use super::payload::VaultEvent;
use super::send::{Request, send};
use super::spec::{AttemptOutcome, DeliveryAttempt, EventSchema};
use super::subscription::Subscription;
use crate::state::State;
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::sync::mpsc::UnboundedReceiver;
use tokio::task::JoinSet;

/// How often the clock is checked for expiry thresholds.
const EXPIRY_SCAN_PERIOD: Duration = Duration::from_secs(1);

/// Statuses after which Event Grid drops a webhook event without retrying.
const NOT_RETRIED: [u16; 4] = [400, 401, 403, 413];

/// Runs until aborted.
pub(crate) async fn run(state: Arc<State>, mut jobs: UnboundedReceiver<Job>) {
    let mut tasks = JoinSet::new();
    let mut last_scan = state.clock.now();
    let mut tick = tokio::time::interval(EXPIRY_SCAN_PERIOD);
    loop {
        let job = tokio::select! {
            job = jobs.recv() => match job {
                Some(job) => job,
                None => break,
            },
            _ = tick.tick() => Job::ScanExpiry,
            Some(_) = tasks.join_next(), if !tasks.is_empty() => continue,
        };
        match job {
            Job::Validate(sub) => {
                tasks.spawn(handshake::validate(state.clone(), sub));
            }
            Job::Publish(event) => fan_out(&state, &mut tasks, event),
            Job::ScanExpiry => {
                let now = state.clock.now();
                if !state.events.is_empty() {
                    for event in expiry::crossed(&state, last_scan, now) {
                        fan_out(&state, &mut tasks, event);
                    }
                }
                last_scan = now;
            }
        }
    }
}

fn fan_out(state: &Arc<State>, tasks: &mut JoinSet<()>, event: VaultEvent) {
    let event = Arc::new(event);
    for sub in state.events.of_vault(&event.vault) {
        if !sub.is_active() {
            sub.skip_inactive();
            continue;
        }
        for _ in 0..sub.copies() {
            tasks.spawn(deliver(state.clone(), sub.clone(), event.clone()));
        }
    }
}

/// Delivers one copy of an event, retrying on the subscription's schedule.
async fn deliver(state: Arc<State>, sub: Arc<Subscription>, event: Arc<VaultEvent>) {
    let body = match sub.spec.schema {
        EventSchema::EventGrid => serde_json::Value::Array(vec![event.event_grid()]),
        EventSchema::CloudEvents => event.cloud_event(),
    }
    .to_string()
    .into_bytes();
    let started = Instant::now();
    let retry = &sub.spec.retry;
    for attempt in 1.. {
        if sub.is_removed() {
            return;
        }
        let request = Request::Notification {
            body: body.clone(),
            delivery_count: attempt - 1,
        };
        let (status, error) = match send(&state, &sub, request).await {
            Ok(a) => (Some(a.status), None),
            Err(e) => (None, Some(e.to_string())),
        };
        let delay = retry.delay_after(attempt, status);
        let outcome = match status {
            Some(200..=204) => AttemptOutcome::Delivered,
            Some(s) if NOT_RETRIED.contains(&s) => AttemptOutcome::Dropped,
            _ if attempt >= retry.max_attempts || started.elapsed() + delay > retry.ttl => {
                AttemptOutcome::Dropped
            }
            _ => AttemptOutcome::WillRetry,
        };
        sub.record(DeliveryAttempt {
            event_id: event.id.clone(),
            event_type: event.event_type(),
            object_name: event.name.clone(),
            attempt,
            status,
            error,
            outcome,
        });
        if outcome != AttemptOutcome::WillRetry {
            return;
        }
        tokio::time::sleep(delay).await;
    }
}

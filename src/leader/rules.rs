//! The takeover and renewal rules as pure functions of what was read, so they are testable
//! without an API server or a clock: when a Lease counts as expired, and what one attempt or a
//! release writes.

use std::time::Duration;

use k8s_openapi::api::coordination::v1::{Lease, LeaseSpec};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::MicroTime;
use k8s_openapi::jiff::Timestamp;
use tokio::time::Instant;

/// The last Lease record seen and when it was first seen, on the local monotonic clock.
#[derive(Debug)]
pub(super) struct Observation {
    record: Option<LeaseSpec>,
    at: Instant,
}

impl Observation {
    /// Nothing seen yet, as of `now`.
    pub(super) fn new(now: Instant) -> Self {
        Self {
            record: None,
            at: now,
        }
    }

    /// Restarts the clock only when the record changed.
    pub(super) fn update(&mut self, record: Option<&LeaseSpec>, now: Instant) {
        if self.record.as_ref() != record {
            self.record = record.cloned();
            self.at = now;
        }
    }

    /// Whether the observed record has gone unchanged for its own `leaseDurationSeconds` (or
    /// `fallback` when the record has none: a holder is never presumed dead at once).
    pub(super) fn expired(&self, now: Instant, fallback: Duration) -> bool {
        let duration = self
            .record
            .as_ref()
            .and_then(|r| r.lease_duration_seconds)
            .and_then(|s| u64::try_from(s).ok())
            .filter(|s| *s > 0)
            .map_or(fallback, Duration::from_secs);
        now >= self.at + duration
    }
}

/// What one attempt does with the Lease it read.
#[derive(Debug, PartialEq)]
pub(super) enum Plan {
    /// There is no Lease: create one that names us.
    Create(LeaseSpec),
    /// The Lease is free, expired or ours: replace it with this (same `resourceVersion`).
    Write(Box<Lease>),
    /// Another holder's Lease is still valid.
    HeldBy(String),
}

/// Decides one attempt: take a free or expired Lease, renew our own, or leave another's alone.
pub(super) fn plan(
    current: Option<&Lease>,
    identity: &str,
    expired: bool,
    now: Timestamp,
    lease_seconds: i32,
) -> Plan {
    let Some(current) = current else {
        return Plan::Create(LeaseSpec {
            holder_identity: Some(identity.to_owned()),
            acquire_time: Some(MicroTime(now)),
            renew_time: Some(MicroTime(now)),
            lease_duration_seconds: Some(lease_seconds),
            lease_transitions: Some(0),
            ..Default::default()
        });
    };
    let spec = current.spec.clone().unwrap_or_default();
    let holder = spec.holder_identity.as_deref().filter(|h| !h.is_empty());
    let ours = holder == Some(identity);
    if let Some(holder) = holder
        && !ours
        && !expired
    {
        return Plan::HeldBy(holder.to_owned());
    }
    let mut next = spec.clone();
    next.holder_identity = Some(identity.to_owned());
    next.renew_time = Some(MicroTime(now));
    next.lease_duration_seconds = Some(lease_seconds);
    if !ours {
        next.acquire_time = Some(MicroTime(now));
        next.lease_transitions = Some(spec.lease_transitions.unwrap_or(0).saturating_add(1));
    }
    let mut lease = current.clone();
    lease.spec = Some(next);
    Plan::Write(Box::new(lease))
}

/// The Lease with our holdership cleared, or `None` when it does not name us.
pub(super) fn released(current: &Lease, identity: &str, now: Timestamp) -> Option<Lease> {
    let spec = current.spec.as_ref()?;
    if spec.holder_identity.as_deref() != Some(identity) {
        return None;
    }
    let mut lease = current.clone();
    lease.spec = Some(LeaseSpec {
        holder_identity: None,
        // Whoever reads this record next may take it without waiting.
        lease_duration_seconds: Some(1),
        acquire_time: Some(MicroTime(now)),
        renew_time: Some(MicroTime(now)),
        ..spec.clone()
    });
    Some(lease)
}

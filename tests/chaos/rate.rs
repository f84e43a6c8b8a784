//! The request rate the vault saw, from the emulator's counters sampled on a timer: the budget
//! check (a token bucket of `rps` per second with a burst of `BURST` allows at most
//! `BURST + rps × t` requests in any span of t seconds) and the Retry-After check.
//!
//! Both checks count requests when they reach the vault ([`Counted::Sent`]): the emulator runs
//! in this busy test process, so counting them when answered would move each request by the
//! time its answer took, and answers delayed together look like a burst nobody sent. The
//! answered count is sampled too, for the report.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use tokio::task::JoinHandle;

use crate::support::world::world_control;

/// The operator's burst allowance above its sustained rate (`SharingOptions::default().burst`).
pub const BURST: f64 = 50.0;

/// Longest a sample's read may take for its count and instant to be paired.
const MAX_SAMPLE_SKEW: Duration = Duration::from_millis(5);

/// (when, requests to the vault so far).
pub type Samples = Arc<Mutex<Vec<(Instant, u64)>>>;

/// When a request is counted.
#[derive(Clone, Copy, Debug)]
pub enum Counted {
    /// When it reaches the vault, before any handling.
    Sent,
    /// When the vault answers it.
    Answered,
}

/// Samples the vault's request counter every `every` on its own task (abort it to stop).
pub fn sample(vault: &str, every: Duration, counted: Counted) -> (Samples, JoinHandle<()>) {
    let samples = Samples::default();
    let out = samples.clone();
    let vault = vault.to_owned();
    let task = tokio::spawn(async move {
        let mut tick = tokio::time::interval(every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let asked = Instant::now();
            let requests = match counted {
                Counted::Sent => world_control().arrivals(&vault),
                Counted::Answered => world_control().counters().by_vault(&vault),
            };
            let now = Instant::now();
            // A sample whose read was held up (this busy process's thread descheduled between
            // the read and the clock) pairs a count with a later instant and makes the span
            // before it look shorter than it was: leave it out; the next one serves.
            if now - asked > MAX_SAMPLE_SKEW {
                continue;
            }
            out.lock().unwrap().push((now, requests));
        }
    });
    (samples, task)
}

/// Spans of up to ten consecutive sample intervals in which the vault saw more requests than
/// the budget allows, and the highest per-second rate of any one interval.
pub fn budget_violations(samples: &[(Instant, u64)], rps: f64) -> (Vec<String>, f64) {
    let mut violations = vec![];
    let mut max_rate: f64 = 0.0;
    for (i, (start, before)) in samples.iter().enumerate() {
        for (end, after) in samples.iter().skip(i + 1).take(10) {
            let secs = (*end - *start).as_secs_f64();
            let requests = (after - before) as f64;
            if end == &samples[i + 1].0 {
                max_rate = max_rate.max(requests / secs);
            }
            if requests > BURST + rps * secs {
                violations.push(format!("{requests} requests in {secs:.2} s"));
            }
        }
    }
    (violations, max_rate)
}

/// Bursts of requests during a throttling storm whose Retry-After is `retry_after`: each burst
/// (requests in samples less than a second apart) must last under a second, and the next burst
/// must wait for the Retry-After. Returns the bursts and the violations found.
pub fn retry_after_violations(
    samples: &[(Instant, u64)],
    retry_after: Duration,
) -> (usize, Vec<String>) {
    // The instants at which requests were seen.
    let active: Vec<Instant> = samples
        .windows(2)
        .filter(|w| w[1].1 > w[0].1)
        .map(|w| w[1].0)
        .collect();
    let mut violations = vec![];
    let mut bursts = 0;
    let mut burst_start: Option<Instant> = None;
    let mut previous: Option<Instant> = None;
    // A request answered just before a sample and the next just after it are one burst apart
    // by up to one sample interval.
    let slack = samples
        .windows(2)
        .map(|w| w[1].0 - w[0].0)
        .max()
        .unwrap_or_default();
    for at in active {
        match previous {
            Some(prev) if at - prev < Duration::from_secs(1) => {
                let length = at - burst_start.unwrap();
                if length > Duration::from_secs(1) + slack {
                    violations.push(format!("requests for {length:?} without a pause"));
                }
            }
            Some(prev) => {
                let gap = at - prev;
                if gap + slack < retry_after {
                    violations.push(format!("a pause of {gap:?} < Retry-After {retry_after:?}"));
                }
                bursts += 1;
                burst_start = Some(at);
            }
            None => {
                bursts += 1;
                burst_start = Some(at);
            }
        }
        previous = Some(at);
    }
    (bursts, violations)
}

//! Fault injection for a vault's data plane: latency, error statuses, throttling, refused
//! connections and an Azure-like request budget.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// A fault applied to data-plane requests of one vault (never to Entra or control requests).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// Delay every request by this much before answering.
    Latency(Duration),
    /// Answer with this status (Azure-shaped error body) for the next `remaining` requests
    /// (`None` = until cleared).
    Status {
        /// HTTP status code to return.
        code: u16,
        /// How many requests to fail; `None` = all until cleared.
        remaining: Option<u32>,
    },
    /// Answer 429 Throttled, with `Retry-After: {retry_after}` when set.
    Throttle {
        /// Seconds for the `Retry-After` header; `None` omits the header.
        retry_after: Option<u32>,
        /// How many requests to throttle; `None` = all until cleared.
        remaining: Option<u32>,
    },
    /// Close new connections for the vault's host right after the TLS ClientHello, and abort
    /// requests arriving on connections that were already open.
    RefuseConnections,
    /// Every list page links to a next page, forever (a hostile or broken vault).
    EndlessPaging,
    /// Allow `requests` per fixed `window`; beyond it answer 429 with `Retry-After` until the
    /// window ends (Azure: 4000 per 10 s per vault).
    Budget {
        /// Requests allowed per window.
        requests: u32,
        /// Window length.
        window: Duration,
    },
}

/// What the data plane must do for one request, decided before it is handled.
#[derive(Debug, Default, PartialEq, Eq)]
pub(crate) struct Decision {
    pub latency: Option<Duration>,
    /// Status to answer instead of handling, with the Retry-After seconds if any.
    pub respond: Option<(u16, Option<u32>)>,
}

#[derive(Debug)]
struct BudgetState {
    requests: u32,
    window: Duration,
    started: Instant,
    used: u32,
}

#[derive(Debug, Default)]
struct VaultFaults {
    latency: Option<Duration>,
    status: Option<(u16, Option<u32>)>,
    throttle: Option<(Option<u32>, Option<u32>)>,
    refuse: bool,
    endless_paging: bool,
    budget: Option<BudgetState>,
}

/// Faults of all vaults.
#[derive(Debug, Default)]
pub(crate) struct Faults {
    by_vault: Mutex<HashMap<String, VaultFaults>>,
}

/// Takes one from a `remaining` budget; false when the fault is used up.
fn take(remaining: &mut Option<u32>) -> bool {
    match remaining {
        None => true,
        Some(0) => false,
        Some(n) => {
            *n -= 1;
            true
        }
    }
}

impl Faults {
    /// Adds a fault; a fault of the same kind replaces the previous one.
    pub fn set(&self, vault: &str, fault: Fault) {
        let mut map = self.by_vault.lock().unwrap_or_else(|e| e.into_inner());
        let f = map.entry(vault.to_ascii_lowercase()).or_default();
        match fault {
            Fault::Latency(d) => f.latency = Some(d),
            Fault::Status { code, remaining } => f.status = Some((code, remaining)),
            Fault::Throttle {
                retry_after,
                remaining,
            } => f.throttle = Some((retry_after, remaining)),
            Fault::RefuseConnections => f.refuse = true,
            Fault::EndlessPaging => f.endless_paging = true,
            Fault::Budget { requests, window } => {
                f.budget = Some(BudgetState {
                    requests,
                    window,
                    started: Instant::now(),
                    used: 0,
                })
            }
        }
    }

    /// Removes every fault of a vault.
    pub fn clear(&self, vault: &str) {
        let mut map = self.by_vault.lock().unwrap_or_else(|e| e.into_inner());
        map.remove(&vault.to_ascii_lowercase());
    }

    /// Whether connections to this vault's host must be refused.
    pub fn refuses(&self, vault: &str) -> bool {
        let map = self.by_vault.lock().unwrap_or_else(|e| e.into_inner());
        map.get(vault).is_some_and(|f| f.refuse)
    }

    /// Whether list pages of this vault link on forever.
    pub fn pages_endlessly(&self, vault: &str) -> bool {
        let map = self.by_vault.lock().unwrap_or_else(|e| e.into_inner());
        map.get(vault).is_some_and(|f| f.endless_paging)
    }

    /// Decides the fault outcome of one data-plane request, consuming counted faults.
    pub fn decide(&self, vault: &str) -> Decision {
        let mut map = self.by_vault.lock().unwrap_or_else(|e| e.into_inner());
        let Some(f) = map.get_mut(vault) else {
            return Decision::default();
        };
        // RefuseConnections is enforced by the server before a request gets here.
        let mut d = Decision {
            latency: f.latency,
            respond: None,
        };
        if let Some((retry_after, remaining)) = &mut f.throttle {
            if take(remaining) {
                d.respond = Some((429, *retry_after));
                return d;
            }
            f.throttle = None;
        }
        if let Some((code, remaining)) = &mut f.status {
            if take(remaining) {
                d.respond = Some((*code, None));
                return d;
            }
            f.status = None;
        }
        if let Some(b) = &mut f.budget {
            let now = Instant::now();
            if now.duration_since(b.started) >= b.window {
                b.started = now;
                b.used = 0;
            }
            if b.used >= b.requests {
                let left = b.window.saturating_sub(now.duration_since(b.started));
                let secs = left.as_secs() + u64::from(left.subsec_nanos() > 0);
                d.respond = Some((429, Some(secs.max(1) as u32)));
                return d;
            }
            b.used += 1;
        }
        d
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counted_faults_run_out() {
        let f = Faults::default();
        f.set(
            "v",
            Fault::Status {
                code: 503,
                remaining: Some(1),
            },
        );
        assert_eq!(f.decide("v").respond, Some((503, None)));
        assert_eq!(f.decide("v").respond, None);
    }

    #[test]
    fn budget_throttles_beyond_limit() {
        let f = Faults::default();
        f.set(
            "v",
            Fault::Budget {
                requests: 2,
                window: Duration::from_secs(10),
            },
        );
        assert!(f.decide("v").respond.is_none());
        assert!(f.decide("v").respond.is_none());
        let (code, retry) = f.decide("v").respond.unwrap();
        assert_eq!(code, 429);
        assert!(retry.unwrap() >= 1 && retry.unwrap() <= 10);
    }
}

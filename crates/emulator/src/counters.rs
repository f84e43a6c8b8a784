//! Request counters per (vault, operation, client id, status), so tests and benchmarks can assert
//! how many calls a client made (e.g. that a throttled request was retried).

use serde::Serialize;
use std::collections::BTreeMap;

/// One counter bucket. `vault` is empty for Entra requests; `client_id` is empty when the caller
/// was not authenticated.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct CounterKey {
    /// Vault name (lowercase), or "" for the Entra token endpoint.
    pub vault: String,
    /// Operation name, e.g. "GetSecret", "ListSecrets", "Token".
    pub operation: String,
    /// Caller's client (application) id, or "" when unauthenticated.
    pub client_id: String,
    /// HTTP status returned.
    pub status: u16,
}

/// A snapshot of all counters.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Counters {
    entries: BTreeMap<CounterKey, u64>,
}

impl Counters {
    pub(crate) fn add(&mut self, key: CounterKey) {
        *self.entries.entry(key).or_insert(0) += 1;
    }

    /// All buckets with their counts.
    pub fn entries(&self) -> impl Iterator<Item = (&CounterKey, u64)> {
        self.entries.iter().map(|(k, v)| (k, *v))
    }

    /// Sum of the buckets matching a predicate.
    pub fn sum_where(&self, pred: impl Fn(&CounterKey) -> bool) -> u64 {
        self.entries()
            .filter(|(k, _)| pred(k))
            .map(|(_, v)| v)
            .sum()
    }

    /// Total requests seen by a vault (any operation, any status).
    pub fn by_vault(&self, vault: &str) -> u64 {
        let vault = vault.to_ascii_lowercase();
        self.sum_where(|k| k.vault == vault)
    }

    /// Requests for one operation on a vault (any status).
    pub fn by_op(&self, vault: &str, operation: &str) -> u64 {
        let vault = vault.to_ascii_lowercase();
        self.sum_where(|k| k.vault == vault && k.operation == operation)
    }

    /// Requests for one operation on a vault that ended with `status`.
    pub fn by_op_status(&self, vault: &str, operation: &str, status: u16) -> u64 {
        let vault = vault.to_ascii_lowercase();
        self.sum_where(|k| k.vault == vault && k.operation == operation && k.status == status)
    }

    /// Total requests for one operation across all vaults.
    pub fn by_operation(&self, operation: &str) -> u64 {
        self.sum_where(|k| k.operation == operation)
    }

    /// Total number of counted requests.
    pub fn total(&self) -> u64 {
        self.entries.values().sum()
    }

    /// JSON rows for the HTTP control surface.
    pub(crate) fn to_json(&self) -> serde_json::Value {
        let rows: Vec<_> = self
            .entries()
            .map(|(k, v)| {
                serde_json::json!({"vault": k.vault, "operation": k.operation,
                    "client_id": k.client_id, "status": k.status, "count": v})
            })
            .collect();
        serde_json::Value::Array(rows)
    }
}

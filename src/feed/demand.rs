//! Refresh demand against the vault's budget: how many requests per second keeping every
//! followed object fresh costs each vault, so that a configuration that cannot keep up is seen
//! (a metric and a condition) and its refreshes stretch instead of starving first syncs.

use std::collections::HashMap;
use std::time::Duration;

use super::Catalogue;
use super::scanner::Scanner;
use crate::vault::{CertificateProperties, KeyProperties, SecretProperties, VaultAccess};

/// Requests per second one scanner's followers cost the vault: listing pages once per `period`
/// where listing is worthwhile, else one read per followed object per follower's interval.
pub fn of_scanner(scanner: &Scanner, period: Duration) -> f64 {
    of_type::<SecretProperties>(scanner, period)
        + of_type::<CertificateProperties>(scanner, period)
        + of_type::<KeyProperties>(scanner, period)
}

fn of_type<T: Catalogue>(scanner: &Scanner, period: Duration) -> f64 {
    let follows = scanner
        .followers
        .values()
        .map(|i| (i.interval, i.follow(T::TYPE)));
    if scanner.worthwhile::<T>() {
        return T::shelf(scanner).pages() as f64 / period.as_secs_f64().max(1.0);
    }
    follows
        .map(|(interval, follow)| follow.names.len() as f64 / interval.as_secs_f64().max(1.0))
        .sum()
}

/// Demand per vault (see `vault_key`) over the scanners, with each scanner's period.
pub fn by_vault<'a>(
    scanners: impl Iterator<Item = (&'a VaultAccess, &'a Scanner, Duration)>,
) -> HashMap<String, f64> {
    let mut demand: HashMap<String, f64> = HashMap::new();
    for (access, scanner, period) in scanners {
        *demand
            .entry(super::vault_key(&access.vault_url))
            .or_default() += of_scanner(scanner, period);
    }
    demand
}

/// How far demand exceeds `budget` requests per second (`None` within it).
pub fn overrun(demand: f64, budget: f64) -> Option<f64> {
    let ratio = demand / budget.max(f64::MIN_POSITIVE);
    (ratio > 1.0).then_some(ratio)
}

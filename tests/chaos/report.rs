//! The figures of a run: printed as a Markdown table (the README's "Chaos and soak" copies it),
//! then every figure that must be zero is asserted.

use std::time::Duration;

use crate::bad_inputs::Outcome;
use crate::ledger::Delivery;
use crate::observer::Sightings;
use crate::rate::BURST;
use crate::scale::Scale;

/// The end RSS may exceed the start by this factor plus [`RSS_SLACK_KIB`]: caches fill as the
/// bad-input resources and new versions arrive, but nothing may grow with time or kills.
pub const RSS_GROWTH_BOUND: f64 = 1.5;
pub const RSS_SLACK_KIB: u64 = 16 * 1024;
/// More Event objects than this for one resource would be a storm (each disruption may cost a
/// Warning and a recovery).
pub const EVENTS_PER_RESOURCE_BOUND: usize = 20;

pub struct Figures {
    pub elapsed: Duration,
    pub kills: usize,
    pub kills_during_writes: usize,
    pub delivery: Delivery,
    pub sightings: Sightings,
    pub budget_violations: Vec<String>,
    pub max_rate: f64,
    /// Spans over the budget and the highest 1 s rate counted when answered (for comparison).
    pub answered_over_budget: usize,
    pub max_answered_rate: f64,
    pub storm_bursts: usize,
    pub retry_after_violations: Vec<String>,
    pub outage_reported_after: Option<Duration>,
    pub outage_recovery: Duration,
    pub convergence: Vec<(String, Duration)>,
    pub control_plane_exits: Vec<String>,
    pub bad_input_exits: Vec<String>,
    pub all_exits: Vec<String>,
    pub panics: usize,
    pub bad: Vec<Outcome>,
    pub leaked: Vec<(String, usize)>,
    pub orphans: Vec<String>,
    pub events_per_resource: (String, usize),
    pub rss_start_kib: u64,
    pub rss_end_kib: u64,
    pub vault_requests: u64,
    pub token_exchanges: u64,
    pub entra: crate::entra::Outage,
}

fn secs(d: Duration) -> String {
    format!("{:.1} s", d.as_secs_f64())
}

pub fn print(scale: &Scale, f: &Figures) {
    let d = &f.delivery;
    let refused = f.bad.iter().filter(|o| o.2.starts_with("refused")).count();
    let runtime = f.bad.len() - refused;
    let passed = f.bad.iter().filter(|o| o.4).count();
    let convergence: Vec<String> = f
        .convergence
        .iter()
        .map(|(what, took)| format!("{what} {}", secs(*took)))
        .collect();
    println!("\n## vaultsync chaos and soak ({} mode)\n", scale.name);
    println!(
        "{} VaultSecrets (two keys each) + {} VaultCertificates, {} rotations/s, refresh 30 s, \
         budget {} requests/s (burst {BURST}), run time {}\n",
        scale.secrets,
        scale.certificates,
        scale.rotations_per_second,
        scale.budget,
        secs(f.elapsed)
    );
    println!("| measure | value |\n|---|---|");
    println!(
        "| leader SIGKILLs survived | {} ({} right after forced refreshes, during writes) |",
        f.kills, f.kills_during_writes
    );
    println!(
        "| rotations delivered / superseded before delivery / missed | {} / {} / {} of {} |",
        d.delivered, d.superseded, d.missed, d.rotations
    );
    println!(
        "| maximum staleness of any rotation (outage included) | {} |",
        secs(d.max_staleness)
    );
    println!(
        "| convergence after each disruption | {} |",
        convergence.join(", ")
    );
    println!(
        "| Secret events checked / written empty or with a key missing / holding a value the vault never had | {} / {} / {} |",
        f.sightings.events,
        f.sightings.empty_or_missing.len(),
        f.sightings.unknown_values.len()
    );
    println!(
        "| vault outage (503, vault clock +10 min): every resource reported VaultUnavailable after | {} |",
        f.outage_reported_after.map_or("never".into(), secs)
    );
    println!(
        "| vault outage: all Synced with every rotation after the vault's return | {} (refresh interval 30 s) |",
        secs(f.outage_recovery)
    );
    println!(
        "| request-rate budget violations (any 1–10 s span) / highest 1 s rate, counted as sent | {} / {:.1} requests/s |",
        f.budget_violations.len(),
        f.max_rate
    );
    println!(
        "| the same counted as answered (not checked: answers bunch in this busy process) | {} / {:.1} requests/s |",
        f.answered_over_budget, f.max_answered_rate
    );
    println!(
        "| 429 storm (Retry-After 4 s): request bursts / Retry-After violations | {} / {} |",
        f.storm_bursts,
        f.retry_after_violations.len()
    );
    println!(
        "| Entra down {} s while tokens (lifetime {} s, renewed from 5 min before expiry) stay valid: token requests refused / resources not Synced meanwhile / successful token exchanges in the run | {} / {} / {} |",
        crate::entra::OUTAGE.as_secs(),
        crate::entra::TOKEN_LIFETIME_SECS,
        f.entra.refused,
        f.entra.not_synced.len(),
        f.token_exchanges
    );
    println!(
        "| Entra down: a VaultSecret created meanwhile, reading another vault with the same identity, Synced after | {} |",
        f.entra.late_synced_after.map_or("never".into(), secs)
    );
    println!(
        "| bad inputs: refused at admission / reported at runtime / as expected | {refused} / {runtime} / {passed} of {} |",
        f.bad.len()
    );
    println!(
        "| replica exits: during API server and etcd restarts (lost Lease, by design) / at other times / panics | {} / {} / {} |",
        f.control_plane_exits.len(),
        f.all_exits.len() - f.control_plane_exits.len(),
        f.panics
    );
    println!(
        "| orphaned Secrets after deleting every 20th VaultSecret | {} |",
        f.orphans.len()
    );
    println!(
        "| most Event objects for one resource | {} ({}) |",
        f.events_per_resource.1, f.events_per_resource.0
    );
    println!(
        "| leaked secret bytes (logs, Events, status, metrics) | {} |",
        f.leaked.iter().map(|l| l.1).sum::<usize>()
    );
    println!(
        "| leader RSS after first sync / at the end | {} / {} MiB |",
        f.rss_start_kib / 1024,
        f.rss_end_kib / 1024
    );
    println!("| vault requests in all | {} |", f.vault_requests);
    println!(
        "\n### Bad inputs\n\n| resource and field | value | expected | seen | ok |\n|---|---|---|---|---|"
    );
    for (field, value, expected, seen, ok) in &f.bad {
        let seen = seen.lines().last().unwrap_or_default().replace('|', "\\|");
        let seen: String = seen.chars().take(160).collect();
        println!(
            "| {field} | {} | {} | {seen} | {} |",
            value.replace('|', "\\|"),
            expected.replace('|', "\\|"),
            if *ok { "yes" } else { "NO" }
        );
    }
}

pub fn assert_clean(f: &Figures) {
    let s = &f.sightings;
    assert!(
        s.empty_or_missing.is_empty(),
        "Secrets written empty or with a key missing: {:?}",
        s.empty_or_missing
    );
    assert!(
        s.unknown_values.is_empty(),
        "Secrets holding a value the vault never had: {:?}",
        s.unknown_values
    );
    assert!(s.events > 0, "the watch saw no Secret event");
    assert_eq!(f.delivery.missed, 0, "rotations missed");
    assert!(f.delivery.rotations > 0, "no rotation happened");
    assert!(
        f.leaked.is_empty(),
        "secret material leaked into: {:?}",
        f.leaked.iter().map(|l| &l.0).collect::<Vec<_>>()
    );
    assert!(
        f.budget_violations.is_empty(),
        "budget exceeded: {:?}",
        f.budget_violations
    );
    assert!(
        f.retry_after_violations.is_empty(),
        "Retry-After not honoured: {:?}",
        f.retry_after_violations
    );
    assert!(
        f.storm_bursts > 0,
        "no request reached the vault during the storm"
    );
    assert!(
        f.outage_reported_after.is_some(),
        "not every resource reported the outage"
    );
    assert!(
        f.outage_recovery <= Duration::from_secs(crate::fleet::REFRESH_SECS),
        "recovery after the outage took {:?}, more than one refresh interval",
        f.outage_recovery
    );
    assert!(
        f.entra.refused > 0,
        "no renewal was attempted while Entra was down"
    );
    assert!(
        f.entra.not_synced.is_empty(),
        "spurious failures while Entra was down and tokens valid: {:?}",
        &f.entra.not_synced[..f.entra.not_synced.len().min(5)]
    );
    // One identity reads the fleet's vault: it may ask Entra once per 10 s while Entra is down,
    // not on every vault request.
    let entra_bound = crate::entra::OUTAGE.as_secs() / 10 + 2;
    assert!(
        f.entra.refused <= entra_bound,
        "{} token requests while Entra was down (at most {entra_bound})",
        f.entra.refused
    );
    assert!(
        f.entra.late_synced_after.is_some(),
        "a resource created while Entra was down was not synced from the identity's valid token"
    );
    let failed: Vec<_> = f.bad.iter().filter(|o| !o.4).collect();
    assert!(
        failed.is_empty(),
        "bad inputs not handled as expected: {failed:#?}"
    );
    assert!(
        f.bad.len() >= 60,
        "the bad-input table has {} rows",
        f.bad.len()
    );
    assert!(
        f.bad_input_exits.is_empty(),
        "a replica exited during the bad inputs: {:?}",
        f.bad_input_exits
    );
    assert_eq!(
        f.all_exits.len(),
        f.control_plane_exits.len(),
        "replicas exited outside the control-plane restarts: {:?}",
        f.all_exits
    );
    assert_eq!(f.panics, 0, "a replica panicked");
    assert!(f.orphans.is_empty(), "orphaned Secrets: {:?}", f.orphans);
    assert!(
        f.events_per_resource.1 <= EVENTS_PER_RESOURCE_BOUND,
        "Event storm: {:?}",
        f.events_per_resource
    );
    let bound = (f.rss_start_kib as f64 * RSS_GROWTH_BOUND) as u64 + RSS_SLACK_KIB;
    assert!(
        f.rss_end_kib <= bound,
        "RSS grew from {} to {} KiB",
        f.rss_start_kib,
        f.rss_end_kib
    );
}

//! Prometheus naming and cardinality conventions for what the operator exports: base units last
//! in names, `_total` on counters only, and label sets that stay bounded. Object names
//! (`namespace`, `name`) are allowed only on metrics the README's metrics section explains.
//!
//! The metric list comes from the operator's registry ([`Metrics::catalog`]) and its scrapes,
//! never from a hand-kept list, so a metric added later is checked as soon as it is registered.
//!
//! [`Metrics::catalog`]: vaultsync::telemetry::Metrics::catalog

use std::collections::{BTreeMap, BTreeSet};

use vaultsync::telemetry::MetricInfo;

/// A label name and the check its every value must pass.
type Vocabulary = (&'static str, fn(&str) -> bool);

/// Labels whose values come from a fixed vocabulary, with a check of each value.
const BOUNDED_LABELS: &[Vocabulary] = &[
    ("kind", |v| matches!(v, "VaultSecret" | "VaultCertificate")),
    ("result", |v| matches!(v, "success" | "error")),
    ("ready", |v| matches!(v, "True" | "False" | "Unknown")),
    // Condition reasons: CamelCase words; empty on success.
    ("reason", |v| v.is_empty() || camel_case(v)),
    ("operation", camel_case),
    ("source", |v| matches!(v, "scan" | "push")),
    ("outcome", |v| {
        !v.is_empty() && v.len() <= 32 && v.chars().all(|c| c.is_ascii_lowercase() || c == '_')
    }),
];

/// Labels naming one object: a series per object, so allowed only where the README says why.
const OBJECT_LABELS: &[&str] = &["namespace", "name"];

/// Labels Prometheus sets itself; a metric carrying them would clash with the target's.
const RESERVED_LABELS: &[&str] = &["job", "instance", "le", "quantile"];

/// Most distinct values a bounded label may show across one scrape.
const MAX_VALUES_PER_LABEL: usize = 64;

/// Units that are not Prometheus base units, as name parts.
const NON_BASE_UNITS: &[&str] = &[
    "milliseconds",
    "microseconds",
    "nanoseconds",
    "ms",
    "minutes",
    "hours",
    "days",
    "kilobytes",
    "megabytes",
    "kib",
    "mib",
    "percent",
];

/// Name parts that mean a time, so the name must end in `_seconds`.
const TIME_WORDS: &[&str] = &["timestamp", "duration", "age", "latency", "seconds"];

/// The heading of the README paragraph that says why some metrics carry object names.
pub const README_OBJECT_LABELS: &str = "**Object labels.**";

fn camel_case(value: &str) -> bool {
    value.len() <= 64
        && value.starts_with(|c: char| c.is_ascii_uppercase())
        && value.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The README paragraph that starts with [`README_OBJECT_LABELS`].
fn object_label_paragraph(readme: &str) -> &str {
    let Some(start) = readme.find(README_OBJECT_LABELS) else {
        return "";
    };
    let rest = &readme[start..];
    &rest[..rest.find("\n\n").unwrap_or(rest.len())]
}

/// Problems with the registered metrics' names, units and declared labels.
pub fn catalog_problems(catalog: &[MetricInfo], readme: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let explained = object_label_paragraph(readme);
    for metric in catalog {
        let family = &metric.family;
        let mut problem = |text: String| problems.push(format!("{family}: {text}"));
        let valid_name = family.starts_with("vaultsync_")
            && family
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
            && !family.contains("__");
        if !valid_name {
            problem("names are vaultsync_ and lower-case snake_case".into());
        }
        if family.ends_with("_total") {
            problem("`_total` belongs to counter samples only, not to a family name".into());
        }
        if metric.help.trim().is_empty() {
            problem("no help text".into());
        }
        let parts: Vec<&str> = family.split('_').collect();
        for unit in NON_BASE_UNITS {
            if parts.contains(unit) {
                problem(format!(
                    "`{unit}` is not a base unit: use seconds, bytes or a ratio"
                ));
            }
        }
        if let Some(unit) = &metric.unit
            && !family.ends_with(&format!("_{unit}"))
        {
            problem(format!("the unit `{unit}` must end the name"));
        }
        if TIME_WORDS.iter().any(|w| parts.contains(w)) && !family.ends_with("_seconds") {
            problem("a time must be in seconds, with `_seconds` ending the name".into());
        }
        if metric.metric_type == "counter" && metric.unit.is_none() && parts.contains(&"seconds") {
            problem("a counter of seconds declares its unit".into());
        }
        for label in metric.labels {
            if RESERVED_LABELS.contains(label) {
                problem(format!("label `{label}` is reserved for Prometheus"));
            } else if OBJECT_LABELS.contains(label) {
                if !explained.contains(&format!("`{}`", metric.name())) {
                    problem(format!(
                        "label `{label}` names objects, so its series grow with the cluster; \
                         allowed only when the README's {README_OBJECT_LABELS} paragraph \
                         names `{}` and says why",
                        metric.name()
                    ));
                }
            } else if !BOUNDED_LABELS.iter().any(|(name, _)| name == label) {
                problem(format!(
                    "label `{label}` has no known bounded vocabulary: add it to BOUNDED_LABELS \
                     with a check of its values, or drop it"
                ));
            }
        }
    }
    problems
}

/// One sample line of an exposition: metric name and labels.
fn parse_sample(line: &str) -> Option<(&str, Vec<(&str, &str)>)> {
    let name_end = line.find(['{', ' '])?;
    let name = &line[..name_end];
    let mut labels = Vec::new();
    if let Some(body) = line[name_end..].strip_prefix('{') {
        // Label values here never contain `"`, `,` or `}` unescaped: checked below.
        let body = &body[..body.rfind('}')?];
        for pair in body.split("\",").filter(|p| !p.is_empty()) {
            let (key, value) = pair.split_once('=')?;
            labels.push((key, value.trim_matches('"')));
        }
    }
    Some((name, labels))
}

/// What one scrape showed: per metric family, its sample count and each label's values.
#[derive(Debug, Default)]
pub struct Scrape {
    /// family → (samples, label → values).
    pub families: BTreeMap<String, (usize, BTreeMap<String, BTreeSet<String>>)>,
}

impl Scrape {
    /// A listing of every exported metric, its type, its labels and their values.
    pub fn listing(&self, catalog: &[MetricInfo]) -> String {
        let mut out = String::new();
        for metric in catalog {
            let (samples, labels) = self
                .families
                .get(&metric.family)
                .cloned()
                .unwrap_or_default();
            let checked = if samples == 0 {
                "no series in this scrape: declared labels only"
            } else {
                "checked"
            };
            out.push_str(&format!(
                "{} ({}, {samples} samples, {checked}) labels {:?}\n",
                metric.name(),
                metric.metric_type,
                metric.labels
            ));
            for (label, values) in labels {
                let shown: Vec<&str> = values.iter().take(8).map(String::as_str).collect();
                let more = values.len().saturating_sub(shown.len());
                let more = if more > 0 {
                    format!(" and {more} more")
                } else {
                    String::new()
                };
                out.push_str(&format!("    {label}: {}{more}\n", shown.join(", ")));
            }
        }
        out
    }
}

/// Reads an OpenMetrics exposition and checks every sample against the catalog: each family is
/// registered, each sample carries exactly its declared labels, and bounded labels hold only
/// values of their vocabulary. Returns what it saw and the problems found.
pub fn exposition_problems(text: &str, catalog: &[MetricInfo]) -> (Scrape, Vec<String>) {
    let mut problems = Vec::new();
    let mut scrape = Scrape::default();
    for family in text.lines().filter_map(|l| l.strip_prefix("# TYPE ")) {
        let family = family.split(' ').next().unwrap_or_default();
        if !catalog.iter().any(|m| m.family == family) {
            problems.push(format!(
                "{family}: exported but not registered through the catalog"
            ));
        }
    }
    for line in text
        .lines()
        .filter(|l| !l.starts_with('#') && !l.is_empty())
    {
        let Some((name, labels)) = parse_sample(line) else {
            problems.push(format!("unreadable sample line: {line}"));
            continue;
        };
        let Some(metric) = catalog
            .iter()
            .find(|m| m.sample_names().iter().any(|n| n == name))
        else {
            problems.push(format!("{name}: a sample of no registered metric"));
            continue;
        };
        let names: Vec<&str> = labels
            .iter()
            .map(|(k, _)| *k)
            .filter(|k| *k != "le")
            .collect();
        if names != metric.labels {
            problems.push(format!(
                "{name}: labels {names:?}, but {:?} are declared",
                metric.labels
            ));
        }
        let (samples, seen) = scrape.families.entry(metric.family.clone()).or_default();
        *samples += 1;
        for (label, value) in labels.into_iter().filter(|(k, _)| *k != "le") {
            if let Some((_, valid)) = BOUNDED_LABELS.iter().find(|(l, _)| *l == label)
                && !valid(value)
            {
                problems.push(format!(
                    "{name}: {label}=\"{value}\" is outside its vocabulary"
                ));
            }
            seen.entry(label.to_string())
                .or_default()
                .insert(value.to_string());
        }
    }
    for (family, (_, labels)) in &scrape.families {
        for (label, values) in labels {
            let bounded = BOUNDED_LABELS.iter().any(|(l, _)| l == label);
            if bounded && values.len() > MAX_VALUES_PER_LABEL {
                problems.push(format!(
                    "{family}: {label} shows {} values (more than {MAX_VALUES_PER_LABEL})",
                    values.len()
                ));
            }
        }
    }
    (scrape, problems)
}

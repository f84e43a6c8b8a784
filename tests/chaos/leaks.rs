//! Scans everything the operator makes visible besides the Secrets themselves (its logs, the
//! namespace's Events, the status of every resource, its metrics) for every secret value and
//! private-key fragment the vault ever served, as written and base64-encoded.

use std::collections::HashSet;

use base64::Engine;
use base64::engine::general_purpose::STANDARD;

use crate::support::kubectl;

/// Every secret value starts with this, so a scan of many megabytes looks up only candidates.
pub const VALUE_PREFIX: &str = "zqx";

/// Where served secrets were found: (place, bytes). Values are never printed.
pub fn scan(material: &[String], logs: &str, metrics: &str, ns: &str) -> Vec<(String, usize)> {
    let events = kubectl(&["get", "events", "-n", ns, "-o", "json"], "");
    let statuses = kubectl(
        &[
            "get",
            "vaultsecrets,vaultcertificates",
            "-n",
            ns,
            "-o",
            "jsonpath={.items[*].status}",
        ],
        "",
    );
    assert!(events.status.success() && statuses.status.success());
    let places = [
        ("operator logs", logs.to_owned()),
        (
            "Events",
            String::from_utf8_lossy(&events.stdout).into_owned(),
        ),
        (
            "status",
            String::from_utf8_lossy(&statuses.stdout).into_owned(),
        ),
        ("metrics", metrics.to_owned()),
    ];
    let needles = Needles::new(material);
    // The scan itself finds what it looks for, in both forms.
    for planted in material
        .iter()
        .take(3)
        .flat_map(|m| [m.clone(), STANDARD.encode(m)])
    {
        assert!(
            !needles.find(&format!("log line: {planted}.")).is_empty(),
            "the leak scan misses what it looks for"
        );
    }
    let mut found = vec![];
    for (place, text) in &places {
        assert!(!text.is_empty(), "nothing to scan in {place}");
        found.extend(
            needles
                .find(text)
                .into_iter()
                .map(|n| (place.to_string(), n)),
        );
    }
    found
}

struct Needles {
    values: HashSet<String>,
    value_len: usize,
    encoded: HashSet<String>,
    encoded_prefix: String,
    encoded_len: usize,
    /// Private-key fragments: few, so searched one by one.
    fragments: Vec<String>,
}

impl Needles {
    fn new(material: &[String]) -> Self {
        let (values, fragments): (Vec<&String>, Vec<&String>) =
            material.iter().partition(|m| m.starts_with(VALUE_PREFIX));
        let value_len = values.first().map_or(0, |v| v.len());
        assert!(values.iter().all(|v| v.len() == value_len));
        let encoded: HashSet<String> = values.iter().map(|v| STANDARD.encode(v)).collect();
        // Base64 of the same 3-byte prefix is always the same 4 characters.
        let encoded_prefix = STANDARD.encode(VALUE_PREFIX);
        Needles {
            values: values.into_iter().cloned().collect(),
            value_len,
            encoded_len: encoded.iter().next().map_or(0, String::len),
            encoded,
            encoded_prefix,
            fragments: fragments.into_iter().cloned().collect(),
        }
    }

    /// The byte lengths of the secrets found in `text`.
    fn find(&self, text: &str) -> Vec<usize> {
        let mut found = vec![];
        for (set, prefix, len) in [
            (&self.values, VALUE_PREFIX, self.value_len),
            (
                &self.encoded,
                self.encoded_prefix.as_str(),
                self.encoded_len,
            ),
        ] {
            for (at, _) in text.match_indices(prefix) {
                if text.get(at..at + len).is_some_and(|c| set.contains(c)) {
                    found.push(len);
                }
            }
        }
        for fragment in &self.fragments {
            if text.contains(fragment.as_str()) {
                found.push(fragment.len());
            }
        }
        found
    }
}

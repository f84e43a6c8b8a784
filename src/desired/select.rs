//! Which vault secrets feed which Secret keys: explicit items plus bulk selectors applied to a
//! vault listing, and whether a key's value must be re-read.

use std::collections::BTreeMap;

use crate::crd::{BulkSelector, Decoding, KeyFormat, SyncedVersion, VaultSecretSpec};
use crate::vault::{Listed, SecretProperties};

/// One Secret key and the vault secret that fills it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Source {
    /// Key in the Secret.
    pub key: String,
    /// Vault secret name.
    pub name: String,
    /// Pinned version, if any.
    pub version: Option<String>,
    /// Whether a bulk selector matched it (rather than an explicit item).
    pub bulk: bool,
    /// How its text becomes the key's bytes.
    pub decoding: Decoding,
    /// A vault key's public part in this format, rather than a vault secret.
    pub public_key: Option<KeyFormat>,
}

/// Whether the spec needs a vault listing (bulk selection) to know its sources.
pub fn needs_listing(spec: &VaultSecretSpec) -> bool {
    !spec.data_from.is_empty()
}

/// Resolves the spec's sources. `listing` must be given when [`needs_listing`] is true.
/// Fails (an invalid spec) when two sources would write the same key.
pub fn sources(
    spec: &VaultSecretSpec,
    listing: Option<&[SecretProperties]>,
) -> Result<Vec<Source>, String> {
    let mut by_key: BTreeMap<String, Source> = BTreeMap::new();
    let mut add = |source: Source| -> Result<(), String> {
        if let Some(existing) = by_key.get(&source.key) {
            return Err(format!(
                "Secret key {} would be written from both vault secret {} and {}",
                source.key, existing.name, source.name
            ));
        }
        by_key.insert(source.key.clone(), source);
        Ok(())
    };
    for item in &spec.data {
        add(Source {
            key: item.key.clone(),
            name: item.name.clone(),
            version: item.version.clone(),
            bulk: false,
            decoding: item.decoding,
            public_key: None,
        })?;
    }
    for item in &spec.keys {
        add(Source {
            key: item.key.clone(),
            name: item.name.clone(),
            version: item.version.clone(),
            bulk: false,
            decoding: Decoding::None,
            public_key: Some(item.format),
        })?;
    }
    for selector in &spec.data_from {
        for properties in listing.unwrap_or_default() {
            if !properties.enabled || properties.managed || !selects(selector, properties) {
                continue;
            }
            let key = key_for(selector, &properties.name);
            if key.is_empty() {
                return Err(format!(
                    "vault secret {} becomes an empty key after stripping namePrefix",
                    properties.name
                ));
            }
            add(Source {
                key,
                name: properties.name.clone(),
                version: None,
                bulk: true,
                decoding: selector.decoding,
                public_key: None,
            })?;
        }
    }
    Ok(by_key.into_values().collect())
}

fn selects(selector: &BulkSelector, properties: &SecretProperties) -> bool {
    let name = properties.name.to_ascii_lowercase();
    let name_ok = match (&selector.name_prefix, &selector.name_pattern) {
        (Some(prefix), _) => name.starts_with(&prefix.to_ascii_lowercase()),
        (None, Some(pattern)) => glob_match(&pattern.to_ascii_lowercase(), &name),
        (None, None) => true,
    };
    name_ok
        && selector
            .tags
            .iter()
            .all(|(k, v)| properties.tags.get(k) == Some(v))
}

fn key_for(selector: &BulkSelector, vault_name: &str) -> String {
    let mut key = vault_name.to_string();
    if selector.keys.strip_prefix
        && let Some(prefix) = &selector.name_prefix
        && key
            .to_ascii_lowercase()
            .starts_with(&prefix.to_ascii_lowercase())
    {
        key = key[prefix.len()..].to_string();
    }
    if selector.keys.lowercase {
        key = key.to_ascii_lowercase();
    }
    match &selector.keys.add_prefix {
        Some(prefix) if !key.is_empty() => format!("{prefix}{key}"),
        _ => key,
    }
}

/// `*` matches any run of characters, `?` exactly one.
pub fn glob_match(pattern: &str, text: &str) -> bool {
    let (p, t): (Vec<char>, Vec<char>) = (pattern.chars().collect(), text.chars().collect());
    let (mut pi, mut ti) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while ti < t.len() {
        if pi < p.len() && (p[pi] == '?' || p[pi] == t[ti]) {
            pi += 1;
            ti += 1;
        } else if pi < p.len() && p[pi] == '*' {
            star = Some((pi, ti));
            pi += 1;
        } else if let Some((star_p, star_t)) = star {
            pi = star_p + 1;
            ti = star_t + 1;
            star = Some((star_p, star_t + 1));
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|c| *c == '*')
}

/// Whether the value behind `source` must be read from the vault now, or the Secret's current
/// value is still the vault's.
pub fn needs_fetch(
    source: &Source,
    listed: Option<&dyn Listed>,
    recorded: Option<&SyncedVersion>,
    have_value: bool,
    force: bool,
) -> bool {
    let Some(recorded) = recorded.filter(|r| r.name.eq_ignore_ascii_case(&source.name)) else {
        return true;
    };
    // The value in hand was decoded another way, or a key's public part written in another
    // format.
    if force
        || !have_value
        || recorded.decoding != source.decoding
        || recorded.public_key != source.public_key
    {
        return true;
    }
    match (&source.version, listed) {
        (Some(pinned), _) => pinned != &recorded.version,
        // Without a listing only a read can tell; the caller lists when that is cheaper.
        (None, None) => true,
        (None, Some(listed)) => {
            !listed.enabled() || listed.updated().is_none() || listed.updated() != recorded.updated
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{KeyNaming, SecretItem, VaultSource};

    fn spec(data: Vec<SecretItem>, data_from: Vec<BulkSelector>) -> VaultSecretSpec {
        VaultSecretSpec {
            on_vault_removal: Default::default(),
            vault: VaultSource {
                url: "https://v.vault.azure.net/".into(),
                service_account_name: "app".into(),
            },
            data,
            data_from,
            keys: vec![],
            target: Default::default(),
            template: None,
            refresh_interval: "1h".into(),
        }
    }

    fn listed(name: &str, tags: &[(&str, &str)], updated: i64) -> SecretProperties {
        SecretProperties {
            name: name.into(),
            enabled: true,
            updated: Some(updated),
            tags: tags
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            content_type: None,
            managed: false,
        }
    }

    fn item(key: &str, name: &str) -> SecretItem {
        SecretItem {
            key: key.into(),
            name: name.into(),
            version: None,
            decoding: Decoding::None,
        }
    }

    #[test]
    fn glob_matches_like_shell_patterns() {
        assert!(glob_match("app-*-password", "app-db-password"));
        assert!(glob_match("app-?", "app-1"));
        assert!(!glob_match("app-?", "app-12"));
        assert!(glob_match("*", ""));
        assert!(!glob_match("a*b", "acd"));
    }

    #[test]
    fn bulk_selection_filters_by_prefix_tags_and_state_and_names_keys() {
        let listing = vec![
            listed("App-Db", &[("env", "prod")], 1),
            listed("app-api", &[("env", "dev")], 1),
            listed("other", &[("env", "prod")], 1),
            SecretProperties {
                enabled: false,
                ..listed("app-off", &[("env", "prod")], 1)
            },
            SecretProperties {
                managed: true,
                ..listed("app-cert", &[("env", "prod")], 1)
            },
        ];
        let selector = BulkSelector {
            name_prefix: Some("app-".into()),
            tags: [("env".to_string(), "prod".to_string())].into(),
            keys: KeyNaming {
                strip_prefix: true,
                lowercase: true,
                add_prefix: Some("K_".into()),
            },
            ..Default::default()
        };
        let found = sources(&spec(vec![], vec![selector]), Some(&listing)).unwrap();
        assert_eq!(
            found,
            vec![Source {
                key: "K_db".into(),
                name: "App-Db".into(),
                version: None,
                bulk: true,
                decoding: Decoding::None,
                public_key: None,
            }]
        );
    }

    #[test]
    fn colliding_keys_are_an_invalid_spec() {
        let selector = BulkSelector {
            name_pattern: Some("*".into()),
            ..Default::default()
        };
        let err = sources(
            &spec(vec![item("db", "x")], vec![selector]),
            Some(&[listed("db", &[], 1)]),
        )
        .unwrap_err();
        assert!(err.contains("Secret key db"), "{err}");
    }

    #[test]
    fn unchanged_listing_means_no_fetch_and_changes_mean_fetch() {
        let source = Source {
            key: "k".into(),
            name: "db".into(),
            version: None,
            bulk: false,
            decoding: Decoding::None,
            public_key: None,
        };
        let recorded = SyncedVersion {
            key: "k".into(),
            name: "db".into(),
            version: "v1".into(),
            updated: Some(10),
            decoding: Decoding::None,
            public_key: None,
        };
        assert!(!needs_fetch(
            &source,
            Some(&listed("db", &[], 10)),
            Some(&recorded),
            true,
            false
        ));
        assert!(needs_fetch(
            &source,
            Some(&listed("db", &[], 11)),
            Some(&recorded),
            true,
            false
        ));
        assert!(
            needs_fetch(
                &source,
                Some(&listed("db", &[], 10)),
                Some(&recorded),
                true,
                true
            ),
            "force"
        );
        assert!(
            needs_fetch(
                &source,
                Some(&listed("db", &[], 10)),
                Some(&recorded),
                false,
                false
            ),
            "value lost"
        );
        assert!(
            needs_fetch(&source, None, Some(&recorded), true, false),
            "no listing"
        );
        assert!(
            needs_fetch(&source, Some(&listed("db", &[], 10)), None, true, false),
            "never synced"
        );
        let pinned = Source {
            version: Some("v1".into()),
            ..source.clone()
        };
        assert!(!needs_fetch(&pinned, None, Some(&recorded), true, false));
        let repinned = Source {
            version: Some("v2".into()),
            ..source
        };
        assert!(needs_fetch(&repinned, None, Some(&recorded), true, false));
        let decoded = Source {
            decoding: Decoding::Base64,
            ..pinned
        };
        assert!(
            needs_fetch(&decoded, None, Some(&recorded), true, false),
            "the value in hand was not decoded"
        );
    }
}

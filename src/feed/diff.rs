//! Pure comparison of two listings of one vault: which names changed between them.

use std::collections::{BTreeMap, BTreeSet};

use crate::vault::Listed;

/// Names (lowercased) that were added, removed, enabled or disabled, or updated between `before`
/// and `after`.
pub fn changed_names<T: Listed>(before: &[T], after: &[T]) -> BTreeSet<String> {
    let state = |items: &[T]| -> BTreeMap<String, (bool, Option<i64>)> {
        items
            .iter()
            .map(|item| {
                let name = item.name().to_ascii_lowercase();
                (name, (item.enabled(), item.updated()))
            })
            .collect()
    };
    let (before, after) = (state(before), state(after));
    let mut changed: BTreeSet<String> = after
        .iter()
        .filter(|(name, now)| before.get(*name) != Some(now))
        .map(|(name, _)| name.clone())
        .collect();
    changed.extend(
        before
            .keys()
            .filter(|name| !after.contains_key(*name))
            .cloned(),
    );
    changed
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vault::CertificateProperties;

    fn item(name: &str, enabled: bool, updated: i64) -> CertificateProperties {
        CertificateProperties {
            name: name.into(),
            enabled,
            updated: Some(updated),
        }
    }

    #[test]
    fn only_what_moved_is_named() {
        let before = [
            item("Same", true, 1),
            item("rotated", true, 1),
            item("gone", true, 1),
        ];
        let after = [
            item("same", true, 1),
            item("rotated", true, 2),
            item("new", true, 1),
        ];
        let changed = changed_names(&before, &after);
        assert_eq!(
            changed.into_iter().collect::<Vec<_>>(),
            ["gone", "new", "rotated"]
        );
    }

    #[test]
    fn disabling_is_a_change() {
        let changed = changed_names(&[item("a", true, 1)], &[item("a", false, 1)]);
        assert!(changed.contains("a"));
        assert!(changed_names(&[item("a", true, 1)], &[item("a", true, 1)]).is_empty());
    }
}

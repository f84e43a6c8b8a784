//! Listings followed page by page within bounds, and object ids split into name and version.

use futures::TryStreamExt;

use super::classify::classify;
use crate::vault::{PageGate, VaultError};

/// Most pages of one listing followed (Key Vault pages hold 25 secrets).
const MAX_LISTING_PAGES: usize = 2_000;
/// Most objects one listing may hold.
const MAX_LISTED_ITEMS: usize = 50_000;

/// Follows every page of a listing, refusing one that runs past [`MAX_LISTING_PAGES`] pages or
/// [`MAX_LISTED_ITEMS`] items instead of following it forever.
/// Each page after the first is fetched only once `next_page` lets it through (the pager sends
/// its request when polled, and only while the last page named a next one).
pub(super) async fn all_pages<T>(
    mut pages: impl futures::Stream<Item = azure_core::Result<(Vec<T>, bool)>> + Unpin,
    vault_url: &str,
    what: &str,
    next_page: &PageGate,
) -> Result<Vec<T>, VaultError> {
    let classify_list = |e: azure_core::Error| classify(&e, vault_url);
    let mut items = Vec::new();
    let mut count = 0usize;
    loop {
        if count > 0 {
            next_page().await?;
        }
        let Some((page, more)) = pages.try_next().await.map_err(classify_list)? else {
            break;
        };
        count += 1;
        items.extend(page);
        if count > MAX_LISTING_PAGES || items.len() > MAX_LISTED_ITEMS {
            return Err(VaultError::TooLarge {
                detail: format!(
                    "the {what} listing runs past {MAX_LISTING_PAGES} pages or \
                     {MAX_LISTED_ITEMS} items; refusing the rest"
                ),
            });
        }
        if !more {
            break;
        }
    }
    Ok(items)
}

/// `https://v.vault.azure.net/secrets/NAME/VERSION` → (`NAME`, `VERSION`).
pub(super) fn name_and_version(id: &str) -> (String, String) {
    let mut parts = id.trim_end_matches('/').rsplit('/');
    let last = parts.next().unwrap_or_default().to_string();
    let before = parts.next().unwrap_or_default().to_string();
    if matches!(before.as_str(), "secrets" | "certificates" | "keys") {
        (last, String::new())
    } else {
        (before, last)
    }
}

#[cfg(test)]
mod tests {
    use super::name_and_version;

    #[test]
    fn ids_split_into_name_and_version() {
        assert_eq!(
            name_and_version("https://v.vault.azure.net/secrets/db/0123abcd"),
            ("db".into(), "0123abcd".into())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/secrets/db"),
            ("db".into(), String::new())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/keys/signer"),
            ("signer".into(), String::new())
        );
        assert_eq!(
            name_and_version("https://v.vault.azure.net/keys/signer/0123abcd"),
            ("signer".into(), "0123abcd".into())
        );
    }
}

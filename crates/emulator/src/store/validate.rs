//! Input limits of Key Vault objects (names, sizes, tags), as the service enforces them.

use super::types::{SecretMeta, StoreError};

/// Largest secret value accepted (25 KB).
pub(crate) const MAX_VALUE_BYTES: usize = 25_600;
const MAX_CONTENT_TYPE: usize = 255;
const MAX_TAGS: usize = 15;
const MAX_TAG_NAME: usize = 512;
const MAX_TAG_VALUE: usize = 256;

fn bad(msg: String) -> StoreError {
    StoreError::BadParameter(msg)
}

/// Object names: 1-127 of `0-9a-zA-Z-`, starting with a letter.
pub(crate) fn is_valid_name(name: &str) -> bool {
    let b = name.as_bytes();
    !b.is_empty()
        && b.len() <= 127
        && b[0].is_ascii_alphabetic()
        && b.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'-')
}

/// Refuses an invalid object name with the service's message.
pub(crate) fn name(name: &str) -> Result<(), StoreError> {
    if is_valid_name(name) {
        Ok(())
    } else {
        Err(bad(format!(
            "The request URI contains an invalid name: {name}"
        )))
    }
}

/// Refuses a value over 25 KB.
pub(crate) fn value(v: &str) -> Result<(), StoreError> {
    if v.len() > MAX_VALUE_BYTES {
        Err(bad(format!(
            "The secret value is too large: {} bytes; the maximum is {MAX_VALUE_BYTES} bytes.",
            v.len()
        )))
    } else {
        Ok(())
    }
}

/// Checks content type length and tag limits.
pub(crate) fn meta(m: &SecretMeta) -> Result<(), StoreError> {
    if m.content_type.as_deref().map_or(0, str::len) > MAX_CONTENT_TYPE {
        return Err(bad(format!(
            "Property contentType is too long; the maximum length is {MAX_CONTENT_TYPE}."
        )));
    }
    if m.tags.len() > MAX_TAGS {
        return Err(bad(format!("Too many tags; the maximum is {MAX_TAGS}.")));
    }
    for (k, v) in &m.tags {
        if k.is_empty() || k.len() > MAX_TAG_NAME || v.len() > MAX_TAG_VALUE {
            return Err(bad(format!("Invalid tag '{k}'.")));
        }
    }
    Ok(())
}

/// Versions are 32 lowercase hex characters.
pub(crate) fn is_version(v: &str) -> bool {
    v.len() == 32
        && v.bytes()
            .all(|c| c.is_ascii_digit() || (b'a'..=b'f').contains(&c))
}

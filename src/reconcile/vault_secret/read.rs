//! Reading one source from the vault: a secret's value decoded as the source says, or a key's
//! public part in the source's format, each with its audit line.

use super::super::{Context, SyncError, steps};
use crate::desired::select::Source;
use crate::desired::{decoding, public_key};
use crate::vault::{KeyBundle, SecretBundle, SecretValue, VaultAccess};

/// One source's value as read, decoded or converted for its Secret key.
pub(super) struct Read {
    pub(super) version: String,
    pub(super) updated: Option<i64>,
    pub(super) value: SecretValue,
}

/// Reads one source: a vault secret's value, decoded as the source says, or a vault key's
/// public part in the source's format.
pub(super) async fn read_source(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<Read, SyncError> {
    if let Some(format) = source.public_key {
        let bundle = read_key(ctx, access, source).await?;
        let text = public_key::render(&bundle, format).map_err(|problem| SyncError::KeyFormat {
            name: source.name.clone(),
            source: problem,
        })?;
        return Ok(Read {
            version: bundle.version,
            updated: bundle.updated,
            value: SecretValue::new(text),
        });
    }
    let bundle = read_secret(ctx, access, source).await?;
    let value = decoding::decode(
        source.decoding,
        bundle.content_type.as_deref(),
        bundle.value,
    )
    .map_err(|problem| SyncError::Decode {
        key: source.key.clone(),
        name: source.name.clone(),
        source: problem,
    })?;
    Ok(Read {
        version: bundle.version,
        updated: bundle.updated,
        value,
    })
}

/// Reads one vault secret, with its audit line.
async fn read_secret(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<SecretBundle, SyncError> {
    let result = ctx
        .vault
        .get_secret(access, &source.name, source.version.as_deref())
        .await;
    match &result {
        Ok(bundle) => steps::audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => steps::audit(access, &source.name, source.version.as_deref(), Some(err)),
    }
    result.map_err(|source_error| SyncError::ReadSecret {
        name: source.name.clone(),
        source: source_error,
    })
}

/// Reads one vault key's public part, with its audit line.
async fn read_key(
    ctx: &Context,
    access: &VaultAccess,
    source: &Source,
) -> Result<KeyBundle, SyncError> {
    let result = ctx
        .vault
        .get_key(access, &source.name, source.version.as_deref())
        .await;
    match &result {
        Ok(bundle) => steps::audit(access, &source.name, Some(&bundle.version), None),
        Err(err) => steps::audit(access, &source.name, source.version.as_deref(), Some(err)),
    }
    result.map_err(|source_error| SyncError::ReadKey {
        name: source.name.clone(),
        source: source_error,
    })
}

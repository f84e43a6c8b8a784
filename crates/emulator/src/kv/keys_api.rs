//! Key operations of the REST API: create, import, get (public JWK only), sign and verify (lists,
//! delete and the deleted state are in `objects_api`). GET /keys also serves
//! the public key of a certificate.

use super::secrets_api::{AttributesIn, parse_body};
use super::{Ctx, render};
use crate::errors::json;
use crate::events::payload::{ObjectType, VaultEvent};
use crate::ids::new_version;
use crate::store::keys::{self, JwkIn, KeyVersion};
use crate::store::validate;
use crate::store::{Kind, StoreError};
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64URL;
use serde::Deserialize;
use serde_json::json;
use std::collections::BTreeMap;

#[derive(Debug, Deserialize)]
struct CreateBody {
    kty: String,
    key_size: Option<u64>,
    crv: Option<String>,
    key_ops: Option<Vec<String>>,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct ImportBody {
    key: JwkIn,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
struct SignBody {
    alg: String,
    value: String,
}

#[derive(Debug, Deserialize)]
struct VerifyBody {
    alg: String,
    digest: String,
    value: String,
}

fn b64(field: &str, text: &str) -> Result<Vec<u8>, StoreError> {
    B64URL
        .decode(text.trim_end_matches('='))
        .map_err(|_| StoreError::BadParameter(format!("Property '{field}' is not base64url.")))
}

/// Stores a new version and answers with its KeyBundle.
fn store(ctx: &Ctx<'_>, name: &str, k: KeyVersion) -> Result<Response, StoreError> {
    let mut data = ctx.vault.write();
    data.keys.check_writable(name)?;
    data.keys.push(name, k);
    let (e, k) = data.keys.find(name, None)?;
    ctx.events.publish(VaultEvent::new_version(
        &ctx.vault.name,
        &ctx.base,
        ObjectType::Key,
        &e.name,
        &k.version,
        None,
        None,
        ctx.now,
    ));
    Ok(json(
        200,
        &render::key_version_bundle(&ctx.base, &e.name, k),
    ))
}

fn version(
    ctx: &Ctx<'_>,
    kty: String,
    material: keys::KeyMaterial,
    ops: Option<Vec<String>>,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
) -> KeyVersion {
    KeyVersion {
        version: new_version(),
        key_ops: ops.unwrap_or_else(|| keys::default_ops(&material)),
        kty,
        material,
        enabled: attributes.and_then(|a| a.enabled).unwrap_or(true),
        created: ctx.now,
        updated: ctx.now,
        tags: tags.unwrap_or_default(),
    }
}

/// POST /keys/{name}/create
pub(crate) fn create(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let b: CreateBody = parse_body(&ctx.body)?;
    ctx.vault.read().keys.check_writable(name)?;
    let material = keys::generate(&b.kty, b.key_size, b.crv.as_deref())?;
    let k = version(ctx, b.kty, material, b.key_ops, b.attributes, b.tags);
    store(ctx, name, k)
}

/// PUT /keys/{name}: imports a JWK with its private part.
pub(crate) fn import(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let b: ImportBody = parse_body(&ctx.body)?;
    let material = keys::import(&b.key)?;
    let kty = b.key.kty.clone().unwrap_or_default();
    let k = version(ctx, kty, material, b.key.key_ops, b.attributes, b.tags);
    store(ctx, name, k)
}

/// GET /keys/{name}[/{version}]: a key's public JWK, or a certificate's.
pub(crate) fn get(ctx: &Ctx<'_>, name: &str, ver: Option<&str>) -> Result<Response, StoreError> {
    validate::name(name)?;
    let data = ctx.vault.read();
    if let Ok((e, k)) = data.keys.find(name, ver) {
        return Ok(json(
            200,
            &render::key_version_bundle(&ctx.base, &e.name, k),
        ));
    }
    match data.find_cert(name, ver) {
        Ok((e, c)) => Ok(json(200, &render::key_bundle(&ctx.base, &e.name, c))),
        Err(_) => Err(StoreError::NotFound(Kind::Key, name.to_owned())),
    }
}

/// The version to use for a cryptographic operation; disabled keys refuse.
fn usable<'a>(
    data: &'a crate::store::VaultData,
    name: &str,
    ver: Option<&str>,
    op: &str,
) -> Result<&'a KeyVersion, StoreError> {
    let (_, k) = data.keys.find(name, ver)?;
    if !k.enabled || !k.key_ops.iter().any(|o| o == op) {
        return Err(StoreError::BadParameter(format!(
            "Operation {op} is not allowed on this key (disabled, or not in its key_ops)."
        )));
    }
    Ok(k)
}

/// POST /keys/{name}/{version}/sign: signs the digest in `value`.
pub(crate) fn sign(ctx: &Ctx<'_>, name: &str, ver: Option<&str>) -> Result<Response, StoreError> {
    let b: SignBody = parse_body(&ctx.body)?;
    let digest = b64("value", &b.value)?;
    let data = ctx.vault.read();
    let k = usable(&data, name, ver, "sign")?;
    let sig = keys::sign(k, &b.alg, &digest)?;
    let kid = format!("{}/keys/{name}/{}", ctx.base, k.version);
    Ok(json(200, &json!({"kid": kid, "value": B64URL.encode(sig)})))
}

/// POST /keys/{name}/{version}/verify: `{"value": true|false}`.
pub(crate) fn verify(ctx: &Ctx<'_>, name: &str, ver: Option<&str>) -> Result<Response, StoreError> {
    let b: VerifyBody = parse_body(&ctx.body)?;
    let (digest, sig) = (b64("digest", &b.digest)?, b64("value", &b.value)?);
    let data = ctx.vault.read();
    let k = usable(&data, name, ver, "verify")?;
    Ok(json(
        200,
        &json!({"value": keys::verify(k, &b.alg, &digest, &sig)?}),
    ))
}

//! Certificate operations of the REST API: import, get, get policy (lists, delete and the
//! deleted state are in `objects_api`).

use super::secrets_api::{AttributesIn, parse_body};
use super::{Ctx, render};
use crate::errors::json;
use crate::events::payload::{ObjectType, VaultEvent};
use crate::store::StoreError;
use crate::store::certs::{self, ImportInput, Source};
use crate::store::validate;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use std::collections::BTreeMap;

#[derive(Debug, Default, Deserialize)]
struct SecretProps {
    #[serde(rename = "contentType")]
    content_type: Option<String>,
}

#[derive(Debug, Default, Deserialize)]
struct KeyProps {
    exportable: Option<bool>,
}

#[derive(Debug, Default, Deserialize)]
struct PolicyIn {
    secret_props: Option<SecretProps>,
    key_props: Option<KeyProps>,
}

#[derive(Debug, Deserialize)]
struct ImportBody {
    value: String,
    pwd: Option<String>,
    policy: Option<PolicyIn>,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
    #[serde(rename = "preserveCertOrder")]
    preserve_cert_order: Option<bool>,
}

/// POST /certificates/{name}/import
pub(crate) fn import(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let b: ImportBody = parse_body(&ctx.body)?;
    let policy = b.policy.unwrap_or_default();
    let content_type = policy.secret_props.and_then(|s| s.content_type);
    let text = b.value.trim();
    // PEM may come as text or, as the Python SDK sends it, base64 of the PEM text.
    let source = if text.starts_with("-----BEGIN") {
        Source::Pem(text.to_owned())
    } else {
        let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
        let der = STANDARD.decode(compact).map_err(|_| {
            StoreError::BadParameter(
                "The specified certificate content is not valid base64.".into(),
            )
        })?;
        match String::from_utf8(der) {
            Ok(s) if s.trim_start().starts_with("-----BEGIN") => Source::Pem(s),
            Ok(s) => Source::Pfx(s.into_bytes(), b.pwd.unwrap_or_default()),
            Err(e) => Source::Pfx(e.into_bytes(), b.pwd.unwrap_or_default()),
        }
    };
    let input = ImportInput {
        source,
        content_type,
        exportable: policy.key_props.and_then(|k| k.exportable).unwrap_or(true),
        enabled: b.attributes.and_then(|a| a.enabled).unwrap_or(true),
        tags: b.tags.unwrap_or_default(),
        preserve_order: b.preserve_cert_order.unwrap_or(false),
    };
    let mut data = ctx.vault.write();
    let version = certs::import(&mut data, name, input, ctx.now)?;
    let (e, c) = data.find_cert(name, Some(&version))?;
    ctx.events.publish(VaultEvent::new_version(
        &ctx.vault.name,
        &ctx.base,
        ObjectType::Certificate,
        &e.name,
        &version,
        Some(c.nbf),
        Some(c.exp),
        ctx.now,
    ));
    Ok(json(200, &render::cert_bundle(&ctx.base, &e.name, c)))
}

/// GET /certificates/{name}[/{version}]
pub(crate) fn get(
    ctx: &Ctx<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Response, StoreError> {
    validate::name(name)?;
    let data = ctx.vault.read();
    let (e, c) = data.find_cert(name, version)?;
    Ok(json(200, &render::cert_bundle(&ctx.base, &e.name, c)))
}

/// GET /certificates/{name}/policy
pub(crate) fn policy(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let data = ctx.vault.read();
    let (e, c) = data.find_cert(name, None)?;
    Ok(json(200, &render::policy(&ctx.base, &e.name, c)))
}

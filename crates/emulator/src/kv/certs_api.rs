//! Certificate operations of the REST API: import, get, get policy, list, list versions, delete,
//! and the deleted state: get, list, recover, purge.

use super::certs::{self, ImportInput, Source};
use super::objects::Deleted;
use super::secrets_api::{AttributesIn, parse_body};
use super::store::{CertVersion, Kind, StoreError};
use super::{Ctx, list_page, no_content, render, validate};
use crate::errors::json;
use axum::response::Response;
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize;
use serde_json::Value;
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

/// GET /certificates
pub(crate) fn list(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        data.certs
            .live
            .values()
            .filter_map(|e| {
                e.versions
                    .last()
                    .map(|c| render::cert_item(&ctx.base, e, c, false))
            })
            .collect()
    };
    list_page(ctx, "/certificates", items)
}

/// GET /certificates/{name}/versions
pub(crate) fn list_versions(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let items = {
        let data = ctx.vault.read();
        let e = data.certs.entry(name)?;
        e.versions
            .iter()
            .map(|c| render::cert_item(&ctx.base, e, c, true))
            .collect()
    };
    list_page(ctx, &format!("/certificates/{name}/versions"), items)
}

/// DeletedCertificateBundle of a deleted certificate's latest version.
fn deleted_bundle(ctx: &Ctx<'_>, d: &Deleted<CertVersion>) -> Result<Value, StoreError> {
    let e = &d.entry;
    let latest = e
        .versions
        .last()
        .ok_or_else(|| StoreError::NotFound(Kind::Certificate, e.name.clone()))?;
    let bundle = render::cert_bundle(&ctx.base, &e.name, latest);
    Ok(render::deleted(
        bundle,
        &ctx.base,
        "deletedcertificates",
        &e.name,
        d.deleted_date,
    ))
}

/// DELETE /certificates/{name}: the certificate and its backing secret go to the deleted state.
pub(crate) fn delete(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let mut data = ctx.vault.write();
    let d = data.delete_cert(name, ctx.now)?;
    Ok(json(200, &deleted_bundle(ctx, d)?))
}

/// GET /deletedcertificates/{name}
pub(crate) fn get_deleted(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    let data = ctx.vault.read();
    Ok(json(
        200,
        &deleted_bundle(ctx, data.certs.get_deleted(name)?)?,
    ))
}

/// GET /deletedcertificates
pub(crate) fn list_deleted(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        let mut items = Vec::new();
        for d in data.certs.deleted.values() {
            let Some(c) = d.entry.versions.last() else {
                continue;
            };
            let item = render::cert_item(&ctx.base, &d.entry, c, false);
            items.push(render::deleted(
                item,
                &ctx.base,
                "deletedcertificates",
                &d.entry.name,
                d.deleted_date,
            ));
        }
        items
    };
    list_page(ctx, "/deletedcertificates", items)
}

/// POST /deletedcertificates/{name}/recover
pub(crate) fn recover(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    let mut data = ctx.vault.write();
    let e = data.recover_cert(name)?;
    let c = e
        .versions
        .last()
        .ok_or_else(|| StoreError::NotFound(Kind::Certificate, name.to_owned()))?;
    Ok(json(200, &render::cert_bundle(&ctx.base, &e.name, c)))
}

/// DELETE /deletedcertificates/{name}: 204.
pub(crate) fn purge(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    ctx.vault.write().purge_cert(name)?;
    Ok(no_content())
}

//! Secret operations of the REST API: set, get, update attributes, delete, list, list versions,
//! and the deleted state: get, list, recover, purge.

use super::objects::Deleted;
use super::store::{Kind, SecretMeta, SecretVersion, StoreError};
use super::{Ctx, list_page, no_content, render, validate};
use crate::errors::json;
use axum::response::Response;
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// `attributes` in request bodies.
#[derive(Debug, Default, Deserialize)]
pub(crate) struct AttributesIn {
    pub enabled: Option<bool>,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
}

#[derive(Debug, Deserialize)]
struct SetBody {
    value: String,
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Default, Deserialize)]
struct UpdateBody {
    #[serde(rename = "contentType")]
    content_type: Option<String>,
    attributes: Option<AttributesIn>,
    tags: Option<BTreeMap<String, String>>,
}

/// Parses a JSON body; malformed or mistyped JSON is a 400 BadParameter.
pub(crate) fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, StoreError> {
    serde_json::from_slice(body)
        .map_err(|e| StoreError::BadParameter(format!("The request body is not valid: {e}")))
}

fn not_found_id(name: &str, version: Option<&str>) -> String {
    version.map_or_else(|| name.to_owned(), |v| format!("{name}/{v}"))
}

/// PUT /secrets/{name}
pub(crate) fn set(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let b: SetBody = parse_body(&ctx.body)?;
    let a = b.attributes.unwrap_or_default();
    let meta = SecretMeta {
        content_type: b.content_type,
        tags: b.tags.unwrap_or_default(),
        enabled: a.enabled.unwrap_or(true),
        nbf: a.nbf,
        exp: a.exp,
    };
    let mut data = ctx.vault.write();
    let version = data.set_secret(name, b.value, meta, ctx.now)?;
    let (e, v) = data.find_secret(name, Some(&version))?;
    Ok(json(200, &render::secret_bundle(&ctx.base, &e.name, v)))
}

/// GET /secrets/{name}[/{version}]
pub(crate) fn get(
    ctx: &Ctx<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Response, StoreError> {
    validate::name(name)?;
    if version.is_some_and(|v| !validate::is_version(v)) {
        return Err(StoreError::NotFound(
            Kind::Secret,
            not_found_id(name, version),
        ));
    }
    let data = ctx.vault.read();
    let (e, v) = data.get_secret(name, version).map_err(|err| match err {
        StoreError::NotFound(k, _) => StoreError::NotFound(k, not_found_id(name, version)),
        other => other,
    })?;
    Ok(json(200, &render::secret_bundle(&ctx.base, &e.name, v)))
}

/// PATCH /secrets/{name}[/{version}]: contentType, attributes, tags.
pub(crate) fn update(
    ctx: &Ctx<'_>,
    name: &str,
    version: Option<&str>,
) -> Result<Response, StoreError> {
    validate::name(name)?;
    let b: UpdateBody = if ctx.body.is_empty() {
        UpdateBody::default()
    } else {
        parse_body(&ctx.body)?
    };
    let mut data = ctx.vault.write();
    let (ename, v) = data.update_secret(name, version, ctx.now, |m| {
        if let Some(ct) = b.content_type {
            m.content_type = Some(ct);
        }
        if let Some(t) = b.tags {
            m.tags = t;
        }
        if let Some(a) = b.attributes {
            if let Some(en) = a.enabled {
                m.enabled = en;
            }
            if a.nbf.is_some() {
                m.nbf = a.nbf;
            }
            if a.exp.is_some() {
                m.exp = a.exp;
            }
        }
    })?;
    // The update response carries no value, like the service's.
    let mut out = render::secret_item(&ctx.base, &ename, &v, true);
    out.as_object_mut().map(|o| o.remove("value"));
    Ok(json(200, &out))
}

/// DeletedSecretBundle of a deleted secret's latest version (no value).
fn deleted_bundle(ctx: &Ctx<'_>, d: &Deleted<SecretVersion>) -> Result<Value, StoreError> {
    let e = &d.entry;
    let latest = e
        .versions
        .last()
        .ok_or_else(|| StoreError::NotFound(Kind::Secret, e.name.clone()))?;
    let bundle = render::secret_bundle(&ctx.base, &e.name, latest);
    Ok(render::deleted(
        bundle,
        &ctx.base,
        "deletedsecrets",
        &e.name,
        d.deleted_date,
    ))
}

/// DELETE /secrets/{name}: moves the secret to the deleted state; returns a DeletedSecretBundle.
pub(crate) fn delete(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let mut data = ctx.vault.write();
    let d = data.delete_secret(name, ctx.now)?;
    Ok(json(200, &deleted_bundle(ctx, d)?))
}

/// GET /deletedsecrets/{name}
pub(crate) fn get_deleted(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    let data = ctx.vault.read();
    Ok(json(
        200,
        &deleted_bundle(ctx, data.secrets.get_deleted(name)?)?,
    ))
}

/// GET /deletedsecrets: DeletedSecretItems (no values).
pub(crate) fn list_deleted(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        let mut items = Vec::new();
        for d in data.secrets.deleted.values() {
            let mut item = deleted_bundle(ctx, d)?;
            item["id"] = json!(format!("{}/secrets/{}", ctx.base, d.entry.name));
            items.push(item);
        }
        items
    };
    list_page(ctx, "/deletedsecrets", items)
}

/// POST /deletedsecrets/{name}/recover: the recovered secret's bundle (no value).
pub(crate) fn recover(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    let mut data = ctx.vault.write();
    let e = data.secrets.recover(name)?;
    let latest = e
        .versions
        .last()
        .ok_or_else(|| StoreError::NotFound(Kind::Secret, name.to_owned()))?;
    let mut out = render::secret_bundle(&ctx.base, &e.name, latest);
    out.as_object_mut().map(|o| o.remove("value"));
    Ok(json(200, &out))
}

/// DELETE /deletedsecrets/{name}: 204, the name is free again.
pub(crate) fn purge(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    ctx.vault.write().secrets.purge(name)?;
    Ok(no_content())
}

/// GET /secrets: latest version of each secret, no values.
pub(crate) fn list(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        data.secrets
            .live
            .values()
            .filter_map(|e| {
                e.versions
                    .last()
                    .map(|v| render::secret_item(&ctx.base, &e.name, v, false))
            })
            .collect()
    };
    list_page(ctx, "/secrets", items)
}

/// GET /secrets/{name}/versions
pub(crate) fn list_versions(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let items = {
        let data = ctx.vault.read();
        let e = data.secrets.entry(name)?;
        e.versions
            .iter()
            .map(|v| render::secret_item(&ctx.base, &e.name, v, true))
            .collect()
    };
    list_page(ctx, &format!("/secrets/{name}/versions"), items)
}

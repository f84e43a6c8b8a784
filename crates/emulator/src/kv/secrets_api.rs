//! Secret operations of the REST API: set, get, update attributes (lists, delete and the deleted
//! state are in `objects_api`).

use super::{Ctx, render};
use crate::errors::json;
use crate::events::payload::{ObjectType, VaultEvent};
use crate::store::validate;
use crate::store::{Kind, SecretMeta, StoreError};
use axum::response::Response;
use serde::Deserialize;
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
    ctx.events.publish(VaultEvent::new_version(
        &ctx.vault.name,
        &ctx.base,
        ObjectType::Secret,
        &e.name,
        &version,
        v.meta.nbf,
        v.meta.exp,
        ctx.now,
    ));
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

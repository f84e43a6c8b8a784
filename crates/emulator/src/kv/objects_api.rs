//! The operations every kind shares over REST: list, list versions, and soft delete (DELETE
//! moves an object to the deleted state, `/deleted{secrets,certificates,keys}` lists, gets,
//! recovers and purges it).

use super::{Ctx, list_page, no_content, render};
use crate::errors::json;
use crate::store::keys::KeyVersion;
use crate::store::objects::{Deleted, Entry, Objects, Versioned};
use crate::store::validate;
use crate::store::{CertVersion, Kind, SecretVersion, StoreError, VaultData};
use axum::response::Response;
use serde_json::Value;

/// A kind of vault object.
pub(crate) trait ObjectKind: Versioned + Sized {
    /// Path segment of the collection, e.g. `secrets`.
    const COLLECTION: &'static str;
    /// Path segment of the deleted collection, e.g. `deletedsecrets`.
    const DELETED: &'static str;
    const KIND: Kind;
    fn objects(d: &VaultData) -> &Objects<Self>;
    fn delete<'a>(
        d: &'a mut VaultData,
        name: &str,
        now: i64,
    ) -> Result<&'a Deleted<Self>, StoreError>;
    fn recover<'a>(d: &'a mut VaultData, name: &str) -> Result<&'a Entry<Self>, StoreError>;
    fn purge(d: &mut VaultData, name: &str) -> Result<(), StoreError>;
    /// The bundle of a version, as GET returns it.
    fn bundle(base: &str, name: &str, v: &Self) -> Value;
    /// The list item of a version (id with or without the version).
    fn item(base: &str, name: &str, v: &Self, with_version: bool) -> Value;
}

impl ObjectKind for SecretVersion {
    const COLLECTION: &'static str = "secrets";
    const DELETED: &'static str = "deletedsecrets";
    const KIND: Kind = Kind::Secret;
    fn objects(d: &VaultData) -> &Objects<Self> {
        &d.secrets
    }
    fn delete<'a>(
        d: &'a mut VaultData,
        name: &str,
        now: i64,
    ) -> Result<&'a Deleted<Self>, StoreError> {
        d.delete_secret(name, now)
    }
    fn recover<'a>(d: &'a mut VaultData, name: &str) -> Result<&'a Entry<Self>, StoreError> {
        d.secrets.recover(name)
    }
    fn purge(d: &mut VaultData, name: &str) -> Result<(), StoreError> {
        d.secrets.purge(name)
    }
    fn bundle(base: &str, name: &str, v: &Self) -> Value {
        render::secret_bundle(base, name, v)
    }
    fn item(base: &str, name: &str, v: &Self, with_version: bool) -> Value {
        render::secret_item(base, name, v, with_version)
    }
}

impl ObjectKind for CertVersion {
    const COLLECTION: &'static str = "certificates";
    const DELETED: &'static str = "deletedcertificates";
    const KIND: Kind = Kind::Certificate;
    fn objects(d: &VaultData) -> &Objects<Self> {
        &d.certs
    }
    fn delete<'a>(
        d: &'a mut VaultData,
        name: &str,
        now: i64,
    ) -> Result<&'a Deleted<Self>, StoreError> {
        d.delete_cert(name, now)
    }
    fn recover<'a>(d: &'a mut VaultData, name: &str) -> Result<&'a Entry<Self>, StoreError> {
        d.recover_cert(name)
    }
    fn purge(d: &mut VaultData, name: &str) -> Result<(), StoreError> {
        d.purge_cert(name)
    }
    fn bundle(base: &str, name: &str, v: &Self) -> Value {
        render::cert_bundle(base, name, v)
    }
    fn item(base: &str, name: &str, v: &Self, with_version: bool) -> Value {
        render::cert_item(base, name, v, with_version)
    }
}

impl ObjectKind for KeyVersion {
    const COLLECTION: &'static str = "keys";
    const DELETED: &'static str = "deletedkeys";
    const KIND: Kind = Kind::Key;
    fn objects(d: &VaultData) -> &Objects<Self> {
        &d.keys
    }
    fn delete<'a>(
        d: &'a mut VaultData,
        name: &str,
        now: i64,
    ) -> Result<&'a Deleted<Self>, StoreError> {
        d.keys.delete(name, now)
    }
    fn recover<'a>(d: &'a mut VaultData, name: &str) -> Result<&'a Entry<Self>, StoreError> {
        d.keys.recover(name)
    }
    fn purge(d: &mut VaultData, name: &str) -> Result<(), StoreError> {
        d.keys.purge(name)
    }
    fn bundle(base: &str, name: &str, v: &Self) -> Value {
        render::key_version_bundle(base, name, v)
    }
    fn item(base: &str, name: &str, v: &Self, with_version: bool) -> Value {
        render::key_item(base, name, v, with_version)
    }
}

fn latest<T: ObjectKind>(e: &Entry<T>) -> Result<&T, StoreError> {
    e.versions
        .last()
        .ok_or_else(|| StoreError::NotFound(T::KIND, e.name.clone()))
}

/// The deleted bundle of an object's latest version (never a value).
fn deleted_bundle<T: ObjectKind>(ctx: &Ctx<'_>, d: &Deleted<T>) -> Result<Value, StoreError> {
    let bundle = T::bundle(&ctx.base, &d.entry.name, latest(&d.entry)?);
    Ok(render::deleted(
        bundle,
        &ctx.base,
        T::DELETED,
        &d.entry.name,
        d.deleted_date,
    ))
}

/// GET /{collection}: the latest version of each object, without values.
pub(crate) fn list<T: ObjectKind>(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        let live = T::objects(&data).live.values();
        let latest = live.filter_map(|e| Some((e, e.versions.last()?)));
        latest
            .map(|(e, v)| T::item(&ctx.base, &e.name, v, false))
            .collect()
    };
    list_page(ctx, &format!("/{}", T::COLLECTION), items)
}

/// GET /{collection}/{name}/versions
pub(crate) fn list_versions<T: ObjectKind>(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<Response, StoreError> {
    validate::name(name)?;
    let items = {
        let data = ctx.vault.read();
        let e = T::objects(&data).entry(name)?;
        let items = e
            .versions
            .iter()
            .map(|v| T::item(&ctx.base, &e.name, v, true));
        items.collect()
    };
    list_page(ctx, &format!("/{}/{name}/versions", T::COLLECTION), items)
}

/// DELETE /{collection}/{name}
pub(crate) fn delete<T: ObjectKind>(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    validate::name(name)?;
    let mut data = ctx.vault.write();
    let d = T::delete(&mut data, name, ctx.now)?;
    Ok(json(200, &deleted_bundle(ctx, d)?))
}

/// GET /deleted{collection}/{name}
pub(crate) fn get_deleted<T: ObjectKind>(
    ctx: &Ctx<'_>,
    name: &str,
) -> Result<Response, StoreError> {
    let data = ctx.vault.read();
    Ok(json(
        200,
        &deleted_bundle(ctx, T::objects(&data).get_deleted(name)?)?,
    ))
}

/// GET /deleted{collection}
pub(crate) fn list_deleted<T: ObjectKind>(ctx: &Ctx<'_>) -> Result<Response, StoreError> {
    let items = {
        let data = ctx.vault.read();
        let mut items = Vec::new();
        for d in T::objects(&data).deleted.values() {
            let item = T::item(&ctx.base, &d.entry.name, latest(&d.entry)?, false);
            let name = &d.entry.name;
            items.push(render::deleted(
                item,
                &ctx.base,
                T::DELETED,
                name,
                d.deleted_date,
            ));
        }
        items
    };
    list_page(ctx, &format!("/{}", T::DELETED), items)
}

/// POST /deleted{collection}/{name}/recover: the recovered object's bundle (no value).
pub(crate) fn recover<T: ObjectKind>(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    let mut data = ctx.vault.write();
    let e = T::recover(&mut data, name)?;
    let mut out = T::bundle(&ctx.base, &e.name, latest(e)?);
    out.as_object_mut().map(|o| o.remove("value"));
    Ok(json(200, &out))
}

/// DELETE /deleted{collection}/{name}: 204, the name is free again.
pub(crate) fn purge<T: ObjectKind>(ctx: &Ctx<'_>, name: &str) -> Result<Response, StoreError> {
    T::purge(&mut ctx.vault.write(), name)?;
    Ok(no_content())
}

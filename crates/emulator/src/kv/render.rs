//! JSON shapes of Key Vault responses (SecretBundle, SecretItem, CertificateBundle, ...).

use crate::store::keys::{KeyVersion, public_jwk};
use crate::store::{CertVersion, SecretVersion};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Map, Value, json};

const RECOVERY_LEVEL: &str = "Recoverable+Purgeable";
const RECOVERABLE_DAYS: i64 = 90;

fn attributes(
    enabled: bool,
    nbf: Option<i64>,
    exp: Option<i64>,
    created: i64,
    updated: i64,
) -> Value {
    let mut a = Map::new();
    a.insert("enabled".into(), json!(enabled));
    if let Some(n) = nbf {
        a.insert("nbf".into(), json!(n));
    }
    if let Some(e) = exp {
        a.insert("exp".into(), json!(e));
    }
    a.insert("created".into(), json!(created));
    a.insert("updated".into(), json!(updated));
    a.insert("recoveryLevel".into(), json!(RECOVERY_LEVEL));
    a.insert("recoverableDays".into(), json!(RECOVERABLE_DAYS));
    Value::Object(a)
}

fn secret_common(base: &str, name: &str, v: &SecretVersion, id: String) -> Map<String, Value> {
    let mut m = Map::new();
    m.insert("id".into(), json!(id));
    if let Some(ct) = &v.meta.content_type {
        m.insert("contentType".into(), json!(ct));
    }
    m.insert(
        "attributes".into(),
        attributes(v.meta.enabled, v.meta.nbf, v.meta.exp, v.created, v.updated),
    );
    m.insert("tags".into(), json!(v.meta.tags));
    if v.managed {
        m.insert("managed".into(), json!(true));
        m.insert(
            "kid".into(),
            json!(format!("{base}/keys/{name}/{}", v.version)),
        );
    }
    m
}

/// SecretBundle (with value).
pub(crate) fn secret_bundle(base: &str, name: &str, v: &SecretVersion) -> Value {
    let id = format!("{base}/secrets/{name}/{}", v.version);
    let mut m = secret_common(base, name, v, id);
    m.insert("value".into(), json!(v.value));
    Value::Object(m)
}

/// SecretItem of a list: no value; `id` without version for the secrets list.
pub(crate) fn secret_item(base: &str, name: &str, v: &SecretVersion, with_version: bool) -> Value {
    let id = if with_version {
        format!("{base}/secrets/{name}/{}", v.version)
    } else {
        format!("{base}/secrets/{name}")
    };
    Value::Object(secret_common(base, name, v, id))
}

/// Adds what a deleted object carries: `recoveryId`, `deletedDate`, `scheduledPurgeDate`.
/// `collection` is `deletedsecrets`, `deletedcertificates` or `deletedkeys`.
pub(crate) fn deleted(mut v: Value, base: &str, collection: &str, name: &str, at: i64) -> Value {
    if let Some(m) = v.as_object_mut() {
        m.insert(
            "recoveryId".into(),
            json!(format!("{base}/{collection}/{name}")),
        );
        m.insert("deletedDate".into(), json!(at));
        m.insert(
            "scheduledPurgeDate".into(),
            json!(at + RECOVERABLE_DAYS * 86_400),
        );
        m.remove("value");
    }
    v
}

fn cert_attributes(c: &CertVersion) -> Value {
    attributes(c.enabled, Some(c.nbf), Some(c.exp), c.created, c.updated)
}

/// The certificate policy with its `id`.
pub(crate) fn policy(base: &str, name: &str, c: &CertVersion) -> Value {
    let mut p = c.policy.clone();
    p["id"] = json!(format!("{base}/certificates/{name}/policy"));
    p
}

/// CertificateBundle.
pub(crate) fn cert_bundle(base: &str, name: &str, c: &CertVersion) -> Value {
    let ct = c.policy["secret_props"]["contentType"].clone();
    json!({
        "id": format!("{base}/certificates/{name}/{}", c.version),
        "kid": format!("{base}/keys/{name}/{}", c.version),
        "sid": format!("{base}/secrets/{name}/{}", c.version),
        "x5t": c.x5t,
        "cer": STANDARD.encode(&c.cer),
        "contentType": ct,
        "attributes": cert_attributes(c),
        "policy": policy(base, name, c),
        "tags": c.tags,
        "preserveCertOrder": c.preserve_order,
    })
}

/// CertificateItem of a list.
pub(crate) fn cert_item(base: &str, name: &str, c: &CertVersion, with_version: bool) -> Value {
    let id = if with_version {
        format!("{base}/certificates/{name}/{}", c.version)
    } else {
        format!("{base}/certificates/{name}")
    };
    json!({"id": id, "x5t": c.x5t, "attributes": cert_attributes(c), "tags": c.tags})
}

/// KeyBundle of a certificate's key (public part only).
pub(crate) fn key_bundle(base: &str, name: &str, c: &CertVersion) -> Value {
    let mut key = c.jwk.clone();
    key["kid"] = json!(format!("{base}/keys/{name}/{}", c.version));
    key["key_ops"] = json!(["sign", "verify"]);
    json!({"key": key, "attributes": cert_attributes(c), "tags": c.tags, "managed": true})
}

/// KeyBundle of a key version (public JWK only).
pub(crate) fn key_version_bundle(base: &str, name: &str, k: &KeyVersion) -> Value {
    let mut key = public_jwk(k);
    key["kid"] = json!(format!("{base}/keys/{name}/{}", k.version));
    let attributes = attributes(k.enabled, None, None, k.created, k.updated);
    json!({"key": key, "attributes": attributes, "tags": k.tags})
}

/// KeyItem of a list: `kid` without version for the keys list.
pub(crate) fn key_item(base: &str, name: &str, k: &KeyVersion, with_version: bool) -> Value {
    let kid = if with_version {
        format!("{base}/keys/{name}/{}", k.version)
    } else {
        format!("{base}/keys/{name}")
    };
    let attributes = attributes(k.enabled, None, None, k.created, k.updated);
    json!({"kid": kid, "attributes": attributes, "tags": k.tags})
}

//! Key Vault events as the push endpoint understands them: Event Grid schema or CloudEvents 1.0
//! JSON in, neutral [`ObjectChanged`] values out. Parsing is lenient where Azure's own samples
//! are (data keys compared case- and space-insensitively, `NBF`/`EXP` as strings or numbers,
//! versions with stray spaces) and strict about names, so nothing malformed reaches the sink.

use serde_json::{Map, Value};

/// Kind of vault object an event names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ObjectType {
    /// A secret (`Microsoft.KeyVault.Secret*`).
    Secret,
    /// A certificate (`Microsoft.KeyVault.Certificate*`).
    Certificate,
    /// A key (`Microsoft.KeyVault.Key*`), read for its public part.
    Key,
}

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Change {
    /// `…NewVersionCreated`.
    NewVersion,
    /// `…NearExpiry` (30 days before `exp`).
    NearExpiry,
    /// `…Expired`.
    Expired,
}

/// A vault object changed. Carries names only, never a value: the receiver decides which
/// resources reference the object and re-reads it through their own identities.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectChanged {
    /// Vault name, lowercased.
    pub vault_name: String,
    /// Secret, certificate or key.
    pub object_type: ObjectType,
    /// Object name, lowercased (Key Vault names are case-insensitive).
    pub object_name: String,
    /// The version the event is about (32 lowercase hex characters), when it names one.
    pub version: Option<String>,
    /// What happened.
    pub change: Change,
    /// The event's `id`: copies of one event (Event Grid delivers at least once) share it.
    pub event_id: Option<String>,
}

/// What one received event turned out to be.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed {
    /// A Key Vault secret, certificate or key event.
    Changed(ObjectChanged),
    /// An Event Grid schema `SubscriptionValidationEvent` with its `validationCode`.
    Validation(String),
    /// Anything else (other event types, other sources, malformed events): acknowledged and
    /// ignored.
    Ignored,
}

const VALIDATION_EVENT: &str = "Microsoft.EventGrid.SubscriptionValidationEvent";
const KEY_VAULT_PREFIX: &str = "microsoft.keyvault.";

/// Parses a delivery body: an array of Event Grid or CloudEvents events, or a single event.
/// `None` when the body is not JSON of that shape.
pub fn parse_body(body: &[u8]) -> Option<Vec<Parsed>> {
    match serde_json::from_slice::<Value>(body).ok()? {
        Value::Array(events) => Some(events.iter().map(parse_event).collect()),
        event @ Value::Object(_) => Some(vec![parse_event(&event)]),
        _ => None,
    }
}

/// One event of either schema (CloudEvents have `specversion`, `type`, `source`; Event Grid
/// events `eventType`, `topic`).
fn parse_event(event: &Value) -> Parsed {
    let Some(fields) = event.as_object() else {
        return Parsed::Ignored;
    };
    let text = |k: &str| fields.get(k).and_then(Value::as_str);
    let event_type = text("eventType").or_else(|| text("type")).unwrap_or("");
    if event_type == VALIDATION_EVENT {
        return fields
            .get("data")
            .and_then(|d| d.get("validationCode"))
            .and_then(Value::as_str)
            .map_or(Parsed::Ignored, |c| Parsed::Validation(c.to_owned()));
    }
    let Some((object_type, change)) = key_vault_type(event_type) else {
        return Parsed::Ignored;
    };
    let Some(data) = fields.get("data").and_then(Value::as_object) else {
        return Parsed::Ignored;
    };
    let data = normalized(data);
    let field = |k: &str| data.get(k).and_then(Value::as_str).map(str::trim);
    let subject = text("subject").map(str::trim);
    let vault = field("vaultname").map(str::to_ascii_lowercase);
    let name = field("objectname").or(subject).map(str::to_ascii_lowercase);
    let version = field("version")
        .filter(|v| !v.is_empty())
        .map(str::to_ascii_lowercase);
    match (vault, name) {
        (Some(vault), Some(name))
            if valid_vault_name(&vault)
                && valid_object_name(&name)
                && version.as_deref().is_none_or(valid_version) =>
        {
            Parsed::Changed(ObjectChanged {
                vault_name: vault,
                object_type,
                object_name: name,
                version,
                change,
                event_id: text("id").map(str::to_owned),
            })
        }
        _ => Parsed::Ignored,
    }
}

/// Data keys trimmed and lowercased (Azure's samples show `"ObjectName "`).
fn normalized(data: &Map<String, Value>) -> Map<String, Value> {
    data.iter()
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.clone()))
        .collect()
}

fn key_vault_type(event_type: &str) -> Option<(ObjectType, Change)> {
    let lower = event_type.to_ascii_lowercase();
    let rest = lower.strip_prefix(KEY_VAULT_PREFIX)?;
    let (object_type, rest) = if let Some(r) = rest.strip_prefix("secret") {
        (ObjectType::Secret, r)
    } else if let Some(r) = rest.strip_prefix("key") {
        (ObjectType::Key, r)
    } else {
        (ObjectType::Certificate, rest.strip_prefix("certificate")?)
    };
    let change = match rest {
        "newversioncreated" => Change::NewVersion,
        "nearexpiry" => Change::NearExpiry,
        "expired" => Change::Expired,
        _ => return None,
    };
    Some((object_type, change))
}

/// Key Vault names: 3–24 characters, letters, digits and hyphens.
fn valid_vault_name(name: &str) -> bool {
    (3..=24).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Object names: 1–127 characters, letters, digits and hyphens.
fn valid_object_name(name: &str) -> bool {
    (1..=127).contains(&name.len()) && name.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Versions: 32 hexadecimal characters.
fn valid_version(version: &str) -> bool {
    version.len() == 32 && version.bytes().all(|b| b.is_ascii_hexdigit())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    const VERSION: &str = "ee059b2bb5bc48398a53b168c6cdcb10";

    fn changed(parsed: &[Parsed]) -> Vec<ObjectChanged> {
        parsed
            .iter()
            .filter_map(|p| match p {
                Parsed::Changed(c) => Some(c.clone()),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn event_grid_sample_with_its_stray_spaces() {
        // The shape of Azure's documented sample: "ObjectName " with a trailing space, a
        // version with a leading one, NBF/EXP as strings.
        let body = json!([{
            "id": "00eccf70-95a7-4e7c-8299-2eb17ee9ad64",
            "topic": "/subscriptions/x/resourceGroups/y/providers/Microsoft.KeyVault/vaults/Prod-Kv",
            "subject": "newsecret",
            "eventType": "Microsoft.KeyVault.SecretNewVersionCreated",
            "eventTime": "2019-07-25T01:08:33.1036736Z",
            "data": {"Id": "https://prod-kv.vault.azure.net/secrets/newsecret/x", "VaultName": "Prod-Kv",
                     "ObjectType": "Secret", "ObjectName ": "NewSecret", "Version": format!(" {VERSION}"),
                     "NBF": "1559081980", "EXP": "1559082102"},
            "dataVersion": "1", "metadataVersion": "1"
        }]);
        let parsed = parse_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(
            changed(&parsed),
            [ObjectChanged {
                vault_name: "prod-kv".into(),
                object_type: ObjectType::Secret,
                object_name: "newsecret".into(),
                version: Some(VERSION.into()),
                change: Change::NewVersion,
                event_id: Some("00eccf70-95a7-4e7c-8299-2eb17ee9ad64".into()),
            }]
        );
    }

    #[test]
    fn cloud_events_single_and_batch() {
        let event = |t: &str, name: &str| {
            json!({"specversion": "1.0", "id": "1", "source": "/subscriptions/x", "subject": name,
                   "type": t, "data": {"VaultName": "kv1", "ObjectType": "Certificate",
                   "ObjectName": name, "Version": VERSION, "NBF": 1, "EXP": 2}})
        };
        let single = parse_body(
            event("Microsoft.KeyVault.CertificateNearExpiry", "web")
                .to_string()
                .as_bytes(),
        )
        .unwrap();
        let c = &changed(&single)[0];
        assert_eq!(
            (c.object_type, c.change, c.object_name.as_str()),
            (ObjectType::Certificate, Change::NearExpiry, "web")
        );
        let batch = json!([
            event("Microsoft.KeyVault.CertificateExpired", "a"),
            event("Microsoft.KeyVault.SecretExpired", "b"),
            event("Microsoft.KeyVault.KeyNewVersionCreated", "Signer"),
        ]);
        let got = changed(&parse_body(batch.to_string().as_bytes()).unwrap());
        assert_eq!(got.len(), 3);
        assert_eq!(
            (got[1].object_type, got[1].change),
            (ObjectType::Secret, Change::Expired)
        );
        assert_eq!(
            (
                got[2].object_type,
                got[2].change,
                got[2].object_name.as_str()
            ),
            (ObjectType::Key, Change::NewVersion, "signer")
        );
    }

    #[test]
    fn unknown_and_malformed_events_are_ignored() {
        let body = json!([
            {"eventType": "Microsoft.KeyVault.KeyNewVersionCreated", "data": {"VaultName": "kv1", "ObjectName": ".."}},
            {"eventType": "Microsoft.KeyVault.VaultAccessPolicyChanged", "data": {}},
            {"eventType": "Microsoft.Storage.BlobCreated", "data": {}},
            {"eventType": "Microsoft.KeyVault.SecretNewVersionCreated", "data": {"VaultName": "kv1", "ObjectName": "../etc"}},
            {"eventType": "Microsoft.KeyVault.SecretNewVersionCreated", "data": {"VaultName": "kv1", "ObjectName": "s", "Version": "zz"}},
            {"eventType": "Microsoft.KeyVault.SecretNewVersionCreated", "data": {"ObjectName": "s"}},
            {"eventType": "Microsoft.KeyVault.SecretNewVersionCreated"},
            "not an object",
        ]);
        let parsed = parse_body(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.len(), 8);
        assert!(parsed.iter().all(|p| *p == Parsed::Ignored), "{parsed:?}");
        assert_eq!(parse_body(b"42"), None);
        assert_eq!(parse_body(b"{not json"), None);
    }

    #[test]
    fn validation_event() {
        let body = json!([{"eventType": VALIDATION_EVENT, "data": {"validationCode": "abc", "validationUrl": "https://x"}}]);
        assert_eq!(
            parse_body(body.to_string().as_bytes()).unwrap(),
            [Parsed::Validation("abc".into())]
        );
    }
}

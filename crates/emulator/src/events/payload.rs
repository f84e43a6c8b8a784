//! The events Key Vault publishes, rendered as Event Grid and CloudEvents 1.0 JSON with the
//! service's field names (`Id`, `VaultName`, `ObjectType`, `ObjectName`, `Version`, `NBF`, `EXP`).

use crate::clock::format_utc;
use crate::ids::new_version;
use serde_json::{Value, json};

/// Subscription id and resource group in the ARM ids the emulator's vaults report as `topic`.
const ARM_SUBSCRIPTION: &str = "00000000-0000-0000-0000-0000000e4a1e";
const ARM_RESOURCE_GROUP: &str = "vaultsync-emulator";

/// Kind of vault object an event is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ObjectType {
    Secret,
    Certificate,
    Key,
}

impl ObjectType {
    fn title(self) -> &'static str {
        match self {
            ObjectType::Secret => "Secret",
            ObjectType::Certificate => "Certificate",
            ObjectType::Key => "Key",
        }
    }

    fn path(self) -> &'static str {
        match self {
            ObjectType::Secret => "secrets",
            ObjectType::Certificate => "certificates",
            ObjectType::Key => "keys",
        }
    }
}

/// What happened to the object.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Change {
    NewVersionCreated,
    NearExpiry,
    Expired,
}

impl Change {
    fn suffix(self) -> &'static str {
        match self {
            Change::NewVersionCreated => "NewVersionCreated",
            Change::NearExpiry => "NearExpiry",
            Change::Expired => "Expired",
        }
    }
}

/// One Key Vault event, before rendering.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct VaultEvent {
    /// Unique per event; copies of one event (retries, duplicates) share it.
    pub id: String,
    /// Unix seconds.
    pub time: i64,
    pub vault: String,
    pub object_type: ObjectType,
    pub change: Change,
    pub name: String,
    pub version: String,
    pub nbf: Option<i64>,
    pub exp: Option<i64>,
    /// `https://{vault}.vault.localhost:{port}`.
    pub vault_base: String,
}

/// A GUID-shaped random id, as Event Grid uses for event ids.
pub(crate) fn new_guid() -> String {
    let h = new_version();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..32]
    )
}

/// ISO 8601 with the 7 fractional digits Event Grid writes.
fn event_time(secs: i64) -> String {
    format_utc(secs).replace(' ', "T").replace('Z', ".0000000Z")
}

/// The vault's ARM resource id: Event Grid's `topic` and CloudEvents' `source`.
pub(crate) fn vault_resource_id(vault: &str) -> String {
    format!(
        "/subscriptions/{ARM_SUBSCRIPTION}/resourceGroups/{ARM_RESOURCE_GROUP}/providers/Microsoft.KeyVault/vaults/{vault}"
    )
}

impl VaultEvent {
    /// A `…NewVersionCreated` event for a version just written.
    #[allow(clippy::too_many_arguments)]
    pub fn new_version(
        vault: &str,
        vault_base: &str,
        object_type: ObjectType,
        name: &str,
        version: &str,
        nbf: Option<i64>,
        exp: Option<i64>,
        now: i64,
    ) -> VaultEvent {
        VaultEvent {
            id: new_guid(),
            time: now,
            vault: vault.to_owned(),
            object_type,
            change: Change::NewVersionCreated,
            name: name.to_owned(),
            version: version.to_owned(),
            nbf,
            exp,
            vault_base: vault_base.to_owned(),
        }
    }

    /// `Microsoft.KeyVault.{Secret|Certificate|Key}{NewVersionCreated|NearExpiry|Expired}`.
    pub fn event_type(&self) -> String {
        format!(
            "Microsoft.KeyVault.{}{}",
            self.object_type.title(),
            self.change.suffix()
        )
    }

    fn data(&self) -> Value {
        json!({
            "Id": format!("{}/{}/{}/{}", self.vault_base, self.object_type.path(), self.name, self.version),
            "VaultName": self.vault,
            "ObjectType": self.object_type.title(),
            "ObjectName": self.name,
            "Version": self.version,
            "NBF": self.nbf,
            "EXP": self.exp,
        })
    }

    /// One event of the Event Grid schema (delivered inside an array).
    pub fn event_grid(&self) -> Value {
        json!({
            "id": self.id,
            "topic": vault_resource_id(&self.vault),
            "subject": self.name,
            "eventType": self.event_type(),
            "eventTime": event_time(self.time),
            "data": self.data(),
            "dataVersion": "1",
            "metadataVersion": "1",
        })
    }

    /// One CloudEvents 1.0 event in structured mode.
    pub fn cloud_event(&self) -> Value {
        json!({
            "specversion": "1.0",
            "id": self.id,
            "source": vault_resource_id(&self.vault),
            "subject": self.name,
            "type": self.event_type(),
            "time": event_time(self.time),
            "datacontenttype": "application/json",
            "data": self.data(),
        })
    }
}

/// The `Microsoft.EventGrid.SubscriptionValidationEvent` sent to an Event Grid schema endpoint.
pub(crate) fn validation_event(vault: &str, code: &str, url: &str, now: i64) -> Value {
    json!([{
        "id": new_guid(),
        "topic": vault_resource_id(vault),
        "subject": "",
        "data": {"validationCode": code, "validationUrl": url},
        "eventType": "Microsoft.EventGrid.SubscriptionValidationEvent",
        "eventTime": event_time(now),
        "metadataVersion": "1",
        "dataVersion": "2",
    }])
}

#[cfg(test)]
mod tests {
    use super::*;

    fn event() -> VaultEvent {
        VaultEvent {
            id: new_guid(),
            time: 0,
            vault: "v1".into(),
            object_type: ObjectType::Certificate,
            change: Change::NearExpiry,
            name: "web".into(),
            version: "ab".into(),
            nbf: Some(1),
            exp: None,
            vault_base: "https://v1.vault.localhost:1".into(),
        }
    }

    #[test]
    fn both_schemas_carry_key_vault_fields() {
        let e = event();
        let eg = e.event_grid();
        assert_eq!(eg["eventType"], "Microsoft.KeyVault.CertificateNearExpiry");
        assert_eq!(eg["eventTime"], "1970-01-01T00:00:00.0000000Z");
        assert_eq!(
            eg["data"]["Id"],
            "https://v1.vault.localhost:1/certificates/web/ab"
        );
        assert_eq!(eg["data"]["EXP"], Value::Null);
        let ce = e.cloud_event();
        assert_eq!(ce["type"], eg["eventType"]);
        assert_eq!(ce["source"], eg["topic"]);
        assert_eq!(ce["data"], eg["data"]);
        assert_eq!(new_guid().len(), 36);
    }
}

//! A ConfigMap target seen through the Secret shape the rest of the pipeline uses: the guard,
//! the content hash and the apply step work on a Secret's metadata and data, and a trust bundle
//! written to a ConfigMap holds exactly what it would hold in a Secret. Text values go to
//! `data`, anything that is not UTF-8 (a truststore) to `binaryData`.

use std::collections::BTreeMap;

use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::{ConfigMap, Secret};

/// The ConfigMap holding `secret`'s metadata and data.
pub fn config_map_from(secret: &Secret) -> ConfigMap {
    let mut text = BTreeMap::new();
    let mut binary = BTreeMap::new();
    for (key, value) in secret.data.iter().flatten() {
        match std::str::from_utf8(&value.0) {
            Ok(utf8) => {
                text.insert(key.clone(), utf8.to_string());
            }
            Err(_) => {
                binary.insert(key.clone(), value.clone());
            }
        }
    }
    ConfigMap {
        metadata: secret.metadata.clone(),
        data: Some(text),
        binary_data: Some(binary),
        immutable: None,
    }
}

/// `config_map` as an `Opaque` Secret: its metadata, and `data` and `binaryData` as one map.
pub fn secret_view(config_map: ConfigMap) -> Secret {
    let mut data: BTreeMap<String, ByteString> = config_map
        .binary_data
        .unwrap_or_default()
        .into_iter()
        .collect();
    for (key, value) in config_map.data.unwrap_or_default() {
        data.insert(key, ByteString(value.into_bytes()));
    }
    Secret {
        metadata: config_map.metadata,
        type_: None,
        data: Some(data),
        ..Default::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    #[test]
    fn text_goes_to_data_bytes_to_binary_data_and_back() {
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some("corp-ca".into()),
                labels: Some([("app.kubernetes.io/managed-by".into(), "vaultsync".into())].into()),
                ..Default::default()
            },
            type_: Some("Opaque".into()),
            data: Some(
                [
                    (
                        "ca.crt".to_string(),
                        ByteString(b"-----BEGIN CERTIFICATE-----\n".to_vec()),
                    ),
                    (
                        "truststore.p12".to_string(),
                        ByteString(vec![0x30, 0x82, 0xff, 0x00]),
                    ),
                ]
                .into(),
            ),
            ..Default::default()
        };
        let config_map = config_map_from(&secret);
        assert_eq!(config_map.metadata, secret.metadata);
        assert_eq!(
            config_map.data.as_ref().unwrap()["ca.crt"],
            "-----BEGIN CERTIFICATE-----\n"
        );
        assert_eq!(
            config_map.binary_data.as_ref().unwrap()["truststore.p12"].0,
            [0x30, 0x82, 0xff, 0x00]
        );
        assert!(
            !config_map
                .data
                .as_ref()
                .unwrap()
                .contains_key("truststore.p12")
        );
        let view = secret_view(config_map);
        assert_eq!(view.data, secret.data, "the same bytes under the same keys");
        assert_eq!(view.metadata, secret.metadata);
    }

    #[test]
    fn an_empty_config_map_is_empty_data() {
        let view = secret_view(ConfigMap::default());
        assert_eq!(view.data, Some(BTreeMap::new()));
    }
}

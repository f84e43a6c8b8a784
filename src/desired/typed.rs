//! Typed Secrets: the keys `kubernetes.io/dockerconfigjson`, `kubernetes.io/basic-auth` and
//! `kubernetes.io/ssh-auth` Secrets hold, and the keys every type Kubernetes validates needs.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::decoding::encode_base64;
use super::shape::ShapeError;
use crate::crd::{DockerConfigJson, SecretTemplate, TemplateText};
use crate::vault::SecretValue;

/// The key of a `kubernetes.io/dockerconfigjson` Secret.
pub const DOCKER_CONFIG_JSON_KEY: &str = ".dockerconfigjson";
/// The username key of a `kubernetes.io/basic-auth` Secret.
pub const USERNAME_KEY: &str = "username";
/// The password key of a `kubernetes.io/basic-auth` Secret.
pub const PASSWORD_KEY: &str = "password";
/// The key of a `kubernetes.io/ssh-auth` Secret.
pub const SSH_PRIVATE_KEY_KEY: &str = "ssh-privatekey";

/// The keys the template's typed part writes (none without one). `render` renders one field,
/// named by its place in the spec.
pub fn typed_keys(
    template: &SecretTemplate,
    render: &dyn Fn(&str, &TemplateText) -> Result<SecretValue, ShapeError>,
) -> Result<Vec<(String, SecretValue)>, ShapeError> {
    let mut keys = Vec::new();
    if let Some(config) = &template.docker_config_json {
        let json = docker_config_json(config, render)?;
        keys.push((DOCKER_CONFIG_JSON_KEY.to_string(), json));
    }
    if let Some(auth) = &template.basic_auth {
        for (key, field) in [
            (USERNAME_KEY, &auth.username),
            (PASSWORD_KEY, &auth.password),
        ] {
            if let Some(text) = field {
                let value = render(&format!("template.basicAuth.{key}"), text)?;
                keys.push((key.to_string(), value));
            }
        }
    }
    if let Some(ssh) = &template.ssh_auth {
        let value = render("template.sshAuth.privateKey", &ssh.private_key)?;
        keys.push((SSH_PRIVATE_KEY_KEY.to_string(), value));
    }
    Ok(keys)
}

/// `{"auths": {server: {username, password, auth, email?}}}`, as `docker login` writes it:
/// `auth` is base64 of `username:password`.
fn docker_config_json(
    config: &DockerConfigJson,
    render: &dyn Fn(&str, &TemplateText) -> Result<SecretValue, ShapeError>,
) -> Result<SecretValue, ShapeError> {
    let mut auths = Map::new();
    for (index, registry) in config.registries.iter().enumerate() {
        let field = |name: &str, text: &TemplateText| -> Result<String, ShapeError> {
            let path = format!("template.dockerConfigJson.registries[{index}].{name}");
            let value = render(&path, text)?;
            value
                .expose_str()
                .map(str::to_string)
                .ok_or(ShapeError::NotText { field: path })
        };
        let server = field("server", &registry.server)?;
        let username = field("username", &registry.username)?;
        let password = field("password", &registry.password)?;
        let mut entry = Map::new();
        entry.insert(
            "auth".into(),
            encode_base64(format!("{username}:{password}").as_bytes()).into(),
        );
        entry.insert("username".into(), username.into());
        entry.insert("password".into(), password.into());
        if let Some(email) = &registry.email {
            entry.insert("email".into(), field("email", email)?.into());
        }
        auths.insert(server, Value::Object(entry));
    }
    let document = Value::Object(Map::from_iter([("auths".to_string(), auths.into())]));
    Ok(SecretValue::new(document.to_string()))
}

/// What Kubernetes requires of a Secret of `type_`, checked here so that the condition says
/// which key is missing instead of relaying the API server's refusal.
pub fn check_required_keys(
    type_: &str,
    data: &BTreeMap<String, SecretValue>,
) -> Result<(), ShapeError> {
    let has = |key: &str| data.contains_key(key);
    let needs = match type_ {
        "kubernetes.io/dockerconfigjson" if !has(DOCKER_CONFIG_JSON_KEY) => {
            "the key .dockerconfigjson"
        }
        "kubernetes.io/dockercfg" if !has(".dockercfg") => "the key .dockercfg",
        "kubernetes.io/basic-auth" if !has(USERNAME_KEY) && !has(PASSWORD_KEY) => {
            "the key username or password"
        }
        "kubernetes.io/ssh-auth" if !has(SSH_PRIVATE_KEY_KEY) => "the key ssh-privatekey",
        "kubernetes.io/tls" if !has("tls.crt") || !has("tls.key") => "the keys tls.crt and tls.key",
        _ => return Ok(()),
    };
    Err(ShapeError::MissingKeys {
        type_: type_.to_string(),
        needs,
        have: data.keys().cloned().collect::<Vec<_>>().join(", "),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::RegistryAuth;
    use crate::desired::shape::render;

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect()
    }

    #[test]
    fn docker_config_json_has_one_auth_per_registry_as_docker_login_writes_it() {
        let template = SecretTemplate {
            docker_config_json: Some(DockerConfigJson {
                registries: vec![
                    RegistryAuth {
                        server: "registry.example.com".into(),
                        username: "{{ user }}".into(),
                        password: "{{ token | trim }}".into(),
                        email: None,
                    },
                    RegistryAuth {
                        server: "{{ mirror }}".into(),
                        username: "robot".into(),
                        password: "{{ token | trim }}".into(),
                        email: Some("ops@example.com".into()),
                    },
                ],
            }),
            ..Default::default()
        };
        let sources = values(&[
            ("user", "app"),
            ("token", "t\"k\n"),
            ("mirror", "mirror.local:5000"),
        ]);
        let keys = typed_keys(&template, &|field, text| render(field, text, &sources)).unwrap();
        assert_eq!(keys.len(), 1);
        assert_eq!(keys[0].0, ".dockerconfigjson");
        let json: Value = serde_json::from_slice(keys[0].1.expose()).unwrap();
        let auths = json["auths"].as_object().unwrap();
        assert_eq!(auths.len(), 2);
        let first = &auths["registry.example.com"];
        assert_eq!(first["username"], "app");
        assert_eq!(first["password"], "t\"k");
        assert_eq!(first["auth"], encode_base64(b"app:t\"k"));
        assert!(first.get("email").is_none());
        assert_eq!(auths["mirror.local:5000"]["email"], "ops@example.com");
    }

    #[test]
    fn a_binary_field_in_json_is_refused_by_name() {
        let template = SecretTemplate {
            docker_config_json: Some(DockerConfigJson {
                registries: vec![RegistryAuth {
                    server: "r".into(),
                    username: "u".into(),
                    password: "{{ p | base64decode }}".into(),
                    email: None,
                }],
            }),
            ..Default::default()
        };
        let sources = values(&[("p", "/w==")]);
        let err = typed_keys(&template, &|field, text| render(field, text, &sources)).unwrap_err();
        assert_eq!(
            err,
            ShapeError::NotText {
                field: "template.dockerConfigJson.registries[0].password".into()
            }
        );
    }

    #[test]
    fn each_validated_type_needs_its_keys() {
        let ok = |type_: &str, keys: &[&str]| {
            let data = keys.iter().map(|k| (k.to_string(), SecretValue::new("x")));
            check_required_keys(type_, &data.collect()).is_ok()
        };
        assert!(ok("kubernetes.io/basic-auth", &["password"]));
        assert!(!ok("kubernetes.io/basic-auth", &["user"]));
        assert!(ok("kubernetes.io/dockerconfigjson", &[".dockerconfigjson"]));
        assert!(!ok("kubernetes.io/dockerconfigjson", &["config.json"]));
        assert!(!ok("kubernetes.io/ssh-auth", &["id_rsa"]));
        assert!(!ok("kubernetes.io/tls", &["tls.crt"]));
        assert!(ok("kubernetes.io/tls", &["tls.crt", "tls.key"]));
        assert!(!ok("kubernetes.io/dockercfg", &[]));
        assert!(ok("Opaque", &[]));
    }
}

//! The shape of a VaultSecret's data: per-source decoding, templates for output keys and the
//! typed Secrets (`kubernetes.io/dockerconfigjson`, `kubernetes.io/basic-auth`,
//! `kubernetes.io/ssh-auth`) built from them.

use std::borrow::Cow;
use std::collections::BTreeMap;

use kube::KubeSchema;
use serde::{Deserialize, Serialize};

/// How a vault secret's text becomes the bytes of a Secret key.
#[derive(
    Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema,
)]
pub enum Decoding {
    /// The value as stored in the vault (default).
    #[default]
    None,
    /// Standard base64 (padding optional, line breaks ignored), for binary values such as a
    /// keystore stored as text.
    Base64,
    /// URL-safe base64 (`-` and `_`; padding optional).
    Base64Url,
    /// Base64 when the vault secret's content type says the value is binary:
    /// `application/x-pkcs12`, `application/octet-stream`, or any type ending in `;base64`.
    /// Otherwise the value as stored.
    Auto,
}

impl Decoding {
    /// Whether this is the default, so that status and specs omit it.
    pub fn is_none(&self) -> bool {
        *self == Decoding::None
    }
}

/// Longest template text for a Secret key.
pub const MAX_TEMPLATE_LEN: u64 = 8192;
/// Longest template text for one field of a typed Secret.
pub const MAX_FIELD_TEMPLATE_LEN: u64 = 1024;

/// The template grammar as an RE2 pattern: text with `{{ operand | filter }}` placeholders,
/// where an operand is a source key or a quoted literal. Admission checks it; the operator parses
/// the same grammar (a unit test holds the two to the same answers) and reports the exact
/// position of any error.
macro_rules! template_pattern {
    () => {
        r#"^(?:[^{]|\{[^{]|\{$|\{\{\s*(?:[-._a-zA-Z0-9]+|"[^"]*")(?:\s*\|\s*(?:base64decode|base64|json|yaml|trim))*\s*\}\})*$"#
    };
}

/// The template grammar as an RE2 pattern, exactly as admission checks it.
pub const TEMPLATE_PATTERN: &str = template_pattern!();
const TEMPLATE_RULE: &str = concat!("self.matches(r'", template_pattern!(), "')");
const TEMPLATE_MESSAGE: &str = "a template is text with placeholders such as {{ password }} or {{ password | json }}: a placeholder names a source key (an item's key or a bulk match's key) or a quoted literal, followed by filters base64, base64decode, json, yaml or trim; write a literal {{ as {{ \"{{\" }}";

/// Text of one template: literal text with `{{ source | filter }}` placeholders.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct TemplateText(pub String);

impl TemplateText {
    /// The template's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl From<&str> for TemplateText {
    fn from(text: &str) -> Self {
        TemplateText(text.to_string())
    }
}

fn template_schema(max_len: u64) -> schemars::Schema {
    schemars::json_schema!({
        "type": "string",
        "maxLength": max_len,
        "x-kubernetes-validations": [{ "rule": TEMPLATE_RULE, "message": TEMPLATE_MESSAGE }],
    })
}

impl schemars::JsonSchema for TemplateText {
    fn schema_name() -> Cow<'static, str> {
        "TemplateText".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        template_schema(MAX_FIELD_TEMPLATE_LEN)
    }
}

/// The Secret keys written from templates: key → template text.
fn template_map_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    schemars::json_schema!({
        "type": "object",
        "maxProperties": 16,
        "additionalProperties": template_schema(MAX_TEMPLATE_LEN),
        "x-kubernetes-validations": [{
            "rule": "self.all(k, k.size() <= 253 && k.matches('^[-._a-zA-Z0-9]+$') && k != '.' && k != '..')",
            "message": "template.data keys are Secret keys: 1-253 letters, digits, '-', '_' or '.', and not '.' or '..'",
        }],
    })
}

/// What the Secret holds when it is not one key per source: templates over the sources and,
/// optionally, one typed Secret. The sources are the explicit items (by `key`) and the bulk
/// matches (by the key their selector gives them); with a template they are inputs only and
/// the Secret holds exactly the keys the template writes.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("[has(self.dockerConfigJson), has(self.basicAuth), has(self.sshAuth)].filter(x, x).size() <= 1").message("give at most one of template.dockerConfigJson, template.basicAuth and template.sshAuth: a Secret has one type"))]
#[x_kube(validation = Rule::new("has(self.dockerConfigJson) || has(self.basicAuth) || has(self.sshAuth) || (has(self.data) && size(self.data) > 0)").message("a template writes nothing: give template.data (Secret key → template) or one of dockerConfigJson, basicAuth, sshAuth"))]
#[x_kube(validation = Rule::new("!has(self.dockerConfigJson) || !has(self.data) || !('.dockerconfigjson' in self.data)").message("template.dockerConfigJson writes the key .dockerconfigjson; remove it from template.data"))]
#[x_kube(validation = Rule::new("!has(self.basicAuth) || !has(self.data) || !('username' in self.data || 'password' in self.data)").message("template.basicAuth writes the keys username and password; remove them from template.data"))]
#[x_kube(validation = Rule::new("!has(self.sshAuth) || !has(self.data) || !('ssh-privatekey' in self.data)").message("template.sshAuth writes the key ssh-privatekey; remove it from template.data"))]
pub struct SecretTemplate {
    /// Secret keys written from templates: key → template text, for example
    /// `url: "postgres://{{ user }}:{{ password }}@db:5432/app"`. At most 16 keys of 8 KiB each.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    #[schemars(schema_with = "template_map_schema")]
    pub data: BTreeMap<String, TemplateText>,
    /// Writes a Secret of type `kubernetes.io/dockerconfigjson` whose `.dockerconfigjson` holds
    /// one `auths` entry per registry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub docker_config_json: Option<DockerConfigJson>,
    /// Writes a Secret of type `kubernetes.io/basic-auth` with the keys `username` and
    /// `password`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub basic_auth: Option<BasicAuth>,
    /// Writes a Secret of type `kubernetes.io/ssh-auth` with the key `ssh-privatekey`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ssh_auth: Option<SshAuth>,
}

impl SecretTemplate {
    /// The Secret type the typed part of this template writes, if any.
    pub fn secret_type(&self) -> Option<&'static str> {
        if self.docker_config_json.is_some() {
            Some(DOCKER_CONFIG_JSON_TYPE)
        } else if self.basic_auth.is_some() {
            Some(BASIC_AUTH_TYPE)
        } else if self.ssh_auth.is_some() {
            Some(SSH_AUTH_TYPE)
        } else {
            None
        }
    }
}

/// Type of a Secret holding a Docker `config.json`.
pub const DOCKER_CONFIG_JSON_TYPE: &str = "kubernetes.io/dockerconfigjson";
/// Type of a Secret holding a username and a password.
pub const BASIC_AUTH_TYPE: &str = "kubernetes.io/basic-auth";
/// Type of a Secret holding an SSH private key.
pub const SSH_AUTH_TYPE: &str = "kubernetes.io/ssh-auth";

/// The registries of a `.dockerconfigjson`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct DockerConfigJson {
    /// One entry per registry server (1-16, servers unique).
    #[schemars(length(min = 1, max = 16))]
    #[x_kube(validation = Rule::new("self.all(a, self.exists_one(b, a.server == b.server))").message("dockerConfigJson.registries has the same server twice: every server must be unique"))]
    pub registries: Vec<RegistryAuth>,
}

/// Credentials for one registry; each field is a template (plain text is a literal).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct RegistryAuth {
    /// Registry server as Docker names it, for example `registry.example.com` or
    /// `https://index.docker.io/v1/`.
    #[schemars(length(min = 1))]
    pub server: TemplateText,
    /// Username, for example `{{ registry-user }}`.
    pub username: TemplateText,
    /// Password or token, for example `{{ registry-password }}`.
    pub password: TemplateText,
    /// Optional email, as some old registries want it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<TemplateText>,
}

/// Username and password of a `kubernetes.io/basic-auth` Secret; each field is a template.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
#[x_kube(validation = Rule::new("has(self.username) || has(self.password)").message("template.basicAuth needs username or password (Kubernetes requires at least one of them)"))]
pub struct BasicAuth {
    /// Username, for example `{{ user }}` or a literal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub username: Option<TemplateText>,
    /// Password, for example `{{ password }}`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub password: Option<TemplateText>,
}

/// The private key of a `kubernetes.io/ssh-auth` Secret.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize, KubeSchema)]
#[serde(rename_all = "camelCase")]
pub struct SshAuth {
    /// The private key, usually `{{ deploy-key }}`.
    pub private_key: TemplateText,
}

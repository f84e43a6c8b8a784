//! From the values read for a VaultSecret's sources to the Secret's data and type: one key per
//! source, or the keys its template writes (templates and a typed Secret). Pure.

use std::collections::BTreeMap;

use super::template::{Template, TemplateError};
use super::typed;
use crate::crd::{SecretTemplate, TemplateText};
use crate::vault::SecretValue;

/// Largest output of one template: a Secret holds at most 1 MiB in all.
pub const MAX_TEMPLATE_OUTPUT: usize = 256 * 1024;

/// Why the sources could not be shaped into the Secret. Never carries a value.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ShapeError {
    /// A template is malformed, names a source that is not there, or a filter failed.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// A field that goes into JSON rendered to bytes that are not text.
    #[error("{field} rendered to bytes that are not UTF-8 text; it goes into JSON")]
    NotText {
        /// The field's place in the spec.
        field: String,
    },
    /// The Secret lacks the keys its type requires.
    #[error(
        "a Secret of type {type_} needs {needs}, but it would have the keys [{have}]; add them as items or in template.data"
    )]
    MissingKeys {
        /// The Secret type.
        type_: String,
        /// What the type requires.
        needs: &'static str,
        /// The keys it would have.
        have: String,
    },
}

impl ShapeError {
    /// Whether only an edit of the spec can fix this (a malformed template), rather than a
    /// change in the vault (a missing bulk match, a value a filter cannot take).
    pub fn is_spec_error(&self) -> bool {
        match self {
            ShapeError::Template(err) => err.problem.is_syntax(),
            ShapeError::NotText { .. } | ShapeError::MissingKeys { .. } => false,
        }
    }
}

/// The Secret's data: the sources as they are without a template, else what the template
/// writes. `type_` is the Secret's type, whose required keys are checked either way.
pub fn shape(
    template: Option<&SecretTemplate>,
    type_: &str,
    sources: BTreeMap<String, SecretValue>,
) -> Result<BTreeMap<String, SecretValue>, ShapeError> {
    let data = match template {
        None => sources,
        Some(template) => templated(template, &sources)?,
    };
    typed::check_required_keys(type_, &data)?;
    Ok(data)
}

fn templated(
    template: &SecretTemplate,
    sources: &BTreeMap<String, SecretValue>,
) -> Result<BTreeMap<String, SecretValue>, ShapeError> {
    let render_field = |field: &str, text: &TemplateText| render(field, text, sources);
    let mut data = BTreeMap::new();
    for (key, text) in &template.data {
        let value = render_field(&format!("template.data.{key}"), text)?;
        data.insert(key.clone(), value);
    }
    data.extend(typed::typed_keys(template, &render_field)?);
    Ok(data)
}

/// Parses and renders one template over the sources.
pub fn render(
    field: &str,
    text: &TemplateText,
    sources: &BTreeMap<String, SecretValue>,
) -> Result<SecretValue, ShapeError> {
    let output = Template::parse(field, text.as_str())?.render(
        |key| sources.get(key).map(SecretValue::expose),
        MAX_TEMPLATE_OUTPUT,
    )?;
    Ok(SecretValue::new(output.to_vec()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{BasicAuth, SshAuth};

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, SecretValue> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), SecretValue::new(*v)))
            .collect()
    }

    fn text(data: &BTreeMap<String, SecretValue>) -> BTreeMap<&str, &str> {
        data.iter()
            .map(|(k, v)| (k.as_str(), v.expose_str().unwrap()))
            .collect()
    }

    #[test]
    fn without_a_template_each_source_is_a_key() {
        let sources = values(&[("a", "1"), ("b", "2")]);
        let data = shape(None, "Opaque", sources.clone()).unwrap();
        assert_eq!(data, sources);
    }

    #[test]
    fn a_template_writes_only_its_keys() {
        let template = SecretTemplate {
            data: [(
                "url".to_string(),
                TemplateText::from("postgres://{{ user }}:{{ password }}@db/app"),
            )]
            .into(),
            ..Default::default()
        };
        let data = shape(
            Some(&template),
            "Opaque",
            values(&[("user", "app"), ("password", "pw")]),
        )
        .unwrap();
        assert_eq!(
            text(&data),
            BTreeMap::from([("url", "postgres://app:pw@db/app")])
        );
    }

    #[test]
    fn typed_shapes_write_their_keys_beside_template_data() {
        let template = SecretTemplate {
            data: [("note".to_string(), TemplateText::from("for {{ user }}"))].into(),
            basic_auth: Some(BasicAuth {
                username: Some("{{ user }}".into()),
                password: Some("{{ password | trim }}".into()),
            }),
            ..Default::default()
        };
        let data = shape(
            Some(&template),
            "kubernetes.io/basic-auth",
            values(&[("user", "app"), ("password", " pw\n")]),
        )
        .unwrap();
        assert_eq!(
            text(&data),
            BTreeMap::from([("note", "for app"), ("password", "pw"), ("username", "app")])
        );
        let ssh = SecretTemplate {
            ssh_auth: Some(SshAuth {
                private_key: "{{ key }}".into(),
            }),
            ..Default::default()
        };
        let data = shape(
            Some(&ssh),
            "kubernetes.io/ssh-auth",
            values(&[("key", "K")]),
        )
        .unwrap();
        assert_eq!(text(&data), BTreeMap::from([("ssh-privatekey", "K")]));
    }

    #[test]
    fn template_errors_name_the_field_and_tell_spec_errors_from_vault_ones() {
        let template = SecretTemplate {
            data: [("url".to_string(), TemplateText::from("{{ user | nope }}"))].into(),
            ..Default::default()
        };
        let err = shape(Some(&template), "Opaque", values(&[("user", "u")])).unwrap_err();
        assert!(err.is_spec_error());
        assert!(
            err.to_string()
                .starts_with("template template.data.url at line 1, column 11: unknown filter"),
            "{err}"
        );
        let template = SecretTemplate {
            data: [("url".to_string(), TemplateText::from("{{ other }}"))].into(),
            ..Default::default()
        };
        let err = shape(Some(&template), "Opaque", values(&[("user", "u")])).unwrap_err();
        assert!(!err.is_spec_error());
    }

    #[test]
    fn a_type_without_its_keys_is_refused_before_any_write() {
        let err = shape(None, "kubernetes.io/basic-auth", values(&[("user", "u")])).unwrap_err();
        assert_eq!(
            err.to_string(),
            "a Secret of type kubernetes.io/basic-auth needs the key username or password, but it \
             would have the keys [user]; add them as items or in template.data"
        );
    }
}

//! The template filters. Each takes bytes and gives bytes; a failure says why in words that
//! never include the input.

use std::fmt::Write as _;

use zeroize::Zeroizing;

use super::Problem;
use crate::desired::decoding::{decode_base64, encode_base64};

/// One filter of a placeholder.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Filter {
    /// Standard base64, padded.
    Base64,
    /// Standard base64 decoding (padding optional, whitespace ignored).
    Base64Decode,
    /// A JSON string, quotes included.
    Json,
    /// A YAML double-quoted scalar, quotes included.
    Yaml,
    /// Without leading and trailing ASCII whitespace.
    Trim,
}

/// Every filter name, as templates write them.
pub const NAMES: [&str; 5] = ["base64", "base64decode", "json", "yaml", "trim"];

impl Filter {
    /// The filter called `name` in a template.
    pub fn named(name: &str) -> Option<Filter> {
        Some(match name {
            "base64" => Filter::Base64,
            "base64decode" => Filter::Base64Decode,
            "json" => Filter::Json,
            "yaml" => Filter::Yaml,
            "trim" => Filter::Trim,
            _ => return None,
        })
    }

    fn name(self) -> &'static str {
        match self {
            Filter::Base64 => "base64",
            Filter::Base64Decode => "base64decode",
            Filter::Json => "json",
            Filter::Yaml => "yaml",
            Filter::Trim => "trim",
        }
    }

    /// Applies the filter to `input`.
    pub fn apply(self, input: &[u8]) -> Result<Zeroizing<Vec<u8>>, Problem> {
        let fail = |why: &'static str| Problem::Filter {
            filter: self.name(),
            why,
        };
        let text = || std::str::from_utf8(input).map_err(|_| fail("the value is not UTF-8 text"));
        let output = match self {
            Filter::Base64 => encode_base64(input).into_bytes(),
            Filter::Base64Decode => {
                decode_base64(input).map_err(|_| fail("the value is not valid base64"))?
            }
            Filter::Json => serde_json::to_string(text()?)
                .map_err(|_| fail("the value cannot be written as JSON"))?
                .into_bytes(),
            Filter::Yaml => yaml_double_quoted(text()?).into_bytes(),
            Filter::Trim => input.trim_ascii().to_vec(),
        };
        Ok(Zeroizing::new(output))
    }
}

/// `text` as a YAML double-quoted scalar: every character outside YAML's printable set, and
/// the line breaks YAML would fold, escaped, so that the scalar reads back as exactly `text`.
fn yaml_double_quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\r' => out.push_str("\\r"),
            '\u{85}' => out.push_str("\\N"),
            '\u{2028}' => out.push_str("\\L"),
            '\u{2029}' => out.push_str("\\P"),
            ' '..='\u{7e}'
            | '\u{a0}'..='\u{d7ff}'
            | '\u{e000}'..='\u{fffd}'
            | '\u{10000}'..='\u{10ffff}'
                if c != '\u{feff}' =>
            {
                out.push(c)
            }
            other => {
                let _ = write!(out, "\\u{:04X}", u32::from(other));
            }
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn applied(filter: Filter, input: &[u8]) -> Vec<u8> {
        filter.apply(input).unwrap().to_vec()
    }

    #[test]
    fn base64_round_trips_binary() {
        let binary: Vec<u8> = (0..=255).rev().collect();
        let encoded = applied(Filter::Base64, &binary);
        assert_eq!(applied(Filter::Base64Decode, &encoded), binary);
        assert_eq!(applied(Filter::Base64, b"user:pw"), b"dXNlcjpwdw==");
    }

    #[test]
    fn json_quotes_and_escapes() {
        assert_eq!(
            applied(Filter::Json, "a\"b\\c\nd\u{1}".as_bytes()),
            br#""a\"b\\c\nd\u0001""#
        );
    }

    #[test]
    fn yaml_scalar_reads_back_as_the_exact_text() {
        let nasty =
            "key: \"v\" # not a comment\n\t- [x]\r\\ \u{85}\u{2028}\u{feff}\u{7f}\u{1}é😀 '";
        let quoted = String::from_utf8(applied(Filter::Yaml, nasty.as_bytes())).unwrap();
        let document = format!("value: {quoted}\n");
        let parsed: std::collections::BTreeMap<String, String> =
            serde_saphyr::from_str(&document).unwrap();
        assert_eq!(parsed["value"], nasty);
    }

    #[test]
    fn trim_removes_surrounding_whitespace_only() {
        assert_eq!(applied(Filter::Trim, b" \t a b \r\n"), b"a b");
    }

    #[test]
    fn failures_name_the_filter_and_never_the_value() {
        for (filter, input) in [
            (Filter::Base64Decode, b"s3cr3t!!".as_slice()),
            (Filter::Json, b"s3cr3t\xff".as_slice()),
            (Filter::Yaml, b"s3cr3t\xfe".as_slice()),
        ] {
            let problem = filter.apply(input).unwrap_err();
            let text = problem.to_string();
            assert!(
                text.starts_with(&format!("filter {}:", filter.name())),
                "{text}"
            );
            assert!(!text.contains("s3cr3t"), "{text}");
        }
    }
}

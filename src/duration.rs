//! Go-style durations (`15s`, `1m30s`, `720h`): the one parser the command line and the CRDs
//! share, and the typed spec field that is parsed once, when the object is read.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Parses a Go-style duration: one or more decimal numbers each followed by a unit among `h`,
/// `m`, `s`, `ms`, `us` (or `µs`) and `ns`, e.g. `15s`, `500ms`, `1m30s`, `1.5s`; or `0`.
pub fn parse(text: &str) -> Result<Duration, String> {
    let invalid = || format!("invalid duration {text:?}: expected e.g. 15s, 500ms or 1m30s");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0f64;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let (number, tail) = rest.split_at(number_len);
        if number.is_empty() || number == "." {
            return Err(invalid());
        }
        let value: f64 = number.parse().map_err(|_| invalid())?;
        let unit_len = tail
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(tail.len());
        let (unit, tail) = tail.split_at(unit_len);
        let seconds_per_unit = match unit {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            "us" | "µs" => 1e-6,
            "ns" => 1e-9,
            _ => return Err(invalid()),
        };
        total += value * seconds_per_unit;
        rest = tail;
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// A duration field of a spec: the text as written (shown back in messages and kept on
/// round-trips) and its value, parsed once when the object is deserialised.
///
/// A value that does not parse does not fail deserialisation: admission (schema pattern and
/// CEL) refuses such values, and one stored object that slipped past must not break the watch
/// of every other one. It surfaces as an `InvalidSpec` condition through [`SpecDuration::get`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SpecDuration {
    text: String,
    parsed: Result<Duration, String>,
}

impl SpecDuration {
    /// The duration written as `text`.
    pub fn new(text: impl Into<String>) -> Self {
        let text = text.into();
        let parsed = match parse(&text) {
            Ok(Duration::ZERO) => Err(format!("duration {text:?} must be longer than zero")),
            other => other,
        };
        SpecDuration { text, parsed }
    }

    /// The value, or why the text is not a usable duration.
    pub fn get(&self) -> Result<Duration, &str> {
        self.parsed.as_ref().copied().map_err(String::as_str)
    }

    /// The text as written in the spec.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl From<&str> for SpecDuration {
    fn from(text: &str) -> Self {
        SpecDuration::new(text)
    }
}

impl fmt::Display for SpecDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SpecDuration {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SpecDuration {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        String::deserialize(deserializer).map(SpecDuration::new)
    }
}

impl schemars::JsonSchema for SpecDuration {
    fn schema_name() -> Cow<'static, str> {
        "SpecDuration".into()
    }

    fn inline_schema() -> bool {
        true
    }

    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        String::json_schema(generator)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::{SpecDuration, parse};

    #[test]
    fn go_style_durations_parse() {
        assert_eq!(parse("15s"), Ok(Duration::from_secs(15)));
        assert_eq!(parse("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse("1m30s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse("1h"), Ok(Duration::from_secs(3600)));
        assert_eq!(parse("1.5s"), Ok(Duration::from_millis(1500)));
        assert_eq!(parse("250us"), Ok(Duration::from_micros(250)));
        assert_eq!(parse("0"), Ok(Duration::ZERO));
        for bad in [
            "", "10", "s", "-1s", "5x", "1.2.3s", ".s", "1s2", "15 s", "1h 2m",
        ] {
            assert!(parse(bad).is_err(), "{bad:?} must be rejected");
        }
    }

    #[test]
    fn spec_durations_keep_their_text_and_parse_once() {
        let interval: SpecDuration = serde_json::from_str("\"1h30m\"").unwrap();
        assert_eq!(interval.get(), Ok(Duration::from_secs(5400)));
        assert_eq!(interval.as_str(), "1h30m");
        assert_eq!(serde_json::to_string(&interval).unwrap(), "\"1h30m\"");
    }

    #[test]
    fn unusable_spec_durations_say_why_instead_of_falling_back() {
        let bad: SpecDuration = serde_json::from_str("\"soon\"").unwrap();
        assert!(bad.get().unwrap_err().contains("\"soon\""));
        let zero = SpecDuration::new("0s");
        assert!(zero.get().unwrap_err().contains("longer than zero"));
    }
}

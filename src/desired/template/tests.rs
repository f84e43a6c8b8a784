use std::collections::BTreeMap;

use super::*;

fn sources(pairs: &[(&str, &[u8])]) -> BTreeMap<String, Vec<u8>> {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_vec()))
        .collect()
}

fn render(text: &str, values: &BTreeMap<String, Vec<u8>>) -> Result<Vec<u8>, TemplateError> {
    Template::parse("template.data.out", text)?
        .render(|key| values.get(key).map(Vec::as_slice), 1 << 20)
        .map(|out| out.to_vec())
}

fn error_at(text: &str) -> (u32, u32, Problem) {
    let err = render(text, &sources(&[("user", b"u")])).unwrap_err();
    assert_eq!(err.template, "template.data.out");
    (err.at.line, err.at.column, err.problem)
}

#[test]
fn placeholders_are_replaced_and_everything_else_is_literal() {
    let values = sources(&[("host", b"db.internal"), ("db.password", b"p\"w")]);
    let out = render(
        "{\"url\": \"postgres://{{host}}\", \"password\": {{ db.password | json }}} }}",
        &values,
    )
    .unwrap();
    assert_eq!(
        String::from_utf8(out).unwrap(),
        r#"{"url": "postgres://db.internal", "password": "p\"w"} }}"#
    );
}

#[test]
fn filters_chain_left_to_right_and_literals_take_filters() {
    let values = sources(&[("user", b" admin\n"), ("password", b"pw")]);
    let out = render(
        "{{ user | trim }}:{{ password | base64 | base64decode }} {{ \"{{\" }} {{ \"a:b\" | base64 }}",
        &values,
    )
    .unwrap();
    assert_eq!(out, b"admin:pw {{ YTpi");
}

#[test]
fn binary_sources_pass_through_untouched() {
    let binary: Vec<u8> = (0..=255).collect();
    let values = sources(&[("keystore", &binary)]);
    assert_eq!(render("{{ keystore }}", &values).unwrap(), binary);
}

#[test]
fn syntax_errors_give_line_and_column() {
    assert_eq!(error_at("ab\n  {{ user"), (2, 3, Problem::Unclosed));
    assert_eq!(error_at("x {{ }}"), (1, 3, Problem::Empty));
    assert_eq!(
        error_at("{{ user | base65 }}"),
        (1, 11, Problem::UnknownFilter("base65".into()))
    );
    assert_eq!(error_at("{{ user base64 }}"), (1, 9, Problem::ExpectedPipe));
    assert_eq!(error_at("{{ {user} }}"), (1, 4, Problem::BadOperand));
    assert_eq!(
        error_at("{{ \"open }}"),
        (1, 4, Problem::UnterminatedLiteral)
    );
    assert_eq!(error_at("{{ user |"), (1, 1, Problem::Unclosed));
    assert_eq!(error_at("{{ user | }}"), (1, 11, Problem::MissingFilter));
}

#[test]
fn an_unknown_source_is_named_with_its_position() {
    let (line, column, problem) = error_at("a\nb {{ password }}");
    assert_eq!((line, column), (2, 6));
    assert_eq!(problem, Problem::UnknownSource("password".into()));
}

#[test]
fn errors_on_real_values_never_contain_them() {
    let values = sources(&[("password", b"hunter2-not-base64!")]);
    let err = render("x\n{{ password | trim | base64decode }}", &values).unwrap_err();
    let text = err.to_string();
    assert_eq!(
        text,
        "template template.data.out at line 2, column 22: filter base64decode: the value is not valid base64"
    );
    assert!(!text.contains("hunter2") && !format!("{err:?}").contains("hunter2"));
}

#[test]
fn output_is_bounded() {
    let values = sources(&[("big", &[b'a'; 1000])]);
    let template = Template::parse("t", "{{ big }}{{ big }}").unwrap();
    let err = template
        .render(|key| values.get(key).map(Vec::as_slice), 1500)
        .unwrap_err();
    assert_eq!((err.at.line, err.at.column), (1, 13));
    assert_eq!(err.problem, Problem::TooLarge(1500));
    // Growth through filters is caught at the filter that passes the limit.
    let err = Template::parse("t", "{{ big | base64 | base64 }}")
        .unwrap()
        .render(|key| values.get(key).map(Vec::as_slice), 1500)
        .unwrap_err();
    assert_eq!((err.at.line, err.at.column), (1, 19));
}

#[test]
fn sources_lists_the_keys_read() {
    let template = Template::parse("t", "{{ a }}{{ \"b\" }}{{ c | trim }}").unwrap();
    assert_eq!(template.sources().collect::<Vec<_>>(), ["a", "c"]);
}

/// Admission's regular expression and this parser accept exactly the same templates: a fixed
/// list of tricky cases, then many random sequences of the grammar's tokens.
#[test]
fn admission_accepts_exactly_what_the_parser_accepts() {
    // RE2, as the API server runs it: `\s` is ASCII whitespace, `[^{]` any character.
    let admission = regex::bytes::RegexBuilder::new(crate::crd::TEMPLATE_PATTERN)
        .unicode(false)
        .build()
        .unwrap();
    let agree = |text: &str| {
        let parsed = Template::parse("t", text).is_ok();
        assert_eq!(admission.is_match(text.as_bytes()), parsed, "{text:?}");
        parsed
    };
    for valid in [
        "",
        "plain",
        "{",
        "a{b",
        "}}",
        "{{a}}",
        "{{ a | json | yaml }}",
        "{\"k\": {{ a | json }}}",
        "{{ \"{{\" }}",
        "{{\n a \n}}",
        "x{{a}}y{{b|trim}}",
        "{{ a-b.c_d }}",
    ] {
        assert!(agree(valid), "{valid:?}");
    }
    for invalid in [
        "{{",
        "{{ }}",
        "{{ a",
        "{{ a | }}",
        "{{ a | nope }}",
        "{{ a b }}",
        "{{{ a }}",
        "{{ \"x }}",
        "{{ a |json",
        "{{ a | base64x }}",
        "{{a}",
    ] {
        assert!(!agree(invalid), "{invalid:?}");
    }
    let tokens = [
        "{{", "}}", "{", "}", "a", " ", "|", "\"", "json", "trim", "x-y", "\n", "base64",
    ];
    let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = move || {
        // xorshift64: deterministic, so a failure reproduces.
        state ^= state << 13;
        state ^= state >> 7;
        state ^= state << 17;
        state
    };
    for _ in 0..20_000 {
        let length = next() % 9;
        let text: String = (0..length)
            .map(|_| tokens[(next() % tokens.len() as u64) as usize])
            .collect();
        agree(&text);
    }
}

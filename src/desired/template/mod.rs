//! A deliberately small template language for Secret keys: literal text with
//! `{{ operand | filter | ... }}` placeholders, where the operand is a source key or a quoted
//! literal and the filters are `base64`, `base64decode`, `json`, `yaml` and `trim`.
//!
//! Why not a general engine: there are no loops, conditions, arithmetic, includes or calls, so
//! rendering is linear in the template and its sources, cannot touch files or the network, and
//! every error has an exact position in text the user wrote. Errors name the template and that
//! position, never a value: a [`Problem`] carries only what the template itself says.

mod filters;

use zeroize::Zeroizing;

pub use filters::Filter;

/// A place in a template's text, 1-based, columns counted in characters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Position {
    /// Line, from 1.
    pub line: u32,
    /// Column, from 1.
    pub column: u32,
}

/// What is wrong, at a [`Position`]. Built only from the template's own text.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum Problem {
    /// `{{` without a matching `}}`.
    #[error("a placeholder opened with {{{{ is never closed with }}}}")]
    Unclosed,
    /// `{{ }}`.
    #[error("empty placeholder: name a source key or a quoted literal")]
    Empty,
    /// Something other than a source key or a literal after `{{`.
    #[error(
        "expected a source key (letters, digits, '-', '_' or '.') or a quoted literal; write a literal {{{{ as {{{{ \"{{{{\" }}}}"
    )]
    BadOperand,
    /// A `"` literal without its closing `"`.
    #[error("a quoted literal is never closed")]
    UnterminatedLiteral,
    /// After the operand or a filter, neither `|` nor `}}`.
    #[error("expected '|' and a filter, or }}}}")]
    ExpectedPipe,
    /// `|` not followed by a filter name.
    #[error("expected a filter name after '|'")]
    MissingFilter,
    /// A filter name that does not exist.
    #[error("unknown filter {0:?}; the filters are {list}", list = filters::NAMES.join(", "))]
    UnknownFilter(String),
    /// The operand names no source of the resource.
    #[error(
        "no source has the key {0:?}; the sources are the data items' keys and the keys of bulk matches"
    )]
    UnknownSource(String),
    /// A filter could not take its input.
    #[error("filter {filter}: {why}")]
    Filter {
        /// The filter's name.
        filter: &'static str,
        /// Why, without the input.
        why: &'static str,
    },
    /// The output grew past the limit.
    #[error("the output would exceed {0} bytes")]
    TooLarge(usize),
}

impl Problem {
    /// Whether the problem is in the template's text itself.
    pub fn is_syntax(&self) -> bool {
        !matches!(
            self,
            Problem::UnknownSource(_) | Problem::Filter { .. } | Problem::TooLarge(_)
        )
    }
}

/// A template error: which template, where, and what. Never a value.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("template {template} at line {}, column {}: {problem}", at.line, at.column)]
pub struct TemplateError {
    /// The template's name (its place in the spec, for example `template.data.url`).
    pub template: String,
    /// Where in its text.
    pub at: Position,
    /// What is wrong.
    pub problem: Problem,
}

/// A parsed template.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Template {
    name: String,
    parts: Vec<Part>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Text(String),
    Placeholder {
        operand: Operand,
        at: Position,
        filters: Vec<(Filter, Position)>,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Operand {
    Source(String),
    Literal(String),
}

impl Template {
    /// Parses `text`; `name` is how errors call the template.
    pub fn parse(name: &str, text: &str) -> Result<Template, TemplateError> {
        let fail = |at: Position, problem: Problem| TemplateError {
            template: name.to_string(),
            at,
            problem,
        };
        let mut cursor = Cursor::new(text);
        let mut parts = Vec::new();
        let mut literal = String::new();
        while let Some(c) = cursor.peek() {
            if cursor.starts_with("{{") {
                if !literal.is_empty() {
                    parts.push(Part::Text(std::mem::take(&mut literal)));
                }
                parts.push(placeholder(&mut cursor).map_err(|(at, p)| fail(at, p))?);
            } else {
                literal.push(c);
                cursor.advance();
            }
        }
        if !literal.is_empty() {
            parts.push(Part::Text(literal));
        }
        Ok(Template {
            name: name.to_string(),
            parts,
        })
    }

    /// The source keys the template reads.
    pub fn sources(&self) -> impl Iterator<Item = &str> {
        self.parts.iter().filter_map(|part| match part {
            Part::Placeholder {
                operand: Operand::Source(key),
                ..
            } => Some(key.as_str()),
            _ => None,
        })
    }

    /// Renders the template with `source` giving each source key's bytes; fails when the output
    /// would pass `limit` bytes.
    pub fn render<'a>(
        &self,
        source: impl Fn(&str) -> Option<&'a [u8]>,
        limit: usize,
    ) -> Result<Zeroizing<Vec<u8>>, TemplateError> {
        let fail = |at: Position, problem: Problem| TemplateError {
            template: self.name.clone(),
            at,
            problem,
        };
        let mut out = Zeroizing::new(Vec::new());
        for part in &self.parts {
            let (bytes, at) = match part {
                Part::Text(text) => (Zeroizing::new(text.as_bytes().to_vec()), None),
                Part::Placeholder {
                    operand,
                    at,
                    filters,
                } => {
                    let mut value = match operand {
                        Operand::Literal(text) => Zeroizing::new(text.as_bytes().to_vec()),
                        Operand::Source(key) => Zeroizing::new(
                            source(key)
                                .ok_or_else(|| fail(*at, Problem::UnknownSource(key.clone())))?
                                .to_vec(),
                        ),
                    };
                    for (filter, filter_at) in filters {
                        value = filter.apply(&value).map_err(|p| fail(*filter_at, p))?;
                        if value.len() > limit {
                            return Err(fail(*filter_at, Problem::TooLarge(limit)));
                        }
                    }
                    (value, Some(*at))
                }
            };
            if out.len() + bytes.len() > limit {
                let at = at.unwrap_or(Position { line: 1, column: 1 });
                return Err(fail(at, Problem::TooLarge(limit)));
            }
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }
}

/// Parses one `{{ ... }}` at the cursor.
fn placeholder(cursor: &mut Cursor) -> Result<Part, (Position, Problem)> {
    let open = cursor.position();
    cursor.advance_by(2);
    cursor.skip_whitespace();
    let at = cursor.position();
    let operand = match cursor.peek() {
        None => return Err((open, Problem::Unclosed)),
        Some('"') => {
            cursor.advance();
            let mut text = String::new();
            loop {
                match cursor.peek() {
                    None => return Err((at, Problem::UnterminatedLiteral)),
                    Some('"') => break,
                    Some(c) => text.push(c),
                }
                cursor.advance();
            }
            cursor.advance();
            Operand::Literal(text)
        }
        Some(c) if is_key_char(c) => Operand::Source(cursor.take_while(is_key_char)),
        Some(_) if cursor.starts_with("}}") => return Err((open, Problem::Empty)),
        Some(_) => return Err((at, Problem::BadOperand)),
    };
    let mut filters = Vec::new();
    loop {
        cursor.skip_whitespace();
        if cursor.starts_with("}}") {
            cursor.advance_by(2);
            return Ok(Part::Placeholder {
                operand,
                at,
                filters,
            });
        }
        match cursor.peek() {
            None => return Err((open, Problem::Unclosed)),
            Some('|') => {
                cursor.advance();
                cursor.skip_whitespace();
                let filter_at = cursor.position();
                if cursor.peek().is_none() {
                    return Err((open, Problem::Unclosed));
                }
                let word = cursor.take_while(|c| c.is_ascii_alphanumeric() || c == '_');
                if word.is_empty() {
                    return Err((filter_at, Problem::MissingFilter));
                }
                let filter = Filter::named(&word).ok_or_else(|| {
                    // Only the template's own text, and never long.
                    let shown: String = word.chars().take(32).collect();
                    (filter_at, Problem::UnknownFilter(shown))
                })?;
                filters.push((filter, filter_at));
            }
            Some(_) => return Err((cursor.position(), Problem::ExpectedPipe)),
        }
    }
}

/// The characters of a Secret key, which is what a source key is.
fn is_key_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.')
}

/// Characters with their line and column.
struct Cursor {
    chars: Vec<char>,
    index: usize,
    line: u32,
    column: u32,
}

impl Cursor {
    fn new(text: &str) -> Cursor {
        Cursor {
            chars: text.chars().collect(),
            index: 0,
            line: 1,
            column: 1,
        }
    }

    fn position(&self) -> Position {
        Position {
            line: self.line,
            column: self.column,
        }
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.index).copied()
    }

    fn starts_with(&self, text: &str) -> bool {
        let rest = &self.chars[self.index..];
        text.chars().count() <= rest.len() && text.chars().zip(rest).all(|(a, b)| a == *b)
    }

    fn advance(&mut self) {
        if let Some(c) = self.peek() {
            self.index += 1;
            if c == '\n' {
                self.line += 1;
                self.column = 1;
            } else {
                self.column += 1;
            }
        }
    }

    fn advance_by(&mut self, count: usize) {
        for _ in 0..count {
            self.advance();
        }
    }

    /// The whitespace the admission rule's `\s` means: space, tab, line feed, form feed,
    /// carriage return.
    fn skip_whitespace(&mut self) {
        while self
            .peek()
            .is_some_and(|c| matches!(c, ' ' | '\t' | '\n' | '\r' | '\x0c'))
        {
            self.advance();
        }
    }

    fn take_while(&mut self, keep: impl Fn(char) -> bool) -> String {
        let mut taken = String::new();
        while let Some(c) = self.peek().filter(|c| keep(*c)) {
            taken.push(c);
            self.advance();
        }
        taken
    }
}

#[cfg(test)]
mod tests;

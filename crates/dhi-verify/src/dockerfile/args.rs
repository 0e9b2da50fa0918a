//! `ARG` scopes and variable expansion, as BuildKit's shell lexer does it
//! (`frontend/dockerfile/shell/lex.go`): quotes, the escape character,
//! `$VAR`, `${VAR}`, `${VAR:-default}`, `${VAR-default}`, `${VAR:+word}`,
//! `${VAR+word}`, `${VAR:?message}` and `${VAR?message}`. It owns which value
//! a name has in a scope and what a word expands to; it does not decide where
//! words come from.
//!
//! Off-spec: BuildKit expands an unset variable to the empty string. Here a
//! plain `$VAR` or `${VAR}` whose ARG is undeclared, or declared without a
//! value, is an error: an image reference built from a missing value would
//! name a different image than the author meant.

use std::collections::BTreeMap;

use super::DockerfileError;

/// The deepest `${…${…}…}` nesting expanded; deeper is an error, not a stack overflow.
pub const MAX_EXPANSION_DEPTH: usize = 32;

/// The most bytes all expansions of one Dockerfile may produce (16 MiB): ARG
/// defaults that double each other (`ARG B=$A$A`) cannot exhaust memory.
pub const EXPANSION_BUDGET: usize = 16 << 20;

/// The platform ARGs BuildKit defines for every build (Dockerfile reference,
/// "Automatic platform ARGs in the global scope"). Their values depend on the
/// builder, so here they are known only when given as build arguments.
pub(crate) const AUTOMATIC_ARGS: [&str; 8] = [
    "BUILDPLATFORM",
    "BUILDOS",
    "BUILDARCH",
    "BUILDVARIANT",
    "TARGETPLATFORM",
    "TARGETOS",
    "TARGETARCH",
    "TARGETVARIANT",
];

/// The value an ARG has in a scope.
#[derive(Debug, Clone)]
pub(crate) enum ArgValue {
    /// Declared with a default or given as a build argument.
    Value(String),
    /// Declared on `line` without a default, and not given as a build argument.
    NoValue { line: usize },
    /// Its default could not be expanded; the error is reported where it is used.
    Broken(Box<DockerfileError>),
}

/// What a name means in a scope.
#[derive(Debug)]
pub(crate) enum Lookup<'a> {
    Set(&'a str),
    NoValue { line: usize },
    Undeclared { automatic: bool },
    Broken(&'a DockerfileError),
}

/// The ARGs visible at one point: the global scope (before the first FROM,
/// visible to FROM lines) or one stage's scope.
#[derive(Debug)]
pub(crate) struct Scope<'b> {
    vars: BTreeMap<String, ArgValue>,
    build_args: &'b BTreeMap<String, String>,
    global: bool,
}

impl<'b> Scope<'b> {
    /// The global scope: ARGs before the first FROM, plus automatic platform
    /// ARGs given as build arguments.
    pub fn global(build_args: &'b BTreeMap<String, String>) -> Self {
        Scope {
            vars: BTreeMap::new(),
            build_args,
            global: true,
        }
    }

    /// A stage's scope: only ARGs declared inside the stage are visible.
    pub fn stage(build_args: &'b BTreeMap<String, String>) -> Self {
        Scope {
            vars: BTreeMap::new(),
            build_args,
            global: false,
        }
    }

    /// What `name` means here.
    pub fn lookup(&self, name: &str) -> Lookup<'_> {
        match self.vars.get(name) {
            Some(ArgValue::Value(v)) => Lookup::Set(v),
            Some(ArgValue::NoValue { line }) => Lookup::NoValue { line: *line },
            Some(ArgValue::Broken(e)) => Lookup::Broken(e),
            None => {
                let automatic = AUTOMATIC_ARGS.contains(&name);
                match self.build_args.get(name) {
                    Some(v) if automatic && self.global => Lookup::Set(v),
                    _ => Lookup::Undeclared { automatic },
                }
            }
        }
    }

    /// Declares `ARG name[=default]` on `line`. A build argument wins over the
    /// default; without either, a stage ARG inherits the global value
    /// (Dockerfile reference, "Scope" and "Using ARG variables").
    pub fn declare(
        &mut self,
        name: &str,
        default: Option<&str>,
        line: usize,
        escape: char,
        globals: Option<&Scope<'_>>,
        budget: &mut usize,
    ) {
        let value = if let Some(v) = self.build_args.get(name) {
            ArgValue::Value(v.clone())
        } else if let Some(word) = default {
            match expand(word, escape, self, budget) {
                Ok(v) => ArgValue::Value(v),
                Err(e) => ArgValue::Broken(Box::new(e.into_error(line, word))),
            }
        } else {
            match globals.map(|g| g.lookup(name)) {
                Some(Lookup::Set(v)) => ArgValue::Value(v.to_owned()),
                Some(Lookup::Broken(e)) => ArgValue::Broken(Box::new(e.clone())),
                _ => ArgValue::NoValue { line },
            }
        };
        self.vars.insert(name.to_owned(), value);
    }
}

/// Why a word did not expand.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ExpandError {
    Undeclared { name: String, automatic: bool },
    NoValue { name: String, arg_line: usize },
    Required { name: String, message: String },
    Syntax(String),
    TooLarge,
    Arg(Box<DockerfileError>),
}

impl ExpandError {
    /// The Dockerfile error for this failure in `word` on `line`.
    pub fn into_error(self, line: usize, word: &str) -> DockerfileError {
        match self {
            ExpandError::Undeclared {
                name,
                automatic: true,
            } => DockerfileError::PlatformArg { line, name },
            ExpandError::Undeclared { name, .. } => DockerfileError::UndeclaredArg { line, name },
            ExpandError::NoValue { name, arg_line } => DockerfileError::ArgWithoutValue {
                line,
                name,
                arg_line,
            },
            ExpandError::Required { name, message } => DockerfileError::RequiredArg {
                line,
                name,
                message,
            },
            ExpandError::Syntax(reason) => DockerfileError::BadSubstitution {
                line,
                word: word.chars().take(200).collect(),
                reason,
            },
            ExpandError::TooLarge => DockerfileError::ExpansionTooLarge {
                line,
                limit: EXPANSION_BUDGET,
            },
            ExpandError::Arg(e) => *e,
        }
    }
}

/// Expands `word` in `scope`: quotes removed, escapes applied, variables
/// substituted. `budget` is decreased by the bytes produced.
pub(crate) fn expand(
    word: &str,
    escape: char,
    scope: &Scope<'_>,
    budget: &mut usize,
) -> Result<String, ExpandError> {
    let mut lexer = Lexer {
        chars: word.chars().collect(),
        pos: 0,
        escape,
        scope,
        budget,
        depth: 0,
    };
    lexer.process(None, true)
}

struct Lexer<'a, 'b> {
    chars: Vec<char>,
    pos: usize,
    escape: char,
    scope: &'a Scope<'b>,
    budget: &'a mut usize,
    depth: usize,
}

impl Lexer<'_, '_> {
    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek();
        if c.is_some() {
            self.pos += 1;
        }
        c
    }

    fn emit(&mut self, out: &mut String, s: &str) -> Result<(), ExpandError> {
        if s.len() > *self.budget {
            return Err(ExpandError::TooLarge);
        }
        *self.budget -= s.len();
        out.push_str(s);
        Ok(())
    }

    fn emit_char(&mut self, out: &mut String, c: char) -> Result<(), ExpandError> {
        let mut buf = [0u8; 4];
        self.emit(out, c.encode_utf8(&mut buf))
    }

    /// Reads up to `stop` (consumed) or the end. With `eval` false the text
    /// is only scanned: variables are not looked up and cannot fail.
    fn process(&mut self, stop: Option<char>, eval: bool) -> Result<String, ExpandError> {
        let mut out = String::new();
        while let Some(c) = self.peek() {
            if Some(c) == stop {
                self.pos += 1;
                return Ok(out);
            }
            match c {
                '\'' => {
                    let s = self.single_quote()?;
                    self.emit(&mut out, &s)?;
                }
                '"' => {
                    let s = self.double_quote(eval)?;
                    self.emit(&mut out, &s)?;
                }
                '$' => {
                    let s = self.dollar(eval)?;
                    self.emit(&mut out, &s)?;
                }
                _ => {
                    self.pos += 1;
                    let c = if c == self.escape {
                        // The escape character escapes the next one, except at the end.
                        match self.next() {
                            Some(x) => x,
                            None => break,
                        }
                    } else {
                        c
                    };
                    self.emit_char(&mut out, c)?;
                }
            }
        }
        match stop {
            Some(s) => Err(ExpandError::Syntax(format!(
                "unexpected end of statement while looking for matching {s}"
            ))),
            None => Ok(out),
        }
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.next() {
                None => {
                    return Err(ExpandError::Syntax(
                        "unexpected end of statement while looking for matching single-quote"
                            .to_owned(),
                    ))
                }
                Some('\'') => return Ok(out),
                Some(c) => out.push(c),
            }
        }
    }

    fn double_quote(&mut self, eval: bool) -> Result<String, ExpandError> {
        self.pos += 1;
        let mut out = String::new();
        loop {
            match self.peek() {
                None => {
                    return Err(ExpandError::Syntax(
                        "unexpected end of statement while looking for matching double-quote"
                            .to_owned(),
                    ))
                }
                Some('"') => {
                    self.pos += 1;
                    return Ok(out);
                }
                Some('$') => {
                    let s = self.dollar(eval)?;
                    self.emit(&mut out, &s)?;
                }
                Some(c) => {
                    self.pos += 1;
                    let mut c = c;
                    if c == self.escape {
                        match self.peek() {
                            // An escape at the end of the word is dropped.
                            None => continue,
                            // Only these can be escaped inside double quotes.
                            Some(x) if x == '"' || x == '$' || x == self.escape => {
                                self.pos += 1;
                                c = x;
                            }
                            Some(_) => {}
                        }
                    }
                    self.emit_char(&mut out, c)?;
                }
            }
        }
    }

    fn name(&mut self) -> String {
        let mut name = String::new();
        match self.peek() {
            Some(c) if c.is_ascii_digit() => {
                while let Some(d) = self.peek().filter(char::is_ascii_digit) {
                    self.pos += 1;
                    name.push(d);
                }
                return name;
            }
            Some(c) if matches!(c, '@' | '*' | '#' | '?' | '-' | '$' | '!') => {
                self.pos += 1;
                name.push(c);
                return name;
            }
            _ => {}
        }
        while let Some(c) = self.peek() {
            if !(c.is_alphanumeric() || c == '_') {
                break;
            }
            self.pos += 1;
            name.push(c);
        }
        name
    }

    /// The value of `name`: `Ok(None)` if unset (no value), an error only
    /// for broken defaults.
    fn value(&self, name: &str) -> Result<Option<String>, ExpandError> {
        match self.scope.lookup(name) {
            Lookup::Set(v) => Ok(Some(v.to_owned())),
            Lookup::Broken(e) => Err(ExpandError::Arg(Box::new(e.clone()))),
            Lookup::NoValue { .. } | Lookup::Undeclared { .. } => Ok(None),
        }
    }

    /// The value of `name`, which must have one.
    fn required(&self, name: &str) -> Result<String, ExpandError> {
        match self.scope.lookup(name) {
            Lookup::Set(v) => Ok(v.to_owned()),
            Lookup::Broken(e) => Err(ExpandError::Arg(Box::new(e.clone()))),
            Lookup::NoValue { line } => Err(ExpandError::NoValue {
                name: name.to_owned(),
                arg_line: line,
            }),
            Lookup::Undeclared { automatic } => Err(ExpandError::Undeclared {
                name: name.to_owned(),
                automatic,
            }),
        }
    }

    fn dollar(&mut self, eval: bool) -> Result<String, ExpandError> {
        self.pos += 1;
        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return if eval {
                self.required(&name)
            } else {
                Ok(String::new())
            };
        }
        self.pos += 1;
        match self.peek() {
            None => return Err(ExpandError::Syntax("missing '}'".to_owned())),
            Some('{' | '}' | ':') => {
                return Err(ExpandError::Syntax("bad substitution".to_owned()))
            }
            Some(_) => {}
        }
        self.depth += 1;
        if self.depth > MAX_EXPANSION_DEPTH {
            return Err(ExpandError::Syntax(format!(
                "substitutions nested deeper than {MAX_EXPANSION_DEPTH}"
            )));
        }
        let name = self.name();
        let result = self.substitution(&name, eval);
        self.depth -= 1;
        result
    }

    /// After `${name`: the closing brace or a modifier and its word.
    fn substitution(&mut self, name: &str, eval: bool) -> Result<String, ExpandError> {
        let (colon, modifier) = match self.next() {
            None => return Err(ExpandError::Syntax("missing '}'".to_owned())),
            Some('}') => {
                return if eval {
                    self.required(name)
                } else {
                    Ok(String::new())
                }
            }
            Some(':') => match self.next() {
                Some(m @ ('-' | '+' | '?')) => (true, m),
                Some(m) => {
                    return Err(ExpandError::Syntax(format!(
                        "unsupported modifier ({m}) in substitution"
                    )))
                }
                None => return Err(ExpandError::Syntax("missing '}'".to_owned())),
            },
            Some(m @ ('-' | '+' | '?')) => (false, m),
            Some(m) => {
                return Err(ExpandError::Syntax(format!(
                    "unsupported modifier ({m}) in substitution"
                )))
            }
        };
        let value = if eval { self.value(name)? } else { None };
        // With ':' an empty value counts as unset.
        let set = match &value {
            Some(v) => !colon || !v.is_empty(),
            None => false,
        };
        let needs_word = eval
            && match modifier {
                '+' => set,
                _ => !set,
            };
        let word = self.process(Some('}'), needs_word)?;
        if !eval {
            return Ok(String::new());
        }
        match modifier {
            '+' => Ok(if set { word } else { String::new() }),
            '-' => Ok(if set { value.unwrap_or_default() } else { word }),
            _ => {
                if set {
                    Ok(value.unwrap_or_default())
                } else {
                    Err(ExpandError::Required {
                        name: name.to_owned(),
                        message: if word.is_empty() {
                            "is not allowed to be unset".to_owned()
                        } else {
                            word.chars().take(200).collect()
                        },
                    })
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope_with<'a>(
        build_args: &'a BTreeMap<String, String>,
        defs: &[(&str, Option<&str>)],
    ) -> Scope<'a> {
        let mut scope = Scope::global(build_args);
        let mut budget = EXPANSION_BUDGET;
        for (i, (name, default)) in defs.iter().enumerate() {
            scope.declare(name, *default, i + 1, '\\', None, &mut budget);
        }
        scope
    }

    fn x(word: &str, scope: &Scope<'_>) -> Result<String, ExpandError> {
        let mut budget = EXPANSION_BUDGET;
        expand(word, '\\', scope, &mut budget)
    }

    #[test]
    fn plain_and_braced_variables_expand_to_their_arg_default() {
        let none = BTreeMap::new();
        let s = scope_with(
            &none,
            &[("PY", Some("3.13")), ("IMG", Some("dhi.io/python:$PY"))],
        );
        assert_eq!(x("$IMG", &s).unwrap(), "dhi.io/python:3.13");
        assert_eq!(x("python:${PY}-dev", &s).unwrap(), "python:3.13-dev");
        assert_eq!(x("a$", &s).unwrap(), "a$");
    }

    #[test]
    fn build_arguments_override_arg_defaults() {
        let args = BTreeMap::from([("PY".to_owned(), "3.12".to_owned())]);
        let s = scope_with(&args, &[("PY", Some("3.13"))]);
        assert_eq!(x("$PY", &s).unwrap(), "3.12");
    }

    #[test]
    fn build_arguments_for_undeclared_names_are_not_visible() {
        let args = BTreeMap::from([("PY".to_owned(), "3.12".to_owned())]);
        let s = scope_with(&args, &[]);
        assert_eq!(
            x("$PY", &s),
            Err(ExpandError::Undeclared {
                name: "PY".into(),
                automatic: false
            })
        );
    }

    #[test]
    fn default_and_alternative_modifiers_follow_the_shell() {
        let none = BTreeMap::new();
        let s = scope_with(
            &none,
            &[("EMPTY", Some("")), ("SET", Some("v")), ("NOVAL", None)],
        );
        assert_eq!(x("${UNDECLARED:-d}", &s).unwrap(), "d");
        assert_eq!(x("${NOVAL:-d}", &s).unwrap(), "d");
        assert_eq!(x("${EMPTY:-d}", &s).unwrap(), "d");
        assert_eq!(x("${EMPTY-d}", &s).unwrap(), "");
        assert_eq!(x("${SET:-d}", &s).unwrap(), "v");
        assert_eq!(x("${SET:+w}", &s).unwrap(), "w");
        assert_eq!(x("${EMPTY:+w}", &s).unwrap(), "");
        assert_eq!(x("${EMPTY+w}", &s).unwrap(), "w");
        assert_eq!(x("${UNDECLARED:+w}", &s).unwrap(), "");
        assert_eq!(x("${UNDECLARED:-${SET}x}", &s).unwrap(), "vx");
    }

    #[test]
    fn an_unused_default_is_not_evaluated() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[("SET", Some("v"))]);
        assert_eq!(x("${SET:-$MISSING}", &s).unwrap(), "v");
        assert_eq!(x("${MISSING:+$ALSO_MISSING}", &s).unwrap(), "");
    }

    #[test]
    fn a_variable_without_value_is_an_error_naming_its_arg_line() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[("A", Some("1")), ("TAG", None)]);
        assert_eq!(
            x("py:$TAG", &s),
            Err(ExpandError::NoValue {
                name: "TAG".into(),
                arg_line: 2
            })
        );
    }

    #[test]
    fn the_required_modifier_fails_with_its_message() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[]);
        assert_eq!(
            x("${TAG:?set TAG}", &s),
            Err(ExpandError::Required {
                name: "TAG".into(),
                message: "set TAG".into()
            })
        );
    }

    #[test]
    fn quotes_and_escapes_are_removed_and_single_quotes_do_not_expand() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[("A", Some("x"))]);
        assert_eq!(x("\"py:$A\"", &s).unwrap(), "py:x");
        assert_eq!(x("'py:$A'", &s).unwrap(), "py:$A");
        assert_eq!(x("py:\\$A", &s).unwrap(), "py:$A");
        assert_eq!(x("\"a\\\"b\\c\"", &s).unwrap(), "a\"b\\c");
    }

    #[test]
    fn malformed_substitutions_are_syntax_errors() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[("A", Some("x"))]);
        for bad in [
            "${A", "${}", "${:-x}", "${A#x}", "${A:=x}", "'open", "\"open", "${A:-x",
        ] {
            assert!(matches!(x(bad, &s), Err(ExpandError::Syntax(_))), "{bad}");
        }
    }

    #[test]
    fn automatic_platform_args_are_known_only_from_build_arguments() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[]);
        assert_eq!(
            x("$TARGETARCH", &s),
            Err(ExpandError::Undeclared {
                name: "TARGETARCH".into(),
                automatic: true
            })
        );
        let args = BTreeMap::from([("TARGETARCH".to_owned(), "arm64".to_owned())]);
        let s = scope_with(&args, &[]);
        assert_eq!(x("$TARGETARCH", &s).unwrap(), "arm64");
    }

    #[test]
    fn doubling_defaults_hit_the_expansion_budget_instead_of_memory() {
        let none = BTreeMap::new();
        let mut scope = Scope::global(&none);
        let mut budget = EXPANSION_BUDGET;
        scope.declare("A0", Some("xxxxxxxxxxxxxxxx"), 1, '\\', None, &mut budget);
        for i in 1..64 {
            let word = format!("$A{}$A{}", i - 1, i - 1);
            scope.declare(
                &format!("A{i}"),
                Some(&word),
                i + 1,
                '\\',
                None,
                &mut budget,
            );
        }
        let err = x("$A63", &scope).unwrap_err();
        assert!(
            matches!(err, ExpandError::Arg(ref e) if matches!(**e, DockerfileError::ExpansionTooLarge { .. })),
            "{err:?}"
        );
    }

    #[test]
    fn deeply_nested_substitutions_are_an_error_not_a_stack_overflow() {
        let none = BTreeMap::new();
        let s = scope_with(&none, &[]);
        let word = "${A:-".repeat(10_000) + &"}".repeat(10_000);
        assert!(matches!(x(&word, &s), Err(ExpandError::Syntax(_))));
    }
}

//! Instructions into build stages: `FROM [--platform=…] image [AS name]`
//! expanded with the global ARGs, stages that build on earlier stages,
//! `COPY --from=` and `RUN --mount=…,from=` sources, the dependency graph
//! (cycles are errors) and `--target` pruning. It owns what each stage builds
//! on; it does not verify or resolve anything.

use std::collections::BTreeMap;
use std::ops::Range;

use super::args::{expand, ExpandError, Scope, EXPANSION_BUDGET};
use super::lexer::{self, Instruction};
use super::{Base, DockerfileError, Source, SourceFrom, Stage, UseKind};
use crate::platform::Platform;
use crate::reference::Reference;

/// The Dockerfile instructions (Dockerfile reference, "Overview"), lowercased.
const INSTRUCTIONS: [&str; 18] = [
    "add",
    "arg",
    "cmd",
    "copy",
    "entrypoint",
    "env",
    "expose",
    "from",
    "healthcheck",
    "label",
    "maintainer",
    "onbuild",
    "run",
    "shell",
    "stopsignal",
    "user",
    "volume",
    "workdir",
];

/// The base name meaning "no base image".
pub(crate) const SCRATCH: &str = "scratch";

/// One place an external image is named, with the original bytes to rewrite
/// when pinning.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Occurrence {
    pub reference: String,
    pub stage: usize,
    pub line: usize,
    pub kind: UseKind,
    pub platform: Option<String>,
    /// Where the reference is written in the original text.
    pub spans: Vec<Range<usize>>,
    /// What those spans hold, joined (the reference as written, before expansion).
    pub written: String,
}

/// The parsed file.
#[derive(Debug)]
pub(crate) struct Parsed {
    pub stages: Vec<Stage>,
    pub occurrences: Vec<Occurrence>,
    pub escape: char,
    pub syntax: Option<String>,
}

/// A word of an instruction: its range in the logical line.
#[derive(Debug, Clone)]
struct Word {
    span: Range<usize>,
}

/// A `--name[=value]` flag.
#[derive(Debug)]
struct Flag {
    name: String,
    /// The value with quotes and escapes removed, as BuildKit's flag parser leaves it.
    value: Option<String>,
    /// The value as written, in the logical line.
    raw_value: Option<Range<usize>>,
}

/// BuildKit's flag unquoting (`extractBuilderFlags`): quotes removed, `\`
/// escapes the next character.
fn unquote_flag(raw: &str) -> String {
    let mut out = String::new();
    let mut quote: Option<char> = None;
    let mut chars = raw.chars();
    while let Some(c) = chars.next() {
        match (quote, c) {
            (_, '\\') => {
                if let Some(x) = chars.next() {
                    out.push(x);
                }
            }
            (None, '\'' | '"') => quote = Some(c),
            (Some(q), _) if c == q => quote = None,
            _ => out.push(c),
        }
    }
    out
}

/// The flags at the start of `text[from..]` and where the arguments begin.
fn flags(text: &str, from: usize) -> (Vec<Flag>, usize) {
    let mut out = Vec::new();
    for w in lexer::raw_words(&text[from..]) {
        let span = from + w.start..from + w.end;
        let word = &text[span.clone()];
        if word == "--" {
            return (out, span.end);
        }
        let Some(body) = word.strip_prefix("--") else {
            return (out, span.start);
        };
        let (name, value, raw_value) = match body.find('=') {
            Some(eq) => {
                let value_start = span.start + 2 + eq + 1;
                (
                    &body[..eq],
                    Some(unquote_flag(&body[eq + 1..])),
                    Some(value_start..span.end),
                )
            }
            None => (body, None, None),
        };
        out.push(Flag {
            name: unquote_flag(name),
            value,
            raw_value,
        });
    }
    (out, text.len())
}

/// Words split at whitespace, ignoring quotes (BuildKit's
/// `parseStringsWhitespaceDelimited`, used for FROM).
fn plain_words(text: &str, from: usize) -> Vec<Word> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    for (at, c) in text[from..].char_indices() {
        let at = from + at;
        if c.is_whitespace() {
            if let Some(s) = start.take() {
                words.push(Word { span: s..at });
            }
        } else if start.is_none() {
            start = Some(at);
        }
    }
    if let Some(s) = start {
        words.push(Word {
            span: s..text.len(),
        });
    }
    words
}

/// `^[a-z][a-z0-9-_.]*$` (BuildKit's stage-name rule, after lowercasing).
fn valid_stage_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes.next().is_some_and(|b| b.is_ascii_lowercase())
        && bytes.all(|b| {
            b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'_' | b'.')
        })
}

/// A stage as read, before names are resolved.
struct RawStage {
    line: usize,
    name: Option<String>,
    image: String,
    image_written: String,
    image_spans: Vec<Range<usize>>,
    platform: Option<String>,
    sources: Vec<RawSource>,
}

struct RawSource {
    line: usize,
    kind: UseKind,
    value: String,
    written: String,
    spans: Vec<Range<usize>>,
}

struct Parser<'a> {
    escape: char,
    build_args: &'a BTreeMap<String, String>,
    budget: usize,
}

impl Parser<'_> {
    fn expand(&mut self, word: &str, scope: &Scope<'_>) -> Result<String, ExpandError> {
        expand(word, self.escape, scope, &mut self.budget)
    }

    fn from(
        &mut self,
        inst: &Instruction,
        args_at: usize,
        globals: &Scope<'_>,
    ) -> Result<RawStage, DockerfileError> {
        let line = inst.line;
        let text = &inst.text;
        let (flags, rest) = flags(text, args_at);
        let mut platform_word: Option<String> = None;
        for flag in flags {
            if flag.name != "platform" {
                return Err(DockerfileError::UnknownFlag {
                    line,
                    instruction: "FROM".to_owned(),
                    flag: flag.name.chars().take(100).collect(),
                    expected: "--platform=<os/arch[/variant]>",
                });
            }
            if platform_word.is_some() {
                return Err(DockerfileError::DuplicateFlag {
                    line,
                    flag: flag.name,
                });
            }
            platform_word = Some(flag.value.ok_or(DockerfileError::MissingFlagValue {
                line,
                flag: flag.name,
            })?);
        }
        let words = plain_words(text, rest);
        let (image_word, name) = match words.as_slice() {
            [] => return Err(DockerfileError::FromWithoutImage { line }),
            [image] => (image.clone(), None),
            [image, as_kw, name] if text[as_kw.span.clone()].eq_ignore_ascii_case("as") => {
                (image.clone(), Some(text[name.span.clone()].to_lowercase()))
            }
            _ => {
                return Err(DockerfileError::MalformedFrom {
                    line,
                    found: text[rest..].trim().chars().take(200).collect(),
                })
            }
        };
        if let Some(name) = &name {
            if !valid_stage_name(name) {
                return Err(DockerfileError::InvalidStageName {
                    line,
                    name: name.chars().take(100).collect(),
                });
            }
        }
        let written = text[image_word.span.clone()].to_owned();
        let image = self
            .expand(&written, globals)
            .map_err(|e| e.into_error(line, &written))?;
        if image.trim().is_empty() {
            return Err(DockerfileError::EmptyImage {
                line,
                word: written.chars().take(200).collect(),
            });
        }
        let platform = match platform_word {
            None => None,
            Some(word) => match self.expand(&word, globals) {
                // `--platform=$BUILDPLATFORM` and friends: the builder's
                // choice, which the verifier's own platform default stands for.
                Err(ExpandError::Undeclared {
                    automatic: true, ..
                }) => None,
                Err(e) => return Err(e.into_error(line, &word)),
                Ok(p) if p.is_empty() => None,
                Ok(p) => {
                    if let Err(e) = p.parse::<Platform>() {
                        return Err(DockerfileError::InvalidPlatform {
                            line,
                            platform: e.input,
                        });
                    }
                    Some(p)
                }
            },
        };
        Ok(RawStage {
            line,
            name,
            image,
            image_spans: inst.original_ranges(image_word.span.clone()),
            image_written: written,
            platform,
            sources: Vec::new(),
        })
    }

    /// `COPY --from=<stage|index|image>`.
    fn copy(
        &mut self,
        inst: &Instruction,
        args_at: usize,
        scope: &Scope<'_>,
    ) -> Result<Option<RawSource>, DockerfileError> {
        let line = inst.line;
        let (flags, _) = flags(&inst.text, args_at);
        let mut found: Option<RawSource> = None;
        let mut seen = false;
        for flag in flags.into_iter().filter(|f| f.name == "from") {
            if seen {
                return Err(DockerfileError::DuplicateFlag {
                    line,
                    flag: flag.name,
                });
            }
            seen = true;
            let (Some(value), Some(raw)) = (flag.value, flag.raw_value) else {
                return Err(DockerfileError::MissingFlagValue {
                    line,
                    flag: flag.name,
                });
            };
            let expanded = self
                .expand(&value, scope)
                .map_err(|e| e.into_error(line, &value))?;
            if expanded.is_empty() {
                continue;
            }
            found = Some(RawSource {
                line,
                kind: UseKind::CopyFrom,
                value: expanded,
                written: inst.text[raw.clone()].to_owned(),
                spans: inst.original_ranges(raw),
            });
        }
        Ok(found)
    }

    /// `RUN --mount=type=…,from=<stage|image>,…` (one source per mount with `from`).
    fn run(
        &mut self,
        inst: &Instruction,
        args_at: usize,
        scope: &Scope<'_>,
    ) -> Result<Vec<RawSource>, DockerfileError> {
        let line = inst.line;
        let (flags, _) = flags(&inst.text, args_at);
        let mut out = Vec::new();
        for flag in flags.into_iter().filter(|f| f.name == "mount") {
            let (Some(value), Some(raw)) = (flag.value, flag.raw_value) else {
                return Err(DockerfileError::MissingFlagValue {
                    line,
                    flag: flag.name,
                });
            };
            let raw_text = &inst.text[raw.clone()];
            // Mount options are comma-separated key=value fields. Only
            // unquoted fields keep a span to rewrite when pinning.
            let quoted = raw_text.contains(['"', '\'', '\\']);
            let mut at = 0;
            for field in value.split(',') {
                let field_at = at;
                at += field.len() + 1;
                let Some((key, from)) = field.split_once('=') else {
                    continue;
                };
                if !key.trim().eq_ignore_ascii_case("from") {
                    continue;
                }
                let expanded = self
                    .expand(from, scope)
                    .map_err(|e| e.into_error(line, from))?;
                if expanded.is_empty() {
                    continue;
                }
                let (written, spans) = if quoted {
                    (from.to_owned(), Vec::new())
                } else {
                    let start = raw.start + field_at + key.len() + 1;
                    let span = start..start + from.len();
                    (
                        inst.text[span.clone()].to_owned(),
                        inst.original_ranges(span),
                    )
                };
                out.push(RawSource {
                    line,
                    kind: UseKind::MountFrom,
                    value: expanded,
                    written,
                    spans,
                });
            }
        }
        Ok(out)
    }

    /// `ARG name[=default] …`.
    fn arg(
        &mut self,
        inst: &Instruction,
        args_at: usize,
        scope: &mut Scope<'_>,
        globals: Option<&Scope<'_>>,
    ) {
        let text = &inst.text;
        for w in lexer::raw_words(&text[args_at..]) {
            let word = &text[args_at + w.start..args_at + w.end];
            let (name, default) = match word.split_once('=') {
                Some((n, d)) => (n, Some(d)),
                None => (word, None),
            };
            let name = unquote_flag(name);
            scope.declare(
                &name,
                default,
                inst.line,
                self.escape,
                globals,
                &mut self.budget,
            );
        }
    }
}

/// Parses the instructions into stages and resolves their references.
pub(crate) fn parse(
    text: &str,
    build_args: &BTreeMap<String, String>,
) -> Result<Parsed, DockerfileError> {
    let lexed = lexer::lex(text)?;
    let mut parser = Parser {
        escape: lexed.escape,
        build_args,
        budget: EXPANSION_BUDGET,
    };
    let mut globals = Scope::global(parser.build_args);
    let mut raw_stages: Vec<RawStage> = Vec::new();
    let mut stage_lines: BTreeMap<String, usize> = BTreeMap::new();
    let mut stage_scope: Option<Scope<'_>> = None;
    for inst in &lexed.instructions {
        let line = inst.line;
        let keyword = inst.keyword.as_str();
        if !INSTRUCTIONS.contains(&keyword) {
            return Err(DockerfileError::UnknownInstruction {
                line,
                found: inst
                    .text
                    .split_whitespace()
                    .next()
                    .unwrap_or_default()
                    .chars()
                    .take(100)
                    .collect(),
            });
        }
        let lead = inst.text.len() - inst.text.trim_start().len();
        let args_at = lead
            + inst.text[lead..]
                .find(char::is_whitespace)
                .unwrap_or(inst.text.len() - lead);
        if keyword == "from" {
            let stage = parser.from(inst, args_at, &globals)?;
            if let Some(name) = &stage.name {
                if let Some(first_line) = stage_lines.insert(name.clone(), line) {
                    return Err(DockerfileError::DuplicateStageName {
                        line,
                        name: name.clone(),
                        first_line,
                    });
                }
            }
            raw_stages.push(stage);
            stage_scope = Some(Scope::stage(parser.build_args));
            continue;
        }
        match (keyword, raw_stages.last_mut(), stage_scope.as_mut()) {
            ("arg", None, _) | ("arg", _, None) => {
                parser.arg(inst, args_at, &mut globals, None);
            }
            ("arg", Some(_), Some(scope)) => {
                parser.arg(inst, args_at, scope, Some(&globals));
            }
            (_, Some(stage), Some(scope)) => match keyword {
                "copy" => {
                    if let Some(source) = parser.copy(inst, args_at, scope)? {
                        stage.sources.push(source);
                    }
                }
                "run" => stage.sources.extend(parser.run(inst, args_at, scope)?),
                _ => {}
            },
            (_, _, _) => {
                return Err(DockerfileError::InstructionBeforeFrom {
                    line,
                    instruction: keyword.to_uppercase(),
                })
            }
        }
    }
    if raw_stages.is_empty() {
        return Err(DockerfileError::NoStages {
            line: lexed.last_line,
        });
    }
    let (stages, occurrences) = resolve(raw_stages)?;
    check_cycles(&stages)?;
    Ok(Parsed {
        stages,
        occurrences,
        escape: lexed.escape,
        syntax: lexed.syntax.map(|d| d.value),
    })
}

fn validate_reference(line: usize, reference: &str) -> Result<(), DockerfileError> {
    Reference::parse(reference)
        .map(|_| ())
        .map_err(|source| DockerfileError::InvalidReference {
            line,
            reference: reference.chars().take(200).collect(),
            source,
        })
}

/// Names to stage indexes, bases and sources to stages or images.
fn resolve(raw: Vec<RawStage>) -> Result<(Vec<Stage>, Vec<Occurrence>), DockerfileError> {
    let count = raw.len();
    let lines: Vec<usize> = raw.iter().map(|s| s.line).collect();
    let by_name: BTreeMap<String, usize> = raw
        .iter()
        .enumerate()
        .filter_map(|(i, s)| s.name.clone().map(|n| (n, i)))
        .collect();
    let find = |name: &str| by_name.get(&name.to_lowercase()).copied();
    let mut stages = Vec::with_capacity(raw.len());
    let mut occurrences = Vec::new();
    for (index, s) in raw.into_iter().enumerate() {
        let base = if s.image == SCRATCH {
            Base::Scratch
        } else {
            match find(&s.image) {
                Some(j) if j < index => Base::Stage(j),
                Some(j) if j > index => {
                    return Err(DockerfileError::StageUsedBeforeDefined {
                        line: s.line,
                        name: s.image.chars().take(100).collect(),
                        defined_line: lines.get(j).copied().unwrap_or(s.line),
                    })
                }
                // `FROM alpine AS alpine`: the stage being defined is not yet
                // a stage, so the name is an image.
                _ => {
                    validate_reference(s.line, &s.image)?;
                    occurrences.push(Occurrence {
                        reference: s.image.clone(),
                        stage: index,
                        line: s.line,
                        kind: UseKind::From,
                        platform: s.platform.clone(),
                        spans: s.image_spans,
                        written: s.image_written,
                    });
                    Base::Image {
                        reference: s.image,
                        platform: s.platform,
                        line: s.line,
                    }
                }
            }
        };
        let mut sources = Vec::with_capacity(s.sources.len());
        for src in s.sources {
            let from = if !src.value.is_empty() && src.value.bytes().all(|b| b.is_ascii_digit()) {
                match src.value.parse::<usize>() {
                    Ok(j) if j < count => SourceFrom::Stage(j),
                    _ => {
                        return Err(DockerfileError::InvalidStageIndex {
                            line: src.line,
                            index: src.value.chars().take(40).collect(),
                            stages: count,
                        })
                    }
                }
            } else if let Some(j) = find(&src.value) {
                SourceFrom::Stage(j)
            } else {
                validate_reference(src.line, &src.value)?;
                occurrences.push(Occurrence {
                    reference: src.value.clone(),
                    stage: index,
                    line: src.line,
                    kind: src.kind,
                    platform: None,
                    spans: src.spans,
                    written: src.written,
                });
                SourceFrom::Image(src.value)
            };
            sources.push(Source {
                line: src.line,
                kind: src.kind,
                from,
            });
        }
        stages.push(Stage {
            index,
            name: s.name,
            line: s.line,
            base,
            sources,
        });
    }
    occurrences.sort_by_key(|o| o.line);
    Ok((stages, occurrences))
}

/// The stages `stage` depends on directly, with the line of each dependency.
pub(crate) fn dependencies(stage: &Stage) -> impl Iterator<Item = (usize, usize)> + '_ {
    let base = match stage.base {
        Base::Stage(j) => Some((j, stage.line)),
        _ => None,
    };
    base.into_iter()
        .chain(stage.sources.iter().filter_map(|s| match s.from {
            SourceFrom::Stage(j) => Some((j, s.line)),
            SourceFrom::Image(_) => None,
        }))
}

/// A stage reached from itself is an error (BuildKit: "circular dependency
/// detected on stage"). Iterative, so deep graphs cannot overflow the stack.
fn check_cycles(stages: &[Stage]) -> Result<(), DockerfileError> {
    #[derive(Clone, Copy, PartialEq)]
    enum Color {
        White,
        Gray,
        Black,
    }
    let mut color = vec![Color::White; stages.len()];
    for root in 0..stages.len() {
        if color[root] != Color::White {
            continue;
        }
        // (stage, dependencies left to visit, line of the edge that entered it)
        type Frame = (usize, Vec<(usize, usize)>, usize);
        let mut stack: Vec<Frame> = vec![(root, dependencies(&stages[root]).collect(), 0)];
        color[root] = Color::Gray;
        while let Some((node, deps, _)) = stack.last_mut() {
            let node = *node;
            match deps.pop() {
                None => {
                    color[node] = Color::Black;
                    stack.pop();
                }
                Some((next, line)) => match color.get(next).copied() {
                    Some(Color::Gray) => {
                        // The edges of the cycle, (from, to, line), closing edge last.
                        let on_cycle: Vec<(usize, usize)> = stack
                            .iter()
                            .skip_while(|(n, _, _)| *n != next)
                            .map(|(n, _, l)| (*n, *l))
                            .collect();
                        let mut edges = Vec::new();
                        for pair in on_cycle.windows(2) {
                            edges.push((pair[0].0, pair[1].0, pair[1].1));
                        }
                        edges.push((node, next, line));
                        // FROM only looks back, so some edge looks forward (or
                        // at itself): that reference is the one to fix.
                        let line = edges
                            .iter()
                            .find(|(from, to, _)| to >= from)
                            .map_or(line, |(_, _, l)| *l);
                        let mut cycle: Vec<String> = on_cycle
                            .iter()
                            .map(|(n, _)| stages[*n].display_name())
                            .collect();
                        cycle.push(stages[next].display_name());
                        return Err(DockerfileError::DependencyCycle {
                            line,
                            stage: stages[next].display_name(),
                            cycle,
                        });
                    }
                    Some(Color::White) => {
                        color[next] = Color::Gray;
                        stack.push((next, dependencies(&stages[next]).collect(), line));
                    }
                    _ => {}
                },
            }
        }
    }
    Ok(())
}

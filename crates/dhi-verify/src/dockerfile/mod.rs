//! Dockerfiles, read for one question: which images does this build run on?
//! This module owns parsing a Dockerfile's text into build stages and the
//! external images they build on (`FROM`, `COPY --from=`, `RUN --mount=from=`),
//! `ARG` expansion in those references, `--target` pruning, and rewriting
//! references to pinned digests. It does no I/O and verifies nothing: the
//! caller passes text in and gives each [`ExternalImage`] to a
//! [`Verifier`](crate::Verifier).
//!
//! The rules follow Docker's Dockerfile reference and BuildKit's parser:
//! instructions are case-insensitive; comments, parser directives (`# escape=`,
//! `# syntax=`), line continuations and heredoc bodies are handled so that a
//! `FROM` inside a heredoc or a continued `RUN` is never an instruction; `ARG`
//! before the first `FROM` is the global scope FROM lines expand with, and
//! `--build-arg` values override its defaults; stage names match
//! case-insensitively.
//!
//! ```
//! use std::collections::BTreeMap;
//! use dhi_verify::dockerfile::{Base, Dockerfile};
//!
//! let text = "ARG PY=3.13\n\
//!             FROM dhi.io/python:${PY}-dev AS build\n\
//!             RUN pip install --target /app flask\n\
//!             FROM dhi.io/python:${PY}\n\
//!             COPY --from=build /app /app\n";
//! let file = Dockerfile::parse(text, &BTreeMap::new())?;
//! let images: Vec<String> = file.external_images(None)?.into_iter().map(|i| i.reference).collect();
//! assert_eq!(images, ["dhi.io/python:3.13-dev", "dhi.io/python:3.13"]);
//! assert_eq!(file.final_stage(None)?.line, 4);
//! assert!(matches!(file.stages()[1].base, Base::Image { .. }));
//! # Ok::<(), dhi_verify::dockerfile::DockerfileError>(())
//! ```

mod args;
mod lexer;
mod pin;
mod rules;
mod stages;

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::digest::Digest;
use crate::reference::ReferenceError;

pub use args::{EXPANSION_BUDGET, MAX_EXPANSION_DEPTH};
pub use rules::{
    stage_checks, DockerfileRules, DHI_IMAGE_CHECK, NON_ROOT_CHECK, RUNTIME_VARIANT_CHECK,
};

/// Why a Dockerfile could not be read. Every variant carries the 1-based
/// `line` of the instruction at fault and says what was expected and what
/// was found. All of them are the author's (or the caller's) doing: a
/// malformed Dockerfile, never an unverifiable image.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DockerfileError {
    /// A parser directive with an invalid value.
    #[error("line {line}: invalid {name} parser directive {value:?}: expected {expected}")]
    InvalidDirective {
        /// The line.
        line: usize,
        /// The directive (`escape`).
        name: String,
        /// The value found.
        value: String,
        /// The values allowed.
        expected: &'static str,
    },
    /// The same parser directive twice.
    #[error("line {line}: second {name} parser directive: expected at most one (the first is on line {first_line})")]
    DuplicateDirective {
        /// The line of the second one.
        line: usize,
        /// The directive.
        name: String,
        /// The line of the first one.
        first_line: usize,
    },
    /// The file ends right after an escape character that continues the line.
    #[error("line {line}: the instruction continues past the end of the file: expected a line after the trailing {escape:?}")]
    UnterminatedContinuation {
        /// The line the instruction starts on.
        line: usize,
        /// The escape (continuation) character.
        escape: char,
    },
    /// A heredoc body without its closing delimiter line.
    #[error("line {line}: heredoc <<{name} is not terminated: expected a line {name:?} before the end of the file")]
    UnterminatedHeredoc {
        /// The line of the instruction that opens it.
        line: usize,
        /// The delimiter.
        name: String,
    },
    /// Not a Dockerfile instruction.
    #[error("line {line}: unknown instruction {found:?}: expected a Dockerfile instruction such as FROM, ARG, RUN or COPY")]
    UnknownInstruction {
        /// The line.
        line: usize,
        /// The word found.
        found: String,
    },
    /// An instruction other than ARG before the first FROM.
    #[error("line {line}: {instruction} before the first FROM: expected only ARG instructions before the first stage")]
    InstructionBeforeFrom {
        /// The line.
        line: usize,
        /// The instruction, uppercased.
        instruction: String,
    },
    /// No FROM at all.
    #[error("line {line}: no FROM instruction: expected at least one build stage")]
    NoStages {
        /// The last line of the file.
        line: usize,
    },
    /// `FROM` with nothing after it (or only flags).
    #[error("line {line}: FROM with no image: expected FROM [--platform=<platform>] <image> [AS <name>]")]
    FromWithoutImage {
        /// The line.
        line: usize,
    },
    /// `FROM` arguments that are neither `<image>` nor `<image> AS <name>`.
    #[error(
        "line {line}: malformed FROM arguments {found:?}: expected <image> or <image> AS <name>"
    )]
    MalformedFrom {
        /// The line.
        line: usize,
        /// The arguments found.
        found: String,
    },
    /// A stage name BuildKit rejects.
    #[error("line {line}: invalid stage name {name:?}: expected a letter followed by letters, digits, '-', '_' or '.'")]
    InvalidStageName {
        /// The line.
        line: usize,
        /// The name found (lowercased).
        name: String,
    },
    /// Two stages with the same name.
    #[error("line {line}: stage name {name:?} is already used by the stage on line {first_line}: expected unique stage names")]
    DuplicateStageName {
        /// The line of the second stage.
        line: usize,
        /// The name.
        name: String,
        /// The line of the first stage with that name.
        first_line: usize,
    },
    /// A flag the instruction does not take.
    #[error("line {line}: unknown flag --{flag} on {instruction}: expected {expected}")]
    UnknownFlag {
        /// The line.
        line: usize,
        /// The instruction.
        instruction: String,
        /// The flag found, without `--`.
        flag: String,
        /// The flags allowed.
        expected: &'static str,
    },
    /// A flag that needs a value written without one.
    #[error("line {line}: flag --{flag} has no value: expected --{flag}=<value>")]
    MissingFlagValue {
        /// The line.
        line: usize,
        /// The flag.
        flag: String,
    },
    /// A flag given twice.
    #[error("line {line}: flag --{flag} is given twice: expected it at most once")]
    DuplicateFlag {
        /// The line.
        line: usize,
        /// The flag.
        flag: String,
    },
    /// `$NAME` where no ARG NAME is in scope.
    #[error("line {line}: ${name} is not declared: expected `ARG {name}=<default>` before the first FROM (or in the stage, for --from), or a default in place: ${{{name}:-<default>}}")]
    UndeclaredArg {
        /// The line of the reference using it.
        line: usize,
        /// The variable.
        name: String,
    },
    /// `$NAME` where `ARG NAME` has no default and no build argument.
    #[error("line {line}: ARG {name} (line {arg_line}) has no value: expected a default (ARG {name}=<default>), --build-arg {name}=<value>, or ${{{name}:-<default>}}")]
    ArgWithoutValue {
        /// The line of the reference using it.
        line: usize,
        /// The variable.
        name: String,
        /// The line of its ARG.
        arg_line: usize,
    },
    /// An automatic platform ARG (`TARGETARCH`, …) in an image reference.
    #[error("line {line}: ${name} is set by the builder for each platform: expected --build-arg {name}=<value> to say which")]
    PlatformArg {
        /// The line.
        line: usize,
        /// The variable.
        name: String,
    },
    /// `${NAME:?message}` with NAME unset.
    #[error("line {line}: {name}: {message}")]
    RequiredArg {
        /// The line.
        line: usize,
        /// The variable.
        name: String,
        /// The message written after `?`.
        message: String,
    },
    /// A word the shell lexer cannot expand (unterminated quote or `${`, unsupported modifier).
    #[error("line {line}: cannot expand {word:?}: {reason}")]
    BadSubstitution {
        /// The line.
        line: usize,
        /// The word.
        word: String,
        /// What went wrong.
        reason: String,
    },
    /// Expansions produced more than [`EXPANSION_BUDGET`] bytes in total.
    #[error("line {line}: variable expansion exceeds {limit} bytes")]
    ExpansionTooLarge {
        /// The line.
        line: usize,
        /// The limit.
        limit: usize,
    },
    /// A FROM image that expands to nothing.
    #[error(
        "line {line}: FROM {word:?} expands to an empty image name: expected an image reference"
    )]
    EmptyImage {
        /// The line.
        line: usize,
        /// The image as written.
        word: String,
    },
    /// A FROM or `--from` image that is not a valid reference.
    #[error("line {line}: invalid image reference {reference:?}: {source}")]
    InvalidReference {
        /// The line.
        line: usize,
        /// The reference after expansion.
        reference: String,
        /// Why it is invalid.
        source: ReferenceError,
    },
    /// A `--platform` value that is not `os/arch[/variant]`.
    #[error("line {line}: invalid --platform {platform:?}: expected os/arch[/variant], e.g. linux/amd64")]
    InvalidPlatform {
        /// The line.
        line: usize,
        /// The value after expansion.
        platform: String,
    },
    /// FROM naming a stage that is defined further down.
    #[error("line {line}: stage {name:?} is used before it is defined on line {defined_line}: expected FROM to name an earlier stage")]
    StageUsedBeforeDefined {
        /// The line of the FROM.
        line: usize,
        /// The stage name.
        name: String,
        /// The line defining the stage.
        defined_line: usize,
    },
    /// `--from=<n>` with no stage `n`.
    #[error("line {line}: stage index {index} does not exist: expected an index below {stages}")]
    InvalidStageIndex {
        /// The line.
        line: usize,
        /// The index as written.
        index: String,
        /// The number of stages.
        stages: usize,
    },
    /// A stage that depends on itself.
    #[error("line {line}: stage {stage} depends on itself: {}", cycle.join(" -> "))]
    DependencyCycle {
        /// The line of the dependency that closes the cycle.
        line: usize,
        /// The stage reached twice.
        stage: String,
        /// The stages of the cycle, in dependency order.
        cycle: Vec<String>,
    },
    /// `--target` naming no stage.
    #[error("line {line}: unknown --target {target:?}: expected one of the stage names {known:?}")]
    UnknownTarget {
        /// The line of the last stage (the default target).
        line: usize,
        /// The target asked for.
        target: String,
        /// The stage names.
        known: Vec<String>,
    },
}

impl DockerfileError {
    /// The 1-based line the error is about.
    pub fn line(&self) -> usize {
        use DockerfileError::*;
        match self {
            InvalidDirective { line, .. }
            | DuplicateDirective { line, .. }
            | UnterminatedContinuation { line, .. }
            | UnterminatedHeredoc { line, .. }
            | UnknownInstruction { line, .. }
            | InstructionBeforeFrom { line, .. }
            | NoStages { line }
            | FromWithoutImage { line }
            | MalformedFrom { line, .. }
            | InvalidStageName { line, .. }
            | DuplicateStageName { line, .. }
            | UnknownFlag { line, .. }
            | MissingFlagValue { line, .. }
            | DuplicateFlag { line, .. }
            | UndeclaredArg { line, .. }
            | ArgWithoutValue { line, .. }
            | PlatformArg { line, .. }
            | RequiredArg { line, .. }
            | BadSubstitution { line, .. }
            | ExpansionTooLarge { line, .. }
            | EmptyImage { line, .. }
            | InvalidReference { line, .. }
            | InvalidPlatform { line, .. }
            | StageUsedBeforeDefined { line, .. }
            | InvalidStageIndex { line, .. }
            | DependencyCycle { line, .. }
            | UnknownTarget { line, .. } => *line,
        }
    }
}

/// What a stage starts from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Base {
    /// An external image.
    Image {
        /// The reference as written, after ARG expansion.
        reference: String,
        /// `--platform`, after expansion; `None` when absent or when it names
        /// the builder's platform (`$BUILDPLATFORM`, `$TARGETPLATFORM`).
        platform: Option<String>,
        /// The line of the FROM.
        line: usize,
    },
    /// An earlier stage, by index.
    Stage(usize),
    /// `FROM scratch`: no image.
    Scratch,
}

/// How an external image is used.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
#[non_exhaustive]
pub enum UseKind {
    /// `FROM <image>`: the stage's base.
    From,
    /// `COPY --from=<image>`: files copied out of it.
    CopyFrom,
    /// `RUN --mount=…,from=<image>`: mounted while a command runs.
    MountFrom,
}

impl UseKind {
    /// The instruction as written: `FROM`, `COPY --from`, `RUN --mount`.
    pub fn as_str(self) -> &'static str {
        match self {
            UseKind::From => "FROM",
            UseKind::CopyFrom => "COPY --from",
            UseKind::MountFrom => "RUN --mount",
        }
    }
}

/// Where a `COPY --from` or mount takes its files from.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SourceFrom {
    /// A stage, by index (it may be defined later in the file).
    Stage(usize),
    /// An external image, as written after expansion.
    Image(String),
}

/// A `COPY --from=` or `RUN --mount=…,from=` in a stage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Source {
    /// Its line.
    pub line: usize,
    /// Copy or mount.
    pub kind: UseKind,
    /// What it names.
    pub from: SourceFrom,
}

/// One build stage.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Stage {
    /// Its position, from 0 (what `--from=<n>` counts).
    pub index: usize,
    /// `AS <name>`, lowercased.
    pub name: Option<String>,
    /// The line of its FROM.
    pub line: usize,
    /// What it builds on.
    pub base: Base,
    /// Its `COPY --from` and `RUN --mount` sources.
    pub sources: Vec<Source>,
}

impl Stage {
    /// Its name, or its index for an unnamed stage.
    pub fn display_name(&self) -> String {
        self.name.clone().unwrap_or_else(|| self.index.to_string())
    }
}

/// One use of an external image.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ImageUse {
    /// The stage using it.
    pub stage: usize,
    /// That stage's name.
    pub stage_name: Option<String>,
    /// The line of the instruction.
    pub line: usize,
    /// How it is used.
    pub kind: UseKind,
    /// The stage's `--platform` (FROM only).
    pub platform: Option<String>,
}

/// An external image the build needs, with every place it is used.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ExternalImage {
    /// The reference as written, after ARG expansion.
    pub reference: String,
    /// Its uses, in file order.
    pub uses: Vec<ImageUse>,
}

/// A parsed Dockerfile: its stages and the external images they need.
#[derive(Debug, Clone)]
pub struct Dockerfile {
    stages: Vec<Stage>,
    occurrences: Vec<stages::Occurrence>,
    escape: char,
    syntax: Option<String>,
}

impl Dockerfile {
    /// Parses `text`, expanding FROM references with the global ARGs, where
    /// `build_args` (`--build-arg NAME=VALUE`) override ARG defaults. Build
    /// arguments for names no ARG declares are ignored, as BuildKit does,
    /// except the automatic platform ARGs (`TARGETARCH`, …), whose values are
    /// otherwise unknown here.
    pub fn parse(
        text: &str,
        build_args: &BTreeMap<String, String>,
    ) -> Result<Dockerfile, DockerfileError> {
        let parsed = stages::parse(text, build_args)?;
        Ok(Dockerfile {
            stages: parsed.stages,
            occurrences: parsed.occurrences,
            escape: parsed.escape,
            syntax: parsed.syntax,
        })
    }

    /// Every stage, in file order.
    pub fn stages(&self) -> &[Stage] {
        &self.stages
    }

    /// The escape character (`\`, or `` ` `` with `# escape=`).
    pub fn escape(&self) -> char {
        self.escape
    }

    /// The `# syntax=` directive: the frontend image BuildKit runs to read
    /// this file (not verified here).
    pub fn syntax(&self) -> Option<&str> {
        self.syntax.as_deref()
    }

    /// The stage a build produces: the one named `target`
    /// (case-insensitively), or the last one.
    pub fn final_stage(&self, target: Option<&str>) -> Result<&Stage, DockerfileError> {
        let last = self
            .stages
            .last()
            .ok_or(DockerfileError::NoStages { line: 1 })?;
        let Some(target) = target else {
            return Ok(last);
        };
        let lower = target.to_lowercase();
        self.stages
            .iter()
            .find(|s| s.name.as_deref() == Some(lower.as_str()))
            .ok_or_else(|| DockerfileError::UnknownTarget {
                line: last.line,
                target: target.chars().take(100).collect(),
                known: self.stages.iter().filter_map(|s| s.name.clone()).collect(),
            })
    }

    /// The stages building `target` (or the last stage) needs: it and every
    /// stage it reaches through FROM, `COPY --from` and mounts, in file order.
    pub fn needed_stages(&self, target: Option<&str>) -> Result<Vec<&Stage>, DockerfileError> {
        let last = self.final_stage(target)?;
        let mut needed = BTreeSet::from([last.index]);
        let mut queue = VecDeque::from([last.index]);
        while let Some(i) = queue.pop_front() {
            let Some(stage) = self.stages.get(i) else {
                continue;
            };
            for (j, _) in stages::dependencies(stage) {
                if needed.insert(j) {
                    queue.push_back(j);
                }
            }
        }
        Ok(needed
            .into_iter()
            .filter_map(|i| self.stages.get(i))
            .collect())
    }

    /// The external images the build of `target` (or of the last stage)
    /// needs, deduplicated by reference, in order of first use, each with
    /// every stage and line using it. `scratch` is not an image.
    pub fn external_images(
        &self,
        target: Option<&str>,
    ) -> Result<Vec<ExternalImage>, DockerfileError> {
        let needed: BTreeSet<usize> = self
            .needed_stages(target)?
            .iter()
            .map(|s| s.index)
            .collect();
        let mut images: Vec<ExternalImage> = Vec::new();
        let mut position: BTreeMap<&str, usize> = BTreeMap::new();
        for o in self
            .occurrences
            .iter()
            .filter(|o| needed.contains(&o.stage))
        {
            let use_ = ImageUse {
                stage: o.stage,
                stage_name: self.stages.get(o.stage).and_then(|s| s.name.clone()),
                line: o.line,
                kind: o.kind,
                platform: o.platform.clone(),
            };
            match position
                .get(o.reference.as_str())
                .and_then(|&i| images.get_mut(i))
            {
                Some(image) => image.uses.push(use_),
                None => {
                    position.insert(&o.reference, images.len());
                    images.push(ExternalImage {
                        reference: o.reference.clone(),
                        uses: vec![use_],
                    });
                }
            }
        }
        Ok(images)
    }

    /// What `stage` ultimately starts from: follows `FROM <stage>` to the
    /// first stage built on an image or on scratch. Never [`Base::Stage`].
    pub fn root_base(&self, stage: usize) -> Option<&Base> {
        let mut at = self.stages.get(stage)?;
        // FROM only names earlier stages, so this ends within stages.len() steps.
        for _ in 0..=self.stages.len() {
            match &at.base {
                Base::Stage(j) if *j < at.index => at = self.stages.get(*j)?,
                Base::Stage(_) => return None,
                base => return Some(base),
            }
        }
        None
    }

    /// `original_text` (the text this was parsed from) with each external
    /// image reference in `resolved` rewritten to `<reference>@<digest>`:
    /// FROM lines, `COPY --from=` and `RUN --mount=…,from=`. Every other byte
    /// is kept: comments, continuations, the case of `FROM` and `AS`. A
    /// reference written with ARGs is replaced by its expanded value (what
    /// was verified); one that already has a digest is left alone; for
    /// `oci:<dir>:<tag>` the tag is dropped (a layout reference has a tag or
    /// a digest). Keys of `resolved` are references as
    /// [`ExternalImage::reference`] gives them.
    pub fn pin(&self, original_text: &str, resolved: &BTreeMap<String, Digest>) -> String {
        pin::pin(&self.occurrences, original_text, resolved)
    }
}

#[cfg(test)]
mod tests;

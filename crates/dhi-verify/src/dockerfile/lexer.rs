//! Dockerfile text into logical instructions: physical lines, parser
//! directives (`# escape=`, `# syntax=`, `# check=`), comments, line
//! continuations and heredoc bodies, following BuildKit's parser
//! (`frontend/dockerfile/parser/parser.go`). It owns where an instruction
//! starts and ends and which original bytes each of its characters came from;
//! it does not interpret arguments.

use std::ops::Range;

use super::DockerfileError;

/// A parser directive as written at the top of the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Directive {
    /// The 1-based line it is on.
    pub line: usize,
    /// Its value, trimmed.
    pub value: String,
}

/// What the lexer found: instructions in order, and the directives.
#[derive(Debug)]
pub(crate) struct Lexed {
    pub instructions: Vec<Instruction>,
    pub escape: char,
    pub syntax: Option<Directive>,
    /// The number of physical lines (for errors about the end of the file).
    pub last_line: usize,
}

/// One instruction: its continuation lines joined, comment lines inside it
/// dropped, leading whitespace and continuation characters removed.
#[derive(Debug)]
pub(crate) struct Instruction {
    /// The 1-based line the instruction starts on.
    pub line: usize,
    /// The instruction keyword, lowercased (`from`, `run`, ...).
    pub keyword: String,
    /// The logical line.
    pub text: String,
    /// Where each stretch of `text` came from in the original input.
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, Copy)]
struct Segment {
    logical: usize,
    original: usize,
    len: usize,
}

impl Instruction {
    /// The original byte ranges that `range` of the logical line came from,
    /// in order (more than one when the range crosses a continuation).
    pub fn original_ranges(&self, range: Range<usize>) -> Vec<Range<usize>> {
        let mut out = Vec::new();
        for s in &self.segments {
            let start = range.start.max(s.logical);
            let end = range.end.min(s.logical + s.len);
            if start < end {
                out.push(s.original + (start - s.logical)..s.original + (end - s.logical));
            }
        }
        out
    }

    fn push(&mut self, original: usize, content: &str) {
        if content.is_empty() {
            return;
        }
        self.segments.push(Segment {
            logical: self.text.len(),
            original,
            len: content.len(),
        });
        self.text.push_str(content);
    }
}

/// The instructions whose arguments may open heredocs (Dockerfile reference,
/// "Here-Documents": `RUN`, `COPY` and `ADD`).
const HEREDOC_INSTRUCTIONS: [&str; 3] = ["run", "copy", "add"];

struct Line<'a> {
    /// Byte offset of `content` in the input.
    start: usize,
    /// The line without its `\n` and trailing `\r`s.
    content: &'a str,
}

fn physical_lines(text: &str) -> Vec<Line<'_>> {
    let mut lines = Vec::new();
    let mut start = 0;
    for raw in text.split('\n') {
        let mut content = raw.trim_end_matches('\r');
        let mut offset = start;
        if start == 0 {
            // BuildKit strips a UTF-8 byte-order mark from the first line.
            if let Some(rest) = content.strip_prefix('\u{feff}') {
                offset += '\u{feff}'.len_utf8();
                content = rest;
            }
        }
        lines.push(Line {
            start: offset,
            content,
        });
        start += raw.len() + 1;
    }
    lines
}

/// `^#\s*([a-zA-Z][a-zA-Z0-9]*)\s*=\s*(.+?)\s*$` (BuildKit's directive
/// syntax), returning the lowercased name and the value.
fn directive(line: &str) -> Option<(String, &str)> {
    let rest = line.strip_prefix('#')?.trim_start();
    let name_len = rest
        .bytes()
        .take_while(|b| b.is_ascii_alphanumeric())
        .count();
    let name = &rest[..name_len];
    if !name.bytes().next().is_some_and(|b| b.is_ascii_alphabetic()) {
        return None;
    }
    let value = rest[name_len..].trim_start().strip_prefix('=')?.trim();
    if value.is_empty() {
        return None;
    }
    Some((name.to_ascii_lowercase(), value))
}

/// The line without its continuation character, if it has one
/// (`<escape>[ \t]*$`).
fn strip_continuation(content: &str, escape: char) -> Option<&str> {
    content.trim_end_matches([' ', '\t']).strip_suffix(escape)
}

fn is_comment(content: &str) -> bool {
    content.trim_start().starts_with('#')
}

/// Splits a Dockerfile into instructions.
pub(crate) fn lex(text: &str) -> Result<Lexed, DockerfileError> {
    let lines = physical_lines(text);
    let mut escape = '\\';
    let mut escape_line: Option<usize> = None;
    let mut syntax: Option<Directive> = None;
    let mut check_line: Option<usize> = None;
    let mut directives_done = false;
    let mut instructions = Vec::new();
    let mut i = 0;
    while i < lines.len() {
        let number = i + 1;
        let line = &lines[i];
        i += 1;
        let trimmed = line.content.trim_start();
        if !directives_done {
            // Dockerfile reference, "Parser directives": they must be at the
            // very top; once a comment, empty line or instruction has been
            // processed, BuildKit stops looking for them. Unknown names end
            // the directives and are plain comments.
            match directive(trimmed) {
                Some((name, value)) if matches!(name.as_str(), "escape" | "syntax" | "check") => {
                    let first = match name.as_str() {
                        "escape" => &mut escape_line,
                        "check" => &mut check_line,
                        _ => &mut None,
                    };
                    let previous = if name == "syntax" {
                        syntax.as_ref().map(|d| d.line)
                    } else {
                        *first
                    };
                    if let Some(first_line) = previous {
                        return Err(DockerfileError::DuplicateDirective {
                            line: number,
                            name,
                            first_line,
                        });
                    }
                    match name.as_str() {
                        "escape" => {
                            escape = match value {
                                "\\" => '\\',
                                "`" => '`',
                                _ => {
                                    return Err(DockerfileError::InvalidDirective {
                                        line: number,
                                        name,
                                        value: value.chars().take(100).collect(),
                                        expected: "\\ or `",
                                    })
                                }
                            };
                            escape_line = Some(number);
                        }
                        "check" => check_line = Some(number),
                        _ => {
                            syntax = Some(Directive {
                                line: number,
                                value: value.to_owned(),
                            })
                        }
                    }
                    continue;
                }
                _ => directives_done = true,
            }
        }
        if trimmed.is_empty() || trimmed.starts_with('#') {
            continue;
        }
        let mut inst = Instruction {
            line: number,
            keyword: String::new(),
            text: String::new(),
            segments: Vec::new(),
        };
        let offset = line.start + (line.content.len() - trimmed.len());
        let mut continues = match strip_continuation(trimmed, escape) {
            Some(head) => {
                inst.push(offset, head);
                true
            }
            None => {
                inst.push(offset, trimmed);
                false
            }
        };
        while continues {
            let Some(next) = lines.get(i) else {
                return Err(DockerfileError::UnterminatedContinuation {
                    line: number,
                    escape,
                });
            };
            i += 1;
            // Comment lines and empty lines inside a continuation are skipped.
            if is_comment(next.content) || next.content.trim_start().is_empty() {
                continue;
            }
            match strip_continuation(next.content, escape) {
                Some(head) => inst.push(next.start, head),
                None => {
                    inst.push(next.start, next.content);
                    continues = false;
                }
            }
        }
        if inst.text.trim().is_empty() {
            continue;
        }
        inst.keyword = inst
            .text
            .trim_start()
            .split(char::is_whitespace)
            .next()
            .unwrap_or_default()
            .to_lowercase();
        if HEREDOC_INSTRUCTIONS.contains(&inst.keyword.as_str()) && inst.text.contains("<<") {
            for heredoc in heredocs(&inst.text) {
                // Dockerfile reference, "Here-Documents": the body runs up to
                // a line holding only the delimiter (leading tabs removed for
                // `<<-`). Nothing in the body is an instruction.
                let mut terminated = false;
                while let Some(body) = lines.get(i) {
                    i += 1;
                    let candidate = if heredoc.chomp {
                        body.content.trim_start_matches('\t')
                    } else {
                        body.content
                    };
                    if candidate == heredoc.name {
                        terminated = true;
                        break;
                    }
                }
                if !terminated {
                    return Err(DockerfileError::UnterminatedHeredoc {
                        line: number,
                        name: heredoc.name.chars().take(100).collect(),
                    });
                }
            }
        }
        instructions.push(inst);
    }
    Ok(Lexed {
        instructions,
        escape,
        syntax,
        last_line: lines.len().max(1),
    })
}

/// A heredoc opened on an instruction line.
#[derive(Debug, PartialEq, Eq)]
struct Heredoc {
    name: String,
    chomp: bool,
}

/// Splits `text` into words at unquoted whitespace, keeping quotes and
/// escapes in the words (BuildKit's raw-quote lexing for heredoc detection).
pub(crate) fn raw_words(text: &str) -> Vec<Range<usize>> {
    let mut words = Vec::new();
    let mut start: Option<usize> = None;
    let mut quote: Option<char> = None;
    let mut escaped = false;
    for (at, c) in text.char_indices() {
        if escaped {
            escaped = false;
            continue;
        }
        match quote {
            Some(q) => {
                if c == q {
                    quote = None;
                } else if c == '\\' && q == '"' {
                    escaped = true;
                }
            }
            None if c.is_whitespace() => {
                if let Some(s) = start.take() {
                    words.push(s..at);
                }
            }
            None => {
                if start.is_none() {
                    start = Some(at);
                }
                match c {
                    '\'' | '"' => quote = Some(c),
                    '\\' => escaped = true,
                    _ => {}
                }
            }
        }
    }
    if let Some(s) = start {
        words.push(s..text.len());
    }
    words
}

/// Removes shell quoting from a heredoc delimiter word (`"EOF"`, `'EOF'`,
/// `E\OF`); `None` if it is not a single non-empty word.
fn unquote_delimiter(word: &str) -> Option<String> {
    let mut out = String::new();
    let mut chars = word.chars();
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => loop {
                match chars.next() {
                    None => return None,
                    Some(x) if x == c => break,
                    Some('\\') if c == '"' => out.push(chars.next()?),
                    Some(x) => out.push(x),
                }
            },
            '\\' => {
                if let Some(x) = chars.next() {
                    out.push(x);
                }
            }
            c if c.is_whitespace() => return None,
            c => out.push(c),
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The heredocs an instruction line opens, in order: words of the form
/// `[n]<<[-]WORD` (BuildKit: `^(\d*)<<(-?)([^<]*)$`). Instructions in JSON
/// (exec) form have none.
fn heredocs(text: &str) -> Vec<Heredoc> {
    let words = raw_words(text);
    // The JSON form: after the keyword and any flags, a JSON array of strings.
    if let Some(first_arg) = words
        .iter()
        .skip(1)
        .find(|w| !text[w.start..w.end].starts_with("--"))
    {
        let rest = text[first_arg.start..].trim();
        if rest.starts_with('[') && serde_json::from_str::<Vec<String>>(rest).is_ok() {
            return Vec::new();
        }
    }
    let mut out = Vec::new();
    for w in words {
        let word = &text[w];
        let after_fd = word.trim_start_matches(|c: char| c.is_ascii_digit());
        let Some(rest) = after_fd.strip_prefix("<<") else {
            continue;
        };
        let (chomp, rest) = match rest.strip_prefix('-') {
            Some(r) => (true, r),
            None => (false, rest),
        };
        if rest.is_empty() || rest.contains('<') {
            continue;
        }
        if let Some(name) = unquote_delimiter(rest) {
            out.push(Heredoc { name, chomp });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn texts(src: &str) -> Vec<(usize, String)> {
        lex(src)
            .unwrap()
            .instructions
            .into_iter()
            .map(|i| (i.line, i.text))
            .collect()
    }

    #[test]
    fn continuation_lines_join_into_one_instruction_on_its_first_line() {
        assert_eq!(
            texts("FROM alpine\nRUN a \\\n  && b \\\t\n  && c\nCMD x\n"),
            vec![
                (1, "FROM alpine".to_owned()),
                (2, "RUN a   && b   && c".to_owned()),
                (5, "CMD x".to_owned())
            ]
        );
    }

    #[test]
    fn comment_and_empty_lines_inside_a_continuation_are_skipped() {
        assert_eq!(
            texts("FROM \\\n# a comment\n\n   # indented\n alpine AS a\n"),
            vec![(1, "FROM  alpine AS a".to_owned())]
        );
    }

    #[test]
    fn leading_whitespace_and_crlf_line_endings_are_ignored() {
        assert_eq!(
            texts("\u{feff}  FROM alpine\r\n\tRUN x\r\n"),
            vec![(1, "FROM alpine".to_owned()), (2, "RUN x".to_owned())]
        );
    }

    #[test]
    fn the_escape_directive_changes_the_continuation_character() {
        let lexed = lex("# escape=`\nFROM alpine\nRUN dir c:\\ `\n  /b\n").unwrap();
        assert_eq!(lexed.escape, '`');
        assert_eq!(lexed.instructions[1].text, "RUN dir c:\\   /b");
    }

    #[test]
    fn directives_are_only_read_before_anything_else() {
        let lexed =
            lex("# syntax=docker/dockerfile:1\n#ESCAPE = `\n\n# escape=\\\nFROM a\n").unwrap();
        assert_eq!(lexed.escape, '`');
        assert_eq!(lexed.syntax.unwrap().value, "docker/dockerfile:1");
        // An unknown directive ends the directives: the escape below is a comment.
        let lexed = lex("# foo=bar\n# escape=`\nFROM a\n").unwrap();
        assert_eq!(lexed.escape, '\\');
    }

    #[test]
    fn a_second_escape_directive_is_an_error_naming_its_line() {
        assert!(matches!(
            lex("# escape=`\n# escape=\\\nFROM a\n"),
            Err(DockerfileError::DuplicateDirective {
                line: 2,
                first_line: 1,
                ..
            })
        ));
    }

    #[test]
    fn an_escape_directive_other_than_backslash_or_backtick_is_an_error() {
        assert!(matches!(
            lex("# escape=x\nFROM a\n"),
            Err(DockerfileError::InvalidDirective { line: 1, .. })
        ));
    }

    #[test]
    fn a_continuation_at_the_end_of_the_file_is_an_error_naming_the_instruction_line() {
        assert!(matches!(
            lex("FROM a\nRUN x \\\n"),
            Err(DockerfileError::UnterminatedContinuation {
                line: 2,
                escape: '\\'
            })
        ));
        assert!(matches!(
            lex("FROM a\nRUN x \\\n# only a comment follows"),
            Err(DockerfileError::UnterminatedContinuation { line: 2, .. })
        ));
    }

    #[test]
    fn heredoc_bodies_are_skipped_and_never_read_as_instructions() {
        let src = "FROM a\nRUN <<EOF\nFROM evil\n  EOF\nEOF\nCOPY <<-\"END\" /x\n\tFROM evil2\n\tEND\nFROM b\n";
        assert_eq!(
            texts(src),
            vec![
                (1, "FROM a".to_owned()),
                (2, "RUN <<EOF".to_owned()),
                (6, "COPY <<-\"END\" /x".to_owned()),
                (9, "FROM b".to_owned())
            ]
        );
    }

    #[test]
    fn several_heredocs_on_one_line_are_read_in_order() {
        let src = "FROM a\nRUN <<A cat /dev/stdin 3<<B\nFROM x\nA\nFROM y\nB\nFROM c\n";
        let got = texts(src);
        assert_eq!(got.len(), 3);
        assert_eq!(got[2], (7, "FROM c".to_owned()));
    }

    #[test]
    fn quoted_or_json_form_heredoc_markers_are_not_heredocs() {
        assert_eq!(texts("FROM a\nRUN echo \"<<EOF\"\nFROM b\n").len(), 3);
        assert_eq!(
            texts("FROM a\nRUN [\"sh\", \"-c\", \"cat <<EOF\"]\nFROM b\n").len(),
            3
        );
        assert_eq!(texts("FROM a\nRUN cat <<<here\nFROM b\n").len(), 3);
        // Only RUN, COPY and ADD take heredocs.
        assert_eq!(texts("FROM a\nLABEL x=<<EOF\nFROM b\n").len(), 3);
    }

    #[test]
    fn an_unterminated_heredoc_is_an_error_naming_the_instruction_line() {
        assert!(matches!(
            lex("FROM a\nRUN <<EOF\necho\n"),
            Err(DockerfileError::UnterminatedHeredoc { line: 2, ref name }) if name == "EOF"
        ));
    }

    #[test]
    fn original_ranges_map_logical_text_back_across_continuations() {
        let src = "FROM pyth\\\non:3 AS x\n";
        let lexed = lex(src).unwrap();
        let inst = &lexed.instructions[0];
        assert_eq!(inst.text, "FROM python:3 AS x");
        let ranges = inst.original_ranges(5..13);
        assert_eq!(ranges, vec![5..9, 11..15]);
        assert_eq!(&src[5..9], "pyth");
        assert_eq!(&src[11..15], "on:3");
    }
}

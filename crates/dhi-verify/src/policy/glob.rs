//! Anchored wildcard patterns for policy rules: `*` is any run of characters
//! (including `/`), `?` one character, everything else literal. A pattern
//! always matches the whole value: `pkg:deb/*/bash` does not match `xpkg:deb/debian/bash@5`.

use std::fmt;

/// Why a pattern was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GlobError {
    /// The pattern is empty.
    #[error("an empty pattern matches nothing useful")]
    Empty,
}

/// A compiled pattern.
#[derive(Clone, PartialEq, Eq)]
pub struct Glob {
    pattern: String,
    chars: Vec<char>,
}

impl Glob {
    /// Compiles `pattern`; an empty pattern is an error (it would match only "").
    pub fn new(pattern: &str) -> Result<Self, GlobError> {
        if pattern.is_empty() {
            return Err(GlobError::Empty);
        }
        Ok(Glob {
            pattern: pattern.to_owned(),
            chars: pattern.chars().collect(),
        })
    }

    /// The pattern as written.
    pub fn as_str(&self) -> &str {
        &self.pattern
    }

    /// Whether the whole of `value` matches. Linear in pattern × value in the
    /// worst case (no backtracking blow-up).
    pub fn matches(&self, value: &str) -> bool {
        self.matches_with(value, |a, b| a == b)
    }

    /// [`Glob::matches`], ASCII letters compared without case (SPDX license
    /// ids are case-insensitive: `agpl-3.0-only` is `AGPL-3.0-only`).
    pub fn matches_ignore_ascii_case(&self, value: &str) -> bool {
        self.matches_with(value, |a, b| a.eq_ignore_ascii_case(&b))
    }

    fn matches_with(&self, value: &str, same: impl Fn(char, char) -> bool) -> bool {
        let v: Vec<char> = value.chars().collect();
        let p = &self.chars;
        let (mut pi, mut vi) = (0usize, 0usize);
        // Position of the last `*` in the pattern, and the value position it was tried at.
        let mut star: Option<(usize, usize)> = None;
        while vi < v.len() {
            if pi < p.len() && (p[pi] == '?' || same(p[pi], v[vi])) && p[pi] != '*' {
                pi += 1;
                vi += 1;
            } else if pi < p.len() && p[pi] == '*' {
                star = Some((pi, vi));
                pi += 1;
            } else if let Some((sp, sv)) = star {
                // Let the last `*` swallow one more character.
                pi = sp + 1;
                vi = sv + 1;
                star = Some((sp, sv + 1));
            } else {
                return false;
            }
        }
        p[pi..].iter().all(|c| *c == '*')
    }
}

impl fmt::Debug for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Glob({:?})", self.pattern)
    }
}

#[cfg(test)]
mod tests {
    use super::Glob;

    fn m(p: &str, v: &str) -> bool {
        Glob::new(p).unwrap().matches(v)
    }

    #[test]
    fn patterns_match_the_whole_value() {
        assert!(m("pkg:deb/*/bash@*", "pkg:deb/debian/bash@5.2"));
        assert!(!m("pkg:deb/*/bash", "xpkg:deb/debian/bash"));
        assert!(!m("pkg:deb/*/bash", "pkg:deb/debian/bash@5"));
        assert!(m(
            "https://github.com/docker-hardened-images/*",
            "https://github.com/docker-hardened-images/definitions.git"
        ));
        assert!(!m(
            "https://github.com/docker-hardened-images/*",
            "https://evil.com/?https://github.com/docker-hardened-images/x"
        ));
        assert!(m("GPL-?.0-*", "GPL-3.0-only"));
        assert!(m("*", ""));
        assert!(!m("a", ""));
    }

    #[test]
    fn many_stars_do_not_blow_up() {
        let p = "*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!m(p, &"a".repeat(5000)));
    }

    #[test]
    fn empty_patterns_are_rejected() {
        assert!(Glob::new("").is_err());
    }
}

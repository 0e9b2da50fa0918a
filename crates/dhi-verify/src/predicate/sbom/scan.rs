//! The SBOM parsers' fast path: a small JSON reader over the statement bytes
//! that reads only what the inventory needs and skips the rest at close to the
//! speed of `serde_json`'s `IgnoredAny`.
//!
//! It never decides an error. Every method returns `None` ("not sure") on
//! anything it does not handle exactly like the serde path would (a syntax
//! error, a value of an unexpected type, a duplicate key, an escaped key,
//! nesting deeper than [`MAX_DEPTH`], invalid UTF-8 anywhere in the document);
//! the caller then parses the statement again through the serde path, which
//! gives the result or the typed error. So the fast path is at most stricter
//! than serde_json, never more lenient, and errors are exactly the serde path's.
//!
//! Why it is faster: the whole statement is checked as UTF-8 once, after which
//! every string, key or value, is a free slice of it; keys are compared as
//! slices without serde's per-key visitor round trip; skipped values are
//! scanned eight bytes at a time. Strings with escapes are rare in SBOMs and
//! are handed to `serde_json` itself, so they decode exactly as before.

use std::borrow::Cow;

/// Nesting the fast path handles; deeper documents go through serde (whose own
/// limit is 128 for typed values).
pub(crate) const MAX_DEPTH: u32 = 100;

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGH: u64 = 0x8080_8080_8080_8080;

/// Flags (high bit of each byte) of the bytes of `x` that end a plain run in a
/// JSON string: `"`, `\` or a control character. The lowest flag is exact
/// (bytes above a true match may be flagged falsely, which only costs a look).
/// Non-ASCII bytes are never flagged; the document is valid UTF-8 already.
#[inline]
fn special(x: u64) -> u64 {
    let quote = x ^ (ONES * u64::from(b'"'));
    let backslash = x ^ (ONES * u64::from(b'\\'));
    (quote.wrapping_sub(ONES) | backslash.wrapping_sub(ONES) | x.wrapping_sub(ONES * 0x20))
        & !x
        & HIGH
}

/// A cursor over one statement.
pub(crate) struct Scan<'a> {
    doc: &'a str,
    bytes: &'a [u8],
    pos: usize,
    depth: u32,
}

impl<'a> Scan<'a> {
    /// `None` when the bytes are not UTF-8 (serde decides what that means).
    pub(crate) fn new(bytes: &'a [u8]) -> Option<Self> {
        let doc = simdutf8::basic::from_utf8(bytes).ok()?;
        Some(Self {
            doc,
            bytes,
            pos: 0,
            depth: 0,
        })
    }

    /// How far the cursor is, and the statement's length, in bytes.
    pub(crate) fn progress(&self) -> (usize, usize) {
        (self.pos, self.bytes.len())
    }

    /// The next byte that is not JSON whitespace, not consumed.
    #[inline]
    fn peek(&mut self) -> Option<u8> {
        while let Some(&c) = self.bytes.get(self.pos) {
            if !matches!(c, b' ' | b'\n' | b'\r' | b'\t') {
                return Some(c);
            }
            self.pos += 1;
        }
        None
    }

    #[inline]
    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.pos += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.pos.checked_add(word.len())?;
        (self.bytes.get(self.pos..end)? == word).then(|| self.pos = end)
    }

    /// Consumes a `null` if one is next; `Some(false)` leaves the cursor.
    #[inline]
    pub(crate) fn null(&mut self) -> Option<bool> {
        if self.peek()? == b'n' {
            self.literal(b"null")?;
            Some(true)
        } else {
            Some(false)
        }
    }

    /// The string at the cursor: where its contents start and end (the closing
    /// quote), and whether it has escapes.
    #[inline]
    fn raw_str(&mut self) -> Option<(usize, usize, bool)> {
        self.eat(b'"')?;
        let start = self.pos;
        let mut i = start;
        let mut escaped = false;
        loop {
            while let Some(chunk) = self.bytes.get(i..i + 8) {
                let word = u64::from_le_bytes(chunk.try_into().ok()?);
                let flags = special(word);
                if flags != 0 {
                    i += (flags.trailing_zeros() / 8) as usize;
                    break;
                }
                i += 8;
            }
            match *self.bytes.get(i)? {
                b'"' => {
                    self.pos = i + 1;
                    return Some((start, i, escaped));
                }
                // Skip the escaped byte so `\"` does not end the string; the
                // escape itself is checked by serde_json below.
                b'\\' => {
                    escaped = true;
                    i += 2;
                }
                0..=0x1f => return None,
                _ => i += 1,
            }
        }
    }

    /// The quoted source of a string whose contents are `start..end`.
    fn quoted(&self, start: usize, end: usize) -> Option<&'a str> {
        self.doc.get(start.checked_sub(1)?..end.checked_add(1)?)
    }

    /// A string value, borrowed unless it has escapes (decoded by serde_json).
    #[inline]
    pub(crate) fn str(&mut self) -> Option<Cow<'a, str>> {
        let (start, end, escaped) = self.raw_str()?;
        if escaped {
            serde_json::from_str::<String>(self.quoted(start, end)?)
                .ok()
                .map(Cow::Owned)
        } else {
            self.doc.get(start..end).map(Cow::Borrowed)
        }
    }

    /// A string or `null`.
    #[inline]
    pub(crate) fn opt_str(&mut self) -> Option<Option<Cow<'a, str>>> {
        if self.null()? {
            Some(None)
        } else {
            self.str().map(Some)
        }
    }

    fn skip_str(&mut self) -> Option<()> {
        let (start, end, escaped) = self.raw_str()?;
        if escaped {
            serde_json::from_str::<serde::de::IgnoredAny>(self.quoted(start, end)?).ok()?;
        }
        Some(())
    }

    /// An object key without escapes, and its colon.
    #[inline]
    fn key(&mut self) -> Option<&'a str> {
        let (start, end, escaped) = self.raw_str()?;
        if escaped {
            return None;
        }
        let key = self.doc.get(start..end)?;
        self.eat(b':')?;
        Some(key)
    }

    fn enter(&mut self) -> Option<()> {
        self.depth += 1;
        (self.depth <= MAX_DEPTH).then_some(())
    }

    /// Reads an object; `f` is called with each key and must consume its value.
    pub(crate) fn object(
        &mut self,
        mut f: impl FnMut(&'a str, &mut Self) -> Option<()>,
    ) -> Option<()> {
        self.eat(b'{')?;
        self.enter()?;
        if self.peek()? == b'}' {
            self.pos += 1;
        } else {
            loop {
                let key = self.key()?;
                f(key, self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b'}' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// Reads an array; `f` is called for each element and must consume it.
    pub(crate) fn array(&mut self, mut f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(b'[')?;
        self.enter()?;
        if self.peek()? == b']' {
            self.pos += 1;
        } else {
            loop {
                f(self)?;
                match self.peek()? {
                    b',' => self.pos += 1,
                    b']' => {
                        self.pos += 1;
                        break;
                    }
                    _ => return None,
                }
            }
        }
        self.depth -= 1;
        Some(())
    }

    /// An array or `null` (read as empty).
    pub(crate) fn nullable_array(&mut self, f: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        if self.null()? {
            Some(())
        } else {
            self.array(f)
        }
    }

    /// Skips any JSON value, checking its syntax.
    pub(crate) fn skip(&mut self) -> Option<()> {
        match self.peek()? {
            b'"' => self.skip_str(),
            b'{' => self.object(|_, s| s.skip()),
            b'[' => self.array(Self::skip),
            b'n' => self.literal(b"null"),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    /// A number as JSON writes it: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        let b = self.bytes;
        let digits = |mut i: usize| {
            while matches!(b.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
            i
        };
        let mut i = self.pos;
        if b.get(i) == Some(&b'-') {
            i += 1;
        }
        match b.get(i)? {
            b'0' => i += 1,
            b'1'..=b'9' => i = digits(i + 1),
            _ => return None,
        }
        if b.get(i) == Some(&b'.') {
            let end = digits(i + 1);
            if end == i + 1 {
                return None;
            }
            i = end;
        }
        if matches!(b.get(i), Some(b'e' | b'E')) {
            i += 1;
            if matches!(b.get(i), Some(b'+' | b'-')) {
                i += 1;
            }
            let end = digits(i);
            if end == i {
                return None;
            }
            i = end;
        }
        self.pos = i;
        Some(())
    }

    /// Only whitespace is left.
    pub(crate) fn end(&mut self) -> Option<()> {
        self.peek().is_none().then_some(())
    }
}

/// Marks `bit` as seen in `seen`; `None` when it already was (a duplicate key,
/// which serde's derived structs reject). Bit 0 means "not tracked".
///
/// The parsers spell out each small object (`{"alg", "content"}`,
/// `{"algorithm", "checksumValue"}`, …) as a `match` on literal keys rather
/// than sharing one "object of two strings" helper: the shared helper was
/// measured 10 % slower on the 50 000-package SPDX benchmark (key comparison
/// against runtime strings instead of literals), which is the 2× goal's margin.
#[inline]
pub(crate) fn once(seen: &mut u32, bit: u32) -> Option<()> {
    if *seen & bit != 0 {
        return None;
    }
    *seen |= bit;
    Some(())
}

/// Reads an in-toto Statement and its `predicate` through `read`, with the
/// envelope rules of [`crate::predicate::statement::read_predicate_seed`]:
/// `None` when the predicate is missing or `null`, `predicateType` names
/// another type, a key repeats, or anything else is off (the serde path then
/// says what). The caller checks the statement size limit first.
pub(crate) fn predicate<'a, T>(
    bytes: &'a [u8],
    predicate_type: &str,
    read: impl FnOnce(&mut Scan<'a>) -> Option<T>,
) -> Option<T> {
    let mut s = Scan::new(bytes)?;
    let mut read = Some(read);
    let mut found_type = None;
    let mut out = None;
    s.object(|key, s| match key {
        "predicateType" => {
            if found_type.is_some() {
                return None;
            }
            found_type = Some(s.str()?);
            Some(())
        }
        "predicate" => {
            out = Some(read.take()?(s)?);
            Some(())
        }
        _ => s.skip(),
    })?;
    s.end()?;
    if found_type.is_some_and(|t| t != predicate_type) {
        return None;
    }
    out
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;

    /// Whether the fast path skips `json` as one value with nothing after it.
    fn skips(json: &str) -> bool {
        let mut s = Scan::new(json.as_bytes()).unwrap();
        s.skip().is_some() && s.end().is_some()
    }

    #[test]
    fn accepts_only_what_serde_json_accepts() {
        let cases = [
            r#"{"a":[1,-0.5e+3,true,false,null,"x\"y\\z\u00e9",{}],"b":{"c":[]}}"#,
            "  [ 0 , 1e5 , -12.25E-2 ]  ",
            r#""a long string with no escapes at all, longer than eight bytes""#,
            r#""tail\n""#,
            "[01]",
            "[1.]",
            "[1e]",
            "[-]",
            "[1,]",
            r#"{"a":1,}"#,
            r#"{"a" 1}"#,
            "[nul]",
            r#""\x""#,
            r#""\u12""#,
            "\"a\u{1}b\"",
            r#""unterminated"#,
            "[1] [2]",
            "",
        ];
        for json in cases {
            let serde = serde_json::from_str::<serde::de::IgnoredAny>(json).is_ok();
            let fast = skips(json);
            assert!(
                !fast || serde,
                "fast path accepted what serde rejects: {json}"
            );
            assert_eq!(fast, serde, "{json}");
        }
    }

    #[test]
    fn strings_borrow_or_decode_like_serde() {
        let mut s = Scan::new(br#"["plain", "esc\"aped\u0041", null, 5]"#).unwrap();
        let mut got = Vec::new();
        s.array(|s| {
            if matches!(s.peek(), Some(b'5')) {
                return s.skip();
            }
            got.push(s.opt_str()?);
            Some(())
        })
        .unwrap();
        assert!(matches!(got[0], Some(Cow::Borrowed("plain"))));
        assert_eq!(got[1].as_deref(), Some("esc\"apedA"));
        assert_eq!(got[2], None);
    }

    #[test]
    fn gives_up_on_what_it_does_not_handle() {
        // escaped keys, non-UTF-8, and nesting deeper than MAX_DEPTH
        let mut s = Scan::new(br#"{"k\u0065y":1}"#).unwrap();
        assert!(s.object(|_, s| s.skip()).is_none());
        assert!(Scan::new(b"\"\xff\"").is_none());
        let deep = "[".repeat(MAX_DEPTH as usize + 1) + &"]".repeat(MAX_DEPTH as usize + 1);
        assert!(!skips(&deep));
        let ok = "[".repeat(MAX_DEPTH as usize) + &"]".repeat(MAX_DEPTH as usize);
        assert!(skips(&ok));
    }

    #[test]
    fn envelope_rules_match_the_serde_path() {
        let read = |s: &mut Scan<'_>| s.skip();
        assert!(predicate(br#"{"predicateType":"t","predicate":{}}"#, "t", read).is_some());
        assert!(predicate(br#"{"predicate":{},"predicateType":"u"}"#, "t", read).is_none());
        assert!(predicate(br#"{"predicate":{},"predicate":{}}"#, "t", read).is_none());
        assert!(predicate(br#"{"subject":[]}"#, "t", read).is_none());
        assert!(predicate(br#"{"predicate":{}} x"#, "t", read).is_none());
    }
}

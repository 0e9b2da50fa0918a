//! The normalisation rules both formats share: hash algorithm spellings,
//! license expressions (`NOASSERTION`, CycloneDX names as `LicenseRef-`),
//! supplier prefixes, purposes and purl types. Each takes a value as the
//! document wrote it and gives the one the inventory keeps.

use std::borrow::Cow;

use super::model::HashAlgorithm;
use super::strings::{Span, Strings};

/// The purl's type, lowercased (found by [`crate::predicate::purl::purl_type_range`]):
/// a span inside the purl's own when it is lowercase already, as it should be.
pub(crate) fn purl_type(strings: &mut Strings, purl: Option<Span>) -> Option<Span> {
    let purl = purl?;
    let whole = strings.get(purl);
    let range = crate::predicate::purl::purl_type_range(whole)?;
    let t = whole.get(range.clone())?;
    let start = purl.start as usize + range.start;
    if !t.bytes().any(|c| c.is_ascii_uppercase()) {
        return Some(strings.span(start, start + t.len()));
    }
    let t = t.to_owned();
    Some(strings.push_lowercase(&t))
}

impl HashAlgorithm {
    /// Normalises an algorithm name from either format without allocating for the known ones.
    pub(crate) fn from_name(name: Cow<'_, str>) -> Self {
        let mut key = [0u8; 8];
        let mut len = 0;
        for c in name.bytes().filter(|c| *c != b'-' && *c != b'_') {
            if len == key.len() {
                return Self::Other(name.into_owned());
            }
            key[len] = c.to_ascii_uppercase();
            len += 1;
        }
        match &key[..len] {
            b"MD5" => Self::Md5,
            b"SHA1" => Self::Sha1,
            b"SHA256" => Self::Sha256,
            b"SHA384" => Self::Sha384,
            b"SHA512" => Self::Sha512,
            _ => Self::Other(name.into_owned()),
        }
    }
}

/// A hash from a document; `None` when either part is missing or empty. The
/// value is lowercased when stored ([`Strings::hashes`]).
pub(crate) fn hash<'a>(
    algorithm: Option<Cow<'_, str>>,
    value: Option<Cow<'a, str>>,
) -> Option<(HashAlgorithm, Cow<'a, str>)> {
    let algorithm = algorithm.filter(|a| !a.is_empty())?;
    let value = value.filter(|v| !v.is_empty())?;
    Some((HashAlgorithm::from_name(algorithm), value))
}

/// `f` applied to the text of `s`, keeping it borrowed when it was.
fn map_slice<'a>(s: Cow<'a, str>, f: impl Fn(&str) -> Option<&str>) -> Option<Cow<'a, str>> {
    match s {
        Cow::Borrowed(b) => f(b).map(Cow::Borrowed),
        Cow::Owned(o) => f(&o).map(|t| Cow::Owned(t.to_owned())),
    }
}

/// Whether a license field says nothing: empty, `NOASSERTION` or `NONE`.
fn is_no_assertion(t: &str) -> bool {
    t.is_empty() || t.eq_ignore_ascii_case("NOASSERTION") || t.eq_ignore_ascii_case("NONE")
}

/// A license expression worth keeping (trimmed): not empty, `NOASSERTION` or `NONE`.
pub(crate) fn meaningful_license(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    map_slice(s?, |s| {
        let t = s.trim();
        (!is_no_assertion(t)).then_some(t)
    })
}

fn is_idstring(token: &str) -> bool {
    !token.is_empty()
        && token
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'-' | b'+' | b':'))
}

/// Whether `s` has the shape of an SPDX license expression (ids joined by
/// `AND`/`OR`/`WITH`, optional parentheses). Does not check the ids against the SPDX list.
pub(crate) fn looks_like_license_expression(s: &str) -> bool {
    let mut expect_id = true;
    let mut any = false;
    let tokens = s
        .split(|c: char| c.is_whitespace() || c == '(' || c == ')')
        .filter(|t| !t.is_empty());
    for token in tokens {
        any = true;
        if expect_id {
            if !is_idstring(token) {
                return false;
            }
        } else if !["AND", "OR", "WITH"]
            .iter()
            .any(|op| token.eq_ignore_ascii_case(op))
        {
            return false;
        }
        expect_id = !expect_id;
    }
    any && !expect_id
}

/// A CycloneDX license `name` as an SPDX expression: kept when it already is
/// one, else `LicenseRef-` plus the name with non-idstring characters as `-`.
pub(crate) fn license_name_to_expression(name: Cow<'_, str>) -> Option<Cow<'_, str>> {
    let name = meaningful_license(Some(name))?;
    if looks_like_license_expression(&name) {
        return Some(name);
    }
    let mut out = String::with_capacity(name.len() + 11);
    out.push_str("LicenseRef-");
    for c in name.chars() {
        out.push(if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
            c
        } else {
            '-'
        });
    }
    Some(Cow::Owned(out))
}

/// SPDX supplier/originator (`Organization: Docker, Inc.`) without its prefix;
/// `NOASSERTION` and empty become `None`.
pub(crate) fn supplier_name(s: Option<Cow<'_, str>>) -> Option<Cow<'_, str>> {
    map_slice(s?, |s| {
        let t = s.trim();
        if is_no_assertion(t) {
            return None;
        }
        for prefix in ["Organization:", "Person:", "Tool:"] {
            if let Some(rest) = t.strip_prefix(prefix) {
                let rest = rest.trim();
                return (!rest.is_empty()).then_some(rest);
            }
        }
        Some(t)
    })
}

/// Appends a purpose/type lowercased and dashed (`OPERATING-SYSTEM`,
/// `operating_system` → `operating-system`); `None` when blank.
pub(crate) fn purpose(strings: &mut Strings, s: Option<&str>) -> Option<Span> {
    let s = s.filter(|s| !s.trim().is_empty())?;
    if !s.bytes().any(|c| c.is_ascii_uppercase() || c == b'_') {
        // already normalised, as CycloneDX `type`s are
        return Some(strings.push(&[s]));
    }
    Some(strings.push_mapped(s, |c| {
        if c == '_' {
            '-'
        } else {
            c.to_ascii_lowercase()
        }
    }))
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;

    #[test]
    fn license_expressions_are_recognised_and_names_become_license_refs() {
        assert!(looks_like_license_expression("MIT"));
        assert!(looks_like_license_expression(
            "(MIT OR Apache-2.0) AND GPL-2.0-only WITH Classpath-exception-2.0"
        ));
        assert!(!looks_like_license_expression("Apache License 2.0"));
        assert!(!looks_like_license_expression("MIT OR"));
        assert_eq!(
            license_name_to_expression("GPL-2.0+".into()).as_deref(),
            Some("GPL-2.0+")
        );
        assert_eq!(
            license_name_to_expression("Apache License, Version 2.0".into()).as_deref(),
            Some("LicenseRef-Apache-License--Version-2.0")
        );
        assert_eq!(license_name_to_expression("NOASSERTION".into()), None);
    }

    #[test]
    fn hash_algorithm_spellings_of_both_formats_agree() {
        assert_eq!(
            HashAlgorithm::from_name("SHA-256".into()),
            HashAlgorithm::Sha256
        );
        assert_eq!(
            HashAlgorithm::from_name("SHA256".into()),
            HashAlgorithm::Sha256
        );
        assert_eq!(HashAlgorithm::from_name("sha1".into()), HashAlgorithm::Sha1);
        assert_eq!(
            HashAlgorithm::from_name("SHA3-256".into()),
            HashAlgorithm::Other("SHA3-256".into())
        );
    }

    #[test]
    fn supplier_prefixes_and_noassertion_are_removed() {
        assert_eq!(
            supplier_name(Some("Organization: Docker, Inc.".into())).as_deref(),
            Some("Docker, Inc.")
        );
        assert_eq!(
            supplier_name(Some("Person: Jane (jane@example.com)".into())).as_deref(),
            Some("Jane (jane@example.com)")
        );
        assert_eq!(supplier_name(Some("NOASSERTION".into())), None);
        assert_eq!(supplier_name(Some("Organization: ".into())), None);
    }
}

//! Package URLs, read just enough to match them the OpenVEX way and to name a package's ecosystem. Not a full purl implementation (no type-specific normalisation).

/// A parsed package URL: `pkg:type/namespace/name@version?qualifiers#subpath`,
/// with percent-decoding applied to each component.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Purl {
    pub(crate) purl_type: String,
    pub(crate) namespace: String,
    pub(crate) name: String,
    pub(crate) version: Option<String>,
    pub(crate) qualifiers: Vec<(String, String)>,
    pub(crate) subpath: Option<String>,
}

/// The type (ecosystem) of a purl, lowercased (`pkg:deb/...` → `deb`), without allocation-heavy parsing.
#[cfg(test)]
pub(crate) fn purl_type(purl: &str) -> Option<String> {
    purl_type_range(purl)
        .and_then(|r| purl.get(r))
        .map(str::to_ascii_lowercase)
}

/// Where the type of `purl` is, as written (not lowercased).
pub(crate) fn purl_type_range(purl: &str) -> Option<std::ops::Range<usize>> {
    let rest = purl.strip_prefix("pkg:")?.trim_start_matches('/');
    let start = purl.len() - rest.len();
    let end = rest.find('/')?;
    let t = &rest[..end];
    if t.is_empty()
        || !t
            .bytes()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
    {
        return None;
    }
    Some(start..start + end)
}

fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            if let (Some(h), Some(l)) = (
                b.get(i + 1).and_then(|c| (*c as char).to_digit(16)),
                b.get(i + 2).and_then(|c| (*c as char).to_digit(16)),
            ) {
                // h and l are < 16, so the byte cannot overflow.
                out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                i += 3;
                continue;
            }
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

impl Purl {
    /// Parses a purl; `None` when it is not one.
    pub(crate) fn parse(s: &str) -> Option<Self> {
        let rest = s.strip_prefix("pkg:")?.trim_start_matches('/');
        let (rest, subpath) = match rest.split_once('#') {
            Some((r, sp)) => (r, Some(decode(sp.trim_matches('/')))),
            None => (rest, None),
        };
        let (rest, qualifiers) = match rest.split_once('?') {
            Some((r, q)) => {
                let mut qs: Vec<(String, String)> = q
                    .split('&')
                    .filter_map(|kv| kv.split_once('='))
                    .filter(|(_, v)| !v.is_empty())
                    .map(|(k, v)| (k.to_ascii_lowercase(), decode(v)))
                    .collect();
                qs.sort();
                (r, qs)
            }
            None => (rest, Vec::new()),
        };
        let (path, version) = match rest.rfind('@') {
            Some(i) if rest[i..].find('/').is_none() => (&rest[..i], Some(decode(&rest[i + 1..]))),
            _ => (rest, None),
        };
        let path = path.trim_end_matches('/');
        let (purl_type, path) = path.split_once('/')?;
        let (namespace, name) = match path.rsplit_once('/') {
            Some((ns, n)) => (ns, n),
            None => ("", path),
        };
        if purl_type.is_empty() || name.is_empty() {
            return None;
        }
        Some(Self {
            purl_type: purl_type.to_ascii_lowercase(),
            namespace: namespace
                .split('/')
                .map(decode)
                .collect::<Vec<_>>()
                .join("/"),
            name: decode(name),
            version: version.filter(|v| !v.is_empty()),
            qualifiers,
            subpath: subpath.filter(|s| !s.is_empty()),
        })
    }

    /// Whether `self` (the more general purl, as written in a VEX statement)
    /// covers `specific` (a package found in the image), the OpenVEX convention
    /// (go-vex `PurlMatches`): type, namespace and name equal; a missing version
    /// matches any version; every qualifier of `self` must be present with the
    /// same value in `specific`, whose extra qualifiers are ignored.
    pub(crate) fn covers(&self, specific: &Self) -> bool {
        self.purl_type == specific.purl_type
            && self.namespace == specific.namespace
            && self.name == specific.name
            && self
                .version
                .as_ref()
                .is_none_or(|v| specific.version.as_ref() == Some(v))
            && self
                .qualifiers
                .iter()
                .all(|q| specific.qualifiers.contains(q))
            && self
                .subpath
                .as_ref()
                .is_none_or(|s| specific.subpath.as_ref() == Some(s))
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)] // in tests a panic is a failed test
mod tests {
    use super::*;
    use crate::predicate::test_support::random_strings;

    #[test]
    fn purl_components_are_split_and_decoded() {
        let p = Purl::parse(
            "pkg:oci/dhi%2Floki@sha256%3Aabc?arch=amd64&repository_url=dhi.io#sub/path",
        )
        .unwrap();
        assert_eq!(p.purl_type, "oci");
        assert_eq!(p.namespace, "");
        assert_eq!(p.name, "dhi/loki");
        assert_eq!(p.version.as_deref(), Some("sha256:abc"));
        assert_eq!(
            p.qualifiers,
            vec![
                ("arch".into(), "amd64".into()),
                ("repository_url".into(), "dhi.io".into())
            ]
        );
        assert_eq!(p.subpath.as_deref(), Some("sub/path"));
        let g = Purl::parse("pkg:golang/github.com/aws/aws-sdk-go@1.55.6").unwrap();
        assert_eq!(
            (g.namespace.as_str(), g.name.as_str()),
            ("github.com/aws", "aws-sdk-go")
        );
    }

    #[test]
    fn versionless_purl_covers_every_version_but_not_the_reverse() {
        let general = Purl::parse("pkg:deb/debian/openssl").unwrap();
        let specific = Purl::parse("pkg:deb/debian/openssl@3.0.1?arch=amd64").unwrap();
        assert!(general.covers(&specific));
        assert!(!specific.covers(&general));
    }

    #[test]
    fn qualifiers_of_the_general_purl_must_be_present_in_the_specific_one() {
        let general = Purl::parse("pkg:deb/debian/openssl@3.0.1?arch=arm64").unwrap();
        assert!(!general.covers(&Purl::parse("pkg:deb/debian/openssl@3.0.1?arch=amd64").unwrap()));
        assert!(!general.covers(&Purl::parse("pkg:deb/debian/openssl@3.0.1").unwrap()));
        assert!(general.covers(
            &Purl::parse("pkg:deb/debian/openssl@3.0.1?distro=debian-13&arch=arm64").unwrap()
        ));
    }

    #[test]
    fn non_purls_do_not_parse() {
        for s in [
            "",
            "pkg:",
            "pkg:deb",
            "https://example.com/x",
            "pkg:/name",
            "pkg:deb/",
        ] {
            assert_eq!(Purl::parse(s), None, "{s}");
        }
        assert_eq!(purl_type("pkg:npm/%40scope/x@1"), Some("npm".to_owned()));
        assert_eq!(purl_type("cpe:2.3:a:x"), None);
    }

    #[test]
    fn random_strings_never_panic_the_purl_parser() {
        for s in random_strings() {
            if let Some(p) = Purl::parse(&s) {
                assert!(p.covers(&p), "a purl covers itself: {s:?}");
            }
            if let Some(r) = purl_type_range(&s) {
                assert!(s.get(r).is_some(), "the type is a slice of {s:?}");
            }
        }
    }
}

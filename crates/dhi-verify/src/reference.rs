//! Image references: `oci:<dir>[:<tag>|@sha256:<hex>]` for OCI image layouts,
//! and registry references normalised as Docker does (`python` is
//! `docker.io/library/python:latest`). Parsing only; nothing is resolved here.

use std::fmt;
use std::path::PathBuf;
use std::str::FromStr;

use crate::digest::Digest;

/// Docker Hub's canonical registry name.
pub const DOCKER_HUB: &str = "docker.io";

/// A reference to an image, in a registry or in an OCI image layout on disk.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Reference {
    /// An OCI image layout directory.
    Layout(LayoutReference),
    /// An image in a registry.
    Registry(RegistryReference),
}

/// `oci:<dir>[:<tag>|@sha256:<hex>]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayoutReference {
    /// The layout directory.
    pub path: PathBuf,
    /// The tag (`org.opencontainers.image.ref.name` in `index.json`).
    pub tag: Option<String>,
    /// The digest of a manifest or index in the layout.
    pub digest: Option<Digest>,
}

/// `[registry/]repository[:tag][@sha256:<hex>]`, normalised.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RegistryReference {
    /// Registry host (and port), e.g. `dhi.io`, `docker.io`, `localhost:5000`.
    pub registry: String,
    /// Repository path, e.g. `python`, `library/python`, `myorg/dhi-python`.
    pub repository: String,
    /// Tag; `latest` when neither tag nor digest was written.
    pub tag: Option<String>,
    /// Digest; when present it is what gets verified, and the tag is only informative.
    pub digest: Option<Digest>,
}

/// Why a string is not a reference.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReferenceError {
    /// Empty input.
    #[error("empty image reference")]
    Empty,
    /// The digest part is malformed.
    #[error("invalid digest in reference {reference:?}: expected @sha256:<64 lowercase hex>")]
    InvalidDigest {
        /// The whole reference.
        reference: String,
    },
    /// The tag part is malformed.
    #[error("invalid tag {tag:?} in reference {reference:?}: expected [A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}")]
    InvalidTag {
        /// The whole reference.
        reference: String,
        /// The tag as written.
        tag: String,
    },
    /// The repository name is malformed.
    #[error("invalid repository {repository:?} in reference {reference:?}: expected lowercase path components [a-z0-9] separated by '.', '_', '__' or '-'")]
    InvalidRepository {
        /// The whole reference.
        reference: String,
        /// The repository as written.
        repository: String,
    },
    /// `oci:` with no directory.
    #[error("invalid layout reference {reference:?}: expected oci:<dir>[:<tag>|@sha256:<hex>]")]
    InvalidLayout {
        /// The whole reference.
        reference: String,
    },
    /// An `oci:` layout where only a registry reference can stand (an image
    /// in a Kubernetes manifest or Compose file).
    #[error("{reference:?} is an OCI layout reference: expected a registry reference [registry/]repository[:tag][@sha256:<hex>]")]
    NotARegistryReference {
        /// The whole reference.
        reference: String,
    },
}

fn valid_tag(tag: &str) -> bool {
    let mut bytes = tag.bytes();
    match bytes.next() {
        Some(b) if b.is_ascii_alphanumeric() || b == b'_' => {}
        _ => return false,
    }
    tag.len() <= 128
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.' || b == b'-')
}

/// One path component: `[a-z0-9]+((\.|_|__|-+)[a-z0-9]+)*` (distribution's grammar).
fn valid_component(c: &str) -> bool {
    let b = c.as_bytes();
    if b.is_empty() || !b[0].is_ascii_lowercase() && !b[0].is_ascii_digit() {
        return false;
    }
    let alnum = |x: u8| x.is_ascii_lowercase() || x.is_ascii_digit();
    let mut i = 0;
    while i < b.len() {
        if alnum(b[i]) {
            i += 1;
            continue;
        }
        // A separator run: ".", "_", "__" or one or more "-", then alnum.
        let start = i;
        if b[i] == b'-' {
            while i < b.len() && b[i] == b'-' {
                i += 1;
            }
        } else if b[i] == b'.' {
            i += 1;
        } else if b[i] == b'_' {
            i += 1;
            if i < b.len() && b[i] == b'_' {
                i += 1;
            }
        } else {
            return false;
        }
        if i == start || i >= b.len() || !alnum(b[i]) {
            return false;
        }
    }
    true
}

fn looks_like_registry(first: &str) -> bool {
    first.contains('.')
        || first.contains(':')
        || first == "localhost"
        || first.bytes().any(|b| b.is_ascii_uppercase())
}

impl Reference {
    /// Parses a reference. Strings beginning `oci:` are layout references;
    /// everything else is a registry reference.
    pub fn parse(input: &str) -> Result<Self, ReferenceError> {
        let input = input.trim();
        if input.is_empty() {
            return Err(ReferenceError::Empty);
        }
        match input.strip_prefix("oci:") {
            Some(rest) => parse_layout(input, rest).map(Reference::Layout),
            None => parse_registry(input).map(Reference::Registry),
        }
    }

    /// The digest written in the reference, if any.
    pub fn digest(&self) -> Option<&Digest> {
        match self {
            Reference::Layout(l) => l.digest.as_ref(),
            Reference::Registry(r) => r.digest.as_ref(),
        }
    }
}

fn parse_layout(input: &str, rest: &str) -> Result<LayoutReference, ReferenceError> {
    let invalid = || ReferenceError::InvalidLayout {
        reference: input.to_owned(),
    };
    if let Some((path, digest)) = rest.rsplit_once('@') {
        let digest = digest.parse().map_err(|_| ReferenceError::InvalidDigest {
            reference: input.to_owned(),
        })?;
        if path.is_empty() {
            return Err(invalid());
        }
        return Ok(LayoutReference {
            path: PathBuf::from(path),
            tag: None,
            digest: Some(digest),
        });
    }
    // A tag is what follows the last ':' when that ':' comes after the last '/'.
    let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
    let (path, tag) = match rest[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&rest[..at], Some(&rest[at + 1..]))
        }
        None => (rest, None),
    };
    if path.is_empty() {
        return Err(invalid());
    }
    if let Some(tag) = tag {
        if !valid_tag(tag) {
            return Err(ReferenceError::InvalidTag {
                reference: input.to_owned(),
                tag: tag.to_owned(),
            });
        }
    }
    Ok(LayoutReference {
        path: PathBuf::from(path),
        tag: tag.map(str::to_owned),
        digest: None,
    })
}

fn parse_registry(input: &str) -> Result<RegistryReference, ReferenceError> {
    let (name_tag, digest) = match input.split_once('@') {
        Some((n, d)) => (
            n,
            Some(
                d.parse::<Digest>()
                    .map_err(|_| ReferenceError::InvalidDigest {
                        reference: input.to_owned(),
                    })?,
            ),
        ),
        None => (input, None),
    };
    let last_slash = name_tag.rfind('/').map_or(0, |i| i + 1);
    let (name, tag) = match name_tag[last_slash..].rfind(':') {
        Some(i) => {
            let at = last_slash + i;
            (&name_tag[..at], Some(&name_tag[at + 1..]))
        }
        None => (name_tag, None),
    };
    if let Some(tag) = tag {
        if !valid_tag(tag) {
            return Err(ReferenceError::InvalidTag {
                reference: input.to_owned(),
                tag: tag.to_owned(),
            });
        }
    }
    let (registry, repository) = match name.split_once('/') {
        Some((first, rest)) if looks_like_registry(first) => (first.to_owned(), rest.to_owned()),
        _ => (DOCKER_HUB.to_owned(), name.to_owned()),
    };
    let registry = match registry.as_str() {
        "index.docker.io" | "registry-1.docker.io" => DOCKER_HUB.to_owned(),
        _ => registry,
    };
    let repository = if registry == DOCKER_HUB && !repository.contains('/') {
        format!("library/{repository}")
    } else {
        repository
    };
    if repository.len() > 255 || !repository.split('/').all(valid_component) {
        return Err(ReferenceError::InvalidRepository {
            reference: input.to_owned(),
            repository,
        });
    }
    let tag = match (tag, &digest) {
        (Some(t), _) => Some(t.to_owned()),
        (None, None) => Some("latest".to_owned()),
        (None, Some(_)) => None,
    };
    Ok(RegistryReference {
        registry,
        repository,
        tag,
        digest,
    })
}

impl FromStr for Reference {
    type Err = ReferenceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Reference::parse(s)
    }
}

impl fmt::Display for Reference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reference::Layout(l) => {
                write!(f, "oci:{}", l.path.display())?;
                if let Some(t) = &l.tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = &l.digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
            Reference::Registry(r) => {
                write!(f, "{}/{}", r.registry, r.repository)?;
                if let Some(t) = &r.tag {
                    write!(f, ":{t}")?;
                }
                if let Some(d) = &r.digest {
                    write!(f, "@{d}")?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HEX: &str = "be3c790e0b4d8f4bbbd0e42a0a6b36d9ac9e6d9e0d7e2e8d2a6b1c7f2e3d4c5b";

    fn reg(s: &str) -> RegistryReference {
        match Reference::parse(s).unwrap() {
            Reference::Registry(r) => r,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn layout_reference_with_tag_splits_at_the_last_colon_after_the_last_slash() {
        let r = Reference::parse("oci:testdata/demo:3.13").unwrap();
        assert_eq!(
            r,
            Reference::Layout(LayoutReference {
                path: "testdata/demo".into(),
                tag: Some("3.13".into()),
                digest: None
            })
        );
        let r = Reference::parse("oci:/tmp/a:b/layout").unwrap();
        let Reference::Layout(l) = r else { panic!() };
        assert_eq!(l.path, PathBuf::from("/tmp/a:b/layout"));
        assert_eq!(l.tag, None);
    }

    #[test]
    fn layout_reference_with_digest() {
        let r = Reference::parse(&format!("oci:/x/y@sha256:{HEX}")).unwrap();
        let Reference::Layout(l) = r else { panic!() };
        assert_eq!(l.digest.unwrap().hex(), HEX);
        assert!(Reference::parse("oci:/x/y@sha256:abc").is_err());
        assert!(Reference::parse("oci:").is_err());
    }

    #[test]
    fn registry_references_normalise_like_docker() {
        let r = reg("python");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("docker.io", "library/python", Some("latest"))
        );
        let r = reg("index.docker.io/myorg/dhi-python:3.13");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str()),
            ("docker.io", "myorg/dhi-python")
        );
        let r = reg("dhi.io/python:3.13");
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("dhi.io", "python", Some("3.13"))
        );
        let r = reg(&format!("localhost:5000/a/b:t@sha256:{HEX}"));
        assert_eq!(
            (r.registry.as_str(), r.repository.as_str(), r.tag.as_deref()),
            ("localhost:5000", "a/b", Some("t"))
        );
        assert!(r.digest.is_some());
        let r = reg(&format!("dhi.io/python@sha256:{HEX}"));
        assert_eq!(r.tag, None);
    }

    #[test]
    fn malformed_registry_references_are_rejected() {
        for bad in [
            "dhi.io/Python:3",
            "dhi.io/py--",
            "dhi.io/python:",
            "dhi.io/python:-x",
            "a//b",
            "dhi.io/python@sha256:zz",
            " ",
        ] {
            assert!(Reference::parse(bad).is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn references_display_in_canonical_form() {
        assert_eq!(
            Reference::parse("python:3").unwrap().to_string(),
            "docker.io/library/python:3"
        );
        assert_eq!(Reference::parse("oci:d:t").unwrap().to_string(), "oci:d:t");
    }
}

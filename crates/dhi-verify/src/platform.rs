//! Platforms (`os/arch[/variant]`): parsing, the host default, and matching an
//! index entry the way container runtimes do (`arm64` is `arm64/v8`).

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};

/// A platform an image can run on, such as `linux/amd64` or `linux/arm64/v8`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct Platform {
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU architecture in Go's spelling, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// CPU variant, e.g. `v8` for arm64 or `v7` for arm.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
}

/// Why a string is not a platform.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid platform {input:?}: expected os/arch[/variant], e.g. linux/amd64")]
pub struct PlatformParseError {
    /// The rejected input.
    pub input: String,
}

impl Platform {
    /// `linux/amd64`.
    pub fn linux_amd64() -> Self {
        Platform::new("linux", "amd64", None)
    }

    /// `linux/arm64`.
    pub fn linux_arm64() -> Self {
        Platform::new("linux", "arm64", None)
    }

    /// A platform from its parts.
    pub fn new(os: &str, architecture: &str, variant: Option<&str>) -> Self {
        Platform {
            os: os.to_owned(),
            architecture: architecture.to_owned(),
            variant: variant.map(str::to_owned),
        }
    }

    /// The platform of this machine, as a container runtime would pick it:
    /// always `linux` (container images are Linux images on every host), and
    /// the host's CPU architecture in Go's spelling.
    pub fn host() -> Self {
        let arch = match std::env::consts::ARCH {
            "x86_64" => "amd64",
            "aarch64" => "arm64",
            "x86" => "386",
            "arm" => "arm",
            "powerpc64" => "ppc64le",
            "s390x" => "s390x",
            "riscv64" => "riscv64",
            other => other,
        };
        Platform::new("linux", arch, None)
    }

    /// The variant a runtime assumes when none is written (`arm64` → `v8`,
    /// `arm` → `v7`, `amd64` → `v1`).
    fn effective_variant(&self) -> Option<&str> {
        match (self.variant.as_deref(), self.architecture.as_str()) {
            (Some(v), _) => Some(v),
            (None, "arm64") => Some("v8"),
            (None, "arm") => Some("v7"),
            (None, "amd64") => Some("v1"),
            (None, _) => None,
        }
    }

    /// Whether an index entry for `offered` satisfies a request for `self`.
    /// Operating system and architecture must be equal; a requested variant
    /// must equal the offered one after defaults (`arm64` is `arm64/v8`); a
    /// request without a variant accepts any variant.
    pub fn matches(&self, offered: &Platform) -> bool {
        if self.os != offered.os || self.architecture != offered.architecture {
            return false;
        }
        match self.variant {
            None => true,
            Some(_) => self.effective_variant() == offered.effective_variant(),
        }
    }
}

impl FromStr for Platform {
    type Err = PlatformParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || PlatformParseError {
            input: s.chars().take(100).collect(),
        };
        let parts: Vec<&str> = s.split('/').collect();
        let valid = |p: &str| {
            !p.is_empty()
                && p.len() <= 32
                && p.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-' || b == b'.')
        };
        if !parts.iter().all(|p| valid(p)) {
            return Err(err());
        }
        match parts.as_slice() {
            [os, arch] => Ok(Platform::new(os, arch, None)),
            [os, arch, variant] => Ok(Platform::new(os, arch, Some(variant))),
            _ => Err(err()),
        }
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p(s: &str) -> Platform {
        s.parse().unwrap()
    }

    #[test]
    fn platform_strings_round_trip() {
        for s in ["linux/amd64", "linux/arm64/v8", "windows/amd64"] {
            assert_eq!(p(s).to_string(), s);
        }
    }

    #[test]
    fn malformed_platforms_are_rejected() {
        for bad in [
            "linux",
            "linux/",
            "/amd64",
            "linux/arm64/v8/x",
            "",
            "linux/am d64",
        ] {
            assert!(bad.parse::<Platform>().is_err(), "{bad:?} parsed");
        }
    }

    #[test]
    fn arm64_matches_arm64_v8_both_ways() {
        assert!(p("linux/arm64").matches(&p("linux/arm64/v8")));
        assert!(p("linux/arm64/v8").matches(&p("linux/arm64")));
        assert!(!p("linux/arm/v6").matches(&p("linux/arm/v7")));
        assert!(!p("linux/arm64/v8").matches(&p("linux/amd64")));
        assert!(!p("linux/amd64").matches(&p("windows/amd64")));
    }
}

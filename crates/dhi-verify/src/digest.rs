//! Content digests (`sha256:<64 lowercase hex>`): parsing, computing and
//! comparing. Nothing here fetches or trusts anything.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest as _, Sha256};

/// A SHA-256 content digest, the only algorithm OCI registries and DHI use.
///
/// Parsing is strict: the OCI image spec requires lowercase hex for `sha256`
/// ("the encoded portion MUST match /[a-f0-9]{64}/"), so `SHA256:` or
/// uppercase hex are rejected rather than normalised.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest([u8; 32]);

/// Why a string is not a digest.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid digest {input:?}: expected sha256:<64 lowercase hex characters>")]
pub struct DigestParseError {
    /// The rejected input (truncated to 100 characters).
    pub input: String,
}

impl Digest {
    /// The digest of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        Digest(Sha256::digest(bytes).into())
    }

    /// A digest from its raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Digest(bytes)
    }

    /// Parses the 64-character lowercase hex form without the `sha256:` prefix.
    pub fn from_hex(hex_str: &str) -> Result<Self, DigestParseError> {
        let err = || DigestParseError {
            input: hex_str.chars().take(100).collect(),
        };
        if hex_str.len() != 64
            || !hex_str
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(err());
        }
        let mut out = [0u8; 32];
        hex::decode_to_slice(hex_str, &mut out).map_err(|_| err())?;
        Ok(Digest(out))
    }

    /// The raw 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The 64-character lowercase hex form, without the algorithm.
    pub fn hex(&self) -> String {
        hex::encode(self.0)
    }

    /// The OCI tag-schema fallback tag for referrers of this digest: `sha256-<hex>`.
    pub fn fallback_tag(&self) -> String {
        format!("sha256-{}", self.hex())
    }

    /// A short form for people: `sha256:` and the first 12 hex characters.
    pub fn short(&self) -> String {
        format!("sha256:{}", &self.hex()[..12])
    }
}

impl FromStr for Digest {
    type Err = DigestParseError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.strip_prefix("sha256:") {
            Some(hex_str) => Digest::from_hex(hex_str).map_err(|_| DigestParseError {
                input: s.chars().take(100).collect(),
            }),
            None => Err(DigestParseError {
                input: s.chars().take(100).collect(),
            }),
        }
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "sha256:{}", self.hex())
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for Digest {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Digest {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = std::borrow::Cow::<str>::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_round_trips_through_its_string_form() {
        let d = Digest::of(b"{}");
        assert_eq!(
            d.to_string(),
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a"
        );
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d));
    }

    #[test]
    fn uppercase_short_or_foreign_digests_are_rejected() {
        for bad in [
            "sha256:44136FA355B3678A1146AD16F7E8649E94FB4FC21FE77E8310C060F61CAAFF8A",
            "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8",
            "sha512:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
            "sha256:../../../../etc/passwd000000000000000000000000000000000000000",
            "",
        ] {
            assert!(bad.parse::<Digest>().is_err(), "{bad} parsed");
        }
    }

    #[test]
    fn fallback_tag_follows_the_oci_tag_schema() {
        let d = Digest::of(b"x");
        assert_eq!(d.fallback_tag(), format!("sha256-{}", d.hex()));
    }
}

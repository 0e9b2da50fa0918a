//! Errors, one enum per layer, and the outcome each one means.
//!
//! The rule that keeps the gate honest: an error *knows its outcome*.
//! [`SourceError::outcome`] says whether a failed fetch is evidence of
//! tampering ([`Outcome::Fail`]: bytes that do not match their digest, content
//! named by a digest that is absent) or a failure to check at all
//! ([`Outcome::Error`]: I/O, network). Nothing maps to [`Outcome::Pass`].

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::reference::ReferenceError;

mod bundle;

pub use bundle::BundleError;

/// The result of verifying an image. Never conflated: "could not check" is
/// `Error`, "checked, and it failed" is `Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// Every required check passed.
    Pass,
    /// Verification or policy failed, including integrity mismatches.
    Fail,
    /// Verification could not finish (I/O, network, registry errors).
    Error,
}

/// A failure to get bytes from a source (layout or registry).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SourceError {
    /// The bytes fetched do not hash to the digest that named them.
    #[error("content of {expected} does not match its digest: it hashes to {found}")]
    DigestMismatch {
        /// The digest that named the content.
        expected: Digest,
        /// The digest of the bytes actually found.
        found: Digest,
    },
    /// The content is not the size its descriptor declares.
    #[error("{digest} is {found} bytes, but its descriptor declares {expected}")]
    SizeMismatch {
        /// The content's digest.
        digest: Digest,
        /// The size the descriptor declares.
        expected: u64,
        /// The size found.
        found: u64,
    },
    /// The content is larger than the limit for its kind.
    #[error(
        "{digest} is larger than the {limit_name} limit of {limit} bytes (found {found} bytes)"
    )]
    TooLarge {
        /// The content's digest.
        digest: Digest,
        /// Which limit (a field of [`crate::Limits`]).
        limit_name: &'static str,
        /// The limit.
        limit: u64,
        /// The size seen (at least limit + 1).
        found: u64,
    },
    /// JSON nested deeper than [`crate::Limits::max_json_depth`].
    #[error("{digest} nests JSON deeper than the max_json_depth limit of {limit}")]
    TooDeep {
        /// The content's digest.
        digest: Digest,
        /// The limit.
        limit: usize,
    },
    /// Content named by a digest is absent.
    #[error("{digest} is missing from {location}")]
    Missing {
        /// The digest that named it.
        digest: Digest,
        /// Where it was looked for.
        location: String,
    },
    /// A manifest or index (digest already checked) does not parse.
    #[error("{digest} is not a valid {expected}: {reason}")]
    Malformed {
        /// The content's digest.
        digest: Digest,
        /// What it should have been, e.g. "OCI image manifest".
        expected: &'static str,
        /// The parser's message.
        reason: String,
    },
    /// More referrers than [`crate::Limits::max_referrers`].
    #[error("{subject} has more than {limit} referrers (found {found}); refusing to truncate")]
    TooManyReferrers {
        /// The digest whose referrers were listed.
        subject: Digest,
        /// The limit.
        limit: usize,
        /// How many were found.
        found: usize,
    },
    /// A tag is not in the source.
    #[error("tag {tag:?} not found in {location}")]
    TagNotFound {
        /// The tag.
        tag: String,
        /// Where it was looked for.
        location: String,
    },
    /// A layout reference named no tag and the layout holds several manifests.
    #[error("{location} holds {count} manifests; name one with :<tag> or @sha256:<hex>")]
    AmbiguousReference {
        /// The layout.
        location: String,
        /// How many manifests it lists.
        count: usize,
    },
    /// The directory is not an OCI image layout.
    #[error("{} is not an OCI image layout: {reason}", path.display())]
    InvalidLayout {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// Reading from disk failed.
    #[error("reading {}: {message}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The operating system's message.
        message: String,
    },
    /// A registry answered with an unexpected HTTP status (after retries,
    /// when the status was one worth retrying).
    #[error("{location}: {what}: expected {expected}, got HTTP {status}{}", attempts_note(*attempts))]
    Http {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested, e.g. "manifest sha256:…", "referrers of sha256:…".
        what: String,
        /// What a good answer would have been, e.g. "200 or 404".
        expected: &'static str,
        /// The HTTP status of the last answer.
        status: u16,
        /// How many requests were made.
        attempts: u32,
    },
    /// A registry refused the credentials (or their absence): HTTP 401/403
    /// after authenticating, or a token server refusing a token.
    #[error("{location}: access denied (HTTP {status}) for scope {scope:?}{}: {reason}", if *credentials { " with credentials" } else { " anonymously" })]
    Unauthorized {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// The scope asked for, e.g. `repository:dhi/python:pull`.
        scope: String,
        /// The HTTP status (401 or 403).
        status: u16,
        /// Whether credentials were sent.
        credentials: bool,
        /// The registry's or token server's explanation, if any.
        reason: String,
    },
    /// The connection failed or broke off (after retries).
    #[error("{location}: {what}: {reason} (after {attempts} attempt(s))")]
    Transport {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested.
        what: String,
        /// The transport's message.
        reason: String,
        /// How many requests were made.
        attempts: u32,
    },
    /// A request took longer than the configured timeout.
    #[error("{location}: {what}: timed out after {after_ms} ms ({which} timeout)")]
    Timeout {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested.
        what: String,
        /// The timeout that expired, in milliseconds.
        after_ms: u64,
        /// "connect" or "request".
        which: &'static str,
    },
    /// A registry answered in a way the distribution spec does not allow
    /// (a referrers response that is not an image index, a bad `Link`, a bad
    /// authentication challenge).
    #[error("{location}: {what}: {problem}")]
    Protocol {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested.
        what: String,
        /// What the spec requires and what was found.
        problem: String,
    },
    /// A registry answer with no digest to name it (a tag's manifest, a
    /// referrers page) is larger than its limit. Refused before reading past it.
    #[error(
        "{location}: {what} is over the max_manifest_bytes limit of {limit} bytes (found {found})"
    )]
    ResponseTooLarge {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested.
        what: String,
        /// The limit ([`crate::Limits::max_manifest_bytes`]).
        limit: u64,
        /// The size declared or seen (at least limit + 1).
        found: u64,
    },
    /// Reading more would take one verification over
    /// [`crate::Limits::max_total_bytes`]. Could not check (exit 3): the
    /// image was not judged, and a larger budget might let it pass.
    #[error(
        "reading {what} takes this verification to {read} bytes, over the max_total_bytes budget of {limit} bytes"
    )]
    BudgetExceeded {
        /// The budget ([`crate::Limits::max_total_bytes`]).
        limit: u64,
        /// Bytes read in this verification, counting the read refused (at least limit + 1).
        read: u64,
        /// What was being read.
        what: String,
    },
    /// The verification's deadline passed (checked before each read).
    #[error("the deadline of {deadline_ms} ms for one verification passed before reading {what}")]
    DeadlineExceeded {
        /// The deadline ([`crate::VerifierBuilder::deadline`]), in milliseconds.
        deadline_ms: u64,
        /// What was about to be read.
        what: String,
    },
    /// A registry's redirects were not followed to the end: a loop, more
    /// than [`crate::source::registry::RegistryOptions::max_redirects`], or
    /// a redirect to plain HTTP on a host that is not loopback or insecure.
    #[error("{location}: {what}: {reason} (at most {limit} redirects are followed)")]
    Redirect {
        /// `registry/repository`, e.g. `dhi.io/python`.
        location: String,
        /// What was requested.
        what: String,
        /// [`crate::source::registry::RegistryOptions::max_redirects`].
        limit: u32,
        /// The loop, the chain's length or the refused URL.
        reason: String,
    },
    /// Registry credentials could not be read (a malformed config.json, a
    /// failing credential helper).
    #[error("credentials for {registry}: {reason}")]
    Credentials {
        /// The registry host.
        registry: String,
        /// What went wrong.
        reason: String,
    },
}

fn attempts_note(attempts: u32) -> String {
    if attempts > 1 {
        format!(" after {attempts} attempts")
    } else {
        String::new()
    }
}

fn seconds(ms: u64) -> String {
    if ms % 1000 == 0 {
        format!("{} s", ms / 1000)
    } else {
        format!("{ms} ms")
    }
}

fn waiting_note(during: &[String]) -> String {
    if during.is_empty() {
        String::new()
    } else {
        format!(" while waiting for {}", during.join("; "))
    }
}

impl SourceError {
    /// Whether this failure means "checked, and it failed" or "could not check".
    pub fn outcome(&self) -> Outcome {
        match self {
            SourceError::DigestMismatch { .. }
            | SourceError::SizeMismatch { .. }
            | SourceError::TooLarge { .. }
            | SourceError::TooDeep { .. }
            | SourceError::Missing { .. }
            | SourceError::Malformed { .. }
            | SourceError::TooManyReferrers { .. }
            | SourceError::ResponseTooLarge { .. } => Outcome::Fail,
            SourceError::TagNotFound { .. }
            | SourceError::AmbiguousReference { .. }
            | SourceError::InvalidLayout { .. }
            | SourceError::Io { .. }
            | SourceError::Http { .. }
            | SourceError::Unauthorized { .. }
            | SourceError::Transport { .. }
            | SourceError::Timeout { .. }
            | SourceError::Protocol { .. }
            | SourceError::Credentials { .. }
            | SourceError::BudgetExceeded { .. }
            | SourceError::DeadlineExceeded { .. }
            | SourceError::Redirect { .. } => Outcome::Error,
        }
    }
}

/// Invalid configuration: bad keys, contradictory options. Always a usage error.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A public key could not be read.
    #[error("public key {name:?}: {reason}")]
    InvalidKey {
        /// The key's name (file name or embedded name).
        name: String,
        /// Why it was rejected.
        reason: String,
    },
    /// A predicate type requirement is neither a known alias nor a URI.
    #[error("unknown requirement {input:?}: expected a predicate type URI or one of {aliases}")]
    UnknownRequirement {
        /// The requirement as written.
        input: String,
        /// The aliases that exist.
        aliases: String,
    },
    /// The trust root holds no key or identity that could ever verify a signature.
    #[error("the trust root has no active key and no keyless identity: nothing could verify")]
    NoActiveKey,
    /// The policy requires no attestation: any image with a valid index would pass.
    #[error("the policy requires no attestation type: nothing verified would pass any image")]
    NothingRequired,
    /// A platform list was given but empty.
    #[error("no platform selected")]
    NoPlatform,
    /// The HTTP client for registries could not be set up (TLS initialisation).
    #[error("setting up the registry client: {reason}")]
    RegistryClient {
        /// The client library's message.
        reason: String,
    },
}

/// Why verification could not produce a verdict. Failures of the image itself
/// are a [`crate::Verdict`] with outcome `fail`, never an `Err`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The reference does not parse.
    #[error(transparent)]
    Reference(#[from] ReferenceError),
    /// The verifier's configuration is invalid.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// A source failed in a way that means the check could not be made.
    #[error("{step} ({subject}): {source}")]
    Source {
        /// The step that failed; its `Display` is the step's name in the
        /// message ("resolve reference", "list referrers", …).
        step: SourceStep,
        /// What the step was about: a reference or a digest.
        subject: String,
        /// The underlying failure.
        source: SourceError,
    },
    /// The verification's deadline ([`crate::VerifierBuilder::deadline`])
    /// passed before it finished. Could not check (exit 3).
    #[error("verifying {reference}: the deadline of {} passed{}", seconds(*deadline_ms), waiting_note(during))]
    DeadlineExceeded {
        /// The reference being verified.
        reference: String,
        /// The deadline, in milliseconds.
        deadline_ms: u64,
        /// What was being fetched or read when it passed (empty: between reads).
        during: Vec<String>,
    },
    /// The reference is valid but its kind is not supported yet.
    #[error("{reference}: {what} is not supported yet")]
    Unsupported {
        /// The reference.
        reference: String,
        /// What is missing.
        what: &'static str,
    },
}

/// The step of a verification at which a source failed ([`Error::Source`]):
/// opening a layout, resolving the reference, and each fetch or listing of the
/// walk index → platforms → referrers → attestations → signatures, and
/// cosign's tags. `Display` gives the step's name as it appears in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SourceStep {
    /// Opening an OCI image layout (`oci:<dir>`). Shown as "open layout".
    OpenLayout,
    /// Resolving the reference's tag or digest to the top manifest. Shown as "resolve reference".
    ResolveReference,
    /// Fetching the top manifest (an index or a single-platform manifest). Shown as "fetch index".
    FetchIndex,
    /// Listing the referrers of the index. Shown as "list referrers of the index".
    ListIndexReferrers,
    /// Fetching a selected platform's manifest. Shown as "fetch platform manifest".
    FetchPlatformManifest,
    /// Fetching a platform's image configuration. Shown as "fetch image configuration".
    FetchImageConfig,
    /// Listing the referrers of a platform manifest. Shown as "list referrers".
    ListReferrers,
    /// Fetching an attestation manifest. Shown as "fetch attestation manifest".
    FetchAttestationManifest,
    /// Fetching an attestation manifest's statement layer. Shown as "fetch statement".
    FetchStatement,
    /// Listing the referrers (signatures) of an attestation manifest. Shown as "list signature referrers".
    ListSignatureReferrers,
    /// Fetching a signature manifest. Shown as "fetch signature manifest".
    FetchSignatureManifest,
    /// Fetching a signature manifest's payload layer. Shown as "fetch signature payload".
    FetchSignaturePayload,
    /// Fetching a BuildKit attestation manifest held in the index. Shown as "fetch in-index attestation manifest".
    FetchInIndexAttestationManifest,
    /// Fetching a statement layer of a BuildKit in-index attestation manifest. Shown as "fetch in-index attestation statement".
    FetchInIndexAttestationStatement,
    /// Resolving cosign's `sha256-<hex>.sig` tag. Shown as "resolve cosign signature tag".
    ResolveCosignSignatureTag,
    /// Resolving cosign's `sha256-<hex>.att` tag. Shown as "resolve cosign attestation tag".
    ResolveCosignAttestationTag,
    /// Fetching the manifest a cosign `.sig` or `.att` tag names. Shown as "fetch cosign tag manifest".
    FetchCosignTagManifest,
    /// Fetching a layer of a cosign tag's manifest. Shown as "fetch cosign tag layer".
    FetchCosignTagLayer,
    /// Reading within the verification's byte budget ([`crate::Limits`]' `max_total_bytes`). Shown as "read within max_total_bytes".
    ReadWithinBudget,
}

impl SourceStep {
    /// The step's name as it appears in messages, e.g. "resolve reference".
    pub fn as_str(self) -> &'static str {
        match self {
            SourceStep::OpenLayout => "open layout",
            SourceStep::ResolveReference => "resolve reference",
            SourceStep::FetchIndex => "fetch index",
            SourceStep::ListIndexReferrers => "list referrers of the index",
            SourceStep::FetchPlatformManifest => "fetch platform manifest",
            SourceStep::FetchImageConfig => "fetch image configuration",
            SourceStep::ListReferrers => "list referrers",
            SourceStep::FetchAttestationManifest => "fetch attestation manifest",
            SourceStep::FetchStatement => "fetch statement",
            SourceStep::ListSignatureReferrers => "list signature referrers",
            SourceStep::FetchSignatureManifest => "fetch signature manifest",
            SourceStep::FetchSignaturePayload => "fetch signature payload",
            SourceStep::FetchInIndexAttestationManifest => "fetch in-index attestation manifest",
            SourceStep::FetchInIndexAttestationStatement => "fetch in-index attestation statement",
            SourceStep::ResolveCosignSignatureTag => "resolve cosign signature tag",
            SourceStep::ResolveCosignAttestationTag => "resolve cosign attestation tag",
            SourceStep::FetchCosignTagManifest => "fetch cosign tag manifest",
            SourceStep::FetchCosignTagLayer => "fetch cosign tag layer",
            SourceStep::ReadWithinBudget => "read within max_total_bytes",
        }
    }
}

impl std::fmt::Display for SourceStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whose problem an error is, so a caller maps every error of this crate to
/// an outcome in one place: [`Error::class`] is `Usage` or `Error`,
/// [`BundleError::class`] is `Usage` or `Fail`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ErrorClass {
    /// The caller's input is unusable (a malformed reference or policy, a key
    /// or trusted root that does not parse, an invalid regular expression);
    /// never caused by what is verified.
    Usage,
    /// What was verified is wrong: a signature, bundle or log entry did not
    /// verify ("checked, and it failed").
    Fail,
    /// Verification could not finish ("could not check"): I/O, network,
    /// registry errors, a limit on the verification as a whole, the deadline.
    Error,
}

impl Error {
    /// [`ErrorClass::Usage`] for the caller's input, else [`ErrorClass::Error`]: "could not check".
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Reference(_) | Error::Config(_) => ErrorClass::Usage,
            Error::Source { .. } | Error::Unsupported { .. } | Error::DeadlineExceeded { .. } => {
                ErrorClass::Error
            }
        }
    }
}

/// Which content of an attestation failed its integrity checks
/// ([`VerifyError::Content`]). `Display` gives the name used in messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ContentStep {
    /// A signature manifest. Shown as "signature manifest".
    SignatureManifest,
    /// A signature manifest's payload layer. Shown as "signature payload".
    SignaturePayload,
    /// A Sigstore bundle layer of a signature manifest. Shown as "signature bundle".
    SignatureBundle,
    /// The listing of an attestation manifest's signatures. Shown as "signature referrers".
    SignatureReferrers,
    /// An attestation manifest. Shown as "attestation manifest".
    AttestationManifest,
    /// An attestation manifest's statement layer. Shown as "statement".
    Statement,
    /// A BuildKit attestation manifest held in the index. Shown as "in-index attestation manifest".
    InIndexAttestationManifest,
    /// A statement layer of a BuildKit in-index attestation manifest. Shown as "in-index attestation statement".
    InIndexAttestationStatement,
    /// What cosign's `sha256-<hex>.sig` tag names. Shown as "cosign signature tag".
    CosignSignatureTag,
    /// What cosign's `sha256-<hex>.att` tag names. Shown as "cosign attestation tag".
    CosignAttestationTag,
    /// A layer of a cosign `.att` manifest. Shown as "cosign attestation layer".
    CosignAttestationLayer,
}

impl ContentStep {
    /// The content's name as it appears in messages, e.g. "statement".
    pub fn as_str(self) -> &'static str {
        match self {
            ContentStep::SignatureManifest => "signature manifest",
            ContentStep::SignaturePayload => "signature payload",
            ContentStep::SignatureBundle => "signature bundle",
            ContentStep::SignatureReferrers => "signature referrers",
            ContentStep::AttestationManifest => "attestation manifest",
            ContentStep::Statement => "statement",
            ContentStep::InIndexAttestationManifest => "in-index attestation manifest",
            ContentStep::InIndexAttestationStatement => "in-index attestation statement",
            ContentStep::CosignSignatureTag => "cosign signature tag",
            ContentStep::CosignAttestationTag => "cosign attestation tag",
            ContentStep::CosignAttestationLayer => "cosign attestation layer",
        }
    }
}

impl std::fmt::Display for ContentStep {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A broken link in the chain from trusted key to platform manifest
/// (DHI-FORMAT.md §1). Each variant is one check; each says what was expected
/// and what was found. All of them mean [`Outcome::Fail`] for the attestation.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// Fetching content of this attestation failed its integrity checks.
    #[error("{step}: {source}")]
    Content {
        /// Which content.
        step: ContentStep,
        /// The source's failure.
        source: SourceError,
    },
    /// The attestation manifest is not `artifactType: application/vnd.in-toto+json`.
    #[error("attestation manifest artifact type is {found:?}, expected {expected:?}")]
    AttestationArtifactType {
        /// The in-toto media type.
        expected: &'static str,
        /// What the manifest declares.
        found: String,
    },
    /// The attestation manifest's `subject` is not this platform's manifest.
    #[error("attestation manifest subject is {found:?}, expected {expected}")]
    AttestationSubject {
        /// This platform's manifest digest.
        expected: Digest,
        /// The subject found (None: no subject).
        found: Option<Digest>,
    },
    /// A referrer's `subject` names the right digest but the wrong size or media type.
    #[error("{referrer} subject {field} is {found}, expected {expected}")]
    SubjectDescriptor {
        /// "attestation manifest" or "signature manifest".
        referrer: &'static str,
        /// "size" or "mediaType".
        field: &'static str,
        /// What the subject manifest is.
        expected: String,
        /// What the referrer says.
        found: String,
    },
    /// The attestation manifest does not have exactly one in-toto layer.
    #[error("attestation manifest has layers {found:?}, expected exactly one {expected:?} layer")]
    AttestationLayers {
        /// The in-toto media type.
        expected: &'static str,
        /// The media types of the layers found.
        found: Vec<String>,
    },
    /// No `in-toto.io/predicate-type` annotation on the attestation manifest.
    #[error("attestation manifest has no in-toto.io/predicate-type annotation")]
    MissingPredicateTypeAnnotation,
    /// The manifest and layer annotations disagree on the predicate type.
    #[error("attestation manifest says predicate type {manifest:?} but its layer says {layer:?}")]
    PredicateTypeAnnotationsDisagree {
        /// The manifest's annotation.
        manifest: String,
        /// The layer's annotation.
        layer: String,
    },
    /// The statement does not parse as an in-toto Statement.
    #[error("statement is not a valid in-toto Statement: {reason}")]
    StatementMalformed {
        /// The parser's message.
        reason: String,
    },
    /// The statement's `_type` is not an in-toto Statement type.
    #[error("statement _type is {found:?}, expected https://in-toto.io/Statement/v0.1 or v1")]
    StatementType {
        /// The `_type` found.
        found: String,
    },
    /// The statement's `predicateType` differs from the manifest's annotation.
    #[error("statement predicateType is {found:?} but the attestation manifest says {expected:?}")]
    StatementPredicateType {
        /// The manifest annotation.
        expected: String,
        /// The statement's predicate type.
        found: String,
    },
    /// No statement subject names this platform's manifest digest.
    #[error("statement subject does not name {expected}: found {found:?}")]
    SubjectMismatch {
        /// This platform's manifest digest.
        expected: Digest,
        /// The sha256 digests the subjects name.
        found: Vec<String>,
    },
    /// More subjects than [`crate::Limits::max_statement_subjects`].
    #[error("statement has {found} subjects, more than the limit of {limit}")]
    TooManySubjects {
        /// The limit.
        limit: usize,
        /// How many were found.
        found: usize,
    },
    /// No signature referrers at all.
    #[error("unsigned: no signature refers to attestation manifest {manifest}")]
    Unsigned {
        /// The attestation manifest digest.
        manifest: Digest,
    },
    /// Signatures exist but none verified; each one's reason is reported with it.
    #[error("none of {tried} signature(s) verified with a trusted key; first reason: {first}")]
    NoValidSignature {
        /// How many signatures were tried.
        tried: usize,
        /// The first signature's reason.
        first: String,
    },
    /// The signature manifest's `subject` is not the attestation manifest.
    #[error("signature manifest subject is {found:?}, expected {expected}")]
    SignatureSubject {
        /// The attestation manifest digest.
        expected: Digest,
        /// The subject found.
        found: Option<Digest>,
    },
    /// A signature format that is not supported yet.
    #[error("signature artifact type {artifact_type:?} is not supported yet")]
    UnsupportedSignatureFormat {
        /// The artifact type.
        artifact_type: String,
    },
    /// The signature manifest's first layer is not a simple-signing payload.
    #[error("signature layer media type is {found:?}, expected {expected:?}")]
    SignatureLayer {
        /// The simple-signing media type.
        expected: &'static str,
        /// What was found (empty: no layer).
        found: String,
    },
    /// The `dev.cosignproject.cosign/signature` annotation is absent.
    #[error("signature layer has no dev.cosignproject.cosign/signature annotation")]
    MissingSignature,
    /// The signature is not base64 of an ASN.1 DER ECDSA signature.
    #[error("signature is not base64 of a DER ECDSA signature: {reason}")]
    SignatureEncoding {
        /// What is wrong.
        reason: String,
    },
    /// No trusted key verifies the signature.
    #[error("no trusted key verifies the signature (tried {keys_tried} key(s))")]
    UntrustedSignature {
        /// How many keys were tried.
        keys_tried: usize,
    },
    /// A known key verifies the signature, but it may not be trusted.
    #[error("signed by {key} ({fingerprint}), which is not trusted now: {reason}")]
    KeyNotUsable {
        /// The key's name.
        key: String,
        /// The key's fingerprint.
        fingerprint: Digest,
        /// Why.
        reason: KeyUnusable,
    },
    /// The simple-signing payload does not parse.
    #[error("simple-signing payload is not valid: {reason}")]
    PayloadMalformed {
        /// The parser's message.
        reason: String,
    },
    /// The signature's transparency-log entry does not verify.
    #[error("transparency-log entry does not verify: {0}")]
    TransparencyLog(BundleError),
    /// A Sigstore signature (a bundle, or a keyless cosign signature verified as one) does not verify for any trusted key or identity.
    #[error("Sigstore signature does not verify for a trusted key or identity: {0}")]
    Bundle(BundleError),
    /// A keyless signature, but the trust root names no keyless identity.
    #[error("keyless signature (certificate attached), but no keyless identity is trusted: give --certificate-identity and --certificate-oidc-issuer")]
    NoKeylessIdentity,
    /// The policy requires a transparency-log entry and the signature has none.
    #[error("the policy requires a transparency-log entry (dev.sigstore.cosign/bundle) and the signature has none")]
    TransparencyLogRequired,
    /// The log entry records another public key than the one that verified the signature.
    #[error(
        "transparency-log entry records key {found}, but the signature verified with {expected}"
    )]
    TransparencyLogKeyMismatch {
        /// Fingerprint of the key that verified the signature.
        expected: Digest,
        /// Fingerprint of the key the log entry records (the digest of its bytes if unparsable).
        found: Digest,
    },
    /// `critical.type` is not `cosign container image signature`.
    #[error("payload critical.type is {found:?}, expected {expected:?}")]
    PayloadType {
        /// The required value.
        expected: &'static str,
        /// The value found.
        found: String,
    },
    /// `critical.image.docker-manifest-digest` names another manifest.
    #[error("payload signs {found:?}, expected manifest {expected}")]
    PayloadDigest {
        /// The attestation manifest digest.
        expected: Digest,
        /// The digest the payload names.
        found: String,
    },
    /// A cosign `.att` layer is not a DSSE envelope of an in-toto statement.
    #[error("cosign attestation layer is not a valid DSSE envelope: {reason}")]
    DsseEnvelope {
        /// What is wrong.
        reason: String,
    },
    /// A DSSE envelope whose payload is not an in-toto statement.
    #[error("DSSE payloadType is {found:?}, expected {expected:?}")]
    DssePayloadType {
        /// `application/vnd.in-toto+json`.
        expected: &'static str,
        /// The payload type found.
        found: String,
    },
    /// Evidence this version cannot verify; it counts as not verified.
    #[error("{what} cannot be verified yet")]
    NotVerifiable {
        /// What it is.
        what: &'static str,
    },
    /// Layers of a cosign tag beyond the limit, not fetched nor tried.
    #[error("{count} more layer(s) beyond the limit of {limit} were not fetched")]
    LayersNotFetched {
        /// How many.
        count: usize,
        /// The limit ([`crate::Limits::max_signatures_per_attestation`] for
        /// `.sig`, [`crate::Limits::max_referrers`] for `.att`).
        limit: usize,
    },
    /// `optional.predicateType` differs from the attestation's.
    #[error("payload optional.predicateType is {found:?}, expected {expected:?}")]
    PayloadPredicateType {
        /// The attestation's predicate type.
        expected: String,
        /// The payload's.
        found: String,
    },
    /// A BuildKit in-index attestation with no verified signature on the index to cover it.
    #[error("unsigned BuildKit attestation in the image index: it counts only under a verified signature on the index {index}")]
    UnsignedInIndex {
        /// The index a signature would have to sign.
        index: Digest,
    },
}

/// Why a key that verified a signature does not make it trusted.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum KeyUnusable {
    /// The key is inactive.
    #[error("the key is inactive")]
    Inactive,
    /// Before the key's validity window.
    #[error("the key is valid only from unix time {not_before}")]
    NotYetValid {
        /// Start of the window, Unix seconds.
        not_before: u64,
    },
    /// After the key's validity window.
    #[error("the key was valid only until unix time {not_after}")]
    Expired {
        /// End of the window, Unix seconds.
        not_after: u64,
    },
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_source_error_names_its_step_as_the_message_always_did() {
        let e = Error::Source {
            step: SourceStep::ResolveReference,
            subject: "oci:layout:9.99".to_owned(),
            source: SourceError::TagNotFound {
                tag: "9.99".to_owned(),
                location: "layout".to_owned(),
            },
        };
        assert!(
            e.to_string()
                .starts_with("resolve reference (oci:layout:9.99): "),
            "{e}"
        );
        assert_eq!(
            SourceStep::ListIndexReferrers.to_string(),
            "list referrers of the index"
        );
        assert_eq!(
            SourceStep::ReadWithinBudget.to_string(),
            "read within max_total_bytes"
        );
    }
}

//! Command-line flags, parsed into plain values (converted into library
//! objects by each command).

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use clap::{Args, Parser, Subcommand, ValueEnum};

/// Verify the signatures, SBOMs and build provenance attached to container
/// images before they run. Docker Hardened Images' keys are built in.
#[derive(Parser, Debug)]
#[command(name = "dhi-verify", version, about, long_about = None,
    after_help = "Examples:\n  dhi-verify image oci:testdata/demo:3.13 --key testdata/demo/cosign.pub\n  dhi-verify image dhi.io/python:3.13 --format json\n  dhi-verify image ghcr.io/org/app:1.0 --policy testdata/real/generic.toml \\\n      --certificate-identity-regexp 'https://github\\.com/org/app/.*' --certificate-oidc-issuer https://token.actions.githubusercontent.com\n\nExit codes: 0 pass, 1 fail, 2 usage error, 3 could not verify.")]
pub struct Cli {
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Verify images: signatures, attestation chain and required attestations.
    Image(ImageArgs),
    /// The verified package inventory (SBOM): a table, JSON, or the original document.
    Sbom(ImageArgs),
    /// The verified build provenance: builder, source, materials, times.
    Provenance(ImageArgs),
    /// The verified VEX statements: vulnerability, status, justification, products.
    Vex(ImageArgs),
    /// Every attestation attached to the image, and whether each verifies.
    Attestations(ImageArgs),
    /// Verify every base image a Dockerfile builds on, stage by stage; --pin rewrites FROM lines to digests.
    Dockerfile(DockerfileArgs),
    /// Verify every image a deployment runs (Kubernetes manifests, Helm output, Compose files); --pin rewrites them to digests.
    Deploy(DeployArgs),
    /// Verify a Sigstore bundle for a file or a sha256 digest (Sigstore conformance protocol).
    VerifyBundle(crate::verify_bundle::Args),
    /// Serve Kubernetes admission webhooks (/validate, /mutate) and a Gatekeeper external-data provider over HTTPS.
    Serve(ServeArgs),
    /// Show the embedded trust material (DHI keys).
    Keys,
    /// Write or check a policy file.
    #[command(subcommand)]
    Policy(PolicyCommand),
}

/// `dhi-verify policy`.
#[derive(Subcommand, Debug)]
pub enum PolicyCommand {
    /// Print a commented policy equal to the built-in DHI default.
    Init,
    /// Validate a policy file: exit 0 when valid, 2 with the field and position when not.
    Check {
        /// The policy file.
        file: PathBuf,
    },
}

/// Output formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Format {
    /// A readable summary.
    Text,
    /// The verdict as JSON (schemaVersion 1), and nothing else on stdout.
    Json,
    /// `sbom` only: the verified CycloneDX document, byte for byte.
    Cyclonedx,
    /// `sbom` only: the verified SPDX document, byte for byte.
    Spdx,
}

/// Transparency-log policy.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Tlog {
    /// Ignore log entries (a downgrade, reported as a skipped check).
    Never,
    /// Verify log entries when present (default).
    IfPresent,
    /// Require a verified log entry on every signature that counts.
    Always,
}

/// `dhi-verify image`.
#[derive(Args, Debug)]
#[command(
    after_help = "REF is oci:<dir>[:<tag>|@sha256:<hex>] (an OCI image layout) or a registry reference such as dhi.io/python:3.13.\n\nExamples:\n  dhi-verify image oci:testdata/demo:3.13 --key testdata/demo/cosign.pub\n  dhi-verify image oci:layout:3.13 --key cosign.pub --platform linux/arm64 --format json\n  dhi-verify image oci:image:3.13 --referrers oci:attestations --key cosign.pub\n  dhi-verify image ghcr.io/org/app@sha256:<hex> --key cosign.pub --referrers ghcr.io/org/app-attestations\n  dhi-verify image registry.lan:5000/dhi/python:3.13 --insecure-registry registry.lan:5000\n  dhi-verify image oci:layout:3.13 --require provenance --require vex\n  dhi-verify image ghcr.io/org/app:1.0 --key cosign.pub --require signature"
)]
pub struct ImageArgs {
    /// Image references to verify.
    #[arg(required_unless_present = "from_file", value_name = "REF")]
    pub references: Vec<String>,
    /// Also verify the references in FILE, one per line (`#` comments and
    /// blank lines skipped); `image` only.
    #[arg(long, value_name = "FILE")]
    pub from_file: Option<PathBuf>,
    /// How to verify.
    #[command(flatten)]
    pub verify: VerifyOptions,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// How to verify: trust, policy, platforms, registries, cache. Shared by
/// `image`, the inspection commands and `dockerfile`.
#[derive(Args, Debug, Clone)]
pub struct VerifyOptions {
    /// Platform to verify, os/arch[/variant] (repeatable; default: this machine's).
    #[arg(long = "platform", value_name = "PLATFORM")]
    pub platforms: Vec<String>,
    /// Verify every platform in the index.
    #[arg(long, conflicts_with = "platforms")]
    pub all_platforms: bool,
    /// Trust this PEM public key instead of the embedded DHI keys (repeatable).
    #[arg(long = "key", value_name = "PEM")]
    pub keys: Vec<PathBuf>,
    /// Look for attestations in this location instead of the image's own:
    /// oci:<dir>, or a registry repository such as ghcr.io/org/app-attestations
    /// (default: the image's own; registry.scout.docker.com/<org>/dhi-* for
    /// docker.io/<org>/dhi-*).
    #[arg(long, value_name = "REF")]
    pub referrers: Option<String>,
    /// Reach this registry (host or host:port) over plain HTTP (repeatable).
    /// Loopback registries always are; every other registry is HTTPS only.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure_registries: Vec<String>,
    /// Longest wait for one registry request, body included, in seconds (default 60).
    #[arg(long, value_name = "SECONDS")]
    pub timeout: Option<u64>,
    /// Longest wait for a connection to a registry, in seconds (default 10).
    #[arg(long, value_name = "SECONDS")]
    pub connect_timeout: Option<u64>,
    /// Require a verified attestation of this type on every platform (repeatable;
    /// a predicate type URI or provenance, sbom, cyclonedx, spdx, vex, vulns, vsa,
    /// dhi-source, fips, stig, tests, secrets, virus), or `signature`: a verified
    /// signature on the image itself (cosign sign). Replaces the default
    /// (provenance and sbom).
    #[arg(long = "require", value_name = "TYPE")]
    pub requires: Vec<String>,
    /// Accept keyless (Fulcio certificate) signatures for exactly this identity.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "certificate_identity_regexp"
    )]
    pub certificate_identity: Option<String>,
    /// Accept keyless signatures whose whole identity matches this regular expression (anchored).
    #[arg(long, value_name = "REGEX")]
    pub certificate_identity_regexp: Option<String>,
    /// The OIDC issuer keyless signatures must come from, exactly.
    #[arg(
        long,
        value_name = "URL",
        conflicts_with = "certificate_oidc_issuer_regexp"
    )]
    pub certificate_oidc_issuer: Option<String>,
    /// The OIDC issuer keyless signatures must come from, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_oidc_issuer_regexp: Option<String>,
    /// Fulcio certificate claims keyless signatures must carry.
    #[command(flatten)]
    pub certificate_claims: CertificateClaimFlags,
    /// A policy file (TOML or JSON; `dhi-verify policy init` writes the default).
    /// --key and the identity flags, when given, replace its [trust].
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Transparency-log entries on signatures (cosign's dev.sigstore.cosign/bundle):
    /// never, if-present (default) or always. Overrides the policy's.
    #[arg(long, value_enum)]
    pub tlog: Option<Tlog>,
    /// Trust the transparency logs of this Sigstore trusted_root.json instead of the public-good ones.
    #[arg(long, value_name = "FILE")]
    pub trusted_root: Option<PathBuf>,
    /// Largest in-toto statement to read, in bytes (default 64 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_statement_size: Option<u64>,
    /// Largest manifest, index or referrers page to read, in bytes (default 4 MiB).
    #[arg(long, value_name = "BYTES")]
    pub max_manifest_size: Option<u64>,
    /// Most referrers followed for one digest (default 1000); more fails.
    #[arg(long, value_name = "N")]
    pub max_referrers: Option<usize>,
    /// Most signatures tried for one attestation (default 16); the rest are
    /// reported as not tried.
    #[arg(long, value_name = "N")]
    pub max_signatures: Option<usize>,
    /// Deepest JSON nesting accepted in any fetched document (default and
    /// most: 128); deeper fails.
    #[arg(long, value_name = "N")]
    pub max_json_depth: Option<usize>,
    /// Most bytes one verification may read from registries, layouts and the
    /// cache together (default 536870912, 512 MiB); more is exit 3.
    #[arg(long, value_name = "BYTES")]
    pub max_total_bytes: Option<u64>,
    /// Longest one image's verification may take, in seconds (default 300);
    /// past it, exit 3 naming the reference and what was being fetched.
    #[arg(long, value_name = "SECONDS", value_parser = clap::value_parser!(u64).range(1..))]
    pub deadline: Option<u64>,
    /// Most redirects followed for one registry request (default 5; 0 follows
    /// none); a loop or a longer chain is exit 3.
    #[arg(long, value_name = "N")]
    pub max_redirects: Option<u32>,
    /// Most registry requests in flight at once (default 16; 1 is sequential).
    #[arg(long, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub jobs: Option<u16>,
    /// Keep manifests and blobs by digest here (default
    /// $XDG_CACHE_HOME/dhi-verify, else ~/.cache/dhi-verify).
    #[arg(long, value_name = "DIR", conflicts_with = "no_cache")]
    pub cache_dir: Option<PathBuf>,
    /// Use no disk cache.
    #[arg(long)]
    pub no_cache: bool,
    /// Verify from the disk cache only: tags resolve to the digest last seen,
    /// referrers are the last listing fetched, and anything missing is an
    /// error (exit 3).
    #[arg(long, conflicts_with = "no_cache")]
    pub offline: bool,
    /// Log every registry request and cache hit on stderr.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Claims a keyless signature's Fulcio certificate must carry, each present
/// and matching; they narrow `--certificate-identity[-regexp]`. Shared by the
/// commands with keyless identity flags (`image` and friends, `verify-bundle`).
#[derive(Args, Debug, Clone, Default)]
pub struct CertificateClaimFlags {
    /// Keyless signatures' certificates must name this GitHub repository,
    /// `owner/repo` as cosign writes it (Fulcio's deprecated 1.3.6.1.4.1.57264.1.5,
    /// and 1.3.6.1.4.1.57264.1.12 compared as `https://github.com/<owner/repo>`).
    #[arg(long, value_name = "OWNER/REPO")]
    pub certificate_github_workflow_repository: Option<String>,
    /// Keyless certificates must name this source ref, e.g. refs/tags/v1 (1.3.6.1.4.1.57264.1.6 and .1.14).
    #[arg(long, value_name = "REF")]
    pub certificate_github_workflow_ref: Option<String>,
    /// Keyless certificates must name this source commit (1.3.6.1.4.1.57264.1.3 and .1.13).
    #[arg(long, value_name = "SHA")]
    pub certificate_github_workflow_sha: Option<String>,
    /// Keyless certificates must name this triggering event, e.g. push (1.3.6.1.4.1.57264.1.2 and .1.20).
    #[arg(long, value_name = "EVENT")]
    pub certificate_github_workflow_trigger: Option<String>,
    /// Keyless certificates' source repository URI (1.3.6.1.4.1.57264.1.12), exactly,
    /// e.g. https://github.com/org/app.
    #[arg(
        long,
        value_name = "URI",
        conflicts_with = "certificate_source_repository_regexp"
    )]
    pub certificate_source_repository: Option<String>,
    /// Keyless certificates' source repository URI, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_source_repository_regexp: Option<String>,
    /// Keyless certificates' source repository ref (1.3.6.1.4.1.57264.1.14), exactly.
    #[arg(
        long,
        value_name = "REF",
        conflicts_with = "certificate_source_ref_regexp"
    )]
    pub certificate_source_ref: Option<String>,
    /// Keyless certificates' source repository ref, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_source_ref_regexp: Option<String>,
    /// Keyless certificates' source repository digest (commit, 1.3.6.1.4.1.57264.1.13), exactly.
    #[arg(long, value_name = "SHA")]
    pub certificate_source_digest: Option<String>,
    /// Keyless certificates' build signer URI (the signing workflow with its
    /// ref, 1.3.6.1.4.1.57264.1.9), exactly.
    #[arg(
        long,
        value_name = "URI",
        conflicts_with = "certificate_signer_uri_regexp"
    )]
    pub certificate_signer_uri: Option<String>,
    /// Keyless certificates' build signer URI, as an anchored regular expression.
    #[arg(long, value_name = "REGEX")]
    pub certificate_signer_uri_regexp: Option<String>,
    /// Keyless certificates' runner environment (1.3.6.1.4.1.57264.1.11),
    /// exactly: github-hosted or self-hosted.
    #[arg(long, value_name = "ENV")]
    pub certificate_runner_environment: Option<String>,
    /// Keyless certificates' source repository owner URI (1.3.6.1.4.1.57264.1.16),
    /// exactly, e.g. https://github.com/org (what `gh attestation verify --owner` checks).
    #[arg(long, value_name = "URI")]
    pub certificate_source_repository_owner: Option<String>,
    /// Keyless certificates' build signer digest (the signing workflow's
    /// commit, 1.3.6.1.4.1.57264.1.10), exactly.
    #[arg(long, value_name = "SHA")]
    pub certificate_signer_digest: Option<String>,
}

/// `dhi-verify dockerfile`.
#[derive(Args, Debug)]
#[command(
    after_help = "Every external image the build needs (FROM, COPY --from=<image>, RUN --mount=from=<image>) is verified as `dhi-verify image` would; scratch is skipped. The final stage (or --target) must run on a runtime variant, not a -dev one.\n\nExamples:\n  dhi-verify dockerfile Dockerfile\n  dhi-verify dockerfile Dockerfile --build-arg PY=3.13 --target production --format json\n  dhi-verify dockerfile Dockerfile --pin > Dockerfile.pinned\n\nExit codes: 0 pass, 1 fail (an image or the stage rule), 2 usage error or malformed Dockerfile, 3 could not verify."
)]
pub struct DockerfileArgs {
    /// The Dockerfile ("-" for standard input).
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
    /// A build argument, as for `docker build` (repeatable); NAME alone takes
    /// its value from the environment.
    #[arg(long = "build-arg", value_name = "NAME[=VALUE]")]
    pub build_args: Vec<String>,
    /// Verify the build of this stage (and the stages it needs) instead of the last one.
    #[arg(long, value_name = "STAGE")]
    pub target: Option<String>,
    /// Print the Dockerfile with each verified image pinned to its digest
    /// (only if everything passed; the report goes to stderr).
    #[arg(long)]
    pub pin: bool,
    /// Verify the image REF from LOCATION instead (REF=oci:<dir>[:<tag>];
    /// repeatable). For tests and air-gapped use: see docs/dockerfile.md.
    #[arg(long = "image-map", value_name = "REF=LOCATION", hide = true)]
    pub image_map: Vec<String>,
    /// How to verify each image: as for `image` (a stage's own
    /// `--platform` replaces `--platform` for that image).
    #[command(flatten)]
    pub verify: VerifyOptions,
    /// Output format: JSON is a list of {image, stages, verdict} objects.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `dhi-verify deploy`.
#[derive(Args, Debug)]
#[command(
    after_help = "Every container image (containers, initContainers, ephemeralContainers) of Pods, Deployments, ReplicaSets, StatefulSets, DaemonSets, Jobs, CronJobs, ReplicationControllers, PodTemplates, List items and CRDs with a pod template at spec.template, and every Compose service image, is verified once per distinct image, as `dhi-verify image` would, for every platform of its index unless --platform is given. Other kinds are skipped and counted. Per-image and per-namespace requirements and exemptions come from the policy's [[deploy.rules]] and [[deploy.exempt]].\n\nExamples:\n  helm template ./chart | dhi-verify deploy -\n  dhi-verify deploy k8s/*.yaml --format json\n  dhi-verify deploy compose.yaml --pin > compose.pinned.yaml\n  kustomize build overlays/prod | dhi-verify deploy - --pin | kubectl apply -f -\n\nExit codes: 0 every image passed (or is exempt), 1 an image failed, 2 usage error or a malformed document (named with file, document and line), 3 an image could not be verified."
)]
pub struct DeployArgs {
    /// Manifest files: multi-document YAML or JSON ("-" for standard input).
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
    /// Print the input with each verified image rewritten to
    /// name:tag@sha256:<verified digest>, every other byte unchanged (one
    /// input only; only if every image passed; the report goes to stderr).
    #[arg(long)]
    pub pin: bool,
    /// The namespace of objects that name none (as `kubectl apply -n`), for
    /// the policy's per-namespace rules.
    #[arg(long, short = 'n', value_name = "NAMESPACE", default_value = "default")]
    pub namespace: String,
    /// How to verify each image: as for `image`, except that without
    /// --platform every platform of the index is verified (a cluster's nodes vary).
    #[command(flatten)]
    pub verify: VerifyOptions,
    /// Output format: JSON is one report with a verdict per image and its uses.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
}

/// `dhi-verify serve`.
#[derive(Args, Debug)]
#[command(
    after_help = "Endpoints: POST /validate and /mutate (AdmissionReview admission.k8s.io/v1), POST /external-data (Gatekeeper ProviderRequest externaldata.gatekeeper.sh/v1beta1), GET /healthz, /readyz, /metrics. Every image is verified as `dhi-verify image` would, once per digest (cached); anything but a pass in time is a denial. See docs/admission.md.\n\nExamples:\n  dhi-verify serve --tls-cert tls.crt --tls-key tls.key --policy policy.toml\n  dhi-verify serve --tls-cert tls.crt --tls-key tls.key --key cosign.pub --platform linux/amd64 --cache-dir /var/cache/dhi-verify"
)]
pub struct ServeArgs {
    /// Address to listen on (port 0: any free port, printed on stderr).
    #[arg(long, value_name = "ADDR", default_value = "0.0.0.0:8443")]
    pub listen: SocketAddr,
    /// The server certificate chain (PEM); read again when the file changes.
    #[arg(long, value_name = "PEM")]
    pub tls_cert: PathBuf,
    /// The server's private key (PEM: PKCS#8, RSA or EC); read again when the file changes.
    #[arg(long, value_name = "PEM")]
    pub tls_key: PathBuf,
    /// How often to look for a changed certificate or key, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = crate::serve::seconds)]
    pub tls_reload_interval: Duration,
    /// Longest one admission review waits for its images' verdicts, in
    /// seconds (below the webhook's timeoutSeconds, 10 by default); an image
    /// not verified by then is denied, and its verification goes on.
    #[arg(long, value_name = "SECONDS", default_value = "8", value_parser = crate::serve::seconds)]
    pub admission_deadline: Duration,
    /// Longest one external-data request waits, in seconds (below the
    /// Gatekeeper Provider's timeout, 3 by default).
    #[arg(long, value_name = "SECONDS", default_value = "2.5", value_parser = crate::serve::seconds)]
    pub external_data_deadline: Duration,
    /// How long a verdict (pass or fail) for a digest is kept, in seconds.
    /// Errors are never kept.
    #[arg(long, value_name = "SECONDS", default_value = "600", value_parser = crate::serve::seconds)]
    pub cache_ttl: Duration,
    /// How long a tag's digest is kept, in seconds (tags can move).
    #[arg(long, value_name = "SECONDS", default_value = "30", value_parser = crate::serve::seconds)]
    pub tag_ttl: Duration,
    /// Most verdicts (and, separately, tags) kept; the one expiring first goes.
    #[arg(long, value_name = "N", default_value_t = 10_000)]
    pub cache_entries: usize,
    /// Largest request body read, in bytes (default 3 MiB, the API server's own limit); more is 413.
    #[arg(long, value_name = "BYTES", default_value_t = 3 * 1024 * 1024)]
    pub max_body_bytes: usize,
    /// After SIGTERM or SIGINT, how long to go on accepting connections
    /// with /readyz failing, in seconds, so that the Service's endpoints drop
    /// this pod before its listener closes.
    #[arg(long, value_name = "SECONDS", default_value = "5", value_parser = crate::serve::seconds_or_zero)]
    pub shutdown_delay: Duration,
    /// Then, longest wait for open requests, in seconds.
    #[arg(long, value_name = "SECONDS", default_value = "20", value_parser = crate::serve::seconds)]
    pub shutdown_grace: Duration,
    /// The Kubernetes API server to read a pod's imagePullSecrets from
    /// (https://…). Default: in a cluster (KUBERNETES_SERVICE_HOST/_PORT)
    /// with a ServiceAccount token mounted, that cluster's; otherwise pull
    /// secrets are not read.
    #[arg(long, value_name = "URL")]
    pub kube_api: Option<String>,
    /// The bearer token for --kube-api, read again for every request
    /// (default: the mounted ServiceAccount token).
    #[arg(long, value_name = "FILE")]
    pub kube_token_file: Option<PathBuf>,
    /// The CA certificates (PEM) --kube-api is verified against (default:
    /// the mounted ServiceAccount's ca.crt).
    #[arg(long, value_name = "PEM")]
    pub kube_ca_file: Option<PathBuf>,
    /// Never read imagePullSecrets, even in a cluster.
    #[arg(long, conflicts_with = "kube_api")]
    pub no_pull_secrets: bool,
    /// How to verify each image: as for `image`. `--deadline` (one
    /// verification, default 60 s here) bounds the work that goes on after
    /// an admission stopped waiting; `--timeout` and `--connect-timeout`
    /// default to 15 s and 5 s here; without --platform every platform of
    /// the index is verified (a cluster's nodes vary), as for `deploy`. The
    /// policy's [[deploy.rules]] and [[deploy.exempt]] apply per namespace.
    #[command(flatten)]
    pub verify: VerifyOptions,
}

//! Sigstore conformance through the real `dhi-verify verify-bundle` binary, plus the keyless and DHI bundles.
//!
//! Case layout of `testdata/sigstore-conformance/` (sigstore/sigstore-conformance
//! `test/assets/bundle-verify` @ a73de49): one directory per case, `_fail`
//! suffix = must fail; optional `artifact`, `identity`, `issuer`, `key.pub`,
//! `trusted_root.json`, with the defaults below.
#![allow(clippy::unwrap_used, clippy::expect_used)] // tests: a panic is a failed test

use std::path::{Path, PathBuf};
use std::process::Command;

use base64::Engine as _;
use dhi_verify::sigstore::{
    verify_bundle, Artifact, BundleError, BundlePolicy, ErrorClass, Matcher, PublicKey, Signer,
    SigstoreTrust,
};
use sha2::{Digest as _, Sha256};

const DEFAULT_IDENTITY: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const DEFAULT_ISSUER: &str = "https://token.actions.githubusercontent.com";

const KEYLESS_IDENTITY: &str =
    "https://github.com/example/dhi-demo/.github/workflows/build.yml@refs/heads/main";
const KEYLESS_ISSUER: &str = "https://token.actions.githubusercontent.com";
const KEYLESS_DSSE_SUBJECT: &str =
    "sha256:9e72b84e8391045d0827119cb0ee817748d392293539a61639bfdcbf44163c53";

fn testdata(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata")
        .join(rel)
}

/// Runs the binary; returns (exit code, stdout + stderr).
fn dhi_verify(args: &[&str]) -> (i32, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .args(args)
        .output()
        .expect("run dhi-verify");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code().unwrap_or(-1), text)
}

fn sha256_arg(path: &Path) -> String {
    format!(
        "sha256:{}",
        hex::encode(Sha256::digest(std::fs::read(path).unwrap()))
    )
}

fn read_trimmed(path: &Path) -> Option<String> {
    std::fs::read_to_string(path)
        .ok()
        .map(|s| s.trim().to_owned())
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    File,
    Digest,
}

/// Runs every conformance case in one mode; returns (passed, total, failures).
fn run_conformance(mode: Mode) -> (usize, usize, Vec<String>) {
    let root = testdata("sigstore-conformance");
    let mut cases: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    cases.sort();
    let mut failures = Vec::new();
    let mut passed = 0;
    for case in &cases {
        let name = case.file_name().unwrap().to_string_lossy().into_owned();
        let must_fail = name.ends_with("_fail");
        let artifact = if case.join("artifact").exists() {
            case.join("artifact")
        } else {
            root.join("a.txt")
        };
        let artifact_arg = match mode {
            Mode::File => artifact.to_string_lossy().into_owned(),
            Mode::Digest => sha256_arg(&artifact),
        };
        let bundle = case.join("bundle.sigstore.json");
        let mut args: Vec<String> = vec![
            "verify-bundle".into(),
            "--bundle".into(),
            bundle.to_string_lossy().into_owned(),
        ];
        if case.join("key.pub").exists() {
            args.push("--key".into());
            args.push(case.join("key.pub").to_string_lossy().into_owned());
        } else {
            args.push("--certificate-identity".into());
            args.push(
                read_trimmed(&case.join("identity")).unwrap_or_else(|| DEFAULT_IDENTITY.into()),
            );
            args.push("--certificate-oidc-issuer".into());
            args.push(read_trimmed(&case.join("issuer")).unwrap_or_else(|| DEFAULT_ISSUER.into()));
        }
        if case.join("trusted_root.json").exists() {
            args.push("--trusted-root".into());
            args.push(
                case.join("trusted_root.json")
                    .to_string_lossy()
                    .into_owned(),
            );
        }
        args.push(artifact_arg);
        let argv: Vec<&str> = args.iter().map(String::as_str).collect();
        let (code, output) = dhi_verify(&argv);
        // A failing case must fail cleanly (1 verification failed, or 2 for an
        // unparsable key/root), never crash or report "could not complete".
        let ok = if must_fail {
            code == 1 || code == 2
        } else {
            code == 0
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!("{name}: exit {code}: {}", output.trim()));
        }
    }
    (passed, cases.len(), failures)
}

// --- Sigstore conformance: both modes -------------------------------------

#[test]
fn every_conformance_case_gives_the_expected_result_in_file_mode() {
    let (passed, total, failures) = run_conformance(Mode::File);
    eprintln!("conformance (file mode): {passed}/{total}");
    assert!(total >= 36, "expected at least 36 cases, found {total}");
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

#[test]
fn every_conformance_case_gives_the_expected_result_in_digest_mode() {
    let (passed, total, failures) = run_conformance(Mode::Digest);
    eprintln!("conformance (digest mode): {passed}/{total}");
    assert!(total >= 36, "expected at least 36 cases, found {total}");
    assert!(failures.is_empty(), "failures:\n{}", failures.join("\n"));
}

// --- Keyless vectors (local CA, CT log and Rekor-style log) -----------------

fn keyless_args<'a>(bundle: &'a str, root: &'a str, artifact: &'a str) -> Vec<&'a str> {
    vec![
        "verify-bundle",
        "--bundle",
        bundle,
        "--certificate-identity",
        KEYLESS_IDENTITY,
        "--certificate-oidc-issuer",
        KEYLESS_ISSUER,
        "--trusted-root",
        root,
        artifact,
    ]
}

fn s(p: &Path) -> String {
    p.to_string_lossy().into_owned()
}

#[test]
fn every_keyless_negative_bundle_fails() {
    let root = s(&testdata("keyless/trusted_root.json"));
    let mut n = 0;
    for entry in std::fs::read_dir(testdata("keyless/negative")).unwrap() {
        let path = entry.unwrap().path();
        for artifact in [
            s(&testdata("keyless/artifact.txt")),
            KEYLESS_DSSE_SUBJECT.into(),
        ] {
            let (code, out) = dhi_verify(&keyless_args(&s(&path), &root, &artifact));
            assert_eq!(code, 1, "{} with {artifact}: {out}", path.display());
        }
        n += 1;
    }
    assert!(n >= 6, "expected at least 6 negative bundles, found {n}");
}

// --- Real Docker (DHI) bundles: key dhi-2, production Rekor, RFC 3161 --------

/// (bundle, artifact argument as file path or sha256:) for each real DHI bundle.
fn dhi_cases() -> Vec<(PathBuf, String)> {
    let dir = testdata("dhi-advisories");
    let mut cases = Vec::new();
    for entry in std::fs::read_dir(&dir).unwrap() {
        let bundle = entry.unwrap().path();
        let name = bundle.file_name().unwrap().to_string_lossy().into_owned();
        let Some(artifact_name) = name.strip_suffix(".sig") else {
            continue;
        };
        let artifact = dir.join(artifact_name);
        let arg = if artifact.exists() {
            s(&artifact)
        } else {
            // Only the digest is committed: `<artifact>.sha256` holds `hex  name`.
            let line =
                std::fs::read_to_string(dir.join(format!("{artifact_name}.sha256"))).unwrap();
            format!("sha256:{}", line.split_whitespace().next().unwrap())
        };
        cases.push((bundle, arg));
    }
    cases.sort();
    cases
}

#[test]
fn dhi_bundles_verify_with_dhi2_and_the_embedded_public_good_root() {
    let key = s(&testdata("dhi-advisories/dhi-2.pub"));
    let cases = dhi_cases();
    assert_eq!(cases.len(), 4);
    for (bundle, artifact) in &cases {
        let (code, out) = dhi_verify(&[
            "verify-bundle",
            "--bundle",
            &s(bundle),
            "--key",
            &key,
            artifact,
        ]);
        assert_eq!(code, 0, "{}: {out}", bundle.display());
        assert!(
            out.contains("118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c"),
            "{out}"
        );
    }
}

#[test]
fn dhi_bundles_fail_with_dhi1() {
    let key = s(&testdata("dhi-advisories/dhi-1.pub"));
    for (bundle, artifact) in dhi_cases() {
        let (code, out) = dhi_verify(&[
            "verify-bundle",
            "--bundle",
            &s(&bundle),
            "--key",
            &key,
            &artifact,
        ]);
        assert_eq!(code, 1, "{}: {out}", bundle.display());
    }
}

fn tampered_set_bundle() -> Vec<u8> {
    let raw = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let set = &mut bundle["verificationMaterial"]["tlogEntries"][0]["inclusionPromise"]
        ["signedEntryTimestamp"];
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut sig = b64.decode(set.as_str().unwrap()).unwrap();
    let i = sig.len() - 5;
    sig[i] ^= 0x01;
    *set = b64.encode(sig).into();
    serde_json::to_vec(&bundle).unwrap()
}

// --- verify-bundle runs, one row a case ----------------------------------

/// `verify-bundle --bundle <bundle> --key <key> <artifact>`.
fn keyed(bundle: &str, key: &str, artifact: &str) -> Vec<String> {
    args(&["--bundle", bundle, "--key", key, artifact])
}

/// `verify-bundle` with the keyless vectors' identity and issuer, `--trusted-root <root>`.
fn keyless(bundle: &str, root: &str, artifact: &str) -> Vec<String> {
    args(&keyless_args(bundle, root, artifact)[1..])
}

/// `verify-bundle` with identity and issuer regular expressions, for the keyless blob bundle.
fn keyless_regexp(identity_re: &str, issuer_re: &str) -> Vec<String> {
    args(&[
        "--bundle",
        &t("keyless/bundle-blob.sigstore.json"),
        "--certificate-identity-regexp",
        identity_re,
        "--certificate-oidc-issuer-regexp",
        issuer_re,
        "--trusted-root",
        &t("keyless/trusted_root.json"),
        &t("keyless/artifact.txt"),
    ])
}

fn args(rest: &[&str]) -> Vec<String> {
    std::iter::once("verify-bundle")
        .chain(rest.iter().copied())
        .map(str::to_owned)
        .collect()
}

/// A path under `testdata/`, as an argument.
fn t(rel: &str) -> String {
    s(&testdata(rel))
}

/// One `verify-bundle` run: the arguments (what is set up or broken), the
/// exit code it must end with and a text its output must hold ("": any).
struct CliCase {
    case: &'static str,
    args: Vec<String>,
    exit: i32,
    says: &'static str,
}

/// The runs; `scratch` holds the tampered files some of them need.
fn cli_cases(scratch: &Path) -> Vec<CliCase> {
    let row = |case, args, exit, says| CliCase {
        case,
        args,
        exit,
        says,
    };
    let blob = t("keyless/bundle-blob.sigstore.json");
    let dsse = t("keyless/bundle-dsse.sigstore.json");
    let root = t("keyless/trusted_root.json");
    let artifact = t("keyless/artifact.txt");
    let dhi_bundle = t("dhi-advisories/CVE-2022-35929.json.sig");
    let dhi_artifact = t("dhi-advisories/CVE-2022-35929.json");
    let dhi2 = t("dhi-advisories/dhi-2.pub");

    let mut flipped = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    flipped[10] ^= 0x01;
    let flipped_artifact = scratch.join("CVE-2022-35929.json");
    std::fs::write(&flipped_artifact, &flipped).unwrap();
    let tampered_set = scratch.join("tampered.sig");
    std::fs::write(&tampered_set, tampered_set_bundle()).unwrap();

    let mut wrong_identity = keyless(&blob, &root, &artifact);
    wrong_identity[4] =
        "https://github.com/example/other/.github/workflows/build.yml@refs/heads/main".into();
    let mut wrong_issuer = keyless(&blob, &root, &artifact);
    wrong_issuer[6] = "https://accounts.google.com".into();
    // The embedded public-good root (no --trusted-root) does not trust the local CA.
    let mut embedded_root = keyless(&blob, &root, &artifact);
    embedded_root.drain(7..9);

    vec![
        // Keyless vectors (local CA, CT log and Rekor-style log).
        row(
            "the keyless blob bundle verifies with its root and identity (file)",
            keyless(&blob, &root, &artifact),
            0,
            KEYLESS_IDENTITY,
        ),
        row(
            "the keyless blob bundle verifies with its root and identity (digest)",
            keyless(&blob, &root, &sha256_arg(&testdata("keyless/artifact.txt"))),
            0,
            "",
        ),
        row(
            "the keyless DSSE bundle verifies for its subject digest",
            keyless(&dsse, &root, KEYLESS_DSSE_SUBJECT),
            0,
            "",
        ),
        row(
            "the keyless DSSE bundle fails for a digest that is not a subject",
            keyless(&dsse, &root, &format!("sha256:{}", "ab".repeat(32))),
            1,
            "",
        ),
        row(
            "a keyless bundle with a wrong identity fails",
            wrong_identity,
            1,
            "identity mismatch",
        ),
        row(
            "a keyless bundle with a wrong issuer fails",
            wrong_issuer,
            1,
            "issuer mismatch",
        ),
        row(
            "a keyless bundle under the embedded root fails",
            embedded_root,
            1,
            "",
        ),
        row(
            "a keyless bundle under another instance's root fails",
            keyless(
                &blob,
                &t("sigstore-conformance/rekor2-happy-path/trusted_root.json"),
                &artifact,
            ),
            1,
            "",
        ),
        row(
            "anchored identity and issuer regexps match",
            keyless_regexp(
                r"https://github\.com/example/dhi-demo/.*",
                r"https://token\.actions\.githubusercontent\.com",
            ),
            0,
            "",
        ),
        row(
            "an identity regexp matching a substring only does not match",
            keyless_regexp(r"github\.com/example/dhi-demo", r"https://token.*"),
            1,
            "",
        ),
        row(
            "an issuer regexp matching a substring only does not match",
            keyless_regexp(r"https://github\.com/example/dhi-demo/.*", r"token"),
            1,
            "",
        ),
        // Real Docker (DHI) bundles: key dhi-2, production Rekor, RFC 3161.
        row(
            "a DHI bundle fails with one flipped artifact byte",
            keyed(&dhi_bundle, &dhi2, &s(&flipped_artifact)),
            1,
            "",
        ),
        row(
            "a DHI bundle fails with a tampered SET",
            keyed(&s(&tampered_set), &dhi2, &dhi_artifact),
            1,
            "",
        ),
        // Usage problems: exit 2.
        row(
            "an unreadable key is a usage error",
            keyed(&dhi_bundle, "/nonexistent/key.pub", &dhi_artifact),
            2,
            "",
        ),
        row(
            "an unparsable trusted root is a usage error",
            args(&[
                "--bundle",
                &dhi_bundle,
                "--key",
                &dhi2,
                "--trusted-root",
                &dhi2,
                &dhi_artifact,
            ]),
            2,
            "",
        ),
        row(
            "an artifact that is neither a file nor a digest is a usage error (no file)",
            keyed(&dhi_bundle, &dhi2, "/nonexistent/file"),
            2,
            "",
        ),
        row(
            "an artifact that is neither a file nor a digest is a usage error (short digest)",
            keyed(&dhi_bundle, &dhi2, "sha256:abcd"),
            2,
            "",
        ),
        row(
            "an artifact that is neither a file nor a digest is a usage error (sha512)",
            keyed(&dhi_bundle, &dhi2, "sha512:00"),
            2,
            "",
        ),
        row(
            "a key together with an identity is a usage error",
            args(&[
                "--bundle",
                &dhi_bundle,
                "--key",
                &dhi2,
                "--certificate-identity",
                "x",
                &dhi_artifact,
            ]),
            2,
            "",
        ),
    ]
}

#[test]
fn verify_bundle_runs_end_with_the_expected_exit_code() {
    let scratch = tempfile::tempdir().unwrap();
    for c in cli_cases(scratch.path()) {
        let argv: Vec<&str> = c.args.iter().map(String::as_str).collect();
        let (code, out) = dhi_verify(&argv);
        assert_eq!(code, c.exit, "{}: {argv:?}: {out}", c.case);
        assert!(out.contains(c.says), "{}: {out}", c.case);
    }
}

// --- The library directly: error variants ----------------------------------

fn keyless_trust() -> SigstoreTrust {
    SigstoreTrust::from_trusted_root_json(
        &std::fs::read(testdata("keyless/trusted_root.json")).unwrap(),
    )
    .unwrap()
}

fn keyless_policy() -> BundlePolicy {
    BundlePolicy::Identity {
        issuer: Matcher::exact(KEYLESS_ISSUER),
        subject: Matcher::exact(KEYLESS_IDENTITY).into(),
    }
}

#[test]
fn library_reports_who_signed_and_when_for_the_keyless_dsse_bundle() {
    let bundle = std::fs::read(testdata("keyless/bundle-dsse.sigstore.json")).unwrap();
    let digest: [u8; 32] = hex::decode(&KEYLESS_DSSE_SUBJECT[7..])
        .unwrap()
        .try_into()
        .unwrap();
    let v = verify_bundle(
        &bundle,
        Artifact::Digest(digest),
        &keyless_policy(),
        &keyless_trust(),
    )
    .unwrap();
    assert_eq!(
        v.signer(),
        &Signer::Certificate {
            identity: KEYLESS_IDENTITY.into(),
            issuer: KEYLESS_ISSUER.into()
        }
    );
    assert_eq!(v.integrated_time(), Some(1_735_689_630));
    let statement: serde_json::Value = serde_json::from_slice(v.statement().unwrap()).unwrap();
    assert_eq!(statement["subject"][0]["name"], "127.0.0.1:5055/dhi/demo");
}

#[test]
fn library_names_the_failed_step_for_keyless_negatives() {
    let trust = keyless_trust();
    let artifact = std::fs::read(testdata("keyless/artifact.txt")).unwrap();
    let digest: [u8; 32] = hex::decode(&KEYLESS_DSSE_SUBJECT[7..])
        .unwrap()
        .try_into()
        .unwrap();
    let check = |file: &str, artifact: Artifact<'_>| {
        let bundle = std::fs::read(testdata(&format!("keyless/negative/{file}"))).unwrap();
        verify_bundle(&bundle, artifact, &keyless_policy(), &trust).unwrap_err()
    };
    let e = check("neg-set.json", Artifact::Bytes(&artifact));
    assert!(matches!(e, BundleError::TransparencyLog { .. }), "{e:?}");
    let e = check("neg-proofhash.json", Artifact::Bytes(&artifact));
    assert!(matches!(e, BundleError::TransparencyLog { .. }), "{e:?}");
    let e = check("neg-checkpoint.json", Artifact::Bytes(&artifact));
    assert!(matches!(e, BundleError::TransparencyLog { .. }), "{e:?}");
    let e = check("neg-dssesig.json", Artifact::Digest(digest));
    assert!(matches!(e, BundleError::Signature { .. }), "{e:?}");
    assert_eq!(e.class(), ErrorClass::Fail);
}

#[test]
fn library_rejects_a_keyed_bundle_under_an_identity_policy_and_vice_versa() {
    let trust = SigstoreTrust::public_good().unwrap();
    let bundle = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let artifact = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    let e = verify_bundle(
        &bundle,
        Artifact::Bytes(&artifact),
        &keyless_policy(),
        &trust,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        BundleError::SignerKindMismatch {
            expected: "certificate",
            ..
        }
    ));
    let key =
        PublicKey::from_pem_or_der(&std::fs::read(testdata("dhi-advisories/dhi-2.pub")).unwrap())
            .unwrap();
    let keyless = std::fs::read(testdata("keyless/bundle-blob.sigstore.json")).unwrap();
    let e = verify_bundle(
        &keyless,
        Artifact::Bytes(b"x"),
        &BundlePolicy::Key(key),
        &trust,
    )
    .unwrap_err();
    assert!(matches!(
        e,
        BundleError::SignerKindMismatch {
            expected: "public key",
            ..
        }
    ));
}

#[test]
fn library_reports_dhi2_fingerprint_and_rejects_tampered_set_as_a_log_failure() {
    let trust = SigstoreTrust::public_good().unwrap();
    let key =
        PublicKey::from_pem_or_der(&std::fs::read(testdata("dhi-advisories/dhi-2.pub")).unwrap())
            .unwrap();
    let policy = BundlePolicy::Key(key);
    let bundle = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let artifact = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    let v = verify_bundle(&bundle, Artifact::Bytes(&artifact), &policy, &trust).unwrap();
    let Signer::Key { fingerprint } = v.signer() else {
        panic!("expected a key signer")
    };
    assert_eq!(
        hex::encode(fingerprint),
        "118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c"
    );
    assert_eq!(v.integrated_time(), Some(1_775_130_813));
    let e = verify_bundle(
        &tampered_set_bundle(),
        Artifact::Bytes(&artifact),
        &policy,
        &trust,
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::TransparencyLog { .. }), "{e:?}");
    let mut flipped = artifact.clone();
    flipped[0] ^= 1;
    let e = verify_bundle(&bundle, Artifact::Bytes(&flipped), &policy, &trust).unwrap_err();
    assert!(
        matches!(
            e,
            BundleError::ArtifactMismatch { .. } | BundleError::Signature { .. }
        ),
        "{e:?}"
    );
}

#[test]
fn library_never_panics_on_garbage_bundles() {
    let trust = SigstoreTrust::public_good().unwrap();
    for junk in [
        &b""[..],
        b"{}",
        b"null",
        b"[]",
        b"{\"mediaType\":1}",
        &[0xff; 64],
    ] {
        let e = verify_bundle(junk, Artifact::Bytes(b"x"), &keyless_policy(), &trust).unwrap_err();
        assert!(matches!(e, BundleError::MalformedBundle { .. }), "{e:?}");
    }
}

#[test]
fn library_accepts_both_v0_3_media_types() {
    let trust = SigstoreTrust::public_good().unwrap();
    let key =
        PublicKey::from_pem_or_der(&std::fs::read(testdata("dhi-advisories/dhi-2.pub")).unwrap())
            .unwrap();
    let policy = BundlePolicy::Key(key);
    let raw = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let artifact = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    assert_eq!(
        bundle["mediaType"],
        "application/vnd.dev.sigstore.bundle.v0.3+json"
    );
    verify_bundle(&raw, Artifact::Bytes(&artifact), &policy, &trust).unwrap();
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle+json;version=0.3".into();
    let alt = serde_json::to_vec(&bundle).unwrap();
    verify_bundle(&alt, Artifact::Bytes(&artifact), &policy, &trust).unwrap();
    bundle["mediaType"] = "application/vnd.dev.sigstore.bundle.v0.9+json".into();
    let unknown = serde_json::to_vec(&bundle).unwrap();
    let e = verify_bundle(&unknown, Artifact::Bytes(&artifact), &policy, &trust).unwrap_err();
    assert!(
        matches!(
            e,
            BundleError::MalformedBundle { .. } | BundleError::Unsupported { .. }
        ),
        "{e:?}"
    );
}

// --- Benchmark (not a timed test) ------------------------------------------
//
// cargo test --release -p dhi-verify-cli --test conformance -- --ignored --nocapture bench_

/// CPU time this thread has run (Linux `/proc/thread-self/schedstat`, ns):
/// unlike wall time, not inflated while other builds hold the shared cores.
fn thread_cpu_ns() -> Option<u64> {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// Runs `f` `iterations` times (after a warm-up tenth) and prints the wall
/// time and this thread's CPU time per call; returns the CPU time (the wall
/// time where the kernel does not report it). On a loaded shared machine the
/// CPU time is the stable figure: wall time also counts waiting for a core.
fn bench(name: &str, iterations: u32, mut f: impl FnMut()) -> f64 {
    for _ in 0..iterations / 10 {
        f();
    }
    let cpu0 = thread_cpu_ns();
    let start = std::time::Instant::now();
    for _ in 0..iterations {
        f();
    }
    let wall = start.elapsed().as_secs_f64() / f64::from(iterations);
    let cpu = match (cpu0, thread_cpu_ns()) {
        (Some(a), Some(b)) => (b.saturating_sub(a)) as f64 / 1e9 / f64::from(iterations),
        _ => wall,
    };
    eprintln!(
        "{name}: {:.1} µs CPU each ({:.0}/s), {:.1} µs wall",
        cpu * 1e6,
        1.0 / cpu,
        wall * 1e6
    );
    cpu
}

#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release mode"]
fn bench_in_process_bundle_verification() {
    use sigstore_verify::crypto::{KeyPair, VerificationKey};
    let n = 2000;
    // The floor: one ECDSA P-256 verification with the same backend.
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let key = VerificationKey::from_spki(&pair.public_key_der().unwrap()).unwrap();
    let sig = pair.sign(b"floor").unwrap();
    let ecdsa = bench("one ECDSA P-256 verification (aws-lc-rs)", n * 5, || {
        key.verify(b"floor", &sig).unwrap();
    });

    let trust = SigstoreTrust::public_good().unwrap();
    let dhi_key =
        PublicKey::from_pem_or_der(&std::fs::read(testdata("dhi-advisories/dhi-2.pub")).unwrap())
            .unwrap();
    let dhi_policy = BundlePolicy::Key(dhi_key);
    let dhi_bundle = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let dhi_artifact = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    let dhi = bench(
        "DHI advisory bundle (key, Rekor v1 SET+proof+checkpoint, RFC 3161)",
        n,
        || {
            verify_bundle(
                &dhi_bundle,
                Artifact::Bytes(&dhi_artifact),
                &dhi_policy,
                &trust,
            )
            .unwrap();
        },
    );

    let ktrust = keyless_trust();
    let policy = keyless_policy();
    let blob = std::fs::read(testdata("keyless/bundle-blob.sigstore.json")).unwrap();
    let artifact = std::fs::read(testdata("keyless/artifact.txt")).unwrap();
    let keyless = bench(
        "keyless blob bundle (Fulcio chain, SCT, SET, proof, checkpoint)",
        n,
        || {
            verify_bundle(&blob, Artifact::Bytes(&artifact), &policy, &ktrust).unwrap();
        },
    );
    let dsse = std::fs::read(testdata("keyless/bundle-dsse.sigstore.json")).unwrap();
    let digest: [u8; 32] = hex::decode(&KEYLESS_DSSE_SUBJECT[7..])
        .unwrap()
        .try_into()
        .unwrap();
    let keyless_dsse = bench("keyless DSSE bundle", n, || {
        verify_bundle(&dsse, Artifact::Digest(digest), &policy, &ktrust).unwrap();
    });
    let load = bench(
        "loading + preparing the embedded public-good root",
        200,
        || {
            SigstoreTrust::public_good().unwrap();
        },
    );
    eprintln!(
        "ratios to one ECDSA verification: DHI {:.1}x, keyless {:.1}x, keyless DSSE {:.1}x, root load {:.1}x",
        dhi / ecdsa,
        keyless / ecdsa,
        keyless_dsse / ecdsa,
        load / ecdsa
    );
}

// --- Legacy cosign Rekor bundle, rebuilt from a real production entry -------

/// Rebuilds the `dev.sigstore.cosign/bundle` annotation cosign would write from
/// the Rekor v1 entry in Docker's real v0.3 bundle: same SET, same body.
fn legacy_rekor_bundle_from_real_entry() -> (serde_json::Value, Vec<u8>, Vec<u8>) {
    let raw = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json.sig")).unwrap();
    let bundle: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let entry = &bundle["verificationMaterial"]["tlogEntries"][0];
    let b64 = base64::engine::general_purpose::STANDARD;
    let log_id = hex::encode(
        b64.decode(entry["logId"]["keyId"].as_str().unwrap())
            .unwrap(),
    );
    let legacy = serde_json::json!({
        "SignedEntryTimestamp": entry["inclusionPromise"]["signedEntryTimestamp"],
        "Payload": {
            "body": entry["canonicalizedBody"],
            "integratedTime": entry["integratedTime"].as_str().unwrap().parse::<i64>().unwrap(),
            "logIndex": entry["logIndex"].as_str().unwrap().parse::<i64>().unwrap(),
            "logID": log_id,
        }
    });
    let signature = b64
        .decode(bundle["messageSignature"]["signature"].as_str().unwrap())
        .unwrap();
    let payload = std::fs::read(testdata("dhi-advisories/CVE-2022-35929.json")).unwrap();
    (legacy, signature, payload)
}

#[test]
fn legacy_rekor_bundle_from_a_real_docker_entry_verifies_with_the_production_rekor_key() {
    use dhi_verify::sigstore::verify_cosign_rekor_bundle;
    let trust = SigstoreTrust::public_good().unwrap();
    let (legacy, signature, payload) = legacy_rekor_bundle_from_real_entry();
    let entry =
        verify_cosign_rekor_bundle(legacy.to_string().as_bytes(), &signature, &payload, &trust)
            .unwrap();
    assert_eq!(entry.integrated_time(), 1_775_130_813);
    assert_eq!(entry.log_index(), 1_216_298_683);
    assert_eq!(
        entry.log_id(),
        "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d"
    );

    // Tampering with what the SET covers breaks it.
    let mut later = legacy.clone();
    later["Payload"]["integratedTime"] = 1_775_130_814i64.into();
    let e = verify_cosign_rekor_bundle(later.to_string().as_bytes(), &signature, &payload, &trust)
        .unwrap_err();
    assert!(matches!(e, BundleError::SetInvalid { .. }), "{e:?}");
    let mut index = legacy.clone();
    index["Payload"]["logIndex"] = 1_216_298_684i64.into();
    let e = verify_cosign_rekor_bundle(index.to_string().as_bytes(), &signature, &payload, &trust)
        .unwrap_err();
    assert!(matches!(e, BundleError::SetInvalid { .. }), "{e:?}");

    // A genuine entry for another payload does not vouch for this one.
    let mut other = payload.clone();
    other[0] ^= 1;
    let e = verify_cosign_rekor_bundle(legacy.to_string().as_bytes(), &signature, &other, &trust)
        .unwrap_err();
    assert!(
        matches!(
            e,
            BundleError::EntryMismatch {
                field: "spec.data.hash",
                ..
            }
        ),
        "{e:?}"
    );

    // A log the trusted root does not know is refused.
    let keyless = keyless_trust();
    let e = verify_cosign_rekor_bundle(
        legacy.to_string().as_bytes(),
        &signature,
        &payload,
        &keyless,
    )
    .unwrap_err();
    assert!(matches!(e, BundleError::UnknownLog { .. }), "{e:?}");
}

/// One DER TLV at the start of `der`: (header length, content length).
fn der_tlv(der: &[u8]) -> (usize, usize) {
    let first = usize::from(der[1]);
    if first < 0x80 {
        return (2, first);
    }
    let n = first & 0x7f;
    let len = der[2..2 + n]
        .iter()
        .fold(0usize, |acc, b| (acc << 8) | usize::from(*b));
    (2 + n, len)
}

/// Where the time of one keyless verification goes: the bundle parse, the
/// signature floors, and `sigstore-verify` with steps switched off (each
/// difference is one stage). Manual stage timing: the release profile strips
/// symbols, so `perf` sees no function names.
#[test]
#[ignore = "benchmark: run with --ignored --nocapture in release mode"]
fn bench_keyless_stages() {
    use sigstore_verify::crypto::{verify_signature, KeyPair, SigningScheme, VerificationKey};
    use sigstore_verify::trust_root::TrustedRoot;
    use sigstore_verify::types::{Bundle, DerPublicKey, SignatureBytes};
    use sigstore_verify::VerificationPolicy;
    let n = 2000;
    let pair = KeyPair::generate_ecdsa_p256().unwrap();
    let key = VerificationKey::from_spki(&pair.public_key_der().unwrap()).unwrap();
    let sig = pair.sign(b"floor").unwrap();
    let p256 = bench("floor: one ECDSA P-256 verification", n * 5, || {
        key.verify(b"floor", &sig).unwrap();
    });

    let raw = std::fs::read(testdata("keyless/bundle-blob.sigstore.json")).unwrap();
    let text = std::str::from_utf8(&raw).unwrap();
    let artifact = std::fs::read(testdata("keyless/artifact.txt")).unwrap();
    let bundle = Bundle::from_json(text).unwrap();

    // The leaf's signature by the Fulcio intermediate (ECDSA P-384, SHA-384).
    let json: serde_json::Value = serde_json::from_slice(&raw).unwrap();
    let b64 = base64::engine::general_purpose::STANDARD;
    let leaf = b64
        .decode(
            json["verificationMaterial"]["certificate"]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    let (h, _) = der_tlv(&leaf);
    let body = &leaf[h..];
    let (th, tl) = der_tlv(body);
    let tbs = &body[..th + tl];
    let rest = &body[th + tl..];
    let (ah, al) = der_tlv(rest);
    let bits = &rest[ah + al..];
    let (bh, bl) = der_tlv(bits);
    let leaf_sig = SignatureBytes::new(bits[bh + 1..bh + bl].to_vec());
    let root: serde_json::Value =
        serde_json::from_slice(&std::fs::read(testdata("keyless/trusted_root.json")).unwrap())
            .unwrap();
    let inter = b64
        .decode(
            root["certificateAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    // The intermediate's SPKI: tbs fields version, serial, sigalg, issuer, validity, subject, spki.
    let (h, _) = der_tlv(&inter);
    let (th, _) = der_tlv(&inter[h..]);
    let mut at = h + th;
    for _ in 0..6 {
        let (fh, fl) = der_tlv(&inter[at..]);
        at += fh + fl;
    }
    let (sh, sl) = der_tlv(&inter[at..]);
    let inter_spki = DerPublicKey::new(inter[at..at + sh + sl].to_vec());
    let p384 = bench(
        "floor: one ECDSA P-384 verification (leaf by intermediate)",
        n,
        || {
            verify_signature(&inter_spki, tbs, &leaf_sig, SigningScheme::EcdsaP384Sha384).unwrap();
        },
    );

    let spki = pair.public_key_der().unwrap();
    let from_spki = bench(
        "preparing a P-256 key (VerificationKey::from_spki)",
        n,
        || {
            VerificationKey::from_spki(&spki).unwrap();
        },
    );
    let parse = bench("Bundle::from_json (keyless blob bundle)", n, || {
        Bundle::from_json(text).unwrap();
    });
    let verifier = sigstore_verify::Verifier::new(
        &TrustedRoot::from_json(
            std::str::from_utf8(&std::fs::read(testdata("keyless/trusted_root.json")).unwrap())
                .unwrap(),
        )
        .unwrap(),
    )
    .unwrap();
    let run = |name: &str, p: VerificationPolicy| {
        bench(name, n, || {
            verifier.verify(artifact.as_slice(), &bundle, &p).unwrap();
        })
    };
    let all = run(
        "verify, parsed bundle, every step",
        VerificationPolicy::any_identity(),
    );
    let no_sct = run(
        "verify, parsed bundle, no SCT",
        VerificationPolicy::any_identity().skip_sct(),
    );
    let no_chain = run(
        "verify, parsed bundle, no chain and no SCT",
        VerificationPolicy::any_identity().skip_certificate_chain(),
    );
    let no_tlog = run(
        "verify, parsed bundle, no tlog (SET, proof, checkpoint)",
        VerificationPolicy::any_identity().skip_tlog_unsafe(),
    );
    let bare = run(
        "verify, parsed bundle, no chain, SCT or tlog",
        VerificationPolicy::any_identity()
            .skip_certificate_chain()
            .skip_tlog_unsafe(),
    );
    let trust = keyless_trust();
    let policy = keyless_policy();
    let any = VerificationPolicy::any_identity();
    let mut ours = f64::INFINITY;
    let mut direct = f64::INFINITY;
    // Interleaved, best of three: the two differ only by our wrapper.
    for _ in 0..3 {
        ours = ours.min(bench(
            "dhi-verify verify_bundle (bytes in, verdict out)",
            n,
            || {
                verify_bundle(&raw, Artifact::Bytes(&artifact), &policy, &trust).unwrap();
            },
        ));
        direct = direct.min(bench("Bundle::from_json + Verifier::verify", n, || {
            let b = Bundle::from_json(text).unwrap();
            verifier.verify(artifact.as_slice(), &b, &any).unwrap();
        }));
    }
    eprintln!(
        "stages (µs): key preparation {:.1}; parse {:.1}; chain {:.1} (floor 1×P-384 {:.1}); SCT {:.1}; tlog {:.1} (floor 2×P-256 {:.1}); \
         rest (artifact signature, certificate profile, consistency) {:.1} (floor 1×P-256 {:.1}); \
         verify_bundle - (parse + verify) {:.1}; mandatory floor 1×P-384 + 4×P-256 = {:.1}",
        from_spki * 1e6,
        parse * 1e6,
        (no_sct - no_chain) * 1e6,
        p384 * 1e6,
        (all - no_sct) * 1e6,
        (all - no_tlog) * 1e6,
        2.0 * p256 * 1e6,
        bare * 1e6,
        p256 * 1e6,
        (ours - direct) * 1e6,
        (p384 + 4.0 * p256) * 1e6,
    );
}

//! The adversarial corpus (`testdata/adversarial/`) through the real binary,
//! from the layout and from a registry: every attack ends in fail (1) or
//! error (3), never pass, and for the reason the attack is about (so a case
//! cannot pass this test by failing on something else); the control passes.
//! The committed corpus is what the testkit writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};

use dhi_verify_testkit::adversarial::{cases, Case};
use dhi_verify_testkit::registry::server::TestRegistry;
use dhi_verify_testkit::registry::Content;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/adversarial")
}

/// What the JSON output must say for each attack (one of these), from the
/// layout and from a registry alike: the broken link, as the verifier names
/// it. Bytes replaced under a digest are a mismatch in a layout; the test
/// registry, which files blobs by their digest, no longer has them.
fn reason(case: &str) -> &'static [&'static str] {
    const SUBSTITUTED: &[&str] = &["does not match its digest", "is missing from"];
    match case {
        "wrong-key" | "image-signature-wrong-key" | "cosign-att-signed-without-pae" => {
            &["no trusted key verifies the signature"]
        }
        "statement-substituted" | "payload-substituted" | "platform-manifest-substituted" => {
            SUBSTITUTED
        }
        // in the registry the index is gone, so the tag names nothing
        "index-substituted" => &["does not match its digest", "not found in registry"],
        // in the registry the manifest is gone, so not even listed
        "attestation-manifest-substituted" => &[
            "does not match its digest",
            "no SLSA provenance attestation found",
        ],
        "statement-missing" => {
            &["fa5c2ec0bd85acee4cafb553c63686ab49fbc2a0b564c552d92a4bf4bf5a2840"]
        }
        "signature-replayed-on-sibling" | "image-signature-for-other-image" => &["payload signs"],
        // a registry lists a signature under the subject it names: here, none
        "signature-moved" => &[
            "signature manifest subject is",
            "unsigned: no signature refers to",
        ],
        "statement-for-other-platform" | "cosign-att-for-other-image" => {
            &["statement subject does not name"]
        }
        // a registry lists it under the platform it names: here, nothing
        "attestation-for-other-platform" => &[
            "attestation manifest subject is",
            "no SLSA provenance attestation found",
        ],
        "attestation-subject-size" => &["attestation manifest subject size is 401, expected 400"],
        "signature-subject-media-type" => {
            &["signature manifest subject mediaType is application/octet-stream"]
        }
        "predicate-type-confusion" => &["statement predicateType is"],
        "layer-annotation-disagrees" => &["but its layer says"],
        "payload-predicate-type" => &["payload optional.predicateType is"],
        "signature-stripped" => &["unsigned: no signature refers to"],
        "wrong-critical-type" => &["payload critical.type is"],
        "signature-not-base64" => &["not base64 of a DER ECDSA signature: base64"],
        "signature-not-der" => &["not base64 of a DER ECDSA signature: DER"],
        "statement-type-unknown" => &["statement _type is"],
        "extra-layer" => &["expected exactly one"],
        "tlog-forged-time" => &["signed entry timestamp does not verify"],
        "tlog-other-payload" => &["log entry body does not match"],
        "tlog-stripped" => &["the policy requires a transparency-log entry"],
        "bundle-forged-set" => &[
            "Sigstore signature does not verify for a trusted key or identity: transparency log",
        ],
        "bundle-signs-other-bytes" => {
            &["Sigstore signature does not verify for a trusted key or identity: signature"]
        }
        other => panic!("no expected reason for {other}: add one"),
    }
}

/// Asserts the outcomes: controls pass; every attack fails or errors, saying why.
fn assert_outcomes(outcomes: &[(&str, bool, i32, String)]) {
    let codes: Vec<_> = outcomes.iter().map(|(n, _, c, _)| (*n, *c)).collect();
    let mut wrong = Vec::new();
    for (name, control, code, json) in outcomes {
        if *control {
            assert_eq!(*code, 0, "the control must pass: {codes:?}");
            continue;
        }
        assert!(*code == 1 || *code == 3, "{name} exited {code}: {codes:?}");
        let v: serde_json::Value = serde_json::from_str(json).expect("JSON output");
        assert_eq!(v["passed"], false, "{name}");
        let text = v.to_string();
        let why = reason(name);
        if !why.iter().any(|w| text.contains(w)) {
            wrong.push(format!("{name} should say one of {why:?}: {text}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn run(case: &Case, reference: &str) -> (i32, String) {
    let dir = corpus();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
    c.args([
        "image",
        reference,
        "--platform",
        "linux/amd64",
        "--timeout",
        "5",
        "--format",
        "json",
        "--key",
    ])
    .arg(dir.join("cosign.pub"));
    if case.test_log {
        c.arg("--trusted-root").arg(dir.join("trusted_root.json"));
    }
    let empty = tempfile::tempdir().unwrap();
    let o = c
        .args(case.flags)
        .env("DOCKER_CONFIG", empty.path())
        // A cache per run: a cache holding the control's genuine blobs would
        // (rightly, by content addressing) verify a case whose registry lost them.
        .env("XDG_CACHE_HOME", empty.path())
        .output()
        .unwrap();
    (
        o.status.code().expect("exited"),
        String::from_utf8(o.stdout).expect("UTF-8 output"),
    )
}

#[test]
fn the_committed_corpus_is_what_the_testkit_writes() {
    let tmp = tempfile::tempdir().unwrap();
    for case in cases() {
        let fresh = case.write(&tmp.path().join(case.name));
        let committed = corpus().join(case.name);
        assert_eq!(
            std::fs::read(committed.join("index.json")).unwrap(),
            std::fs::read(fresh.dir.join("index.json")).unwrap(),
            "{}: regenerate with `cargo run -p dhi-verify-testkit --bin make-adversarial -- testdata/adversarial`",
            case.name
        );
    }
}

#[test]
fn no_attack_passes_from_a_layout_and_the_control_does() {
    let mut outcomes = Vec::new();
    for case in cases() {
        let (code, json) = run(
            &case,
            &format!("oci:{}:3.13", corpus().join(case.name).display()),
        );
        outcomes.push((case.name, case.is_control(), code, json));
    }
    assert_outcomes(&outcomes);
    assert_eq!(outcomes.len(), 33);
}

#[test]
fn no_attack_passes_from_a_registry_and_the_control_does() {
    let mut outcomes = Vec::new();
    for case in cases() {
        let registry = TestRegistry::start(
            "dhi/python",
            Content::from_layout(&corpus().join(case.name)),
        );
        let (code, json) = run(&case, &format!("{}/dhi/python:3.13", registry.addr));
        outcomes.push((case.name, case.is_control(), code, json));
    }
    // docs/threat-model.md quotes this line (run with `--nocapture`).
    let codes: Vec<_> = outcomes
        .iter()
        .map(|(n, c, code, _)| (*n, *c, *code))
        .collect();
    eprintln!("registry outcomes: {codes:?}");
    assert_outcomes(&outcomes);
}

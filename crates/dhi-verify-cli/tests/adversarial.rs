//! The adversarial corpus (`testdata/adversarial/`) through the real binary,
//! from the layout and from a registry: every attack ends in fail (1) or
//! error (3), never pass; the control passes. The committed corpus is what the
//! testkit writes.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};

use dhi_verify_testkit::adversarial::{cases, Case};
use dhi_verify_testkit::registry::server::TestRegistry;
use dhi_verify_testkit::registry::Content;

fn corpus() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/adversarial")
}

fn run(case: &Case, reference: &str) -> i32 {
    let dir = corpus();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
    c.args([
        "image",
        reference,
        "--platform",
        "linux/amd64",
        "--timeout",
        "5",
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
    o.status.code().expect("exited")
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
        let code = run(
            &case,
            &format!("oci:{}:3.13", corpus().join(case.name).display()),
        );
        outcomes.push((case.name, case.is_control(), code));
    }
    for (name, control, code) in &outcomes {
        if *control {
            assert_eq!(*code, 0, "the control must pass: {outcomes:?}");
        } else {
            assert!(
                *code == 1 || *code == 3,
                "{name} exited {code}: {outcomes:?}"
            );
        }
    }
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
        let code = run(&case, &format!("{}/dhi/python:3.13", registry.addr));
        outcomes.push((case.name, case.is_control(), code));
    }
    // docs/threat-model.md quotes this line (run with `--nocapture`).
    eprintln!("registry outcomes: {outcomes:?}");
    for (name, control, code) in &outcomes {
        if *control {
            assert_eq!(*code, 0, "the control must pass: {outcomes:?}");
        } else {
            assert!(
                *code == 1 || *code == 3,
                "{name} exited {code}: {outcomes:?}"
            );
        }
    }
}

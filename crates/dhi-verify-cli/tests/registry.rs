//! `dhi-verify image` against registries through the real binary: Debian's
//! docker-registry and the in-process referrers-API registry, with the exit
//! codes scripts rely on.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::process::Output;

use dhi_verify_testkit::registry::distribution::{basic, DistributionRegistry, RegistryAuth};
use dhi_verify_testkit::registry::server::{Fault, FaultKind, TestRegistry};
use dhi_verify_testkit::registry::Content;
use dhi_verify_testkit::{DhiImage, Tamper};
use serde_json::Value;

const REPO: &str = "dhi/python";

struct Pushed {
    dir: tempfile::TempDir,
    key: std::path::PathBuf,
}

fn layout(image: &DhiImage) -> (Pushed, dhi_verify_testkit::Fixture) {
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    (Pushed { dir, key }, fixture)
}

fn run(
    reference: &str,
    key: &std::path::Path,
    extra: &[&str],
    docker_config: Option<&std::path::Path>,
) -> Output {
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
    .arg(key)
    .args(extra);
    // Never read the developer's own credentials.
    let empty = tempfile::tempdir().unwrap();
    c.env("DOCKER_CONFIG", docker_config.unwrap_or(empty.path()));
    // Each run its own disk cache, never the developer's.
    c.env("XDG_CACHE_HOME", empty.path());
    c.output().unwrap()
}

#[test]
fn an_image_in_docker_registry_passes_and_a_tampered_one_fails() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let (p, f) = layout(&DhiImage::python());
    registry.push_layout(REPO, &f.dir);
    let o = run(
        &format!("{}/{REPO}:3.13", registry.addr),
        &p.key,
        &["--format", "json"],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["digest"], f.index_digest);

    let bad = DhiImage::python().tamper(Tamper::WrongKey);
    let (_p2, f2) = layout(&bad);
    let registry2 = DistributionRegistry::start(RegistryAuth::None);
    registry2.push_layout(REPO, &f2.dir);
    let o = run(
        &format!("{}/{REPO}:3.13", registry2.addr),
        &p.key,
        &[],
        None,
    );
    assert_eq!(
        o.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    drop(p.dir);
}

#[test]
fn credentials_come_from_docker_config_and_wrong_ones_are_exit_3() {
    let registry = DistributionRegistry::start(RegistryAuth::Basic {
        user: "alice".into(),
        pass: "s3cret".into(),
    });
    let (p, f) = layout(&DhiImage::python());
    registry.push_layout(REPO, &f.dir);
    let reference = format!("{}/{REPO}:3.13", registry.addr);
    let config = |user: &str, pass: &str| {
        let dir = tempfile::tempdir().unwrap();
        let auth = basic(user, pass);
        let auth = auth.strip_prefix("Basic ").unwrap_or(&auth).to_owned();
        std::fs::write(
            dir.path().join("config.json"),
            format!(r#"{{"auths":{{"{}":{{"auth":"{auth}"}}}}}}"#, registry.addr),
        )
        .unwrap();
        dir
    };
    let good = config("alice", "s3cret");
    let o = run(&reference, &p.key, &[], Some(good.path()));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let wrong = config("alice", "guess");
    let o = run(&reference, &p.key, &[], Some(wrong.path()));
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
    let o = run(&reference, &p.key, &[], None);
    assert_eq!(
        o.status.code(),
        Some(3),
        "anonymous is refused: an error, never a pass or 'unsigned'"
    );
}

#[test]
fn a_referrers_outage_is_exit_3_not_no_attestations() {
    let image = DhiImage::python().without_fallback_tags();
    let (p, f) = layout(&image);
    let registry = TestRegistry::start(REPO, Content::from_layout(&f.dir)).fault(Fault::new(
        "/referrers/",
        FaultKind::Status(500, None),
        usize::MAX,
    ));
    let o = run(
        &format!("{}/{REPO}:3.13", registry.addr),
        &p.key,
        &["--format", "json"],
        None,
    );
    assert_eq!(o.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "error");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("referrers"),
        "{v}"
    );
}

#[test]
fn the_referrers_api_registry_passes_with_attestations_found_through_the_api() {
    let image = DhiImage::python().without_fallback_tags();
    let (p, f) = layout(&image);
    let registry = TestRegistry::start(REPO, Content::from_layout(&f.dir));
    let o = run(&format!("{}/{REPO}:3.13", registry.addr), &p.key, &[], None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stdout)
    );
}

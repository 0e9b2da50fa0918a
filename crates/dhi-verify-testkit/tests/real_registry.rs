//! Pushing `cosign save` layouts to Debian's real `docker-registry` with
//! cosign's tag schema: the real slsa-github-generator layouts come back
//! byte for byte under their digests, and the testkit's own cosign save and
//! rebuilt `.sig` layouts land under `sha256-<hex>.sig` / `.att`.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};

use dhi_verify_testkit::cosign::{tag_for, write_real_sig_layout};
use dhi_verify_testkit::registry::distribution::{DistributionRegistry, RegistryAuth};
use dhi_verify_testkit::registry::http::request;
use dhi_verify_testkit::registry::{Content, MANIFEST_TYPES};
use dhi_verify_testkit::DhiImage;
use sha2::{Digest as _, Sha256};

fn real(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/real")
        .join(path)
}

fn get(registry: &DistributionRegistry, path: &str) -> (u16, Option<String>, Vec<u8>) {
    let a = request(
        &registry.addr,
        "GET",
        path,
        &[("Accept", MANIFEST_TYPES.join(", "))],
        b"",
    );
    let ct = a.header("content-type").map(str::to_owned);
    (a.status, ct, a.body)
}

fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

/// Every manifest (by digest and by tag) and blob of `content` comes back
/// from `repo` with the same bytes and media type.
fn assert_served(registry: &DistributionRegistry, repo: &str, content: &Content) {
    for (digest, m) in &content.manifests {
        let (status, ct, body) = get(registry, &format!("/v2/{repo}/manifests/{digest}"));
        assert_eq!(status, 200, "{digest}");
        assert_eq!(body, m.bytes, "{digest}: bytes preserved");
        assert_eq!(ct.as_deref(), Some(m.media_type.as_str()));
    }
    for (tag, digest) in &content.tags {
        let (status, _, body) = get(registry, &format!("/v2/{repo}/manifests/{tag}"));
        assert_eq!(status, 200, "{tag}");
        assert_eq!(&digest_of(&body), digest, "{tag}");
    }
    for (digest, bytes) in &content.blobs {
        let (status, _, body) = get(registry, &format!("/v2/{repo}/blobs/{digest}"));
        assert_eq!(status, 200, "{digest}");
        assert_eq!(&body, bytes, "{digest}");
    }
}

#[test]
fn real_cosign_save_layouts_push_byte_for_byte_with_cosign_tags() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
        let dir = real(&format!(
            "slsa-github-generator/{version}/container_workflow_dispatch"
        ));
        let image = std::fs::read_to_string(
            dir.parent()
                .unwrap()
                .join("container_workflow_dispatch.digest"),
        )
        .unwrap()
        .trim()
        .to_owned();
        let repo = format!("slsa/{}", version.replace('.', "-"));
        let content = registry.push_cosign_save(&repo, &dir, "main");
        // Every blob file of the layout is either a manifest or a blob pushed.
        let files = std::fs::read_dir(dir.join("blobs/sha256")).unwrap().count();
        assert_eq!(content.manifests.len() + content.blobs.len(), files);
        assert_eq!(content.tags["main"], image);
        let att = content.tags[&format!("{}.att", tag_for(&image))].clone();
        assert!(content.tags.len() == 2, "{:?}", content.tags);
        assert_served(&registry, &repo, &content);
        let (_, ct, _) = get(&registry, &format!("/v2/{repo}/manifests/{image}"));
        let expected = if version == "v1.4.0" {
            "application/vnd.docker.distribution.manifest.v2+json"
        } else {
            "application/vnd.oci.image.index.v1+json"
        };
        assert_eq!(ct.as_deref(), Some(expected));
        let (_, _, body) = get(
            &registry,
            &format!("/v2/{repo}/manifests/{}.att", tag_for(&image)),
        );
        assert_eq!(digest_of(&body), att);
    }
}

#[test]
fn testkit_cosign_save_and_rebuilt_sig_push_with_cosign_tags() {
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let tmp = tempfile::tempdir().unwrap();
    let save = DhiImage::python()
        .with_rekor()
        .with_buildkit_attestations()
        .write_cosign_save(tmp.path());
    let content = registry.push_cosign_save("dhi/python", tmp.path(), "3.13");
    let index = &save.fixture.index_digest;
    assert_eq!(content.tags["3.13"], *index);
    assert_eq!(
        content.tags[&format!("{}.sig", tag_for(index))],
        save.sig_manifest.unwrap()
    );
    assert_eq!(
        content.tags[&format!("{}.att", tag_for(index))],
        save.att_manifest
    );
    assert_served(&registry, "dhi/python", &content);

    let single = tempfile::tempdir().unwrap();
    let save = DhiImage::python()
        .single_manifest()
        .write_cosign_save(single.path());
    let content = registry.push_cosign_save("dhi/single", single.path(), "3.13");
    assert_eq!(content.tags["3.13"], save.fixture.index_digest);
    assert_served(&registry, "dhi/single", &content);

    let hex = "fa948726aac29a6ac49f01ec8fbbac18522b35b2491fdf716236a0b3502a2ca7";
    let json = std::fs::read(real(&format!(
        "cosign-keyed/tests/assets/signatures/valid/95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95/{hex}.json"
    )))
    .unwrap();
    let sig_dir = tempfile::tempdir().unwrap();
    let m = write_real_sig_layout(sig_dir.path(), &format!("sha256:{hex}"), &json);
    let content = registry.push_layout("almet/dangerzone", sig_dir.path());
    assert_eq!(content.tags[&format!("sha256-{hex}.sig")], m.digest);
    assert_served(&registry, "almet/dangerzone", &content);
}

use dhi_verify::{
    CheckStatus, Error, Limits, Outcome, Platform, Policy, Reference, SourceError, Verifier,
};
use dhi_verify_testkit::DhiImage;

use crate::util::{block_on, check, trust, verifier, verifier_with, verify, write};

#[test]
fn attestations_are_found_by_scanning_subjects_without_fallback_tags() {
    let image = DhiImage::python().without_fallback_tags();
    let w = write(&image);
    let index = std::fs::read_to_string(w.fixture.dir.join("index.json")).unwrap();
    assert!(!index.contains("sha256-"), "no fallback tags written");
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(v.platforms[0].attestations.len(), 5);
}

#[test]
fn attestations_in_a_separate_layout_are_found_with_referrers() {
    let image = DhiImage::python();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_split(&dir.path().join("image"), &dir.path().join("attestations"));
    let reference = fixture.reference("3.13");

    let without = verify(&verifier(&image), &reference);
    assert_eq!(without.outcome, Outcome::Fail);
    assert!(check(&without, "require.provenance")
        .message
        .contains("no SLSA provenance attestation found"));

    let with = Verifier::builder()
        .trust(trust(&image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .referrers(Reference::parse(&format!("oci:{}", fixture.referrers_dir.display())).unwrap())
        .build()
        .unwrap();
    let v = verify(&with, &reference);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

#[test]
fn more_referrers_than_the_limit_is_a_failure_not_a_truncation() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(
        &verifier_with(
            trust(&image),
            Policy::dhi_default(),
            Limits::default().with_max_referrers(4),
        ),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(v.outcome, Outcome::Fail);
    assert_eq!(check(&v, "referrers").status, CheckStatus::Fail);
    assert!(check(&v, "referrers")
        .message
        .contains("more than 4 referrers"));
}

#[test]
fn a_missing_tag_is_an_error_not_a_failure() {
    let image = DhiImage::python();
    let w = write(&image);
    let err = block_on(verifier(&image).verify(&w.fixture.reference("9.99"))).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Source {
                source: SourceError::TagNotFound { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), dhi_verify::ErrorClass::Error);
}

#[test]
fn a_directory_that_is_not_a_layout_is_an_error() {
    let image = DhiImage::python();
    let dir = tempfile::tempdir().unwrap();
    let err = block_on(verifier(&image).verify(&format!("oci:{}:3.13", dir.path().display())))
        .unwrap_err();
    assert!(
        matches!(
            err,
            Error::Source {
                source: SourceError::InvalidLayout { .. },
                ..
            }
        ),
        "{err:?}"
    );
}

#[test]
fn a_layout_with_one_image_needs_no_tag() {
    let image = DhiImage::python();
    let w = write(&image);
    // The layout also holds fallback-tag indexes; those are not images.
    let v = verify(
        &verifier(&image),
        &format!("oci:{}", w.fixture.dir.display()),
    );
    assert_eq!(v.outcome, Outcome::Pass);
}

#[test]
fn the_index_can_be_named_by_digest() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(
        &verifier(&image),
        &format!("oci:{}@{}", w.fixture.dir.display(), w.fixture.index_digest),
    );
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(v.digest.to_string(), w.fixture.index_digest);
}

#[test]
fn a_platform_manifest_named_by_digest_is_verified_as_a_single_platform_image() {
    let image = DhiImage::python();
    let w = write(&image);
    let (_, arm64) = &w.fixture.platforms[1];
    let v = Verifier::builder()
        .trust(trust(&image))
        .policy(Policy::dhi_default())
        .all_platforms()
        .build()
        .unwrap();
    let v = verify(&v, &format!("oci:{}@{arm64}", w.fixture.dir.display()));
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert_eq!(v.platforms[0].platform.to_string(), "linux/arm64");
}

#[test]
fn malformed_references_are_usage_errors() {
    let image = DhiImage::python();
    let err = block_on(verifier(&image).verify("oci:x@sha256:nothex")).unwrap_err();
    assert_eq!(err.class(), dhi_verify::ErrorClass::Usage);
}

#[test]
fn the_verdict_carries_the_verified_index_annotations_and_image_configuration() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(&verifier(&image), &w.fixture.reference("3.13"));
    assert_eq!(
        v.annotations
            .get("com.docker.dhi.variant")
            .map(String::as_str),
        Some("runtime")
    );
    let config = v.platforms[0].config.as_ref().expect("configuration read");
    assert_eq!(config.user.as_deref(), Some("65532"));
    assert!(!config.runs_as_root());
}

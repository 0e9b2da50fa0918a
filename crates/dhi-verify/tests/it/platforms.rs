use dhi_verify::{CheckStatus, Outcome, Platform, Policy, Verifier};
use dhi_verify_testkit::DhiImage;

use crate::util::{check, trust, verify, write};

fn verifier_for(image: &DhiImage, platforms: Option<Vec<Platform>>) -> Verifier {
    let b = Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default());
    match platforms {
        Some(p) => b.platforms(p),
        None => b.all_platforms(),
    }
    .build()
    .unwrap()
}

#[test]
fn each_requested_platform_is_verified_against_its_own_manifest() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(
        &verifier_for(&image, Some(vec!["linux/arm64/v8".parse().unwrap()])),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(v.outcome, Outcome::Pass);
    assert_eq!(v.platforms.len(), 1);
    assert_eq!(v.platforms[0].digest.to_string(), w.fixture.platforms[1].1);
}

#[test]
fn all_platforms_verifies_every_platform_in_the_index() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(&verifier_for(&image, None), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Pass);
    let names: Vec<String> = v.platforms.iter().map(|p| p.platform.to_string()).collect();
    assert_eq!(names, ["linux/amd64", "linux/arm64"]);
}

#[test]
fn a_platform_missing_from_the_index_fails_and_names_what_is_offered() {
    let image = DhiImage::python();
    let w = write(&image);
    let v = verify(
        &verifier_for(&image, Some(vec!["linux/s390x".parse().unwrap()])),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(v.outcome, Outcome::Fail);
    let c = check(&v, "platform.linux/s390x");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(
        c.message.contains("linux/amd64, linux/arm64"),
        "{}",
        c.message
    );
}

#[test]
fn one_failing_platform_fails_the_image() {
    use dhi_verify_testkit::Tamper;
    // The tamper breaks linux/amd64 only; asking for both must fail.
    let image = DhiImage::python().tamper(Tamper::WrongKey);
    let w = write(&image);
    let v = verify(&verifier_for(&image, None), &w.fixture.reference("3.13"));
    assert_eq!(v.outcome, Outcome::Fail);
    let arm = verify(
        &verifier_for(&image, Some(vec![Platform::linux_arm64()])),
        &w.fixture.reference("3.13"),
    );
    assert_eq!(arm.outcome, Outcome::Pass);
}

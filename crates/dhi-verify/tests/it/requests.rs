//! One verifier, many requests: [`Verifier::verify_with`] judges one image
//! under the policy and platforms of each call, with the verifier's trust.

use dhi_verify::{
    CheckStatus, ConfigError, Error, Outcome, Platform, PlatformSelection, Policy, Verifier,
};
use dhi_verify_testkit::{DhiImage, PredicateKind};

use crate::util::{block_on, trust, write};

fn verifier(image: &DhiImage) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .build()
        .unwrap()
}

#[test]
fn each_call_is_judged_by_its_own_policy_and_platforms() {
    // No VEX on this image: a policy requiring it fails, the default passes.
    let image = DhiImage::python().kinds(&[
        PredicateKind::ProvenanceV1,
        PredicateKind::Spdx23,
        PredicateKind::CycloneDx16,
    ]);
    let w = write(&image);
    let reference = w.fixture.reference("3.13");
    let v = verifier(&image);
    let amd64 = PlatformSelection::Only(vec![Platform::linux_amd64()]);
    let strict = Policy::dhi_default()
        .with_requirements(["provenance", "vex"])
        .unwrap();
    let failed = block_on(v.verify_with(&reference, &strict, &amd64)).unwrap();
    assert_eq!(failed.outcome, Outcome::Fail);
    let vex = failed.platforms[0]
        .checks
        .iter()
        .find(|c| c.id == "require.vex")
        .unwrap();
    assert_eq!(vex.status, CheckStatus::Fail);
    // The same verifier, its own policy: passes, for the same digest.
    let passed = block_on(v.verify(&reference)).unwrap();
    assert_eq!(passed.outcome, Outcome::Pass, "{passed:#?}");
    assert_eq!(passed.digest, failed.digest);
    // Per-call platforms: every platform of the index.
    let all = block_on(v.verify_with(&reference, v.policy(), &PlatformSelection::All)).unwrap();
    assert_eq!(all.platforms.len(), w.fixture.platforms.len());
    assert_eq!(all.outcome, Outcome::Pass);
    // A platform the index does not offer fails that call only.
    let s390x = PlatformSelection::Only(vec!["linux/s390x".parse().unwrap()]);
    let missing = block_on(v.verify_with(&reference, v.policy(), &s390x)).unwrap();
    assert_eq!(missing.outcome, Outcome::Fail);
    assert!(missing
        .checks
        .iter()
        .any(|c| c.id == "platform.linux/s390x"));
}

#[test]
fn a_call_that_requires_nothing_or_selects_no_platform_is_refused() {
    let image = DhiImage::python();
    let w = write(&image);
    let reference = w.fixture.reference("3.13");
    let v = verifier(&image);
    let nothing = Policy::requiring(Vec::<String>::new()).unwrap();
    let e = block_on(v.verify_with(&reference, &nothing, v.platforms())).unwrap_err();
    assert!(
        matches!(e, Error::Config(ConfigError::NothingRequired)),
        "{e:?}"
    );
    let e = block_on(v.verify_with(&reference, v.policy(), &PlatformSelection::Only(Vec::new())))
        .unwrap_err();
    assert!(matches!(e, Error::Config(ConfigError::NoPlatform)), "{e:?}");
}

use std::time::SystemTime;

use dhi_verify::{Limits, Platform, Policy, TrustRoot, TrustedKey, Verdict, Verifier};
use dhi_verify_testkit::{DhiImage, Fixture};
use tempfile::TempDir;

/// A fixture written into its own temporary directory.
pub struct Written {
    pub fixture: Fixture,
    pub _dir: TempDir,
}

pub fn write(image: &DhiImage) -> Written {
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    Written { fixture, _dir: dir }
}

/// The trust root holding the fixture's signing key.
pub fn trust(image: &DhiImage) -> TrustRoot {
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
}

pub fn verifier(image: &DhiImage) -> Verifier {
    Verifier::builder()
        .trust(trust(image))
        .policy(Policy::dhi_default())
        .platforms([Platform::linux_amd64()])
        .build()
        .unwrap()
}

pub fn verifier_with(trust: TrustRoot, policy: Policy, limits: Limits) -> Verifier {
    Verifier::builder()
        .trust(trust)
        .policy(policy)
        .platforms([Platform::linux_amd64()])
        .limits(limits)
        .at(SystemTime::now())
        .build()
        .unwrap()
}

pub fn block_on<F: std::future::Future>(f: F) -> F::Output {
    tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(f)
}

pub fn verify(v: &Verifier, reference: &str) -> Verdict {
    block_on(v.verify(reference)).unwrap()
}

/// The status of check `id` in any platform or at the top.
pub fn check<'a>(v: &'a Verdict, id: &str) -> &'a dhi_verify::Check {
    v.all_checks()
        .find(|c| c.id == id)
        .unwrap_or_else(|| panic!("no check {id} in {:#?}", v.all_checks().collect::<Vec<_>>()))
}

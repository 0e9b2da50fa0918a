//! Sigstore bundles: never panic; random bytes never verify.
#![no_main]
use std::sync::OnceLock;

use dhi_verify::sigstore::{verify_bundle, Artifact, BundlePolicy, PublicKey, SigstoreTrust};
use libfuzzer_sys::fuzz_target;

fn trust() -> &'static SigstoreTrust {
    static T: OnceLock<SigstoreTrust> = OnceLock::new();
    T.get_or_init(|| SigstoreTrust::public_good().expect("embedded root"))
}

fuzz_target!(|data: &[u8]| {
    let key =
        PublicKey::from_pem_or_der(dhi_verify::DHI_2_PEM.as_bytes()).expect("embedded key");
    assert!(verify_bundle(
        data,
        Artifact::Bytes(b"artifact"),
        &BundlePolicy::Key(key),
        trust()
    )
    .is_err());
});

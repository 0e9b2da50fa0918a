use std::path::Path;
use std::time::SystemTime;

use dhi_verify::signature::simple_signing::verify_signature;
use dhi_verify::{TrustRoot, TrustedKey, VerifyError};

fn sample() -> (Vec<u8>, String) {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/real-signature");
    let artifact = std::fs::read(dir.join("CVE-2022-35929.json")).unwrap();
    let bundle: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.join("CVE-2022-35929.json.sig")).unwrap())
            .unwrap();
    let sig = bundle["messageSignature"]["signature"]
        .as_str()
        .unwrap()
        .to_owned();
    (artifact, sig)
}

#[test]
fn the_real_docker_signature_verifies_under_the_embedded_dhi_2_key() {
    let (artifact, sig) = sample();
    let root = TrustRoot::dhi_embedded();
    let key = verify_signature(&artifact, &sig, &root, SystemTime::now()).unwrap();
    assert_eq!(key.name(), "dhi-2");
    assert_eq!(
        key.fingerprint().hex(),
        "118ba556dd52f4aec67018efd316c285c783cd3e54cc0f4527605715c643887c"
    );
}

#[test]
fn the_real_docker_signature_does_not_verify_under_dhi_1() {
    let (artifact, sig) = sample();
    let only_dhi_1 =
        TrustRoot::from_keys([TrustedKey::from_pem("dhi-1", dhi_verify::DHI_1_PEM).unwrap()]);
    assert!(matches!(
        verify_signature(&artifact, &sig, &only_dhi_1, SystemTime::now()),
        Err(VerifyError::UntrustedSignature { keys_tried: 1 })
    ));
}

#[test]
fn the_real_docker_signature_does_not_verify_a_changed_file() {
    let (mut artifact, sig) = sample();
    artifact[10] ^= 1;
    assert!(matches!(
        verify_signature(
            &artifact,
            &sig,
            &TrustRoot::dhi_embedded(),
            SystemTime::now()
        ),
        Err(VerifyError::UntrustedSignature { .. })
    ));
}

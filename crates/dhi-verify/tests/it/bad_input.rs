use std::collections::BTreeMap;
use std::path::Path;

use dhi_verify::{CheckStatus, Error, Outcome, SourceError};
use dhi_verify_testkit::{DhiImage, LayoutWriter};
use serde_json::json;

use crate::util::{block_on, check, verifier, write};

/// A layout whose tag names an index with one linux/amd64 entry pointing at `platform_bytes`.
fn layout_with_platform_manifest(dir: &Path, platform_bytes: &[u8]) {
    let mut w = LayoutWriter::create(dir);
    let p = w.put("application/vnd.oci.image.manifest.v1+json", platform_bytes);
    let mut d = p.descriptor();
    d["platform"] = json!({"os": "linux", "architecture": "amd64"});
    let index = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [d]});
    let i = w.put_json("application/vnd.oci.image.index.v1+json", &index);
    w.tag(&i, "t", BTreeMap::new());
    w.finish();
}

fn verify_dir(dir: &Path) -> Result<dhi_verify::Verdict, Error> {
    block_on(verifier(&DhiImage::python()).verify(&format!("oci:{}:t", dir.display())))
}

#[test]
fn a_platform_manifest_that_is_not_a_manifest_fails_the_platform() {
    let dir = tempfile::tempdir().unwrap();
    layout_with_platform_manifest(dir.path(), br#"{"not": "a manifest"}"#);
    let v = verify_dir(dir.path()).unwrap();
    assert_eq!(v.outcome, Outcome::Fail);
    assert!(check(&v, "platform.manifest")
        .message
        .contains("is not a valid OCI image manifest"));
}

#[test]
fn a_platform_manifest_over_the_manifest_limit_is_not_read() {
    let dir = tempfile::tempdir().unwrap();
    let big = format!(
        r#"{{"schemaVersion":2,"pad":"{}"}}"#,
        "x".repeat(4 * 1024 * 1024)
    );
    layout_with_platform_manifest(dir.path(), big.as_bytes());
    let v = verify_dir(dir.path()).unwrap();
    assert_eq!(v.outcome, Outcome::Fail);
    let c = check(&v, "platform.manifest");
    assert_eq!(c.status, CheckStatus::Fail);
    assert!(c.message.contains("max_manifest_bytes"), "{}", c.message);
}

#[test]
fn a_garbage_index_json_is_an_error_naming_the_layout() {
    let dir = tempfile::tempdir().unwrap();
    LayoutWriter::create(dir.path()).finish();
    std::fs::write(dir.path().join("index.json"), b"\x00\xffnot json").unwrap();
    let err = verify_dir(dir.path()).unwrap_err();
    assert!(
        matches!(
            err,
            Error::Source {
                step: dhi_verify::SourceStep::OpenLayout,
                source: SourceError::InvalidLayout { .. },
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.class(), dhi_verify::ErrorClass::Error);
}

#[test]
fn a_layout_without_oci_layout_file_is_an_error() {
    let dir = tempfile::tempdir().unwrap();
    LayoutWriter::create(dir.path()).finish();
    std::fs::remove_file(dir.path().join("oci-layout")).unwrap();
    assert!(matches!(
        verify_dir(dir.path()),
        Err(Error::Source {
            source: SourceError::InvalidLayout { .. },
            ..
        })
    ));
}

/// A small deterministic generator (xorshift), so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

#[test]
fn flipping_a_bit_in_any_blob_fails_the_image_and_never_panics() {
    // Three sampled bit flips in every blob of a valid layout. Blobs on the
    // verified path fail their link; blobs off it (the other platform,
    // unrequired attestations) fail the layout's integrity check.
    let image = DhiImage::python();
    let w = write(&image);
    let blobs: Vec<_> = std::fs::read_dir(w.fixture.dir.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
    let v = verifier(&image);
    for path in &blobs {
        let original = std::fs::read(path).unwrap();
        for _ in 0..3 {
            let mut bytes = original.clone();
            let at = (rng.next() as usize) % bytes.len();
            bytes[at] ^= 1 << (rng.next() % 8);
            std::fs::write(path, &bytes).unwrap();
            let result = block_on(v.verify(&w.fixture.reference("3.13")));
            match result {
                Ok(verdict) => assert_eq!(
                    verdict.outcome,
                    Outcome::Fail,
                    "flipping byte {at} of {} passed",
                    path.display()
                ),
                Err(e) => assert_eq!(e.class(), dhi_verify::ErrorClass::Error, "{e}"),
            }
        }
        std::fs::write(path, &original).unwrap();
    }
    assert_eq!(
        block_on(v.verify(&w.fixture.reference("3.13")))
            .unwrap()
            .outcome,
        Outcome::Pass
    );
}

#[test]
fn random_bytes_as_every_file_of_a_layout_never_panic_and_never_pass() {
    let mut rng = Rng(42);
    for round in 0..50 {
        let dir = tempfile::tempdir().unwrap();
        let mut w = LayoutWriter::create(dir.path());
        let junk: Vec<u8> = (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect();
        let blob = w.put("application/vnd.oci.image.index.v1+json", &junk);
        w.tag(&blob, "t", BTreeMap::new());
        w.finish();
        if round % 2 == 0 {
            let junk: Vec<u8> = (0..(rng.next() % 300)).map(|_| rng.next() as u8).collect();
            std::fs::write(dir.path().join("index.json"), junk).unwrap();
        }
        match verify_dir(dir.path()) {
            Ok(v) => assert_eq!(v.outcome, Outcome::Fail),
            Err(e) => assert_ne!(e.class(), dhi_verify::ErrorClass::Fail),
        }
    }
}

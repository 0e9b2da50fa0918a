//! `testdata/cosign/` is what `make-cosign` writes today, byte for byte.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

fn files(root: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<PathBuf, Vec<u8>>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(root, &p, out);
            } else {
                out.insert(
                    p.strip_prefix(root).unwrap().to_owned(),
                    std::fs::read(&p).unwrap(),
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

#[test]
fn committed_cosign_corpus_is_what_make_cosign_writes() {
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/cosign");
    let tmp = tempfile::tempdir().unwrap();
    let fresh = tmp.path().join("cosign");
    dhi_verify_testkit::cosign_corpus::write(&fresh);
    let (a, b) = (files(&committed), files(&fresh));
    assert_eq!(
        a.keys().collect::<Vec<_>>(),
        b.keys().collect::<Vec<_>>(),
        "regenerate with `cargo run -p dhi-verify-testkit --bin make-cosign -- testdata/cosign`"
    );
    for (path, bytes) in &a {
        assert!(
            bytes == &b[path],
            "{}: regenerate with `cargo run -p dhi-verify-testkit --bin make-cosign -- testdata/cosign`",
            path.display()
        );
    }
}

//! Writes the cosign v2 / BuildKit corpus: `cargo run -p dhi-verify-testkit --bin make-cosign -- testdata/cosign`.
#![allow(clippy::unwrap_used)] // a developer tool over our own files: fail loudly
use std::path::PathBuf;

fn main() {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/cosign".into())
        .into();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    dhi_verify_testkit::cosign_corpus::write(&dir);
    println!("wrote {}", dir.display());
}

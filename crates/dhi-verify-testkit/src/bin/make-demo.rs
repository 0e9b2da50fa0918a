//! Writes the offline demo layout: `cargo run -p dhi-verify-testkit --bin make-demo -- testdata/demo`.
#![allow(clippy::unwrap_used)] // a developer tool over our own files: fail loudly
use std::path::PathBuf;

fn main() {
    let dir: PathBuf = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "testdata/demo".into())
        .into();
    if dir.exists() {
        std::fs::remove_dir_all(&dir).unwrap();
    }
    let fixture = dhi_verify_testkit::DhiImage::python().write_layout(&dir);
    std::fs::write(dir.join("cosign.pub"), &fixture.public_pem).unwrap();
    println!("wrote {} (index {})", dir.display(), fixture.index_digest);
}

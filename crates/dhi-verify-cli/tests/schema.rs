//! `docs/verdict.schema.json` describes what `dhi-verify image --format json`
//! really prints: pass, fail, error and several-reference outputs of the real
//! binary all validate, and the schema rejects undocumented fields.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};

use dhi_verify_testkit::{DhiImage, Tamper};
use serde_json::Value;

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn schema() -> (boon::Schemas, boon::SchemaIndex) {
    let text = std::fs::read_to_string(repo().join("docs/verdict.schema.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("verdict.schema.json", value).unwrap();
    let index = compiler
        .compile("verdict.schema.json", &mut schemas)
        .unwrap();
    (schemas, index)
}

fn json_of(args: &[&str]) -> Value {
    let o = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap();
    serde_json::from_slice(&o.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&o.stdout)))
}

fn assert_valid(v: &Value) {
    let (schemas, index) = schema();
    if let Err(e) = schemas.validate(v, index) {
        panic!("{e:#}\n{v:#}");
    }
}

#[test]
fn a_passing_verdict_matches_the_schema() {
    assert_valid(&json_of(&[
        "image",
        "oci:testdata/demo:3.13",
        "--key",
        "testdata/demo/cosign.pub",
        "--all-platforms",
        "--format",
        "json",
    ]));
}

#[test]
fn a_failing_verdict_and_an_error_match_the_schema() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python()
        .with_rekor()
        .tamper(Tamper::TlogForgedTime);
    let f = image.write_layout(&dir.path().join("l"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let v = json_of(&[
        "image",
        &f.reference("3.13"),
        &f.reference("9.99"),
        "--key",
        key.to_str().unwrap(),
        "--format",
        "json",
    ]);
    assert_eq!(v[0]["outcome"], "fail");
    assert_eq!(v[1]["outcome"], "error");
    assert_valid(&v);
}

#[test]
fn the_schema_rejects_undocumented_fields() {
    let mut v = json_of(&[
        "image",
        "oci:testdata/demo:3.13",
        "--key",
        "testdata/demo/cosign.pub",
        "--format",
        "json",
    ]);
    v["platforms"][0]["surprise"] = Value::Bool(true);
    let (schemas, index) = schema();
    assert!(schemas.validate(&v, index).is_err());
}

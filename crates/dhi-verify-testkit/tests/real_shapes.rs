//! The testkit's cosign / BuildKit fixtures have the shapes of the real
//! artifacts in `testdata/real/`: same media types, annotation keys and JSON
//! field names; their Rekor bodies parse and name the bytes they log; their
//! SETs verify with the fake log key; each forgery breaks exactly its link.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use dhi_verify_testkit::cosign::{self, pae, parse_cosign_download, write_real_sig_layout};
use dhi_verify_testkit::image::{
    COSIGN_KIND_ATTS, COSIGN_KIND_INDEX, COSIGN_KIND_SIGS, INDEX_TARGET,
};
use dhi_verify_testkit::{
    DhiImage, EntryForgery, EntryKind, IndexAttestation, PredicateKind, Tamper, TestKey, TestRekor,
};
use serde_json::Value;
use sha2::{Digest as _, Sha256};

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn real(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/real")
        .join(path)
}

fn slsa(version: &str) -> PathBuf {
    real(&format!(
        "slsa-github-generator/{version}/container_workflow_dispatch"
    ))
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    std::fs::read(layout.join("blobs/sha256").join(&digest["sha256:".len()..])).unwrap()
}

fn json_blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&blob(layout, digest)).unwrap()
}

fn index_json(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Every key path of a JSON document (`a.b.[].c`), values left out.
fn paths(v: &Value) -> BTreeSet<String> {
    fn walk(v: &Value, at: &str, out: &mut BTreeSet<String>) {
        match v {
            Value::Object(m) => {
                for (k, v) in m {
                    let p = if at.is_empty() {
                        k.clone()
                    } else {
                        format!("{at}.{k}")
                    };
                    out.insert(p.clone());
                    walk(v, &p, out);
                }
            }
            Value::Array(a) => {
                for v in a {
                    walk(v, &format!("{at}.[]"), out);
                }
            }
            _ => {}
        }
    }
    let mut out = BTreeSet::new();
    walk(v, "", &mut out);
    out
}

fn keys(v: &Value) -> BTreeSet<String> {
    v.as_object()
        .map(|m| m.keys().cloned().collect())
        .unwrap_or_default()
}

/// The entry of `index.json` tagged `tag`.
fn tagged(layout: &Path, tag: &str) -> String {
    index_json(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no tag {tag}"))["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// The entry of a `cosign save` `index.json` of `kind`.
fn of_kind(layout: &Path, kind: &str) -> String {
    index_json(layout)["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["annotations"]["kind"] == kind)
        .unwrap_or_else(|| panic!("no kind {kind}"))["digest"]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Every manifest blob of a layout with a `subject`.
fn subjects(layout: &Path) -> Vec<String> {
    std::fs::read_dir(layout.join("blobs/sha256"))
        .unwrap()
        .filter_map(|e| {
            serde_json::from_slice::<Value>(&std::fs::read(e.unwrap().path()).ok()?).ok()
        })
        .filter_map(|v| v["subject"]["digest"].as_str().map(str::to_owned))
        .collect()
}

/// The real `.att` manifest of a slsa-github-generator layout.
fn real_att(version: &str) -> (PathBuf, Value) {
    let dir = slsa(version);
    let att = of_kind(&dir, COSIGN_KIND_ATTS);
    let m = json_blob(&dir, &att);
    (dir, m)
}

/// The decoded Rekor body of a `dev.sigstore.cosign/bundle` annotation.
fn body_of(bundle: &str) -> Value {
    let b: Value = serde_json::from_str(bundle).unwrap();
    serde_json::from_slice(&B64.decode(b["Payload"]["body"].as_str().unwrap()).unwrap()).unwrap()
}

fn index_att_fixture(
    dir: &Path,
    kind: EntryKind,
    forgery: EntryForgery,
) -> dhi_verify_testkit::Fixture {
    DhiImage::python()
        .with_rekor()
        .attest_index(IndexAttestation::AttTag)
        .att_entry(kind, forgery)
        .write_layout(dir)
}

/// The `.att` manifest of a fixture written by [`index_att_fixture`].
fn fixture_att(dir: &Path, f: &dhi_verify_testkit::Fixture) -> Value {
    let att = tagged(dir, &format!("{}.att", cosign::tag_for(&f.index_digest)));
    json_blob(dir, &att)
}

const KEYLESS_ONLY: [&str; 2] = [
    "dev.sigstore.cosign/certificate",
    "dev.sigstore.cosign/chain",
];

#[test]
fn keyed_att_manifest_has_the_shape_of_the_real_cosign_att_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let f = index_att_fixture(tmp.path(), EntryKind::IntotoV001, EntryForgery::None);
    let ours = fixture_att(tmp.path(), &f);
    for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
        let (dir, theirs) = real_att(version);
        assert_eq!(keys(&ours), keys(&theirs), "{version}: manifest fields");
        assert_eq!(ours["mediaType"], theirs["mediaType"]);
        assert_eq!(ours["config"]["mediaType"], theirs["config"]["mediaType"]);
        assert_eq!(keys(&ours["config"]), keys(&theirs["config"]));
        // cosign's config: an empty image config whose diff_ids are the layers.
        let our_config = json_blob(tmp.path(), ours["config"]["digest"].as_str().unwrap());
        let their_config = json_blob(&dir, theirs["config"]["digest"].as_str().unwrap());
        assert_eq!(
            paths(&our_config),
            paths(&their_config),
            "{version}: config"
        );
        let layer_digests = |m: &Value| -> Vec<Value> {
            m["layers"]
                .as_array()
                .unwrap()
                .iter()
                .map(|l| l["digest"].clone())
                .collect()
        };
        assert_eq!(
            our_config["rootfs"]["diff_ids"].as_array().unwrap(),
            &layer_digests(&ours)
        );
        assert_eq!(
            their_config["rootfs"]["diff_ids"].as_array().unwrap(),
            &layer_digests(&theirs)
        );
        let their_layer = &theirs["layers"][0];
        let mut their_annotations = keys(&their_layer["annotations"]);
        for k in KEYLESS_ONLY {
            their_annotations.remove(k);
        }
        if version == "v1.4.0" {
            // Made by cosign 1.x, which did not write `predicateType` yet.
            assert!(their_annotations.insert("predicateType".to_owned()));
        }
        for our_layer in ours["layers"].as_array().unwrap() {
            assert_eq!(keys(our_layer), keys(their_layer));
            assert_eq!(our_layer["mediaType"], their_layer["mediaType"]);
            assert_eq!(keys(&our_layer["annotations"]), their_annotations);
            assert_eq!(
                our_layer["annotations"]["dev.cosignproject.cosign/signature"],
                their_layer["annotations"]["dev.cosignproject.cosign/signature"],
                "cosign leaves the attestation signature annotation empty"
            );
            // The bundle: same fields, same order as cosign writes them.
            let ours_b = our_layer["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap();
            let theirs_b = their_layer["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap();
            let (ob, tb): (Value, Value) = (
                serde_json::from_str(ours_b).unwrap(),
                serde_json::from_str(theirs_b).unwrap(),
            );
            assert_eq!(paths(&ob), paths(&tb));
            let order = |s: &str| -> Vec<usize> {
                [
                    "\"SignedEntryTimestamp\"",
                    "\"Payload\"",
                    "\"body\"",
                    "\"integratedTime\"",
                    "\"logIndex\"",
                    "\"logID\"",
                ]
                .iter()
                .map(|k| s.find(k).unwrap())
                .collect()
            };
            let (o, t) = (order(ours_b), order(theirs_b));
            assert!(o.windows(2).all(|w| w[0] < w[1]), "{ours_b}");
            assert!(t.windows(2).all(|w| w[0] < w[1]), "{theirs_b}");
        }
        // The envelope: same fields as cosign's.
        let our_env = json_blob(tmp.path(), ours["layers"][0]["digest"].as_str().unwrap());
        let their_env = json_blob(&dir, their_layer["digest"].as_str().unwrap());
        assert_eq!(paths(&our_env), paths(&their_env), "{version}: envelope");
        assert_eq!(our_env["payloadType"], their_env["payloadType"]);
    }
}

#[test]
fn index_attestation_statements_name_the_index_like_the_real_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let f = index_att_fixture(tmp.path(), EntryKind::DsseV001, EntryForgery::None);
    let att = fixture_att(tmp.path(), &f);
    let key = TestKey::new("dhi-test");
    assert_eq!(att["layers"].as_array().unwrap().len(), 5);
    for layer in att["layers"].as_array().unwrap() {
        let env = json_blob(tmp.path(), layer["digest"].as_str().unwrap());
        let statement = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let sig = B64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        assert!(key.verify_der(&pae(cosign::IN_TOTO, &statement), &sig));
        let st: Value = serde_json::from_slice(&statement).unwrap();
        assert_eq!(st["subject"][0]["digest"]["sha256"], f.index_digest[7..]);
        assert_eq!(st["predicateType"], layer["annotations"]["predicateType"]);
        assert_eq!(st["_type"], "https://in-toto.io/Statement/v0.1");
    }
    // Real: the statement's subject is the cosign-save image (the index).
    for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
        let (dir, theirs) = real_att(version);
        let image = std::fs::read_to_string(
            dir.parent()
                .unwrap()
                .join("container_workflow_dispatch.digest"),
        )
        .unwrap();
        let env = json_blob(&dir, theirs["layers"][0]["digest"].as_str().unwrap());
        let st: Value =
            serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
        let ours: Value = serde_json::from_slice(
            &B64.decode(
                json_blob(tmp.path(), att["layers"][0]["digest"].as_str().unwrap())["payload"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap(),
        )
        .unwrap();
        assert_eq!(st["subject"][0]["digest"]["sha256"], image.trim()[7..]);
        assert_eq!(paths(&st["subject"]), paths(&ours["subject"]));
    }
    // The platform manifests have no attestations of their own.
    assert!(subjects(tmp.path()).is_empty());
    assert!(f.attestations.iter().all(|a| a.platform == INDEX_TARGET));
}

#[test]
fn index_attestation_as_referrer_has_the_index_as_subject() {
    let tmp = tempfile::tempdir().unwrap();
    let f = DhiImage::python()
        .attest_index(IndexAttestation::Referrer)
        .write_layout(tmp.path());
    let subjects = subjects(tmp.path());
    let (platforms, _): (Vec<_>, Vec<_>) = f.platforms.iter().cloned().unzip();
    assert!(subjects.iter().all(|s| !platforms.contains(s)));
    assert_eq!(f.attestations.len(), 5);
    for a in &f.attestations {
        assert_eq!(a.platform, INDEX_TARGET);
        let m = json_blob(tmp.path(), &a.manifest_digest);
        assert_eq!(m["subject"]["digest"], f.index_digest);
        assert_eq!(
            m["subject"]["mediaType"],
            "application/vnd.oci.image.index.v1+json"
        );
        let st = json_blob(tmp.path(), &a.statement_digest);
        assert_eq!(st["subject"][0]["digest"]["sha256"], f.index_digest[7..]);
        assert_eq!(st["subject"][0]["name"], "pkg:docker/dhi/python@3.13");
        let sig = json_blob(tmp.path(), a.signature_digest.as_ref().unwrap());
        assert_eq!(sig["subject"]["digest"], a.manifest_digest);
    }
    // The fallback tag lists the index's attestations.
    tagged(tmp.path(), &cosign::tag_for(&f.index_digest));
}

#[test]
fn rekor_bodies_have_the_fields_of_the_real_entries_and_name_the_logged_bytes() {
    let rekor = TestRekor::default();
    let key = TestKey::new("dhi-test");
    let real_body = |version: &str| {
        let (_, m) = real_att(version);
        body_of(
            m["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap(),
        )
    };
    for kind in EntryKind::ALL {
        let tmp = tempfile::tempdir().unwrap();
        let f = index_att_fixture(tmp.path(), kind, EntryForgery::None);
        let att = fixture_att(tmp.path(), &f);
        for layer in att["layers"].as_array().unwrap() {
            let envelope = blob(tmp.path(), layer["digest"].as_str().unwrap());
            let env: Value = serde_json::from_slice(&envelope).unwrap();
            let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
            let sig = env["signatures"][0]["sig"].as_str().unwrap();
            let bundle = layer["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap();
            assert!(rekor.verify_set(bundle), "{kind:?}: SET");
            let b: Value = serde_json::from_str(bundle).unwrap();
            assert_eq!(b["Payload"]["logID"], rekor.log_id());
            let body = body_of(bundle);
            let (k, v) = kind.kind_and_version();
            assert_eq!(
                (body["kind"].as_str(), body["apiVersion"].as_str()),
                (Some(k), Some(v))
            );
            let pem_b64 = B64.encode(key.public_pem());
            let (env_hash, payload_hash) = match kind {
                EntryKind::IntotoV001 => {
                    assert_eq!(paths(&body), paths(&real_body("v1.7.0")));
                    assert_eq!(paths(&body), paths(&real_body("v1.4.0")));
                    let s = &body["spec"];
                    assert_eq!(s["publicKey"], pem_b64);
                    (&s["content"]["hash"], &s["content"]["payloadHash"])
                }
                EntryKind::IntotoV002 => {
                    // Rekor's intoto_v0_0_2_schema.json, as canonicalized (no payload).
                    let expected: BTreeSet<String> = [
                        "apiVersion",
                        "kind",
                        "spec",
                        "spec.content",
                        "spec.content.envelope",
                        "spec.content.envelope.payloadType",
                        "spec.content.envelope.signatures",
                        "spec.content.envelope.signatures.[].publicKey",
                        "spec.content.envelope.signatures.[].sig",
                        "spec.content.hash",
                        "spec.content.hash.algorithm",
                        "spec.content.hash.value",
                        "spec.content.payloadHash",
                        "spec.content.payloadHash.algorithm",
                        "spec.content.payloadHash.value",
                    ]
                    .into_iter()
                    .map(str::to_owned)
                    .collect();
                    assert_eq!(paths(&body), expected);
                    let s = &body["spec"]["content"];
                    assert_eq!(s["envelope"]["payloadType"], env["payloadType"]);
                    let sigs = &s["envelope"]["signatures"][0];
                    assert_eq!(sigs["publicKey"], pem_b64);
                    assert_eq!(
                        sigs["sig"],
                        B64.encode(sig),
                        "base64 of the base64 signature"
                    );
                    (&s["hash"], &s["payloadHash"])
                }
                EntryKind::DsseV001 => {
                    assert_eq!(paths(&body), paths(&real_body("v2.0.0")));
                    let s = &body["spec"];
                    assert_eq!(s["signatures"][0]["signature"], sig);
                    assert_eq!(s["signatures"][0]["verifier"], pem_b64);
                    (&s["envelopeHash"], &s["payloadHash"])
                }
            };
            assert_eq!(env_hash["algorithm"], "sha256");
            assert_eq!(env_hash["value"], sha256_hex(&envelope), "{kind:?}");
            assert_eq!(payload_hash["value"], sha256_hex(&payload), "{kind:?}");
        }
    }
}

/// The body fields a forgery may touch: envelope hash, payload hash, key.
fn logged(kind: EntryKind, body: &Value) -> (Value, Value, Value) {
    match kind {
        EntryKind::IntotoV001 => (
            body["spec"]["content"]["hash"]["value"].clone(),
            body["spec"]["content"]["payloadHash"]["value"].clone(),
            body["spec"]["publicKey"].clone(),
        ),
        EntryKind::IntotoV002 => (
            body["spec"]["content"]["hash"]["value"].clone(),
            body["spec"]["content"]["payloadHash"]["value"].clone(),
            body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"].clone(),
        ),
        EntryKind::DsseV001 => (
            body["spec"]["envelopeHash"]["value"].clone(),
            body["spec"]["payloadHash"]["value"].clone(),
            body["spec"]["signatures"][0]["verifier"].clone(),
        ),
    }
}

#[test]
fn each_entry_forgery_breaks_only_its_link_and_only_for_the_target() {
    let rekor = TestRekor::default();
    let key_b64 = B64.encode(TestKey::new("dhi-test").public_pem());
    for kind in EntryKind::ALL {
        for forgery in [
            EntryForgery::OtherEnvelope,
            EntryForgery::OtherPayloadHash,
            EntryForgery::OtherKey,
            EntryForgery::SetEdited,
            EntryForgery::SetTime,
        ] {
            let tmp = tempfile::tempdir().unwrap();
            let f = index_att_fixture(tmp.path(), kind, forgery);
            let att = fixture_att(tmp.path(), &f);
            for layer in att["layers"].as_array().unwrap() {
                let target = layer["annotations"]["predicateType"]
                    == PredicateKind::ProvenanceV1.predicate_type();
                let envelope = blob(tmp.path(), layer["digest"].as_str().unwrap());
                let env: Value = serde_json::from_slice(&envelope).unwrap();
                let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
                let bundle = layer["annotations"]["dev.sigstore.cosign/bundle"]
                    .as_str()
                    .unwrap();
                let (e, p, k) = logged(kind, &body_of(bundle));
                let broken = |f: EntryForgery| target && forgery == f;
                assert_eq!(
                    e == sha256_hex(&envelope),
                    !broken(EntryForgery::OtherEnvelope),
                    "{kind:?} {forgery:?}"
                );
                assert_eq!(
                    p == sha256_hex(&payload),
                    !broken(EntryForgery::OtherPayloadHash)
                );
                assert_eq!(k == key_b64, !broken(EntryForgery::OtherKey));
                assert_eq!(
                    rekor.verify_set(bundle),
                    !(broken(EntryForgery::SetEdited) || broken(EntryForgery::SetTime)),
                    "{kind:?} {forgery:?}"
                );
            }
        }
    }
}

#[test]
fn index_att_tampers_break_their_link() {
    let key = TestKey::new("dhi-test");
    for tamper in [
        Tamper::WrongKey,
        Tamper::SubjectOtherPlatform,
        Tamper::StatementBytes,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let f = DhiImage::python()
            .attest_index(IndexAttestation::AttTag)
            .tamper(tamper)
            .write_layout(tmp.path());
        let att = fixture_att(tmp.path(), &f);
        let layer = &att["layers"][0];
        let bytes = blob(tmp.path(), layer["digest"].as_str().unwrap());
        if tamper == Tamper::StatementBytes {
            assert_ne!(sha256_hex(&bytes), layer["digest"].as_str().unwrap()[7..]);
            continue;
        }
        let env: Value = serde_json::from_slice(&bytes).unwrap();
        let statement = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let sig = B64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let st: Value = serde_json::from_slice(&statement).unwrap();
        assert_eq!(
            key.verify_der(&pae(cosign::IN_TOTO, &statement), &sig),
            tamper != Tamper::WrongKey
        );
        assert_eq!(
            st["subject"][0]["digest"]["sha256"] == f.index_digest[7..],
            tamper != Tamper::SubjectOtherPlatform
        );
    }
}

#[test]
fn buildkit_attestations_have_the_shape_of_the_real_buildkit_ones() {
    let tmp = tempfile::tempdir().unwrap();
    let f = DhiImage::python()
        .attest_index(IndexAttestation::AttTag)
        .with_buildkit_attestations()
        .write_layout(tmp.path());
    let index = json_blob(tmp.path(), &f.index_digest);
    let entries = index["manifests"].as_array().unwrap();
    assert_eq!(entries.len(), 4);
    for version in ["v1.7.0", "v2.0.0"] {
        let dir = slsa(version);
        let real_index = json_blob(&dir, &of_kind(&dir, COSIGN_KIND_INDEX));
        let real_entry = &real_index["manifests"][1];
        let real_manifest = json_blob(&dir, real_entry["digest"].as_str().unwrap());
        let real_config = json_blob(&dir, real_manifest["config"]["digest"].as_str().unwrap());
        let real_statement =
            json_blob(&dir, real_manifest["layers"][0]["digest"].as_str().unwrap());
        for (pi, (platform, pdigest)) in f.platforms.iter().enumerate() {
            // Platform entries first, then one attestation entry per platform.
            assert_eq!(entries[pi]["digest"], pdigest.as_str());
            let e = &entries[2 + pi];
            assert_eq!(paths(e), paths(real_entry), "{version}: index entry");
            assert_eq!(e["mediaType"], real_entry["mediaType"]);
            assert_eq!(e["platform"], real_entry["platform"]);
            assert_eq!(
                e["annotations"]["vnd.docker.reference.type"],
                real_entry["annotations"]["vnd.docker.reference.type"]
            );
            assert_eq!(
                e["annotations"]["vnd.docker.reference.digest"],
                pdigest.as_str()
            );
            let m = json_blob(tmp.path(), e["digest"].as_str().unwrap());
            assert_eq!(paths(&m), paths(&real_manifest), "{version}: manifest");
            assert_eq!(
                m["config"]["mediaType"],
                real_manifest["config"]["mediaType"]
            );
            let config = json_blob(tmp.path(), m["config"]["digest"].as_str().unwrap());
            assert_eq!(paths(&config), paths(&real_config));
            assert_eq!(config["architecture"], real_config["architecture"]);
            assert_eq!(config["os"], real_config["os"]);
            let layers = m["layers"].as_array().unwrap();
            let pts: Vec<&str> = layers
                .iter()
                .map(|l| {
                    l["annotations"]["in-toto.io/predicate-type"]
                        .as_str()
                        .unwrap()
                })
                .collect();
            assert_eq!(
                pts,
                [
                    "https://slsa.dev/provenance/v0.2",
                    "https://spdx.dev/Document"
                ]
            );
            assert_eq!(
                config["rootfs"]["diff_ids"].as_array().unwrap(),
                &layers
                    .iter()
                    .map(|l| l["digest"].clone())
                    .collect::<Vec<_>>()
            );
            for l in layers {
                assert_eq!(l["mediaType"], real_manifest["layers"][0]["mediaType"]);
                assert_eq!(
                    keys(&l["annotations"]),
                    keys(&real_manifest["layers"][0]["annotations"])
                );
                let st = json_blob(tmp.path(), l["digest"].as_str().unwrap());
                assert_eq!(keys(&st), keys(&real_statement));
                assert_eq!(paths(&st["subject"]), paths(&real_statement["subject"]));
                assert_eq!(st["_type"], real_statement["_type"]);
                assert_eq!(
                    st["predicateType"],
                    l["annotations"]["in-toto.io/predicate-type"]
                );
                assert_eq!(st["subject"][0]["digest"]["sha256"], pdigest[7..]);
                assert_eq!(
                    st["subject"][0]["name"],
                    format!(
                        "pkg:docker/dhi/python@3.13?platform={}",
                        platform.replace('/', "%2F")
                    )
                );
            }
            // Real BuildKit statements name the platform manifest the same way.
            let real_platform = real_entry["annotations"]["vnd.docker.reference.digest"]
                .as_str()
                .unwrap();
            assert_eq!(
                real_statement["subject"][0]["digest"]["sha256"],
                real_platform[7..]
            );
            assert!(real_statement["subject"][0]["name"]
                .as_str()
                .unwrap()
                .ends_with("?platform=linux%2Famd64"));
        }
    }
    let listed: Vec<String> = entries[2..]
        .iter()
        .map(|e| e["digest"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(
        f.buildkit_attestations
            .iter()
            .map(|(_, d)| d.clone())
            .collect::<Vec<_>>(),
        listed
    );
    // Unsigned, as BuildKit writes them: nothing refers to them.
    assert!(subjects(tmp.path()).is_empty());
}

#[test]
fn buildkit_tampers_break_their_link() {
    for tamper in [
        Tamper::SubjectOtherPlatform,
        Tamper::AttestationSubjectOtherPlatform,
        Tamper::StatementBytes,
        Tamper::LayerAnnotationDisagrees,
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let f = DhiImage::python()
            .attest_index(IndexAttestation::AttTag)
            .with_buildkit_attestations()
            .target(PredicateKind::ProvenanceV02)
            .tamper(tamper)
            .write_layout(tmp.path());
        let index = json_blob(tmp.path(), &f.index_digest);
        let e = &index["manifests"][2];
        let m = json_blob(tmp.path(), e["digest"].as_str().unwrap());
        let layer = &m["layers"][0];
        let first = &f.platforms[0].1;
        match tamper {
            Tamper::AttestationSubjectOtherPlatform => {
                assert_ne!(
                    e["annotations"]["vnd.docker.reference.digest"],
                    first.as_str()
                )
            }
            Tamper::StatementBytes => {
                let bytes = blob(tmp.path(), layer["digest"].as_str().unwrap());
                assert_ne!(sha256_hex(&bytes), layer["digest"].as_str().unwrap()[7..]);
            }
            Tamper::SubjectOtherPlatform => {
                let st = json_blob(tmp.path(), layer["digest"].as_str().unwrap());
                assert_ne!(st["subject"][0]["digest"]["sha256"], first[7..]);
            }
            _ => {
                let st = json_blob(tmp.path(), layer["digest"].as_str().unwrap());
                assert_ne!(
                    st["predicateType"],
                    layer["annotations"]["in-toto.io/predicate-type"]
                );
            }
        }
        // The second platform's attestation is untouched.
        let e2 = &index["manifests"][3];
        assert_eq!(
            e2["annotations"]["vnd.docker.reference.digest"],
            f.platforms[1].1.as_str()
        );
    }
}

#[test]
fn cosign_save_layout_has_the_shape_of_the_real_cosign_save_layouts() {
    let tmp = tempfile::tempdir().unwrap();
    let save = DhiImage::python()
        .with_rekor()
        .with_buildkit_attestations()
        .write_cosign_save(tmp.path());
    let ours = index_json(tmp.path());
    let entries = ours["manifests"].as_array().unwrap();
    let kinds: Vec<&str> = entries
        .iter()
        .map(|e| e["annotations"]["kind"].as_str().unwrap())
        .collect();
    assert_eq!(
        kinds,
        [COSIGN_KIND_INDEX, COSIGN_KIND_SIGS, COSIGN_KIND_ATTS]
    );
    assert_eq!(
        of_kind(tmp.path(), COSIGN_KIND_INDEX),
        save.fixture.index_digest
    );
    assert_eq!(
        of_kind(tmp.path(), COSIGN_KIND_SIGS),
        save.sig_manifest.clone().unwrap()
    );
    assert_eq!(of_kind(tmp.path(), COSIGN_KIND_ATTS), save.att_manifest);
    for version in ["v1.4.0", "v1.7.0", "v2.0.0"] {
        let theirs = index_json(&slsa(version));
        for e in entries {
            assert_eq!(paths(e), paths(&theirs["manifests"][0]), "{version}");
        }
        assert!(!serde_json::to_string(&theirs)
            .unwrap()
            .contains("org.opencontainers.image.ref.name"));
    }
    assert!(!serde_json::to_string(&ours)
        .unwrap()
        .contains("org.opencontainers.image.ref.name"));
    // The `.att` is about the index.
    let att = json_blob(tmp.path(), &save.att_manifest);
    let env = json_blob(tmp.path(), att["layers"][0]["digest"].as_str().unwrap());
    let st: Value =
        serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(
        st["subject"][0]["digest"]["sha256"],
        save.fixture.index_digest[7..]
    );
    // The `.sig`: keyed simple signing over the index digest, logged as
    // hashedrekord, in the shape of the real keyed signatures.
    let sig = json_blob(tmp.path(), save.sig_manifest.as_ref().unwrap());
    let real_sigs =
        real_sig_manifest("19e8eacd75879d05f6621c2ea8dd955e68ee3e07b41b9d53f4c8cc9929a68a67");
    assert_eq!(paths(&sig), paths(&real_sigs.1));
    let layer = &sig["layers"][0];
    assert_eq!(
        layer["mediaType"],
        "application/vnd.dev.cosign.simplesigning.v1+json"
    );
    assert_eq!(
        keys(&layer["annotations"]),
        keys(&real_sigs.1["layers"][0]["annotations"])
    );
    let payload = blob(tmp.path(), layer["digest"].as_str().unwrap());
    assert_eq!(cosign::signed_digest(&payload), save.fixture.index_digest);
    let signature = B64
        .decode(
            layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap(),
        )
        .unwrap();
    assert!(TestKey::new("dhi-test").verify_der(&payload, &signature));
    let bundle = layer["annotations"]["dev.sigstore.cosign/bundle"]
        .as_str()
        .unwrap();
    assert!(TestRekor::default().verify_set(bundle));
    let body = body_of(bundle);
    assert_eq!(body["kind"], "hashedrekord");
    assert_eq!(body["spec"]["data"]["hash"]["value"], sha256_hex(&payload));
    let real_payload: Value = serde_json::from_slice(&blob(
        &real_sigs.0,
        real_sigs.1["layers"][0]["digest"].as_str().unwrap(),
    ))
    .unwrap();
    let our_payload: Value = serde_json::from_slice(&payload).unwrap();
    assert_eq!(paths(&our_payload), paths(&real_payload));
    let real_body = body_of(
        real_sigs.1["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap(),
    );
    assert_eq!(paths(&body), paths(&real_body));
}

const KEYED: &str = "cosign-keyed/tests/assets/signatures/valid/95b432860b272938246b10e1cfc89a24e1db352b3aebaa799c4284c42c46bd95";

/// The `.sig` manifest rebuilt around the real signatures for `hex`, in a
/// leaked temporary layout.
fn real_sig_manifest(hex: &str) -> (PathBuf, Value) {
    let dir = tempfile::tempdir().unwrap().keep();
    let json = std::fs::read(real(&format!("{KEYED}/{hex}.json"))).unwrap();
    let subject = format!("sha256:{hex}");
    let m = write_real_sig_layout(&dir, &subject, &json);
    (dir.clone(), json_blob(&dir, &m.digest))
}

#[test]
fn rebuilt_sig_manifest_carries_the_real_layers_unchanged() {
    use p256::ecdsa::signature::Verifier as _;
    use p256::pkcs8::DecodePublicKey as _;
    let key = p256::ecdsa::VerifyingKey::from_public_key_pem(
        &std::fs::read_to_string(real("cosign-keyed/tests/assets/test.pub.key")).unwrap(),
    )
    .unwrap();
    for entry in std::fs::read_dir(real(KEYED)).unwrap() {
        let path = entry.unwrap().path();
        let hex = path.file_stem().unwrap().to_str().unwrap().to_owned();
        let json = std::fs::read(&path).unwrap();
        let originals: Vec<Value> = serde_json::from_slice(&json).unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let subject = format!("sha256:{hex}");
        let m = write_real_sig_layout(tmp.path(), &subject, &json);
        assert_eq!(tagged(tmp.path(), &format!("sha256-{hex}.sig")), m.digest);
        let manifest = json_blob(tmp.path(), &m.digest);
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), originals.len());
        let config = json_blob(tmp.path(), manifest["config"]["digest"].as_str().unwrap());
        let (real_dir, real_att) = real_att("v2.0.0");
        let real_config = json_blob(&real_dir, real_att["config"]["digest"].as_str().unwrap());
        assert_eq!(paths(&config), paths(&real_config));
        assert_eq!(keys(&manifest), keys(&real_att));
        for (layer, original) in layers.iter().zip(&originals) {
            assert_eq!(
                layer["mediaType"],
                "application/vnd.dev.cosign.simplesigning.v1+json"
            );
            let payload = blob(tmp.path(), layer["digest"].as_str().unwrap());
            assert_eq!(
                payload,
                B64.decode(original["Payload"].as_str().unwrap()).unwrap()
            );
            assert_eq!(layer["digest"], format!("sha256:{}", sha256_hex(&payload)));
            assert_eq!(cosign::signed_digest(&payload), subject);
            let sig = layer["annotations"]["dev.cosignproject.cosign/signature"]
                .as_str()
                .unwrap();
            assert_eq!(sig, original["Base64Signature"]);
            let sig = p256::ecdsa::Signature::from_der(&B64.decode(sig).unwrap()).unwrap();
            assert!(
                key.verify(&payload, &sig).is_ok(),
                "{hex}: the real signature verifies"
            );
            let bundle: Value = serde_json::from_str(
                layer["annotations"]["dev.sigstore.cosign/bundle"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(bundle, original["Bundle"]);
            assert!(layer["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap()
                .starts_with("{\"SignedEntryTimestamp\":"));
        }
        assert_eq!(parse_cosign_download(&json).len(), originals.len());
    }
}

#[test]
fn existing_fixtures_are_unchanged_by_the_new_options() {
    // The committed demo is generated by `DhiImage::python().write_layout`.
    let tmp = tempfile::tempdir().unwrap();
    let f = DhiImage::python().write_layout(tmp.path());
    let demo = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/demo");
    assert_eq!(
        std::fs::read(tmp.path().join("index.json")).unwrap(),
        std::fs::read(demo.join("index.json")).unwrap()
    );
    let mut ours: Vec<_> = std::fs::read_dir(tmp.path().join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    let mut theirs: Vec<_> = std::fs::read_dir(demo.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    ours.sort();
    theirs.sort();
    assert_eq!(ours, theirs);
    assert!(f.attestations.iter().all(|a| a.platform != INDEX_TARGET));
}

#[test]
fn trusted_root_of_the_fake_log_names_the_key_that_signs_the_sets() {
    let rekor = TestRekor::default();
    let root: Value = serde_json::from_str(&rekor.trusted_root_json()).unwrap();
    let tlog = &root["tlogs"][0];
    let der = B64
        .decode(tlog["publicKey"]["rawBytes"].as_str().unwrap())
        .unwrap();
    assert_eq!(der, rekor.key.public_der());
    let key_id = B64
        .decode(tlog["logId"]["keyId"].as_str().unwrap())
        .unwrap();
    assert_eq!(hex::encode(key_id), rekor.log_id());
    // The bundles of a logged `.att` name that log.
    let tmp = tempfile::tempdir().unwrap();
    let f = index_att_fixture(tmp.path(), EntryKind::IntotoV001, EntryForgery::None);
    let att = fixture_att(tmp.path(), &f);
    let b: Value = serde_json::from_str(
        att["layers"][0]["annotations"]["dev.sigstore.cosign/bundle"]
            .as_str()
            .unwrap(),
    )
    .unwrap();
    assert_eq!(b["Payload"]["logID"], rekor.log_id());
}

#[test]
fn cosign_save_of_a_single_manifest_image_is_kind_image_like_the_real_v1_4_0() {
    let tmp = tempfile::tempdir().unwrap();
    let save = DhiImage::python()
        .with_rekor()
        .single_manifest()
        .write_cosign_save(tmp.path());
    assert_eq!(save.fixture.platforms.len(), 1);
    assert_eq!(save.fixture.index_digest, save.fixture.platforms[0].1);
    let real = index_json(&slsa("v1.4.0"));
    assert_eq!(
        real["manifests"][0]["annotations"]["kind"],
        dhi_verify_testkit::image::COSIGN_KIND_IMAGE
    );
    let image = of_kind(tmp.path(), dhi_verify_testkit::image::COSIGN_KIND_IMAGE);
    assert_eq!(image, save.fixture.index_digest);
    let m = json_blob(tmp.path(), &image);
    assert_eq!(m["mediaType"], "application/vnd.oci.image.manifest.v1+json");
    // No index anywhere in the layout.
    for e in std::fs::read_dir(tmp.path().join("blobs/sha256")).unwrap() {
        let v: Value = serde_json::from_slice(&std::fs::read(e.unwrap().path()).unwrap())
            .unwrap_or(Value::Null);
        assert_ne!(v["mediaType"], "application/vnd.oci.image.index.v1+json");
    }
    let att = json_blob(tmp.path(), &save.att_manifest);
    let env = json_blob(tmp.path(), att["layers"][0]["digest"].as_str().unwrap());
    let st: Value =
        serde_json::from_slice(&B64.decode(env["payload"].as_str().unwrap()).unwrap()).unwrap();
    assert_eq!(st["subject"][0]["digest"]["sha256"], image[7..]);
    let sig = json_blob(tmp.path(), save.sig_manifest.as_ref().unwrap());
    let payload = blob(tmp.path(), sig["layers"][0]["digest"].as_str().unwrap());
    assert_eq!(cosign::signed_digest(&payload), image);
}

#[test]
fn cosign_save_sig_tampers_break_only_the_sig() {
    let rekor = TestRekor::default();
    let key = TestKey::new("dhi-test");
    for tamper in [
        None,
        Some(Tamper::PayloadNamesOtherManifest),
        Some(Tamper::Unsigned),
        Some(Tamper::TlogOtherPayload),
        Some(Tamper::TlogForgedTime),
        Some(Tamper::TlogMissing),
    ] {
        let tmp = tempfile::tempdir().unwrap();
        let mut image = DhiImage::python().with_rekor();
        if let Some(t) = tamper {
            image = image.tamper(t);
        }
        let save = image.write_cosign_save(tmp.path());
        // The `.att` is intact whatever happens to the `.sig`.
        let att = json_blob(tmp.path(), &save.att_manifest);
        for layer in att["layers"].as_array().unwrap() {
            let bundle = layer["annotations"]["dev.sigstore.cosign/bundle"]
                .as_str()
                .unwrap();
            assert!(rekor.verify_set(bundle));
        }
        let Some(sig) = save.sig_manifest else {
            assert_eq!(tamper, Some(Tamper::Unsigned));
            assert_eq!(
                index_json(tmp.path())["manifests"]
                    .as_array()
                    .unwrap()
                    .len(),
                2
            );
            continue;
        };
        let layer = &json_blob(tmp.path(), &sig)["layers"][0];
        let payload = blob(tmp.path(), layer["digest"].as_str().unwrap());
        let signature = B64
            .decode(
                layer["annotations"]["dev.cosignproject.cosign/signature"]
                    .as_str()
                    .unwrap(),
            )
            .unwrap();
        assert!(key.verify_der(&payload, &signature));
        assert_eq!(
            cosign::signed_digest(&payload) == save.fixture.index_digest,
            tamper != Some(Tamper::PayloadNamesOtherManifest)
        );
        let bundle = layer["annotations"]["dev.sigstore.cosign/bundle"].as_str();
        assert_eq!(bundle.is_none(), tamper == Some(Tamper::TlogMissing));
        if let Some(bundle) = bundle {
            assert_eq!(
                rekor.verify_set(bundle),
                tamper != Some(Tamper::TlogForgedTime)
            );
            assert_eq!(
                body_of(bundle)["spec"]["data"]["hash"]["value"] == sha256_hex(&payload),
                tamper != Some(Tamper::TlogOtherPayload)
            );
        }
    }
}

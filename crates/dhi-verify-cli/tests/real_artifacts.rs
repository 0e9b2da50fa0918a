//! The real `dhi-verify` binary on what the real tools published:
//! slsa-github-generator's `cosign save` layouts (`testdata/real/`), keyless
//! cosign v2 `.att` DSSE layers with Fulcio certificates and Rekor SET
//! bundles, checked with `testdata/real/generic.toml` (provenance required,
//! no DHI image rules). Each broken link is made on a copy whose manifests are
//! re-pointed up to `index.json`, so that only the link under test can catch it.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use base64::Engine as _;
use dhi_verify_testkit::real::{
    blob_path, copy_slsa_generator_layout, cosign_kind_entry, read_json, replace_blob,
    slsa_generator_digest, slsa_generator_identity, slsa_generator_layout, GITHUB_ACTIONS_ISSUER,
    SLSA_GENERATOR_VERSIONS,
};
use serde_json::Value;

const PROVENANCE_V02: &str = "https://slsa.dev/provenance/v0.2";
const ATTS: &str = "dev.cosignproject.cosign/atts";
const CERT: &str = "dev.sigstore.cosign/certificate";
const CHAIN: &str = "dev.sigstore.cosign/chain";
const BUNDLE: &str = "dev.sigstore.cosign/bundle";

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn b64() -> base64::engine::GeneralPurpose {
    base64::engine::general_purpose::STANDARD
}

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
        .current_dir(repo())
        .args(args)
        .output()
        .unwrap()
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn text(o: &Output) -> String {
    format!(
        "{}\n{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    )
}

fn schema_valid(v: &Value) {
    let text = std::fs::read_to_string(repo().join("docs/verdict.schema.json")).unwrap();
    let value: Value = serde_json::from_str(&text).unwrap();
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    compiler.add_resource("verdict.schema.json", value).unwrap();
    let index = compiler
        .compile("verdict.schema.json", &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(v, index) {
        panic!("{e:#}\n{v:#}");
    }
}

fn policy() -> String {
    repo()
        .join("testdata/real/generic.toml")
        .display()
        .to_string()
}

/// `dhi-verify image oci:<layout> <trust…> --policy generic.toml --format json`:
/// the exit code and the verdict.
fn verify(layout: &Path, trust: &[&str]) -> (i32, Value) {
    let reference = format!("oci:{}", layout.display());
    let policy = policy();
    let mut args = vec!["image", &reference];
    args.extend_from_slice(trust);
    args.extend_from_slice(&["--policy", &policy, "--format", "json"]);
    let o = run(&args);
    let v: Value =
        serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
    (code(&o), v)
}

/// Trust in the workflow identity of `version`, from GitHub Actions.
fn identity(version: &str) -> Vec<String> {
    vec![
        "--certificate-identity".into(),
        slsa_generator_identity(version),
        "--certificate-oidc-issuer".into(),
        GITHUB_ACTIONS_ISSUER.into(),
    ]
}

fn strs(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

/// The one platform of a verdict (every real image here has one).
fn platform(v: &Value) -> &Value {
    let p = v["platforms"].as_array().unwrap();
    assert_eq!(p.len(), 1, "{v:#}");
    &p[0]
}

fn check<'a>(p: &'a Value, id: &str) -> &'a Value {
    p["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["id"] == id)
        .unwrap_or_else(|| panic!("no check {id}: {p:#}"))
}

/// The attestation that cosign's `.att` tag holds.
fn cosign_att(p: &Value) -> &Value {
    let atts: Vec<_> = p["attestations"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["source"] == "cosign-tag")
        .collect();
    assert_eq!(atts.len(), 1, "{p:#}");
    atts[0]
}

#[test]
fn each_real_layout_passes_with_its_workflow_identity() {
    for version in SLSA_GENERATOR_VERSIONS {
        let id = identity(version);
        let (code, v) = verify(&slsa_generator_layout(version), &strs(&id));
        assert_eq!(code, 0, "{version}: {v:#}");
        schema_valid(&v);
        assert_eq!(v["outcome"], "pass");
        assert_eq!(v["digest"], slsa_generator_digest(version), "{version}");
        let p = platform(&v);
        assert_eq!(check(p, "require.provenance")["status"], "pass");
        let a = cosign_att(p);
        assert_eq!(a["verified"], true, "{a:#}");
        assert_eq!(a["predicateType"], PROVENANCE_V02);
        // cosign attested the digest it was given: the index (the single
        // manifest of v1.4.0), which is also the verdict's digest.
        assert_eq!(a["subject"], slsa_generator_digest(version), "{version}");
        let sigs = a["signatures"].as_array().unwrap();
        assert_eq!(sigs.len(), 1);
        assert_eq!(sigs[0]["verified"], true);
        assert_eq!(sigs[0]["key"], slsa_generator_identity(version));
        assert_eq!(sigs[0]["issuer"], GITHUB_ACTIONS_ISSUER);
        assert!(sigs[0]["keyId"].is_null());
        assert_eq!(sigs[0]["tlog"], "verified");
        assert!(sigs[0]["signedAt"].as_i64().unwrap() > 1_600_000_000);
        assert!(check(p, "require.provenance")["evidence"]
            .as_array()
            .unwrap()
            .contains(&a["manifestDigest"]));
    }
}

/// Asserts a failing verdict: exit 1, `require.provenance` failed, and the
/// `.att` attestation not verified with a reason containing every one of
/// `names`. Returns the reason.
fn assert_fails_naming(what: &str, code: i32, v: &Value, names: &[&str]) -> String {
    assert_eq!(code, 1, "{what}: {v:#}");
    schema_valid(v);
    assert_eq!(v["outcome"], "fail", "{what}");
    let p = platform(v);
    assert_eq!(check(p, "require.provenance")["status"], "fail", "{what}");
    let a = cosign_att(p);
    assert_eq!(a["verified"], false, "{what}: {a:#}");
    let reason = a["reason"].as_str().unwrap_or_default().to_owned();
    for n in names {
        assert!(reason.contains(n), "{what}: {n:?} not in {reason:?}");
    }
    reason
}

#[test]
fn another_signer_issuer_or_a_prefix_regexp_fails_naming_the_identity() {
    for version in SLSA_GENERATOR_VERSIONS {
        let layout = slsa_generator_layout(version);
        // Another version's workflow: same repository, same issuer, another ref.
        let other = if version == "v2.0.0" {
            "v1.7.0"
        } else {
            "v2.0.0"
        };
        let (code, v) = verify(&layout, &strs(&identity(other)));
        assert_fails_naming(version, code, &v, &["identity"]);
        // The right identity from another issuer.
        let (code, v) = verify(
            &layout,
            &[
                "--certificate-identity",
                &slsa_generator_identity(version),
                "--certificate-oidc-issuer",
                "https://accounts.google.com",
            ],
        );
        assert_fails_naming(version, code, &v, &["issuer"]);
        // A regular expression that matches only a prefix: anchored, so no.
        let (code, v) = verify(
            &layout,
            &[
                "--certificate-identity-regexp",
                "https://github.com/slsa-framework/",
                "--certificate-oidc-issuer",
                GITHUB_ACTIONS_ISSUER,
            ],
        );
        assert_fails_naming(version, code, &v, &["identity"]);
        // The same regexp made to match the whole identity passes: the
        // failure above is the anchoring, not the flag.
        let (code, v) = verify(
            &layout,
            &[
                "--certificate-identity-regexp",
                "https://github.com/slsa-framework/.*",
                "--certificate-oidc-issuer",
                GITHUB_ACTIONS_ISSUER,
            ],
        );
        assert_eq!(code, 0, "{version}: {v:#}");
    }
}

/// The `.att` manifest of a layout, its digest, and its one layer's digest.
fn att_manifest(layout: &Path) -> (String, Value, String) {
    let digest = cosign_kind_entry(layout, ATTS);
    let m = read_json(layout, &digest);
    let layers = m["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 1);
    let layer = layers[0]["digest"].as_str().unwrap().to_owned();
    (digest, m, layer)
}

/// Edits the DSSE envelope (the `.att` layer) of a copy of `version`.
fn edit_envelope(version: &str, edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    let (dir, layout) = copy_slsa_generator_layout(version);
    let (_, _, layer) = att_manifest(&layout);
    let mut envelope: Value =
        serde_json::from_slice(&std::fs::read(blob_path(&layout, &layer)).unwrap()).unwrap();
    edit(&mut envelope);
    let changed = replace_blob(&layout, &layer, &serde_json::to_vec(&envelope).unwrap());
    // The layer, the `.att` manifest and index.json were re-pointed.
    assert!(changed.len() >= 2, "{changed:?}");
    (dir, layout)
}

/// Edits the annotations of the `.att` layer (in the `.att` manifest) of a
/// copy of `version`.
fn edit_annotations(
    version: &str,
    edit: impl FnOnce(&mut serde_json::Map<String, Value>),
) -> (tempfile::TempDir, PathBuf) {
    let (dir, layout) = copy_slsa_generator_layout(version);
    let (digest, mut m, _) = att_manifest(&layout);
    edit(m["layers"][0]["annotations"].as_object_mut().unwrap());
    replace_blob(&layout, &digest, &serde_json::to_vec(&m).unwrap());
    assert_ne!(cosign_kind_entry(&layout, ATTS), digest);
    (dir, layout)
}

/// Edits the Rekor bundle annotation of the `.att` layer.
fn edit_bundle(version: &str, edit: impl FnOnce(&mut Value)) -> (tempfile::TempDir, PathBuf) {
    edit_annotations(version, |a| {
        let mut bundle: Value = serde_json::from_str(a[BUNDLE].as_str().unwrap()).unwrap();
        edit(&mut bundle);
        a.insert(
            BUNDLE.into(),
            serde_json::to_string(&bundle).unwrap().into(),
        );
    })
}

fn flip_b64(s: &str) -> String {
    let mut bytes = b64().decode(s).unwrap();
    let n = bytes.len() / 2;
    bytes[n] ^= 0x01;
    b64().encode(bytes)
}

/// The `.att` layer annotation `key` of the real layout of `version`.
fn real_annotation(version: &str, key: &str) -> String {
    let layout = slsa_generator_layout(version);
    let (_, m, _) = att_manifest(&layout);
    m["layers"][0]["annotations"][key]
        .as_str()
        .unwrap()
        .to_owned()
}

/// Verifies a broken copy of `version` with its own identity: it must fail
/// naming every one of `names`.
fn broken(what: &str, version: &str, layout: &Path, names: &[&str]) -> String {
    let (code, v) = verify(layout, &strs(&identity(version)));
    assert_fails_naming(&format!("{version} {what}"), code, &v, names)
}

#[test]
fn an_edited_statement_fails_at_the_envelope_signature() {
    for version in SLSA_GENERATOR_VERSIONS {
        let (_d, layout) = edit_envelope(version, |e| {
            let mut statement: Value =
                serde_json::from_slice(&b64().decode(e["payload"].as_str().unwrap()).unwrap())
                    .unwrap();
            statement["predicate"]["buildType"] = "https://evil.example/build@v1".into();
            e["payload"] = b64().encode(serde_json::to_vec(&statement).unwrap()).into();
        });
        broken("payload", version, &layout, &["signature"]);
    }
}

#[test]
fn an_edited_envelope_signature_fails() {
    for version in SLSA_GENERATOR_VERSIONS {
        let (_d, layout) = edit_envelope(version, |e| {
            let sig = e["signatures"][0]["sig"].as_str().unwrap().to_owned();
            e["signatures"][0]["sig"] = flip_b64(&sig).into();
        });
        broken("signature", version, &layout, &["signature"]);
    }
}

#[test]
fn another_versions_leaf_certificate_fails() {
    for (version, other) in [
        ("v1.4.0", "v1.7.0"),
        ("v1.7.0", "v2.0.0"),
        ("v2.0.0", "v1.4.0"),
    ] {
        let cert = real_annotation(other, CERT);
        let (_d, layout) = edit_annotations(version, |a| {
            a.insert(CERT.into(), cert.into());
        });
        // Another genuine Fulcio certificate for another identity: it did not
        // make this signature, and it names another workflow.
        broken("leaf swapped", version, &layout, &["certificate"]);
        // Even trusting the other identity, the signature is not that key's.
        let (code, v) = verify(&layout, &strs(&identity(other)));
        assert_fails_naming(
            &format!("{version} leaf of {other}"),
            code,
            &v,
            &["certificate"],
        );
    }
}

#[test]
fn the_chain_annotation_carries_no_trust_the_trusted_root_does() {
    // cosign's `dev.sigstore.cosign/chain` is what the signer sent, not a
    // trust anchor: the leaf is checked against the trusted root's Fulcio
    // CAs. A chain whose root is swapped for a non-CA certificate, or no
    // chain at all, neither adds nor removes trust: the leaf still chains to
    // the public-good Fulcio root, and the verdict is the same.
    for version in SLSA_GENERATOR_VERSIONS {
        let chain = real_annotation(version, CHAIN);
        let end = "-----END CERTIFICATE-----";
        let first = chain.find(end).unwrap() + end.len();
        let intermediate = &chain[..first];
        let leaf_of_other = real_annotation(
            if version == "v1.4.0" {
                "v2.0.0"
            } else {
                "v1.4.0"
            },
            CERT,
        );
        let swapped = format!("{intermediate}\n{}", leaf_of_other.trim());
        let (_d, layout) = edit_annotations(version, |a| {
            a.insert(CHAIN.into(), swapped.into());
        });
        let (c, v) = verify(&layout, &strs(&identity(version)));
        assert_eq!(c, 0, "{version} chain root swapped: {v:#}");
        assert_eq!(cosign_att(platform(&v))["verified"], true);
        let (_d, layout) = edit_annotations(version, |a| {
            assert!(a.remove(CHAIN).is_some());
        });
        let (c, v) = verify(&layout, &strs(&identity(version)));
        assert_eq!(c, 0, "{version} chain removed: {v:#}");
        // But trust in another identity still fails, with or without a chain.
        let other = if version == "v2.0.0" {
            "v1.7.0"
        } else {
            "v2.0.0"
        };
        let (c, v) = verify(&layout, &strs(&identity(other)));
        assert_fails_naming(version, c, &v, &["identity"]);
    }
}

#[test]
fn an_edited_signed_entry_timestamp_fails() {
    for version in SLSA_GENERATOR_VERSIONS {
        let (_d, layout) = edit_bundle(version, |b| {
            let set = b["SignedEntryTimestamp"].as_str().unwrap().to_owned();
            b["SignedEntryTimestamp"] = flip_b64(&set).into();
        });
        broken("SET", version, &layout, &["signed entry timestamp"]);
    }
}

#[test]
fn an_edited_integrated_time_fails() {
    for version in SLSA_GENERATOR_VERSIONS {
        let (_d, layout) = edit_bundle(version, |b| {
            let t = b["Payload"]["integratedTime"].as_i64().unwrap();
            b["Payload"]["integratedTime"] = (t + 1).into();
        });
        broken(
            "integratedTime",
            version,
            &layout,
            &["signed entry timestamp"],
        );
    }
}

#[test]
fn a_log_entry_body_for_other_bytes_fails() {
    for version in SLSA_GENERATOR_VERSIONS {
        let (_d, layout) = edit_bundle(version, |b| {
            let mut body: Value = serde_json::from_slice(
                &b64()
                    .decode(b["Payload"]["body"].as_str().unwrap())
                    .unwrap(),
            )
            .unwrap();
            // Every hash the entry holds (intoto: content.hash and
            // payloadHash; dsse: envelopeHash and payloadHash) names other bytes.
            let mut hit = false;
            zero_hashes(&mut body["spec"], &mut hit);
            assert!(hit, "{version}: {body:#}");
            b["Payload"]["body"] = b64().encode(serde_json::to_vec(&body).unwrap()).into();
        });
        broken("entry body", version, &layout, &["signed entry timestamp"]);
    }
}

/// Replaces every `{algorithm: sha256, value: <hex>}` hash under `v` by zeros.
fn zero_hashes(v: &mut Value, hit: &mut bool) {
    match v {
        Value::Object(m) => {
            if m.get("algorithm").and_then(Value::as_str) == Some("sha256") {
                if let Some(Value::String(h)) = m.get_mut("value") {
                    *h = "0".repeat(64);
                    *hit = true;
                }
            }
            for x in m.values_mut() {
                zero_hashes(x, hit);
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| zero_hashes(x, hit)),
        _ => {}
    }
}

/// `image` of the real layout of `version` with its identity plus `claims`.
fn with_claims(version: &str, claims: &[&str]) -> (i32, Value) {
    let mut args = identity(version);
    args.extend(claims.iter().map(|s| (*s).to_owned()));
    verify(&slsa_generator_layout(version), &strs(&args))
}

#[test]
fn fulcio_ci_claims_are_required_end_to_end() {
    // v2.0.0's certificate carries the provider-neutral claims (Fulcio
    // 1.3.6.1.4.1.57264.1.12) and the deprecated GitHub ones: the workflow
    // ran in slsa-framework/example-package (the v0.2 statement's
    // invocation.configSource says so too).
    let repo_uri = "https://github.com/slsa-framework/example-package";
    let (code, v) = with_claims("v2.0.0", &["--certificate-source-repository", repo_uri]);
    assert_eq!(code, 0, "{v:#}");
    let (code, v) = with_claims(
        "v2.0.0",
        &[
            "--certificate-github-workflow-repository",
            "slsa-framework/example-package",
        ],
    );
    assert_eq!(code, 0, "{v:#}");
    // Another repository fails, naming the claim and what was found.
    let (code, v) = with_claims(
        "v2.0.0",
        &[
            "--certificate-source-repository",
            "https://github.com/slsa-framework/slsa-github-generator",
        ],
    );
    assert_fails_naming(
        "v2.0.0 source repository",
        code,
        &v,
        &["source repository", repo_uri],
    );
    let (code, v) = with_claims(
        "v2.0.0",
        &[
            "--certificate-github-workflow-repository",
            "slsa-framework/slsa-github-generator",
        ],
    );
    assert_fails_naming("v2.0.0 workflow repository", code, &v, &["example-package"]);
    // v1.4.0 (Fulcio before the provider-neutral claims): the certificate
    // lacks 1.3.6.1.4.1.57264.1.12, so a source-repository requirement fails
    // (never passes for lack of it), while the deprecated GitHub claim is there.
    let (code, v) = with_claims("v1.4.0", &["--certificate-source-repository", repo_uri]);
    assert_fails_naming(
        "v1.4.0 source repository",
        code,
        &v,
        &["1.3.6.1.4.1.57264.1.12", "lacks the extension"],
    );
    let (code, v) = with_claims(
        "v1.4.0",
        &[
            "--certificate-github-workflow-repository",
            "slsa-framework/example-package",
        ],
    );
    assert_eq!(code, 0, "{v:#}");
}

#[test]
fn provenance_prints_the_v02_builder_and_attestations_lists_it_verified() {
    for version in SLSA_GENERATOR_VERSIONS {
        let reference = format!("oci:{}", slsa_generator_layout(version).display());
        let id = identity(version);
        let mut args = vec!["provenance", reference.as_str()];
        args.extend(strs(&id));
        let o = run(&args);
        let out = text(&o);
        assert_eq!(code(&o), 0, "{version}: {out}");
        let builder = out
            .lines()
            .find(|l| l.starts_with("builder "))
            .unwrap_or_else(|| panic!("{out}"));
        // slsa-github-generator's builder id is its workflow at the release.
        assert!(
            builder.ends_with(&slsa_generator_identity(version)),
            "{builder}"
        );
        assert!(out.contains("slsa         v0.2"), "{out}");
        assert!(
            out.contains("https://github.com/slsa-framework/example-package"),
            "{out}"
        );
        // Trusting another signer, there is no verified provenance to print.
        let other = identity(if version == "v2.0.0" {
            "v1.7.0"
        } else {
            "v2.0.0"
        });
        let mut args = vec!["provenance", reference.as_str()];
        args.extend(strs(&other));
        let o = run(&args);
        assert_ne!(code(&o), 0, "{version}: {}", text(&o));
        assert!(!text(&o).contains("builder "), "{}", text(&o));

        let mut args = vec!["attestations", reference.as_str()];
        args.extend(strs(&id));
        let o = run(&args);
        let out = text(&o);
        // `attestations` exits 1 when a listed attestation is broken; BuildKit's
        // unsigned in-index statements (v1.7.0, v2.0.0) are listed with ○ and
        // are not broken.
        assert_eq!(code(&o), 0, "{version}: {out}");
        let line = out
            .lines()
            .find(|l| l.contains("(cosign tag)"))
            .unwrap_or_else(|| panic!("{out}"));
        assert!(
            line.trim_start().starts_with("✓ SLSA provenance v0.2"),
            "{line}"
        );
        assert!(line.contains(&slsa_generator_identity(version)), "{line}");
        if version != "v1.4.0" {
            assert!(line.ends_with("(about the index)"), "{line}");
            let buildkit = out
                .lines()
                .find(|l| l.contains("(in the image index)"))
                .unwrap_or_else(|| panic!("{out}"));
            assert!(buildkit.trim_start().starts_with("○ "), "{buildkit}");
        }
    }
}

#[test]
fn by_digest_the_image_passes_and_its_platform_manifest_alone_does_not() {
    for version in SLSA_GENERATOR_VERSIONS {
        let layout = slsa_generator_layout(version);
        let digest = slsa_generator_digest(version);
        let id = identity(version);
        let policy = policy();
        let by_digest = format!("oci:{}@{digest}", layout.display());
        let mut args = vec!["image", by_digest.as_str()];
        args.extend(strs(&id));
        args.extend(["--policy", &policy, "--format", "json"]);
        let o = run(&args);
        assert_eq!(code(&o), 0, "{version}: {}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["digest"], digest);
        if version == "v1.4.0" {
            continue; // a single manifest: it is its own platform
        }
        // The platform manifest named alone: the `.att` is about the index,
        // which this reference does not name, so nothing attests it.
        let platform_digest = platform(&v)["digest"].as_str().unwrap().to_owned();
        assert_ne!(platform_digest, digest);
        let alone = format!("oci:{}@{platform_digest}", layout.display());
        let mut args = vec!["image", alone.as_str()];
        args.extend(strs(&id));
        args.extend(["--policy", &policy, "--format", "json"]);
        let o = run(&args);
        assert_eq!(code(&o), 1, "{version}: {}", text(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["digest"], platform_digest);
        assert_eq!(check(platform(&v), "require.provenance")["status"], "fail");
        schema_valid(&v);
    }
}

#[test]
fn the_real_images_in_docker_registry_pass_with_the_binary_as_from_their_layouts() {
    use dhi_verify_testkit::registry::distribution::{DistributionRegistry, RegistryAuth};
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let empty = tempfile::tempdir().unwrap();
    let policy = policy();
    for (i, version) in SLSA_GENERATOR_VERSIONS.into_iter().enumerate() {
        let repo = format!("slsa/example{i}");
        registry.push_cosign_save(&repo, &slsa_generator_layout(version), "latest");
        let reference = format!("{}/{repo}:latest", registry.addr);
        let image = |id: &[String]| {
            let mut c = Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
            c.args(["image", &reference, "--timeout", "10"])
                .args(id)
                .args(["--policy", &policy, "--format", "json"])
                // Never the developer's credentials or cache.
                .env("DOCKER_CONFIG", empty.path())
                .env("XDG_CACHE_HOME", empty.path());
            let o = c.output().unwrap();
            let v: Value =
                serde_json::from_slice(&o.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&o)));
            (code(&o), v)
        };
        let (c, v) = image(&identity(version));
        assert_eq!(c, 0, "{version}: {v:#}");
        schema_valid(&v);
        assert_eq!(v["digest"], slsa_generator_digest(version));
        // The same attestations, about the same subjects, as from the layout.
        let (_, from_layout) = verify(&slsa_generator_layout(version), &strs(&identity(version)));
        assert_eq!(
            platform(&v)["attestations"],
            platform(&from_layout)["attestations"],
            "{version}"
        );
        let other = if version == "v2.0.0" {
            "v1.7.0"
        } else {
            "v2.0.0"
        };
        let (c, v) = image(&identity(other));
        assert_fails_naming(&format!("{version} registry"), c, &v, &["identity"]);
    }
}

#[test]
fn every_ci_claim_of_the_v170_certificate_is_checked_end_to_end() {
    // The values Fulcio wrote into v1.7.0's leaf certificate (read with
    // `openssl x509 -text`): a workflow_dispatch run of
    // slsa-framework/example-package at refs/heads/main, commit 62cb1f1e…,
    // on a GitHub-hosted runner, signed by the generator's reusable workflow
    // (at commit e55b76ce…) of the slsa-framework organisation.
    let commit = "62cb1f1e485829bafe8bbec8b9900c0cb7624fe7";
    let identity = slsa_generator_identity("v1.7.0");
    let all = [
        "--certificate-source-repository",
        "https://github.com/slsa-framework/example-package",
        "--certificate-source-ref",
        "refs/heads/main",
        "--certificate-source-digest",
        commit,
        "--certificate-signer-uri",
        &identity,
        "--certificate-runner-environment",
        "github-hosted",
        "--certificate-github-workflow-repository",
        "slsa-framework/example-package",
        "--certificate-github-workflow-ref",
        "refs/heads/main",
        "--certificate-github-workflow-sha",
        commit,
        "--certificate-github-workflow-trigger",
        "workflow_dispatch",
        "--certificate-source-repository-owner",
        "https://github.com/slsa-framework",
        "--certificate-signer-digest",
        "e55b76ce421082dfa4b34a6ac3c5e59de0f3bb58",
    ];
    let (code, v) = with_claims("v1.7.0", &all);
    assert_eq!(code, 0, "{v:#}");
    // Each one changed alone fails.
    for (i, wrong) in [
        "https://github.com/slsa-framework/other",
        "refs/heads/evil",
        &"0".repeat(40),
        &slsa_generator_identity("v2.0.0"),
        "self-hosted",
        "slsa-framework/other",
        "refs/tags/v1",
        &"1".repeat(40),
        "push",
        "https://github.com/other-org",
        &"2".repeat(40),
    ]
    .into_iter()
    .enumerate()
    {
        let mut args: Vec<&str> = all.to_vec();
        args[2 * i + 1] = wrong;
        let (code, v) = with_claims("v1.7.0", &args);
        assert_fails_naming(&format!("{} = {wrong}", all[2 * i]), code, &v, &["claim"]);
    }
}

#[test]
fn the_unsigned_predicate_type_annotation_does_not_change_what_is_verified() {
    // cosign's `predicateType` layer annotation is outside the signature:
    // set to SPDX, the layer is still verified as the SLSA provenance its
    // signed statement is. (v1.4.0's cosign wrote no such annotation.)
    for version in ["v1.7.0", "v2.0.0"] {
        let (_d, layout) = edit_annotations(version, |a| {
            assert_eq!(a["predicateType"], PROVENANCE_V02);
            a.insert("predicateType".into(), "https://spdx.dev/Document".into());
        });
        let (code, v) = verify(&layout, &strs(&identity(version)));
        assert_eq!(code, 0, "{version}: {v:#}");
        let a = cosign_att(platform(&v));
        assert_eq!(a["predicateType"], PROVENANCE_V02);
        assert_eq!(a["verified"], true);
        assert_ne!(
            a["manifestDigest"],
            cosign_kind_entry(&slsa_generator_layout(version), ATTS)
        );
    }
}

#[test]
fn a_genuine_att_of_another_image_copied_next_to_this_one_does_not_count() {
    // v1.7.0's signed `.att` (about v1.7.0's index) put in v2.0.0's `cosign
    // save` layout as its `/atts` entry, trusting v1.7.0's signer: genuine
    // signature, genuine log entry, but about another image.
    let (_d, layout) = copy_slsa_generator_layout("v2.0.0");
    let donor = slsa_generator_layout("v1.7.0");
    let donor_att = cosign_kind_entry(&donor, ATTS);
    let m = read_json(&donor, &donor_att);
    let mut digests = vec![
        donor_att.clone(),
        m["config"]["digest"].as_str().unwrap().to_owned(),
    ];
    digests.extend(
        m["layers"]
            .as_array()
            .unwrap()
            .iter()
            .map(|l| l["digest"].as_str().unwrap().to_owned()),
    );
    for d in &digests {
        std::fs::copy(blob_path(&donor, d), blob_path(&layout, d)).unwrap();
    }
    let own_att = cosign_kind_entry(&layout, ATTS);
    let index_path = layout.join("index.json");
    let mut index: Value = serde_json::from_slice(&std::fs::read(&index_path).unwrap()).unwrap();
    for e in index["manifests"].as_array_mut().unwrap() {
        if e["digest"] == own_att.as_str() {
            e["digest"] = donor_att.clone().into();
            e["size"] = std::fs::metadata(blob_path(&donor, &donor_att))
                .unwrap()
                .len()
                .into();
        }
    }
    std::fs::write(&index_path, serde_json::to_vec(&index).unwrap()).unwrap();
    assert_eq!(cosign_kind_entry(&layout, ATTS), donor_att);

    let (code, v) = verify(&layout, &strs(&identity("v1.7.0")));
    let reason = assert_fails_naming("v1.7.0 .att in v2.0.0", code, &v, &["subject"]);
    assert!(
        reason.contains(&slsa_generator_digest("v2.0.0")[7..])
            || reason.contains(&slsa_generator_digest("v2.0.0")),
        "{reason}"
    );
    // Misplaced, not inconsistent: anyone can copy a signed `.att`, so it
    // must not be able to fail an image either.
    let p = platform(&v);
    assert!(p["checks"]
        .as_array()
        .unwrap()
        .iter()
        .all(|c| c["id"] != "attestation.consistency" || c["status"] != "fail"));
    assert_ne!(cosign_att(p)["signedButInconsistent"], true);
    // The same `.att` in its own layout passes with that signer.
    let (code, _) = verify(&donor, &strs(&identity("v1.7.0")));
    assert_eq!(code, 0);
}

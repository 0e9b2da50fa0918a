//! The adversarial corpus: one DHI-shaped image per attack, each breaking
//! exactly one link, written to `testdata/adversarial/<name>/` by
//! `cargo run -p dhi-verify-testkit --bin make-adversarial`. Every case must
//! end in fail or error, never pass; `control` must pass (so a harness that
//! cannot tell the difference is caught).

use std::path::Path;

use serde_json::json;

use crate::cosign::{
    att_tag, dsse_envelope, sig_tag, simple_signing_layer, simple_signing_payload, statement,
    LayoutEditor, IN_TOTO,
};
use crate::image::{DhiImage, Fixture, PredicateKind, Tamper};
use crate::TestKey;

/// One attack.
pub struct Case {
    /// Directory name under `testdata/adversarial/`.
    pub name: &'static str,
    /// What the attacker did.
    pub attack: &'static str,
    /// The image, with the attack applied.
    pub image: DhiImage,
    /// Extra `dhi-verify image` flags the case needs (e.g. a policy that requires a log).
    pub flags: &'static [&'static str],
    /// Whether `--trusted-root <corpus>/trusted_root.json` (the test Rekor log) is needed.
    pub test_log: bool,
    /// What is added to the written layout (cosign's tags), if anything.
    pub after: Option<fn(&Fixture, &DhiImage)>,
}

impl Case {
    /// Whether this case must pass (a control), rather than fail or error.
    pub fn is_control(&self) -> bool {
        self.name.starts_with("control")
    }

    /// Writes the case's layout into `dir`.
    pub fn write(&self, dir: &Path) -> Fixture {
        let fixture = self.image.write_layout(dir);
        if let Some(after) = self.after {
            after(&fixture, &self.image);
        }
        fixture
    }
}

/// A digest no image here has.
const OTHER_IMAGE: &str = "sha256:0be1ce5a2b1cd2e6c3b7f0e16dd4a3f6e1c3b1f8e2f5a0e9d3c6b2a1f4e7d8c9";

fn amd64(f: &Fixture) -> String {
    f.platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .map(|(_, d)| d.clone())
        .unwrap_or_default()
}

/// A `.sig` tag on the index, its payload naming `signs`, signed by `key`.
fn sig_on_index(f: &Fixture, key: &TestKey, signs: &str) {
    let mut ed = LayoutEditor::open(&f.dir);
    let payload = simple_signing_payload(signs, "cosign container image signature");
    let layer = simple_signing_layer(&mut ed, &payload, &key.sign_b64(&payload));
    sig_tag(&mut ed, &f.index_digest, vec![layer]);
    ed.finish();
}

/// A `.att` tag on the platform manifest: provenance about `about`, signed
/// over DSSE's PAE (or over the bare statement when `over_payload`).
fn att_on_platform(f: &Fixture, key: &TestKey, about: &str, over_payload: bool) {
    let st = statement(
        about,
        PredicateKind::ProvenanceV1.predicate_type(),
        json!({"buildDefinition": {"buildType": "https://example.com/build/v1"},
               "runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    );
    let envelope = dsse_envelope(IN_TOTO, &st, key, over_payload.then_some(st.as_slice()));
    let mut ed = LayoutEditor::open(&f.dir);
    att_tag(
        &mut ed,
        &amd64(f),
        &[(envelope, PredicateKind::ProvenanceV1.predicate_type())],
    );
    ed.finish();
}

fn base() -> DhiImage {
    DhiImage::python().kinds(&[PredicateKind::ProvenanceV1, PredicateKind::CycloneDx16])
}

/// Every case, the control first.
pub fn cases() -> Vec<Case> {
    let t = |name, attack, tamper| Case {
        name,
        attack,
        image: base().tamper(tamper),
        flags: &[],
        test_log: false,
        after: None,
    };
    let mut cases = vec![
        Case {
            name: "control",
            attack: "nothing: an intact image (must pass)",
            image: base(),
            flags: &[],
            test_log: false,
            after: None,
        },
        t(
            "wrong-key",
            "signed by a key nobody trusts",
            Tamper::WrongKey,
        ),
        t(
            "statement-substituted",
            "statement bytes replaced under the same digest",
            Tamper::StatementBytes,
        ),
        t(
            "statement-missing",
            "statement blob removed",
            Tamper::StatementMissing,
        ),
        t(
            "payload-substituted",
            "signature payload bytes replaced under the same digest",
            Tamper::PayloadBytes,
        ),
        t(
            "attestation-manifest-substituted",
            "attestation manifest bytes replaced under the same digest",
            Tamper::AttestationManifestBytes,
        ),
        t(
            "index-substituted",
            "image index bytes replaced under the same digest",
            Tamper::IndexBytes,
        ),
        t(
            "platform-manifest-substituted",
            "platform manifest bytes replaced under the same digest",
            Tamper::PlatformManifestBytes,
        ),
        t(
            "signature-replayed-on-sibling",
            "a valid payload for another attestation manifest (mix and match)",
            Tamper::PayloadNamesOtherManifest,
        ),
        t(
            "signature-moved",
            "a signature manifest about another manifest listed under this one",
            Tamper::SignatureSubjectOther,
        ),
        t(
            "statement-for-other-platform",
            "a statement about the other platform's manifest",
            Tamper::SubjectOtherPlatform,
        ),
        t(
            "attestation-for-other-platform",
            "an attestation manifest whose subject is the other platform",
            Tamper::AttestationSubjectOtherPlatform,
        ),
        t(
            "attestation-subject-size",
            "subject digest right, size wrong",
            Tamper::AttestationSubjectSize,
        ),
        t(
            "signature-subject-media-type",
            "signature subject with a non-manifest media type",
            Tamper::SignatureSubjectMediaType,
        ),
        t(
            "predicate-type-confusion",
            "manifest says provenance, statement says SBOM",
            Tamper::PredicateTypeConfusion,
        ),
        t(
            "layer-annotation-disagrees",
            "manifest and layer disagree on the predicate type",
            Tamper::LayerAnnotationDisagrees,
        ),
        t(
            "payload-predicate-type",
            "payload names another predicate type",
            Tamper::PayloadPredicateType,
        ),
        t(
            "signature-stripped",
            "the provenance is unsigned",
            Tamper::Unsigned,
        ),
        t(
            "wrong-critical-type",
            "payload critical.type is not cosign's",
            Tamper::WrongCriticalType,
        ),
        t(
            "signature-not-base64",
            "signature annotation is not base64",
            Tamper::SignatureNotBase64,
        ),
        t(
            "signature-not-der",
            "signature annotation is not DER",
            Tamper::SignatureNotDer,
        ),
        t(
            "statement-type-unknown",
            "statement _type is not an in-toto Statement",
            Tamper::StatementType,
        ),
        t(
            "extra-layer",
            "attestation manifest with two layers",
            Tamper::ExtraLayer,
        ),
    ];
    let logged = |name, attack, image: DhiImage, flags| Case {
        name,
        attack,
        image,
        flags,
        test_log: true,
        after: None,
    };
    cases.extend([
        logged(
            "tlog-forged-time",
            "Rekor SET over another integrated time",
            base().with_rekor().tamper(Tamper::TlogForgedTime),
            &[],
        ),
        logged(
            "tlog-other-payload",
            "Rekor entry for another payload",
            base().with_rekor().tamper(Tamper::TlogOtherPayload),
            &[],
        ),
        logged(
            "tlog-stripped",
            "log entry removed where the policy requires one (downgrade)",
            base().with_rekor().tamper(Tamper::TlogMissing),
            &["--tlog", "always"],
        ),
        logged(
            "bundle-forged-set",
            "Sigstore bundle with a forged SET",
            base().with_bundle_signatures().tamper(Tamper::BundleSet),
            &[],
        ),
        logged(
            "bundle-signs-other-bytes",
            "Sigstore bundle signing other bytes than the manifest",
            base()
                .with_bundle_signatures()
                .tamper(Tamper::BundleSignatureOverOtherBytes),
            &[],
        ),
    ]);
    // Signed the other cosign ways: a `.sig` tag on the index (with
    // `--require signature`), a `.att` tag on an image with no referrers.
    let cosign = |name, attack, image: DhiImage, flags, after: fn(&Fixture, &DhiImage)| Case {
        name,
        attack,
        image,
        flags,
        test_log: false,
        after: Some(after),
    };
    let bare = || DhiImage::python().kinds(&[]);
    cases.extend([
        cosign(
            "control-cosign-tags",
            "nothing: a .sig on the index and a .att provenance on the platform, both genuine (must pass)",
            bare(),
            &["--require", "signature", "--require", "provenance"],
            |f, i| {
                sig_on_index(f, &i.key, &f.index_digest);
                att_on_platform(f, &i.key, &amd64(f), false);
            },
        ),
        cosign(
            "image-signature-for-other-image",
            "the index's .sig tag holds a genuine signature of another image",
            base(),
            &["--require", "signature"],
            |f, i| sig_on_index(f, &i.key, OTHER_IMAGE),
        ),
        cosign(
            "image-signature-wrong-key",
            "the index's .sig tag is signed by a key nobody trusts",
            base(),
            &["--require", "signature"],
            |f, _| sig_on_index(f, &TestKey::new("mallory"), &f.index_digest),
        ),
        cosign(
            "cosign-att-for-other-image",
            "the platform's .att tag holds a genuine statement about another image",
            bare(),
            &["--require", "provenance"],
            |f, i| att_on_platform(f, &i.key, OTHER_IMAGE, false),
        ),
        cosign(
            "cosign-att-signed-without-pae",
            "the .att envelope's signature is over the bare statement, not DSSE's PAE",
            bare(),
            &["--require", "provenance"],
            |f, i| att_on_platform(f, &i.key, &amd64(f), true),
        ),
    ]);
    cases
}

//! Signatures and attestations on the image itself: cosign's `.sig` and
//! `.att` tags, cosign's signature referrers and Sigstore bundle referrers of
//! the index or a platform manifest. Each link broken on its own must fail.

use dhi_verify::sigstore::SigstoreTrust;
use dhi_verify::{
    CheckStatus, EvidenceSource, Limits, Outcome, Policy, TlogMode, TlogStatus, TrustRoot,
    TrustedKey, Verdict, VerifyError,
};
use dhi_verify_testkit::cosign::{
    att_tag, bundle_referrer, dsse_envelope, sig_tag, signature_referrer, simple_signing_layer,
    simple_signing_payload, statement, unlogged_dsse_bundle, LayoutEditor, IN_TOTO,
};
use dhi_verify_testkit::rekor::BundleForgery;
use dhi_verify_testkit::{DhiImage, PredicateKind, TestKey, TestRekor};
use serde_json::json;

use crate::util::{check, verifier_with, verify, write, Written};

const SIGNED: &str = "cosign container image signature";
const PROVENANCE: &str = "https://slsa.dev/provenance/v1";

fn trust(image: &DhiImage) -> TrustRoot {
    let logs =
        SigstoreTrust::from_trusted_root_json(TestRekor::default().trusted_root_json().as_bytes())
            .unwrap();
    TrustRoot::from_keys([TrustedKey::from_pem("dhi-test", &image.key.public_pem()).unwrap()])
        .with_sigstore_trust(logs)
}

fn run(image: &DhiImage, w: &Written, requirements: &[&str], tlog: TlogMode) -> Verdict {
    verify(
        &verifier_with(
            trust(image),
            Policy::dhi_default()
                .with_requirements(requirements)
                .unwrap()
                .with_tlog(tlog),
            Limits::default(),
        ),
        &w.fixture.reference("3.13"),
    )
}

fn amd64(w: &Written) -> String {
    w.fixture
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap()
        .1
        .clone()
}

/// A DHI image with no attestation at all (only what a test adds).
fn bare() -> (DhiImage, Written) {
    let image = DhiImage::python().kinds(&[]);
    let w = write(&image);
    (image, w)
}

fn signed_layer(ed: &mut LayoutEditor, key: &TestKey, signs: &str) -> serde_json::Value {
    let payload = simple_signing_payload(signs, SIGNED);
    let sig = key.sign_b64(&payload);
    simple_signing_layer(ed, &payload, &sig)
}

fn image_signature_error(v: &Verdict) -> VerifyError {
    let sigs = &v.platforms[0].image_signatures;
    assert_eq!(sigs.len(), 1, "{sigs:#?}");
    assert!(!sigs[0].signature.verified);
    sigs[0].signature.error.clone().unwrap()
}

/// Which manifest of the image: the index or the linux/amd64 platform manifest.
#[derive(Clone, Copy, Debug)]
enum On {
    Index,
    Platform,
}

impl On {
    fn digest(self, w: &Written) -> String {
        match self {
            On::Index => w.fixture.index_digest.clone(),
            On::Platform => amd64(w),
        }
    }
}

/// How a signature is attached to the manifest it hangs on.
#[derive(Clone, Copy, Debug)]
enum Attach {
    /// No signature at all.
    Nothing,
    /// cosign's `sha256-<digest>.sig` tag, one simple-signing layer.
    SigTag,
    /// A cosign signature manifest among the referrers.
    SignatureReferrer,
    /// A keyed Sigstore bundle over the signed manifest, among the referrers.
    Bundle(BundleForgery),
}

/// What the simple-signing layer holds (ignored for bundles but `signs`).
#[derive(Clone, Copy, Debug)]
enum Layer {
    /// A genuine signature by the image's key (or by an untrusted one).
    Signed { untrusted: bool },
    /// A payload of another `critical.type`.
    PayloadType(&'static str),
    /// The right payload, signed over other bytes.
    SignatureOverOtherBytes,
    /// A genuine layer stripped of its signature annotation.
    WithoutSignatureAnnotation,
}

/// What the verdict's image signatures must be.
enum Found {
    /// None (not looked up, or none there).
    Nothing,
    /// One, verified by `dhi-test`, about `On`, from this source, with this log status.
    Verified(On, EvidenceSource, TlogStatus),
    /// One, not verified, for this reason.
    Rejected(fn(&VerifyError) -> bool),
}

/// One image-signature case: where the signature hangs and how, what it signs
/// and holds, what the policy requires, and what the verdict must say.
struct SigCase {
    case: &'static str,
    attach: Attach,
    on: On,
    signs: On,
    layer: Layer,
    requirements: &'static [&'static str],
    tlog: TlogMode,
    outcome: Outcome,
    found: Found,
    /// A check (id, status, text in its message) the verdict must hold.
    check: Option<(&'static str, CheckStatus, &'static str)>,
}

fn sig_cases() -> Vec<SigCase> {
    use Attach::{Bundle, Nothing, SigTag, SignatureReferrer};
    use Found::{Rejected, Verified};
    use On::{Index, Platform};
    const GENUINE: Layer = Layer::Signed { untrusted: false };
    let row = |case: &'static str, attach, on, signs, layer, outcome, found| SigCase {
        case,
        attach,
        on,
        signs,
        layer,
        requirements: &["signature"],
        tlog: TlogMode::IfPresent,
        outcome,
        found,
        check: None,
    };
    let rejected = |case, attach, on, signs, layer, why: fn(&VerifyError) -> bool| {
        row(case, attach, on, signs, layer, Outcome::Fail, Rejected(why))
    };
    vec![
        SigCase {
            check: Some(("require.signature", CheckStatus::Pass, "")),
            ..row(
                "a cosign .sig tag on the index satisfies the signature requirement",
                SigTag,
                Index,
                Index,
                GENUINE,
                Outcome::Pass,
                Verified(Index, EvidenceSource::CosignTag, TlogStatus::Absent),
            )
        },
        row(
            "a cosign .sig tag on the platform manifest satisfies the signature requirement",
            SigTag,
            Platform,
            Platform,
            GENUINE,
            Outcome::Pass,
            Verified(Platform, EvidenceSource::CosignTag, TlogStatus::Absent),
        ),
        SigCase {
            check: Some((
                "require.signature",
                CheckStatus::Fail,
                "no signature found",
            )),
            ..row(
                "an unsigned image fails the signature requirement",
                Nothing,
                Index,
                Index,
                GENUINE,
                Outcome::Fail,
                Found::Nothing,
            )
        },
        SigCase {
            requirements: &["provenance"],
            ..row(
                ".sig tags are not looked up unless an image signature is required",
                SigTag,
                Index,
                Index,
                GENUINE,
                Outcome::Pass,
                Found::Nothing,
            )
        },
        rejected(
            "a .sig tag signed by an untrusted key fails",
            SigTag,
            Index,
            Index,
            Layer::Signed { untrusted: true },
            |e| matches!(e, VerifyError::UntrustedSignature { .. }),
        ),
        // The `.sig` tag of the index holds a genuine signature of the
        // platform manifest: the payload, not the tag name, says what is signed.
        rejected(
            "a .sig tag whose payload signs another manifest fails",
            SigTag,
            Index,
            Platform,
            GENUINE,
            |e| matches!(e, VerifyError::PayloadDigest { .. }),
        ),
        rejected(
            "a .sig tag payload of another type fails",
            SigTag,
            Index,
            Index,
            Layer::PayloadType("atomic container signature"),
            |e| matches!(e, VerifyError::PayloadType { .. }),
        ),
        rejected(
            "a .sig tag signature over other bytes fails",
            SigTag,
            Index,
            Index,
            Layer::SignatureOverOtherBytes,
            |e| matches!(e, VerifyError::UntrustedSignature { .. }),
        ),
        rejected(
            "a .sig tag layer without its signature annotation fails",
            SigTag,
            Index,
            Index,
            Layer::WithoutSignatureAnnotation,
            |e| matches!(e, VerifyError::MissingSignature),
        ),
        SigCase {
            tlog: TlogMode::Always,
            ..rejected(
                "a .sig tag requires its log entry under tlog = always",
                SigTag,
                Index,
                Index,
                GENUINE,
                |e| matches!(e, VerifyError::TransparencyLogRequired),
            )
        },
        // Found among the referrers whatever the policy requires.
        SigCase {
            requirements: &["provenance"],
            ..row(
                "a cosign signature referrer of the index is found when only provenance is required",
                SignatureReferrer,
                Index,
                Index,
                GENUINE,
                Outcome::Pass,
                Verified(Index, EvidenceSource::Referrer, TlogStatus::Absent),
            )
        },
        row(
            "a cosign signature referrer of the index satisfies the signature requirement",
            SignatureReferrer,
            Index,
            Index,
            GENUINE,
            Outcome::Pass,
            Verified(Index, EvidenceSource::Referrer, TlogStatus::Absent),
        ),
        rejected(
            "a signature referrer whose payload signs another manifest fails",
            SignatureReferrer,
            Index,
            Platform,
            GENUINE,
            |e| matches!(e, VerifyError::PayloadDigest { .. }),
        ),
        SigCase {
            tlog: TlogMode::Always,
            ..row(
                "a keyed Sigstore bundle on the platform manifest is a logged image signature",
                Bundle(BundleForgery::None),
                Platform,
                Platform,
                GENUINE,
                Outcome::Pass,
                Verified(Platform, EvidenceSource::Referrer, TlogStatus::Verified),
            )
        },
        rejected(
            "a Sigstore bundle over other bytes is not an image signature",
            Bundle(BundleForgery::SignatureOverOtherBytes),
            Platform,
            Platform,
            GENUINE,
            |e| matches!(e, VerifyError::Bundle(_)),
        ),
        // A genuine bundle over the platform manifest, attached to the index.
        rejected(
            "a Sigstore bundle on the index does not sign the platform manifest",
            Bundle(BundleForgery::None),
            Index,
            Platform,
            GENUINE,
            |e| matches!(e, VerifyError::Bundle(_)),
        ),
    ]
}

/// Writes the image and attaches the case's signature.
fn sign(image: &DhiImage, c: &SigCase) -> Written {
    let w = write(image);
    let (on, signs) = (c.on.digest(&w), c.signs.digest(&w));
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let layer = |ed: &mut LayoutEditor| match c.layer {
        Layer::Signed { untrusted: false } => signed_layer(ed, &image.key, &signs),
        Layer::Signed { untrusted: true } => signed_layer(ed, &TestKey::new("mallory"), &signs),
        Layer::PayloadType(kind) => {
            let payload = simple_signing_payload(&signs, kind);
            let sig = image.key.sign_b64(&payload);
            simple_signing_layer(ed, &payload, &sig)
        }
        Layer::SignatureOverOtherBytes => {
            let payload = simple_signing_payload(&signs, SIGNED);
            let sig = image.key.sign_b64(b"something else");
            simple_signing_layer(ed, &payload, &sig)
        }
        Layer::WithoutSignatureAnnotation => {
            let mut layer = signed_layer(ed, &image.key, &signs);
            layer["annotations"] = json!({});
            layer
        }
    };
    match c.attach {
        Attach::Nothing => {}
        Attach::SigTag => {
            let l = layer(&mut ed);
            sig_tag(&mut ed, &on, vec![l]);
        }
        Attach::SignatureReferrer => {
            let l = layer(&mut ed);
            signature_referrer(&mut ed, &on, l);
        }
        Attach::Bundle(forgery) => {
            let manifest = ed.read(&signs);
            let bundle = TestRekor::default().keyed_bundle(&manifest, &image.key, forgery);
            bundle_referrer(&mut ed, &on, bundle.as_bytes(), None);
        }
    }
    ed.finish();
    w
}

#[test]
fn image_signature_cases_give_the_expected_verdict() {
    let image = DhiImage::python();
    for c in sig_cases() {
        let case = c.case;
        let w = sign(&image, &c);
        let v = run(&image, &w, c.requirements, c.tlog);
        assert_eq!(v.outcome, c.outcome, "{case}: {v:#?}");
        let sigs = &v.platforms[0].image_signatures;
        match c.found {
            Found::Nothing => assert!(sigs.is_empty(), "{case}: {sigs:#?}"),
            Found::Verified(subject, source, tlog) => {
                assert_eq!(sigs.len(), 1, "{case}: {sigs:#?}");
                assert_eq!(sigs[0].subject.to_string(), subject.digest(&w), "{case}");
                assert_eq!(sigs[0].source, source, "{case}");
                assert!(sigs[0].signature.verified, "{case}: {sigs:#?}");
                assert_eq!(sigs[0].signature.key.as_deref(), Some("dhi-test"), "{case}");
                assert_eq!(sigs[0].signature.tlog, tlog, "{case}");
            }
            Found::Rejected(why) => {
                let e = image_signature_error(&v);
                assert!(why(&e), "{case}: {e:?}");
            }
        }
        if let Some((id, status, says)) = c.check {
            let check = check(&v, id);
            assert_eq!(check.status, status, "{case}");
            assert!(check.message.contains(says), "{case}: {}", check.message);
        }
    }
}

/// Adds a `.att` tag on `subject` with one envelope.
fn with_att_tag(w: &Written, subject: &str, envelope: Vec<u8>) {
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    att_tag(&mut ed, subject, &[(envelope, PROVENANCE)]);
    ed.finish();
}

fn provenance_about(subject: &str) -> Vec<u8> {
    statement(
        subject,
        PROVENANCE,
        json!({"buildDefinition": {"buildType": "https://example.com/build/v1", "externalParameters": {}},
               "runDetails": {"builder": {"id": "https://example.com/builder"}}}),
    )
}

fn provenance_report(v: &Verdict) -> &dhi_verify::AttestationReport {
    let atts: Vec<_> = v.platforms[0]
        .attestations
        .iter()
        .filter(|a| a.predicate_type.as_deref() == Some(PROVENANCE))
        .collect();
    assert_eq!(atts.len(), 1, "{:#?}", v.platforms[0].attestations);
    atts[0]
}

/// One `.att` tag case: where the tag hangs, the envelope it holds (built
/// from the image and the tag's subject), the tlog mode, and the verdict:
/// pass, or fail with the provenance attestation rejected for this reason.
struct AttCase {
    case: &'static str,
    on: On,
    envelope: fn(&DhiImage, &str) -> Vec<u8>,
    tlog: TlogMode,
    rejected: Option<fn(&VerifyError) -> bool>,
}

/// A genuine provenance envelope about `subject`, signed by the image's key.
fn genuine(image: &DhiImage, subject: &str) -> Vec<u8> {
    dsse_envelope(IN_TOTO, &provenance_about(subject), &image.key, None)
}

fn att_cases() -> Vec<AttCase> {
    use On::{Index, Platform};
    let row = |case, on, envelope, tlog, rejected| AttCase {
        case,
        on,
        envelope,
        tlog,
        rejected,
    };
    vec![
        row(
            "a cosign .att tag on the platform is an attestation when there are no referrers",
            Platform,
            genuine,
            TlogMode::IfPresent,
            None,
        ),
        row(
            "a cosign .att tag on the index covers its platforms",
            Index,
            genuine,
            TlogMode::IfPresent,
            None,
        ),
        row(
            "a cosign .att statement about another manifest fails",
            Platform,
            |image, _| {
                let other = "sha256:".to_owned() + &"ab".repeat(32);
                dsse_envelope(IN_TOTO, &provenance_about(&other), &image.key, None)
            },
            TlogMode::IfPresent,
            Some(|e| matches!(e, VerifyError::SubjectMismatch { .. })),
        ),
        row(
            "a cosign .att signature over other bytes fails",
            Platform,
            |image, platform| {
                // Signed over the bare statement, not over DSSE's PAE.
                let st = provenance_about(platform);
                dsse_envelope(IN_TOTO, &st, &image.key, Some(&st))
            },
            TlogMode::IfPresent,
            Some(|e| matches!(e, VerifyError::NoValidSignature { .. })),
        ),
        row(
            "a cosign .att signed by an untrusted key fails",
            Platform,
            |_, platform| {
                let mallory = TestKey::new("mallory");
                dsse_envelope(IN_TOTO, &provenance_about(platform), &mallory, None)
            },
            TlogMode::IfPresent,
            Some(|e| matches!(e, VerifyError::NoValidSignature { .. })),
        ),
        row(
            "a cosign .att of another payload type fails",
            Platform,
            |image, platform| {
                dsse_envelope("text/plain", &provenance_about(platform), &image.key, None)
            },
            TlogMode::IfPresent,
            Some(|e| matches!(e, VerifyError::DssePayloadType { .. })),
        ),
        row(
            "a cosign .att that is not an envelope fails",
            Platform,
            |_, _| b"{\"payload\": 1}".to_vec(),
            TlogMode::IfPresent,
            Some(|e| matches!(e, VerifyError::DsseEnvelope { .. })),
        ),
        row(
            "a cosign .att needs a log entry under tlog = always",
            Platform,
            genuine,
            TlogMode::Always,
            Some(|e| matches!(e, VerifyError::TransparencyLogRequired)),
        ),
    ]
}

#[test]
fn cosign_att_tag_cases_give_the_expected_verdict() {
    for c in att_cases() {
        let case = c.case;
        let (image, w) = bare();
        let on = c.on.digest(&w);
        with_att_tag(&w, &on, (c.envelope)(&image, &on));
        let v = run(&image, &w, &["provenance"], c.tlog);
        let a = provenance_report(&v);
        match c.rejected {
            None => {
                assert_eq!(v.outcome, Outcome::Pass, "{case}: {v:#?}");
                assert_eq!(a.source, EvidenceSource::CosignTag, "{case}");
                assert!(a.verified, "{case}: {a:#?}");
                assert_eq!(a.signatures[0].key.as_deref(), Some("dhi-test"), "{case}");
            }
            Some(why) => {
                assert_eq!(v.outcome, Outcome::Fail, "{case}: {v:#?}");
                assert!(!a.verified, "{case}: {a:#?}");
                let e = a.error.clone().unwrap();
                assert!(why(&e), "{case}: {e:?}");
            }
        }
    }
}

#[test]
fn att_tags_are_not_looked_up_when_the_referrers_hold_attestations() {
    let image = DhiImage::python();
    let w = write(&image);
    let platform = amd64(&w);
    with_att_tag(&w, &platform, genuine(&image, &platform));
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
    assert!(v.platforms[0]
        .attestations
        .iter()
        .all(|a| a.source == EvidenceSource::Referrer));
}

/// DSSE bundle referrers of the platform manifest (no log entry): what the
/// statement is about, the tlog mode, and whether the image passes.
const DSSE_BUNDLE_CASES: &[(&str, On, TlogMode, Outcome)] = &[
    (
        "a DSSE bundle referrer is an attestation of the platform",
        On::Platform,
        TlogMode::Never,
        Outcome::Pass,
    ),
    (
        // Without a log entry the bundle does not verify unless the policy says `never`.
        "a DSSE bundle without a log entry does not verify unless tlog = never",
        On::Platform,
        TlogMode::IfPresent,
        Outcome::Fail,
    ),
    (
        // A genuine statement about the index, attached to the platform manifest.
        "a DSSE bundle about another manifest is not an attestation of the platform",
        On::Index,
        TlogMode::Never,
        Outcome::Fail,
    ),
];

#[test]
fn dsse_bundle_referrer_cases_give_the_expected_verdict() {
    for &(case, about, tlog, outcome) in DSSE_BUNDLE_CASES {
        let (image, w) = bare();
        let platform = amd64(&w);
        let mut ed = LayoutEditor::open(&w.fixture.dir);
        let bundle = unlogged_dsse_bundle(&provenance_about(&about.digest(&w)), &image.key);
        bundle_referrer(&mut ed, &platform, &bundle, Some(PROVENANCE));
        ed.finish();
        let v = run(&image, &w, &["provenance"], tlog);
        assert_eq!(v.outcome, outcome, "{case}: {v:#?}");
        let a = provenance_report(&v);
        assert_eq!(a.verified, outcome == Outcome::Pass, "{case}: {a:#?}");
        if outcome == Outcome::Pass {
            assert_eq!(a.source, EvidenceSource::Referrer, "{case}");
            assert_eq!(
                a.signatures[0].artifact_type.as_deref(),
                Some(dhi_verify_testkit::cosign::SIGSTORE_BUNDLE),
                "{case}"
            );
        }
    }
}

#[test]
fn the_verdict_of_an_image_with_cosign_evidence_still_names_the_image_digest() {
    let (image, w) = bare();
    let platform = amd64(&w);
    with_att_tag(&w, &platform, genuine(&image, &platform));
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.digest.to_string(), w.fixture.index_digest);
    let verified: Vec<_> = v.verified_attestations().collect();
    assert_eq!(verified.len(), 1);
    assert_eq!(verified[0].subject().to_string(), platform);
    let _ = PredicateKind::ProvenanceV1;
}

#[test]
fn a_cosign_att_with_a_malformed_log_entry_fails_unless_logs_are_ignored() {
    let (image, w) = bare();
    let platform = amd64(&w);
    let mut ed = LayoutEditor::open(&w.fixture.dir);
    let envelope = dsse_envelope(IN_TOTO, &provenance_about(&platform), &image.key, None);
    let mut layer = ed
        .put(dhi_verify_testkit::cosign::DSSE_ENVELOPE, &envelope)
        .descriptor();
    layer["annotations"] = json!({"predicateType": PROVENANCE,
        "dev.sigstore.cosign/bundle": "{\"SignedEntryTimestamp\":\"\",\"Payload\":{}}"});
    let m = ed.put_manifest(
        None,
        "application/vnd.oci.image.config.v1+json",
        vec![layer],
        None,
        None,
    );
    ed.tag(
        &m,
        &format!("{}.att", dhi_verify_testkit::cosign::tag_for(&platform)),
    );
    ed.finish();
    let v = run(&image, &w, &["provenance"], TlogMode::IfPresent);
    assert_eq!(v.outcome, Outcome::Fail);
    let e = provenance_report(&v).error.clone().unwrap();
    assert!(
        matches!(
            e,
            VerifyError::TransparencyLog(dhi_verify::sigstore::BundleError::MalformedBundle { .. })
        ),
        "{e:?}"
    );
    let v = run(&image, &w, &["provenance"], TlogMode::Never);
    assert_eq!(v.outcome, Outcome::Pass, "{v:#?}");
}

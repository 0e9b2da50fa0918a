//! The adversarial corpus: one DHI-shaped image per attack, each breaking
//! exactly one link, written to `testdata/adversarial/<name>/` by
//! `cargo run -p dhi-verify-testkit --bin make-adversarial`. Every case must
//! end in fail or error, never pass; `control` must pass (so a harness that
//! cannot tell the difference is caught).

use crate::image::{DhiImage, PredicateKind, Tamper};

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
    };
    let mut cases = vec![
        Case {
            name: "control",
            attack: "nothing: an intact image (must pass)",
            image: base(),
            flags: &[],
            test_log: false,
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
    cases
}

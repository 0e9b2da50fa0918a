//! Cosign v2 `.att` layers: a DSSE envelope (`application/vnd.dsse.envelope.v1+json`)
//! with cosign's annotations, verified keyless (Fulcio certificate + chain +
//! legacy Rekor bundle) or, for a trusted key's signature, its Rekor entry.
//!
//! One path for every entry kind cosign writes for attestations (`intoto`
//! 0.0.1, `intoto` 0.0.2, `dsse` 0.0.1): the SET and the entry body are checked
//! by `rekor_entry`, the certificate by `fulcio`, the signature here, over the
//! DSSE pre-authentication encoding (never the bare payload). Reading the
//! statement inside is the caller's business.

use base64::Engine as _;
use serde::Deserialize;
use sigstore_verify::crypto::VerificationKey;
use sigstore_verify::types::SignatureBytes;

use super::bundle::{BundlePolicy, PublicKey, VerifiedBundle};
use super::cosign_keyless::pem_blocks;
use super::cosign_rekor::VerifiedLogEntry;
use super::fulcio::verify_fulcio_certificate;
use super::rekor_entry::{bind_dsse_entry, verify_set, DsseEntryExpectation, SignedEntry};
use crate::error::BundleError;
use crate::trust::SigstoreTrust;

/// The media type of a cosign `.att` layer.
pub const DSSE_ENVELOPE_MEDIA_TYPE: &str = "application/vnd.dsse.envelope.v1+json";

/// Upper bound on the signatures of one envelope that are tried.
pub const MAX_DSSE_SIGNATURES: usize = 16;

fn malformed(reason: impl Into<String>) -> BundleError {
    BundleError::MalformedBundle {
        reason: reason.into(),
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct RawEnvelope {
    payload_type: String,
    payload: String,
    signatures: Vec<RawSignature>,
}

#[derive(Deserialize)]
struct RawSignature {
    sig: String,
}

/// A parsed DSSE envelope: what its signatures are over.
struct Envelope {
    payload_type: String,
    payload: Vec<u8>,
    signatures: Vec<Vec<u8>>,
}

impl Envelope {
    /// DSSE protocol: base64 (standard or URL-safe) payload and signatures.
    fn parse(bytes: &[u8]) -> Result<Self, BundleError> {
        let raw: RawEnvelope =
            serde_json::from_slice(bytes).map_err(|e| malformed(format!("DSSE envelope: {e}")))?;
        let payload = b64_either(&raw.payload)
            .ok_or_else(|| malformed("DSSE envelope payload is not base64"))?;
        let signatures = raw
            .signatures
            .iter()
            .take(MAX_DSSE_SIGNATURES)
            .map(|s| {
                b64_either(&s.sig).ok_or_else(|| malformed("DSSE envelope signature is not base64"))
            })
            .collect::<Result<Vec<_>, _>>()?;
        if signatures.is_empty() {
            return Err(malformed("DSSE envelope has no signature"));
        }
        Ok(Self {
            payload_type: raw.payload_type,
            payload,
            signatures,
        })
    }

    /// DSSE v1 PAE: `"DSSEv1" SP LEN(type) SP type SP LEN(body) SP body`.
    fn pae(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(self.payload.len() + self.payload_type.len() + 32);
        out.extend_from_slice(b"DSSEv1 ");
        out.extend_from_slice(self.payload_type.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.payload_type.as_bytes());
        out.push(b' ');
        out.extend_from_slice(self.payload.len().to_string().as_bytes());
        out.push(b' ');
        out.extend_from_slice(&self.payload);
        out
    }
}

fn b64_either(text: &str) -> Option<Vec<u8>> {
    let text = text.trim();
    base64::engine::general_purpose::STANDARD
        .decode(text)
        .or_else(|_| base64::engine::general_purpose::URL_SAFE.decode(text))
        .ok()
}

/// Verifies a keyless cosign `.att` layer: the DSSE `envelope` (the layer's
/// exact bytes), signed by the Fulcio certificate `certificate_pem` (the
/// `dev.sigstore.cosign/certificate` annotation, with `chain_pem` from
/// `dev.sigstore.cosign/chain`), logged as `rekor_bundle_json`
/// (`dev.sigstore.cosign/bundle`, required), for an identity `policy` accepts.
///
/// Steps: (1) the SET of the log entry (trusted log, key valid at the
/// integrated time), whose integrated time is the signing time; (2) the
/// certificate at that time: chain to a Fulcio CA of `trust`, validity,
/// code-signing EKU, SCT; (3) its SAN identity and OIDC issuer against
/// `policy`; (4) one of the envelope's signatures by the certificate's key
/// over the DSSE PAE; (5) the entry body (`intoto` 0.0.1/0.0.2, `dsse` 0.0.1)
/// names this envelope, its payload, that signature and this certificate.
///
/// The result's statement is the envelope's payload; the caller checks it.
pub fn verify_cosign_dsse_keyless(
    envelope: &[u8],
    certificate_pem: &str,
    chain_pem: Option<&str>,
    rekor_bundle_json: &[u8],
    policy: &BundlePolicy,
    trust: &SigstoreTrust,
) -> Result<VerifiedBundle, BundleError> {
    let parsed = Envelope::parse(envelope)?;
    let leaf = match pem_blocks(certificate_pem)?.as_mut_slice() {
        [one] => std::mem::take(one),
        blocks => {
            return Err(malformed(format!(
                "expected one certificate in the certificate annotation, found {}",
                blocks.len()
            )))
        }
    };
    let chain = match chain_pem {
        Some(pem) => pem_blocks(pem)?,
        None => Vec::new(),
    };

    // (1) The log entry's SET: the authenticated signing time.
    let entry = verify_set(rekor_bundle_json, trust)?;
    // (2) The certificate at that time.
    let info = verify_fulcio_certificate(&leaf, &chain, entry.integrated_time, trust)?;
    // (3) Who it was issued to.
    policy.accepts_certificate(&info)?;
    // (4) The signature over the PAE, by the certificate's key.
    let key =
        VerificationKey::from_spki(&info.public_key).map_err(|e| BundleError::Certificate {
            reason: format!("certificate key is not usable: {e}"),
        })?;
    let pae = parsed.pae();
    let signature = parsed
        .signatures
        .iter()
        .find(|s| key.verify(&pae, &SignatureBytes::from_bytes(s)).is_ok())
        .ok_or_else(|| BundleError::Signature {
            reason: format!(
                "none of the envelope's {} signature(s) verifies over the DSSE PAE with the certificate's key",
                parsed.signatures.len()
            ),
        })?;
    // (5) The entry names exactly this envelope, signature and certificate.
    bind_dsse_entry(
        &entry.body,
        &DsseEntryExpectation {
            envelope,
            payload_type: &parsed.payload_type,
            payload: &parsed.payload,
            signature,
            verifier_der: &leaf,
        },
    )?;
    // `accepts_certificate` matched both, so both are present.
    let (Some(identity), Some(issuer)) = (info.identity.as_ref(), info.issuer.clone()) else {
        return Err(BundleError::Certificate {
            reason: "certificate without SAN identity or OIDC issuer".into(),
        });
    };
    Ok(VerifiedBundle::keyless_dsse(
        identity.as_str().to_owned(),
        issuer,
        &info.ci_claims,
        entry.integrated_time,
        parsed.payload,
        DSSE_ENVELOPE_MEDIA_TYPE,
    ))
}

/// The log entry of a key-signed cosign `.att` layer whose SET verified, not
/// yet bound to a signature and key (see [`LoggedDsseEntry::bind`]).
///
/// Its integrated time is authenticated by the log and is what a trusted
/// key's validity window is judged at; nothing else about the entry may be
/// relied on before `bind` succeeds.
#[derive(Debug)]
pub struct LoggedDsseEntry<'a> {
    entry: SignedEntry,
    envelope: &'a [u8],
}

/// Verifies the SET of a key-signed cosign `.att` layer's legacy Rekor bundle
/// (`dev.sigstore.cosign/bundle`) for the DSSE `envelope` (the layer's exact bytes).
pub fn verify_cosign_dsse_log_entry<'a>(
    rekor_bundle_json: &[u8],
    envelope: &'a [u8],
    trust: &SigstoreTrust,
) -> Result<LoggedDsseEntry<'a>, BundleError> {
    Ok(LoggedDsseEntry {
        entry: verify_set(rekor_bundle_json, trust)?,
        envelope,
    })
}

impl LoggedDsseEntry<'_> {
    /// The integrated time (Unix seconds) the SET authenticates.
    pub fn integrated_time(&self) -> i64 {
        self.entry.integrated_time
    }

    /// Checks that the entry body (`intoto` 0.0.1/0.0.2 or `dsse` 0.0.1, as
    /// `cosign attest --key` writes) names this envelope, its payload,
    /// `signature` (raw bytes, the one that verified) and `key` (compared as
    /// DER SubjectPublicKeyInfo).
    pub fn bind(&self, signature: &[u8], key: &PublicKey) -> Result<VerifiedLogEntry, BundleError> {
        let parsed = Envelope::parse(self.envelope)?;
        bind_dsse_entry(
            &self.entry.body,
            &DsseEntryExpectation {
                envelope: self.envelope,
                payload_type: &parsed.payload_type,
                payload: &parsed.payload,
                signature,
                verifier_der: key.der(),
            },
        )?;
        Ok(VerifiedLogEntry::new(
            self.entry.log_id.clone(),
            self.entry.log_index,
            self.entry.integrated_time,
            None,
        ))
    }
}

#[cfg(test)]
pub(super) mod tests {
    use super::*;
    use crate::sigstore::Matcher;
    use dhi_verify_testkit::rekor::TestRekor;
    use sha2::{Digest as _, Sha256};

    const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;
    pub(in crate::verify::sigstore) const VERSIONS: [&str; 3] = ["v1.4.0", "v1.7.0", "v2.0.0"];
    const ISSUER: &str = "https://token.actions.githubusercontent.com";

    /// One real cosign `.att` layer of slsa-github-generator's container workflow.
    #[derive(Clone)]
    pub(in crate::verify::sigstore) struct Real {
        pub envelope: Vec<u8>,
        pub certificate: String,
        pub chain: String,
        pub bundle: String,
        pub subject: String,
    }

    fn read(path: &std::path::Path) -> Vec<u8> {
        std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    pub(in crate::verify::sigstore) fn real(version: &str) -> Real {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../testdata/real/slsa-github-generator")
            .join(version);
        let layout = dir.join("container_workflow_dispatch");
        let blob = |digest: &str| {
            read(
                &layout
                    .join("blobs/sha256")
                    .join(digest.trim_start_matches("sha256:")),
            )
        };
        let index: serde_json::Value =
            serde_json::from_slice(&read(&layout.join("index.json"))).unwrap();
        let atts = index["manifests"]
            .as_array()
            .unwrap()
            .iter()
            .find(|m| m["annotations"]["kind"] == "dev.cosignproject.cosign/atts")
            .unwrap();
        let manifest: serde_json::Value =
            serde_json::from_slice(&blob(atts["digest"].as_str().unwrap())).unwrap();
        let layer = &manifest["layers"][0];
        let ann = &layer["annotations"];
        let text = |k: &str| ann[k].as_str().unwrap().to_owned();
        let envelope = blob(layer["digest"].as_str().unwrap());
        assert_eq!(
            format!("sha256:{}", hex::encode(Sha256::digest(&envelope))),
            layer["digest"].as_str().unwrap()
        );
        Real {
            envelope,
            certificate: text("dev.sigstore.cosign/certificate"),
            chain: text("dev.sigstore.cosign/chain"),
            bundle: text("dev.sigstore.cosign/bundle"),
            subject: String::from_utf8(read(&dir.join("container_workflow_dispatch.digest")))
                .unwrap()
                .trim()
                .to_owned(),
        }
    }

    pub(in crate::verify::sigstore) fn identity(version: &str) -> String {
        format!("https://github.com/slsa-framework/slsa-github-generator/.github/workflows/generator_container_slsa3.yml@refs/tags/{version}")
    }

    pub(in crate::verify::sigstore) fn policy(version: &str) -> BundlePolicy {
        BundlePolicy::Identity {
            issuer: Matcher::exact(ISSUER),
            subject: Matcher::exact(identity(version)).into(),
        }
    }

    fn public_good() -> SigstoreTrust {
        SigstoreTrust::public_good().unwrap()
    }

    fn verify(
        r: &Real,
        policy: &BundlePolicy,
        trust: &SigstoreTrust,
    ) -> Result<VerifiedBundle, BundleError> {
        verify_cosign_dsse_keyless(
            &r.envelope,
            &r.certificate,
            Some(&r.chain),
            r.bundle.as_bytes(),
            policy,
            trust,
        )
    }

    fn bundle_json(r: &Real) -> serde_json::Value {
        serde_json::from_str(&r.bundle).unwrap()
    }

    fn with_bundle(r: &Real, b: &serde_json::Value) -> Real {
        Real {
            bundle: b.to_string(),
            ..r.clone()
        }
    }

    /// The public-good root plus `rekor` as one more trusted log (and, when
    /// given, a change to the root before it is loaded).
    pub(in crate::verify::sigstore) fn public_good_and(
        rekor: &TestRekor,
        edit: impl FnOnce(&mut serde_json::Value),
    ) -> SigstoreTrust {
        let mut root: serde_json::Value =
            serde_json::from_str(crate::sigstore::PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        let test: serde_json::Value = serde_json::from_str(&rekor.trusted_root_json()).unwrap();
        root["tlogs"]
            .as_array_mut()
            .unwrap()
            .push(test["tlogs"][0].clone());
        edit(&mut root);
        SigstoreTrust::from_trusted_root_json(root.to_string().as_bytes()).unwrap()
    }

    /// `r` logged by `rekor` instead, with the entry body `body` (JSON) at `time`.
    pub(in crate::verify::sigstore) fn relogged(
        rekor: &TestRekor,
        r: &Real,
        body: &serde_json::Value,
        time: i64,
    ) -> Real {
        let body = B64.encode(body.to_string());
        Real {
            bundle: rekor.legacy_bundle(&body, time, time),
            ..r.clone()
        }
    }

    pub(in crate::verify::sigstore) fn real_body(r: &Real) -> serde_json::Value {
        let b = bundle_json(r);
        serde_json::from_slice(&B64.decode(b["Payload"]["body"].as_str().unwrap()).unwrap())
            .unwrap()
    }

    fn real_time(r: &Real) -> i64 {
        bundle_json(r)["Payload"]["integratedTime"]
            .as_i64()
            .unwrap()
    }

    fn edit_envelope(r: &Real, edit: impl FnOnce(&mut serde_json::Value)) -> Real {
        let mut env: serde_json::Value = serde_json::from_slice(&r.envelope).unwrap();
        edit(&mut env);
        Real {
            envelope: serde_json::to_vec(&env).unwrap(),
            ..r.clone()
        }
    }

    #[test]
    fn real_slsa_generator_attestations_verify_with_their_identity() {
        let trust = public_good();
        for v in VERSIONS {
            let r = real(v);
            let verified = verify(&r, &policy(v), &trust).unwrap_or_else(|e| panic!("{v}: {e}"));
            assert_eq!(
                verified.signer(),
                &crate::sigstore::Signer::Certificate {
                    identity: identity(v),
                    issuer: ISSUER.into()
                }
            );
            assert_eq!(verified.integrated_time(), Some(real_time(&r)));
            assert_eq!(verified.signed_at(), Some(real_time(&r)));
            let statement: serde_json::Value =
                serde_json::from_slice(verified.statement().unwrap()).unwrap();
            let subject_digest = &statement["subject"][0]["digest"]["sha256"];
            assert_eq!(
                format!("sha256:{}", subject_digest.as_str().unwrap()),
                r.subject
            );
        }
    }

    #[test]
    fn real_attestation_verifies_without_its_chain_annotation_since_the_root_holds_the_intermediate(
    ) {
        let r = real("v2.0.0");
        verify_cosign_dsse_keyless(
            &r.envelope,
            &r.certificate,
            None,
            r.bundle.as_bytes(),
            &policy("v2.0.0"),
            &public_good(),
        )
        .unwrap();
    }

    #[test]
    fn another_identity_is_rejected() {
        let trust = public_good();
        for v in VERSIONS {
            let e = verify(&real(v), &policy("v9.9.9"), &trust).unwrap_err();
            assert!(
                matches!(&e, BundleError::IdentityMismatch { found: Some(f), .. } if *f == identity(v)),
                "{v}: {e:?}"
            );
        }
    }

    #[test]
    fn another_issuer_is_rejected() {
        let p = BundlePolicy::Identity {
            issuer: Matcher::exact("https://accounts.google.com"),
            subject: Matcher::exact(identity("v1.7.0")).into(),
        };
        let e = verify(&real("v1.7.0"), &p, &public_good()).unwrap_err();
        assert!(
            matches!(&e, BundleError::IssuerMismatch { found: Some(f), .. } if f == ISSUER),
            "{e:?}"
        );
    }

    #[test]
    fn identity_regex_is_anchored() {
        let p = BundlePolicy::Identity {
            issuer: Matcher::exact(ISSUER),
            subject: Matcher::regex("https://github.com/slsa-framework/slsa-github-generator/")
                .unwrap()
                .into(),
        };
        let e = verify(&real("v1.4.0"), &p, &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::IdentityMismatch { .. }), "{e:?}");
        let p = BundlePolicy::Identity {
            issuer: Matcher::exact(ISSUER),
            subject: Matcher::regex(r"https://github\.com/slsa-framework/slsa-github-generator/.*")
                .unwrap()
                .into(),
        };
        verify(&real("v1.4.0"), &p, &public_good()).unwrap();
    }

    #[test]
    fn a_key_policy_does_not_accept_a_certificate() {
        let key = PublicKey::from_pem_or_der(
            dhi_verify_testkit::TestKey::new("k")
                .public_pem()
                .as_bytes(),
        )
        .unwrap();
        let e = verify(&real("v1.7.0"), &BundlePolicy::Key(key), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::SignerKindMismatch { .. }), "{e:?}");
    }

    #[test]
    fn edited_payload_breaks_the_signature() {
        for v in VERSIONS {
            let r = edit_envelope(&real(v), |env| {
                let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
                let mut statement: serde_json::Value = serde_json::from_slice(&payload).unwrap();
                statement["subject"][0]["digest"]["sha256"] = "00".repeat(32).into();
                env["payload"] = B64.encode(statement.to_string()).into();
            });
            let e = verify(&r, &policy(v), &public_good()).unwrap_err();
            assert!(matches!(e, BundleError::Signature { .. }), "{v}: {e:?}");
        }
    }

    #[test]
    fn edited_payload_type_breaks_the_signature() {
        let r = edit_envelope(&real("v2.0.0"), |env| {
            env["payloadType"] = "application/json".into();
        });
        let e = verify(&r, &policy("v2.0.0"), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::Signature { .. }), "{e:?}");
    }

    #[test]
    fn edited_signature_does_not_verify() {
        for v in VERSIONS {
            let r = edit_envelope(&real(v), |env| {
                let mut sig = B64
                    .decode(env["signatures"][0]["sig"].as_str().unwrap())
                    .unwrap();
                let i = sig.len() - 2;
                sig[i] ^= 1;
                env["signatures"][0]["sig"] = B64.encode(sig).into();
            });
            let e = verify(&r, &policy(v), &public_good()).unwrap_err();
            assert!(matches!(e, BundleError::Signature { .. }), "{v}: {e:?}");
        }
    }

    #[test]
    fn a_certificate_not_valid_at_the_integrated_time_is_rejected() {
        // v1.7.0's certificate (2023) with v2.0.0's envelope and entry (2024).
        let r = Real {
            certificate: real("v1.7.0").certificate,
            ..real("v2.0.0")
        };
        let e = verify(&r, &policy("v1.7.0"), &public_good()).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("not at the signing time")),
            "{e:?}"
        );
    }

    #[test]
    fn another_certificate_with_its_own_entry_does_not_verify_the_envelope() {
        // v1.7.0's certificate and log entry, v2.0.0's envelope.
        let r = Real {
            envelope: real("v2.0.0").envelope,
            ..real("v1.7.0")
        };
        let e = verify(&r, &policy("v1.7.0"), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::Signature { .. }), "{e:?}");
    }

    #[test]
    fn a_chain_to_a_ca_the_root_does_not_trust_is_rejected() {
        let trust = {
            let rekor = TestRekor::default();
            public_good_and(&rekor, |root| {
                root["certificateAuthorities"] = serde_json::json!([]);
            })
        };
        let e = verify(&real("v1.7.0"), &policy("v1.7.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("no Fulcio CA")),
            "{e:?}"
        );
        // The CAs present, but their window not covering the signing time.
        let trust = public_good_and(&TestRekor::default(), |root| {
            for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
                ca["validFor"] = serde_json::json!({"start": "2025-01-01T00:00:00Z"});
            }
        });
        let e = verify(&real("v1.7.0"), &policy("v1.7.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("no Fulcio CA")),
            "{e:?}"
        );
    }

    #[test]
    fn a_chain_annotation_with_a_foreign_root_does_not_make_the_leaf_trusted() {
        // Only the public-good root certificate is trusted, and the chain
        // annotation is replaced by a different CA certificate (the root's
        // timestamp authority): the leaf's issuer is then nowhere.
        let mut root: serde_json::Value =
            serde_json::from_str(crate::sigstore::PUBLIC_GOOD_TRUSTED_ROOT).unwrap();
        let tsa = root["timestampAuthorities"][0]["certChain"]["certificates"][0]["rawBytes"]
            .as_str()
            .unwrap()
            .to_owned();
        for ca in root["certificateAuthorities"].as_array_mut().unwrap() {
            let certs = ca["certChain"]["certificates"].as_array_mut().unwrap();
            let last = certs.last().cloned().unwrap();
            *certs = vec![last];
        }
        let trust = SigstoreTrust::from_trusted_root_json(root.to_string().as_bytes()).unwrap();
        let r = real("v2.0.0");
        // With its real chain (intermediate + root) it still verifies.
        verify(&r, &policy("v2.0.0"), &trust).unwrap();
        let foreign = format!("-----BEGIN CERTIFICATE-----\n{tsa}\n-----END CERTIFICATE-----\n");
        let r = Real {
            chain: foreign,
            ..r
        };
        let e = verify(&r, &policy("v2.0.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("chain")),
            "{e:?}"
        );
    }

    #[test]
    fn a_certificate_whose_sct_log_is_not_trusted_is_rejected() {
        let trust = public_good_and(&TestRekor::default(), |root| {
            root["ctlogs"] = serde_json::json!([]);
        });
        let e = verify(&real("v1.4.0"), &policy("v1.4.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.starts_with("SCT:")),
            "{e:?}"
        );
    }

    #[test]
    fn a_ct_log_key_not_valid_when_the_sct_was_issued_is_rejected() {
        let trust = public_good_and(&TestRekor::default(), |root| {
            for log in root["ctlogs"].as_array_mut().unwrap() {
                log["publicKey"]["validFor"] = serde_json::json!({"start": "2025-01-01T00:00:00Z"});
            }
        });
        let e = verify(&real("v2.0.0"), &policy("v2.0.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("SCT") && reason.contains("not valid")),
            "{e:?}"
        );
    }

    #[test]
    fn edited_set_is_rejected() {
        for v in VERSIONS {
            let r = real(v);
            let mut b = bundle_json(&r);
            let mut set = B64
                .decode(b["SignedEntryTimestamp"].as_str().unwrap())
                .unwrap();
            let i = set.len() - 2;
            set[i] ^= 1;
            b["SignedEntryTimestamp"] = B64.encode(set).into();
            let e = verify(&with_bundle(&r, &b), &policy(v), &public_good()).unwrap_err();
            assert!(matches!(e, BundleError::SetInvalid { .. }), "{v}: {e:?}");
        }
    }

    #[test]
    fn edited_integrated_time_is_rejected() {
        for v in VERSIONS {
            let r = real(v);
            let mut b = bundle_json(&r);
            b["Payload"]["integratedTime"] = (real_time(&r) + 60).into();
            let e = verify(&with_bundle(&r, &b), &policy(v), &public_good()).unwrap_err();
            assert!(matches!(e, BundleError::SetInvalid { .. }), "{v}: {e:?}");
        }
    }

    #[test]
    fn edited_body_is_rejected() {
        let r = real("v1.4.0");
        let mut b = bundle_json(&r);
        let mut body = real_body(&r);
        body["spec"]["content"]["payloadHash"]["value"] = "00".repeat(32).into();
        b["Payload"]["body"] = B64.encode(body.to_string()).into();
        let e = verify(&with_bundle(&r, &b), &policy("v1.4.0"), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::SetInvalid { .. }), "{e:?}");
    }

    #[test]
    fn an_unknown_log_is_rejected() {
        let r = real("v2.0.0");
        let mut b = bundle_json(&r);
        b["Payload"]["logID"] = "ab".repeat(32).into();
        let e = verify(&with_bundle(&r, &b), &policy("v2.0.0"), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::UnknownLog { .. }), "{e:?}");
        // A log the root does not hold, even with a valid SET of its own.
        let rekor = TestRekor::default();
        let r = relogged(
            &rekor,
            &real("v2.0.0"),
            &real_body(&real("v2.0.0")),
            real_time(&real("v2.0.0")),
        );
        let e = verify(&r, &policy("v2.0.0"), &public_good()).unwrap_err();
        assert!(matches!(e, BundleError::UnknownLog { .. }), "{e:?}");
    }

    #[test]
    fn a_missing_or_garbage_log_bundle_fails_closed() {
        let r = real("v1.7.0");
        for junk in ["", "{}", "null", "{\"Payload\":1}"] {
            let e = verify(
                &Real {
                    bundle: junk.into(),
                    ..r.clone()
                },
                &policy("v1.7.0"),
                &public_good(),
            )
            .unwrap_err();
            assert!(
                matches!(e, BundleError::MalformedBundle { .. }),
                "{junk}: {e:?}"
            );
        }
    }

    /// The test log signs the real body again: the SET path is the same, so
    /// what follows is the binding and the certificate.
    #[test]
    fn real_bodies_logged_by_a_trusted_test_log_verify() {
        let rekor = TestRekor::default();
        let trust = public_good_and(&rekor, |_| {});
        for v in VERSIONS {
            let r = real(v);
            let r = relogged(&rekor, &r, &real_body(&r), real_time(&r));
            verify(&r, &policy(v), &trust).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn a_signing_time_outside_the_certificate_validity_is_rejected() {
        let rekor = TestRekor::default();
        let trust = public_good_and(&rekor, |_| {});
        let r = real("v1.7.0");
        // Fulcio certificates live ten minutes.
        let r = relogged(&rekor, &r, &real_body(&r), real_time(&r) + 3600);
        let e = verify(&r, &policy("v1.7.0"), &trust).unwrap_err();
        assert!(
            matches!(&e, BundleError::Certificate { reason } if reason.contains("not at the signing time")),
            "{e:?}"
        );
    }

    fn entry_mismatch(r: &Real, body: &serde_json::Value) -> &'static str {
        let rekor = TestRekor::default();
        let trust = public_good_and(&rekor, |_| {});
        let v = if r.envelope.len() > 13000 {
            "v2.0.0"
        } else {
            "v1.7.0"
        };
        let r = relogged(&rekor, r, body, real_time(r));
        match verify(&r, &policy(v), &trust) {
            Err(BundleError::EntryMismatch { field, .. }) => field,
            other => panic!("expected an entry mismatch, got {other:?}"),
        }
    }

    #[test]
    fn an_intoto_entry_for_another_envelope_is_rejected() {
        let r = real("v1.7.0");
        let mut body = real_body(&r);
        body["spec"]["content"]["hash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.content.hash");
    }

    #[test]
    fn an_intoto_entry_for_another_payload_is_rejected() {
        let r = real("v1.7.0");
        let mut body = real_body(&r);
        body["spec"]["content"]["payloadHash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.content.payloadHash");
    }

    #[test]
    fn an_intoto_entry_naming_another_certificate_is_rejected() {
        let r = real("v1.7.0");
        let mut body = real_body(&r);
        body["spec"]["publicKey"] = B64.encode(real("v2.0.0").certificate).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.publicKey");
    }

    #[test]
    fn a_dsse_entry_for_another_envelope_payload_signature_or_certificate_is_rejected() {
        let r = real("v2.0.0");
        let mut body = real_body(&r);
        body["spec"]["envelopeHash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.envelopeHash");
        let mut body = real_body(&r);
        body["spec"]["payloadHash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.payloadHash");
        let mut body = real_body(&r);
        body["spec"]["signatures"][0]["signature"] = B64.encode([1u8; 70]).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.signatures");
        let mut body = real_body(&r);
        body["spec"]["signatures"][0]["verifier"] = B64.encode(real("v1.7.0").certificate).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.signatures");
        let mut body = real_body(&r);
        body["spec"]["signatures"] = serde_json::json!([]);
        assert_eq!(entry_mismatch(&r, &body), "spec.signatures");
    }

    /// The intoto 0.0.2 body Rekor would store for a real envelope.
    fn intoto_v002_body(r: &Real) -> serde_json::Value {
        let env: serde_json::Value = serde_json::from_slice(&r.envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let sig_text = env["signatures"][0]["sig"].as_str().unwrap();
        serde_json::json!({
            "apiVersion": "0.0.2",
            "kind": "intoto",
            "spec": {"content": {
                "envelope": {
                    "payloadType": env["payloadType"],
                    "signatures": [{"sig": B64.encode(sig_text), "publicKey": B64.encode(&r.certificate)}]
                },
                "hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&r.envelope))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(payload))}
            }}
        })
    }

    #[test]
    fn an_intoto_v002_entry_for_the_envelope_verifies() {
        let rekor = TestRekor::default();
        let trust = public_good_and(&rekor, |_| {});
        let r = real("v2.0.0");
        let r = relogged(&rekor, &r, &intoto_v002_body(&r), real_time(&r));
        verify(&r, &policy("v2.0.0"), &trust).unwrap();
    }

    #[test]
    fn an_intoto_v002_entry_for_other_bytes_is_rejected() {
        let r = real("v2.0.0");
        let good = intoto_v002_body(&r);
        let mut body = good.clone();
        body["spec"]["content"]["hash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.content.hash");
        let mut body = good.clone();
        body["spec"]["content"]["payloadHash"]["value"] = "11".repeat(32).into();
        assert_eq!(entry_mismatch(&r, &body), "spec.content.payloadHash");
        let mut body = good.clone();
        body["spec"]["content"]["envelope"]["payloadType"] = "application/json".into();
        assert_eq!(
            entry_mismatch(&r, &body),
            "spec.content.envelope.payloadType"
        );
        // The signature encoded only once is not what Rekor stores.
        let env: serde_json::Value = serde_json::from_slice(&r.envelope).unwrap();
        let mut body = good.clone();
        body["spec"]["content"]["envelope"]["signatures"][0]["sig"] =
            env["signatures"][0]["sig"].clone();
        assert_eq!(
            entry_mismatch(&r, &body),
            "spec.content.envelope.signatures"
        );
        let mut body = good;
        body["spec"]["content"]["envelope"]["signatures"][0]["publicKey"] =
            B64.encode(real("v1.7.0").certificate).into();
        assert_eq!(
            entry_mismatch(&r, &body),
            "spec.content.envelope.signatures"
        );
    }

    #[test]
    fn unknown_entry_kinds_and_versions_are_rejected() {
        let r = real("v1.7.0");
        for (kind, version) in [
            ("intoto", "0.0.3"),
            ("dsse", "0.0.2"),
            ("hashedrekord", "0.0.1"),
            ("rekord", "0.0.1"),
        ] {
            let mut body = real_body(&r);
            body["kind"] = kind.into();
            body["apiVersion"] = version.into();
            assert_eq!(entry_mismatch(&r, &body), "kind", "{kind} {version}");
        }
    }

    /// A key-signed envelope, and the bodies `cosign attest --key` has Rekor store for it.
    pub(in crate::verify::sigstore) struct Keyed {
        pub key: dhi_verify_testkit::TestKey,
        pub envelope: Vec<u8>,
        pub signature: Vec<u8>,
    }

    pub(in crate::verify::sigstore) fn keyed() -> Keyed {
        let key = dhi_verify_testkit::TestKey::new("attester");
        let payload = br#"{"_type":"https://in-toto.io/Statement/v0.1","subject":[{"name":"x","digest":{"sha256":"aa"}}],"predicateType":"https://slsa.dev/provenance/v0.2","predicate":{}}"#;
        let payload_type = "application/vnd.in-toto+json";
        let pae = Envelope {
            payload_type: payload_type.into(),
            payload: payload.to_vec(),
            signatures: Vec::new(),
        }
        .pae();
        let signature = key.sign_der(&pae);
        let envelope = serde_json::to_vec(&serde_json::json!({
            "payloadType": payload_type,
            "payload": B64.encode(payload),
            "signatures": [{"keyid": "", "sig": B64.encode(&signature)}]
        }))
        .unwrap();
        Keyed {
            key,
            envelope,
            signature,
        }
    }

    pub(in crate::verify::sigstore) fn keyed_body(
        k: &Keyed,
        kind: &str,
        version: &str,
    ) -> serde_json::Value {
        let env: serde_json::Value = serde_json::from_slice(&k.envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let envelope_hash = serde_json::json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(&k.envelope))});
        let payload_hash = serde_json::json!({"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))});
        let pem = B64.encode(k.key.public_pem());
        let sig_text = env["signatures"][0]["sig"].as_str().unwrap();
        match (kind, version) {
            ("intoto", "0.0.1") => {
                serde_json::json!({"apiVersion": "0.0.1", "kind": "intoto", "spec": {
                "content": {"hash": envelope_hash, "payloadHash": payload_hash}, "publicKey": pem}})
            }
            ("intoto", "0.0.2") => {
                serde_json::json!({"apiVersion": "0.0.2", "kind": "intoto", "spec": {"content": {
                "envelope": {"payloadType": env["payloadType"], "signatures": [{"sig": B64.encode(sig_text), "publicKey": pem}]},
                "hash": envelope_hash, "payloadHash": payload_hash}}})
            }
            ("dsse", "0.0.1") => {
                serde_json::json!({"apiVersion": "0.0.1", "kind": "dsse", "spec": {
                "envelopeHash": envelope_hash, "payloadHash": payload_hash,
                "signatures": [{"signature": sig_text, "verifier": pem}]}})
            }
            _ => serde_json::json!({"apiVersion": version, "kind": kind, "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(&payload))}},
                "signature": {"content": sig_text, "publicKey": {"content": pem}}}}),
        }
    }

    fn keyed_entry(
        k: &Keyed,
        rekor: &TestRekor,
        body: &serde_json::Value,
    ) -> Result<VerifiedLogEntry, BundleError> {
        let trust =
            SigstoreTrust::from_trusted_root_json(rekor.trusted_root_json().as_bytes()).unwrap();
        let bundle = rekor.legacy_bundle(
            &B64.encode(body.to_string()),
            dhi_verify_testkit::rekor::INTEGRATED_TIME,
            dhi_verify_testkit::rekor::INTEGRATED_TIME,
        );
        let logged = verify_cosign_dsse_log_entry(bundle.as_bytes(), &k.envelope, &trust)?;
        assert_eq!(
            logged.integrated_time(),
            dhi_verify_testkit::rekor::INTEGRATED_TIME
        );
        let key = PublicKey::from_pem_or_der(&k.key.public_der()).unwrap();
        logged.bind(&k.signature, &key)
    }

    #[test]
    fn keyed_attestation_entries_of_every_kind_cosign_writes_bind() {
        let k = keyed();
        let rekor = TestRekor::default();
        for (kind, version) in [("intoto", "0.0.1"), ("intoto", "0.0.2"), ("dsse", "0.0.1")] {
            let entry = keyed_entry(&k, &rekor, &keyed_body(&k, kind, version))
                .unwrap_or_else(|e| panic!("{kind} {version}: {e}"));
            assert_eq!(
                entry.integrated_time(),
                dhi_verify_testkit::rekor::INTEGRATED_TIME
            );
            assert_eq!(entry.log_id(), rekor.log_id());
        }
    }

    #[test]
    fn keyed_entry_naming_another_key_is_rejected() {
        let k = keyed();
        let other = dhi_verify_testkit::TestKey::new("someone else");
        let rekor = TestRekor::default();
        for (kind, version, field, pointer) in [
            ("intoto", "0.0.1", "spec.publicKey", "/spec/publicKey"),
            (
                "intoto",
                "0.0.2",
                "spec.content.envelope.signatures",
                "/spec/content/envelope/signatures/0/publicKey",
            ),
            (
                "dsse",
                "0.0.1",
                "spec.signatures",
                "/spec/signatures/0/verifier",
            ),
        ] {
            let mut body = keyed_body(&k, kind, version);
            *body.pointer_mut(pointer).unwrap() = B64.encode(other.public_pem()).into();
            let e = keyed_entry(&k, &rekor, &body).unwrap_err();
            assert!(
                matches!(e, BundleError::EntryMismatch { field: f, .. } if f == field),
                "{kind} {version}: {e:?}"
            );
        }
    }

    #[test]
    fn keyed_entry_for_another_envelope_or_payload_is_rejected() {
        let k = keyed();
        let rekor = TestRekor::default();
        for (kind, version, pointer, field) in [
            (
                "intoto",
                "0.0.1",
                "/spec/content/hash/value",
                "spec.content.hash",
            ),
            (
                "intoto",
                "0.0.1",
                "/spec/content/payloadHash/value",
                "spec.content.payloadHash",
            ),
            (
                "intoto",
                "0.0.2",
                "/spec/content/hash/value",
                "spec.content.hash",
            ),
            (
                "intoto",
                "0.0.2",
                "/spec/content/payloadHash/value",
                "spec.content.payloadHash",
            ),
            (
                "dsse",
                "0.0.1",
                "/spec/envelopeHash/value",
                "spec.envelopeHash",
            ),
            (
                "dsse",
                "0.0.1",
                "/spec/payloadHash/value",
                "spec.payloadHash",
            ),
        ] {
            let mut body = keyed_body(&k, kind, version);
            *body.pointer_mut(pointer).unwrap() = "22".repeat(32).into();
            let e = keyed_entry(&k, &rekor, &body).unwrap_err();
            assert!(
                matches!(e, BundleError::EntryMismatch { field: f, .. } if f == field),
                "{kind} {version} {pointer}: {e:?}"
            );
        }
    }

    #[test]
    fn keyed_entry_for_another_signature_is_rejected() {
        let k = keyed();
        let rekor = TestRekor::default();
        let other = B64.encode(k.key.sign_der(b"something else"));
        let mut body = keyed_body(&k, "dsse", "0.0.1");
        body["spec"]["signatures"][0]["signature"] = other.clone().into();
        let e = keyed_entry(&k, &rekor, &body).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::EntryMismatch {
                    field: "spec.signatures",
                    ..
                }
            ),
            "{e:?}"
        );
        let mut body = keyed_body(&k, "intoto", "0.0.2");
        body["spec"]["content"]["envelope"]["signatures"][0]["sig"] = B64.encode(other).into();
        let e = keyed_entry(&k, &rekor, &body).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::EntryMismatch {
                    field: "spec.content.envelope.signatures",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn keyed_entry_of_a_kind_cosign_does_not_write_for_attestations_is_rejected() {
        let k = keyed();
        let rekor = TestRekor::default();
        let e = keyed_entry(&k, &rekor, &keyed_body(&k, "hashedrekord", "0.0.1")).unwrap_err();
        assert!(
            matches!(e, BundleError::EntryMismatch { field: "kind", .. }),
            "{e:?}"
        );
    }

    #[test]
    fn keyed_entry_with_a_bad_set_or_unknown_log_is_rejected_before_binding() {
        let k = keyed();
        let rekor = TestRekor::default();
        let trust =
            SigstoreTrust::from_trusted_root_json(rekor.trusted_root_json().as_bytes()).unwrap();
        let body = B64.encode(keyed_body(&k, "dsse", "0.0.1").to_string());
        let t = dhi_verify_testkit::rekor::INTEGRATED_TIME;
        let forged = rekor.legacy_bundle(&body, t, t - 3600);
        let e = verify_cosign_dsse_log_entry(forged.as_bytes(), &k.envelope, &trust).unwrap_err();
        assert!(matches!(e, BundleError::SetInvalid { .. }), "{e:?}");
        let stranger = TestRekor {
            key: dhi_verify_testkit::TestKey::new("another log"),
        };
        let e = verify_cosign_dsse_log_entry(
            stranger.legacy_bundle(&body, t, t).as_bytes(),
            &k.envelope,
            &trust,
        )
        .unwrap_err();
        assert!(matches!(e, BundleError::UnknownLog { .. }), "{e:?}");
    }

    #[test]
    fn accepts_certificate_matches_identity_and_issuer_of_a_real_fulcio_certificate() {
        let r = real("v2.0.0");
        let der = pem_blocks(&r.certificate).unwrap().remove(0);
        let info = sigstore_verify::crypto::x509::parse_certificate_info(
            &sigstore_verify::types::DerCertificate::new(der),
        )
        .unwrap();
        policy("v2.0.0").accepts_certificate(&info).unwrap();
        let e = policy("v1.7.0").accepts_certificate(&info).unwrap_err();
        assert!(
            matches!(&e, BundleError::IdentityMismatch { found: Some(f), .. } if *f == identity("v2.0.0")),
            "{e:?}"
        );
        let other_issuer = BundlePolicy::Identity {
            issuer: Matcher::regex(r"https://token\.actions\.githubusercontent\.com/.+").unwrap(),
            subject: Matcher::exact(identity("v2.0.0")).into(),
        };
        let e = other_issuer.accepts_certificate(&info).unwrap_err();
        assert!(
            matches!(&e, BundleError::IssuerMismatch { found: Some(f), .. } if f == ISSUER),
            "{e:?}"
        );
        let key = PublicKey::from_pem_or_der(&dhi_verify_testkit::TestKey::new("k").public_der())
            .unwrap();
        let e = BundlePolicy::Key(key)
            .accepts_certificate(&info)
            .unwrap_err();
        assert!(matches!(e, BundleError::SignerKindMismatch { .. }), "{e:?}");
    }
}

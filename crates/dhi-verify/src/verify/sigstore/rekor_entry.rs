//! Rekor v1 log entries as cosign carries them in its legacy bundle annotation
//! (`dev.sigstore.cosign/bundle`): the Signed Entry Timestamp (SET) of any
//! entry kind, and the binding of an `intoto` 0.0.1, `intoto` 0.0.2 or `dsse`
//! 0.0.1 entry body to the exact DSSE envelope, payload, signature and
//! verifier it must describe. No signature over the artifact is checked here.

use base64::Engine as _;
use serde::Deserialize;
use sha2::{Digest as _, Sha256};
use sigstore_verify::crypto::VerificationKey;
use sigstore_verify::types::SignatureBytes;

use super::cosign_keyless::pem_blocks;
use crate::error::BundleError;
use crate::trust::SigstoreTrust;

const B64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

/// Upper bound on a legacy Rekor bundle annotation (bytes).
pub const MAX_COSIGN_REKOR_BUNDLE_SIZE: usize = 1 << 20;

fn malformed(reason: impl Into<String>) -> BundleError {
    BundleError::MalformedBundle {
        reason: reason.into(),
    }
}

/// The `dev.sigstore.cosign/bundle` annotation.
#[derive(Deserialize)]
pub(super) struct RekorBundle {
    #[serde(rename = "SignedEntryTimestamp")]
    pub(super) signed_entry_timestamp: String,
    #[serde(rename = "Payload")]
    pub(super) payload: RekorPayload,
}

/// The log entry the SET signs.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub(super) struct RekorPayload {
    pub(super) body: String,
    pub(super) integrated_time: i64,
    pub(super) log_index: i64,
    #[serde(rename = "logID")]
    pub(super) log_id: String,
}

/// A log entry whose SET verified with a trusted log's key valid at its
/// integrated time: the log vouches that it integrated `body` at `integrated_time`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SignedEntry {
    /// The log id, lowercase hex.
    pub(crate) log_id: String,
    /// The entry's index in the log.
    pub(crate) log_index: u64,
    /// Unix seconds; authenticated by the SET.
    pub(crate) integrated_time: i64,
    /// The entry body (base64-decoded `Payload.body`): what the binding checks read.
    pub(crate) body: Vec<u8>,
}

/// Verifies the SET of a cosign legacy Rekor bundle, whatever the entry kind.
///
/// Steps: (1) find the log named by `logID` in `trust`; (2) check its key was
/// valid at `integratedTime`; (3) verify the SET, the log's signature over the
/// canonical JSON `{"body":…,"integratedTime":…,"logID":…,"logIndex":…}`
/// (keys sorted, no spaces: what Rekor signs). The body is returned decoded,
/// not yet interpreted: the caller binds it to what was signed.
pub(crate) fn verify_set(
    bundle_json: &[u8],
    trust: &SigstoreTrust,
) -> Result<SignedEntry, BundleError> {
    if bundle_json.len() > MAX_COSIGN_REKOR_BUNDLE_SIZE {
        return Err(malformed(format!(
            "Rekor bundle is {} bytes, more than the limit of {MAX_COSIGN_REKOR_BUNDLE_SIZE}",
            bundle_json.len()
        )));
    }
    let bundle: RekorBundle =
        serde_json::from_slice(bundle_json).map_err(|e| malformed(format!("Rekor bundle: {e}")))?;
    let p = &bundle.payload;
    let log_index = u64::try_from(p.log_index)
        .map_err(|_| malformed(format!("negative logIndex {}", p.log_index)))?;
    let log_id_bytes =
        hex::decode(&p.log_id).map_err(|e| malformed(format!("logID is not hex: {e}")))?;
    let log_id = p.log_id.to_ascii_lowercase();

    // (1) The log named by logID.
    let log = trust
        .root
        .tlogs
        .iter()
        .find(|t| t.log_id.key_id.as_bytes() == log_id_bytes.as_slice())
        .ok_or_else(|| BundleError::UnknownLog {
            log_id: log_id.clone(),
        })?;

    // (2) Its key must have been valid when the entry was integrated.
    if let Some(range) = &log.public_key.valid_for {
        let t = p.integrated_time;
        let after_start = range.start.as_second() <= t;
        let before_end = range.end.is_none_or(|end| t <= end.as_second());
        if !(after_start && before_end) {
            return Err(BundleError::LogKeyNotValid {
                log_id,
                integrated_time: t,
            });
        }
    }

    // (3) The SET: the log's signature over the canonical JSON of the payload.
    let canonical = format!(
        "{{\"body\":{},\"integratedTime\":{},\"logID\":{},\"logIndex\":{}}}",
        json_string(&p.body)?,
        p.integrated_time,
        json_string(&p.log_id)?,
        p.log_index
    );
    let set = B64
        .decode(bundle.signed_entry_timestamp.as_bytes())
        .map_err(|e| malformed(format!("SignedEntryTimestamp is not base64: {e}")))?;
    let key = VerificationKey::from_spki(&log.public_key.raw_bytes).map_err(|e| {
        BundleError::InvalidTrustedRoot {
            reason: format!("log key {log_id}: {e}"),
        }
    })?;
    key.verify(canonical.as_bytes(), &SignatureBytes::from_bytes(&set))
        .map_err(|_| BundleError::SetInvalid {
            log_id: log_id.clone(),
        })?;

    let body = B64
        .decode(p.body.as_bytes())
        .map_err(|e| malformed(format!("body is not base64: {e}")))?;
    Ok(SignedEntry {
        log_id,
        log_index,
        integrated_time: p.integrated_time,
        body,
    })
}

fn json_string(s: &str) -> Result<String, BundleError> {
    serde_json::to_string(s).map_err(|e| malformed(e.to_string()))
}

/// What a log entry for a DSSE envelope must name, exactly.
#[derive(Debug, Clone, Copy)]
pub(crate) struct DsseEntryExpectation<'a> {
    /// The envelope bytes as stored (a cosign `.att` layer: what was submitted).
    pub(crate) envelope: &'a [u8],
    /// The envelope's `payloadType`.
    pub(crate) payload_type: &'a str,
    /// The decoded payload.
    pub(crate) payload: &'a [u8],
    /// The raw bytes of the signature that verified (base64-decoded `sig`).
    pub(crate) signature: &'a [u8],
    /// DER of whatever verified it: the Fulcio leaf certificate (keyless) or
    /// the SubjectPublicKeyInfo of the trusted key.
    pub(crate) verifier_der: &'a [u8],
}

/// The entry kinds and versions [`bind_dsse_entry`] accepts.
pub(crate) const DSSE_ENTRY_KINDS: &str = "intoto 0.0.1, intoto 0.0.2 or dsse 0.0.1";

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct EntryHead {
    kind: String,
    api_version: String,
}

#[derive(Deserialize)]
struct Hash {
    algorithm: String,
    value: String,
}

// intoto 0.0.1 (rekor pkg/types/intoto/v0.0.1): content.hash is the SHA-256 of
// the submitted envelope, content.payloadHash of its decoded payload,
// publicKey the base64 of the verifier's PEM (key or certificate).
#[derive(Deserialize)]
struct IntotoV001 {
    spec: IntotoV001Spec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV001Spec {
    content: IntotoV001Content,
    public_key: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV001Content {
    hash: Hash,
    payload_hash: Hash,
}

// intoto 0.0.2 (rekor pkg/types/intoto/v0.0.2): as 0.0.1, plus the envelope's
// payloadType and signatures; each `sig` is the envelope's base64 signature
// text base64-encoded once more, each `publicKey` the base64 of the PEM.
#[derive(Deserialize)]
struct IntotoV002 {
    spec: IntotoV002Spec,
}

#[derive(Deserialize)]
struct IntotoV002Spec {
    content: IntotoV002Content,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Content {
    envelope: IntotoV002Envelope,
    hash: Hash,
    payload_hash: Hash,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Envelope {
    payload_type: String,
    signatures: Vec<IntotoV002Signature>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct IntotoV002Signature {
    sig: String,
    public_key: String,
}

// dsse 0.0.1 (rekor pkg/types/dsse/v0.0.1): envelopeHash of the submitted
// envelope, payloadHash of the decoded payload, and per signature the base64
// signature and the base64 of the verifier's PEM.
#[derive(Deserialize)]
struct DsseV001 {
    spec: DsseV001Spec,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DsseV001Spec {
    envelope_hash: Hash,
    payload_hash: Hash,
    signatures: Vec<DsseV001Signature>,
}

#[derive(Deserialize)]
struct DsseV001Signature {
    signature: String,
    verifier: String,
}

/// Checks that the entry `body` (from a verified SET) describes exactly the
/// envelope, payload, signature and verifier of `want`.
///
/// `intoto` 0.0.1: `content.hash` (the envelope, which holds the signature),
/// `content.payloadHash`, `publicKey`. `intoto` 0.0.2: the same, plus
/// `envelope.payloadType` and one of `envelope.signatures` having this
/// signature and verifier. `dsse` 0.0.1: `envelopeHash`, `payloadHash`, and
/// one of `signatures` having this signature and verifier. Verifiers are
/// compared as decoded DER, never as PEM text. Any other kind or version fails.
pub(crate) fn bind_dsse_entry(
    body: &[u8],
    want: &DsseEntryExpectation<'_>,
) -> Result<(), BundleError> {
    let head: EntryHead =
        serde_json::from_slice(body).map_err(|e| malformed(format!("log entry body: {e}")))?;
    let envelope_hash = hex::encode(Sha256::digest(want.envelope));
    let payload_hash = hex::encode(Sha256::digest(want.payload));
    match (head.kind.as_str(), head.api_version.as_str()) {
        ("intoto", "0.0.1") => {
            let e: IntotoV001 = parse_body(body)?;
            let c = &e.spec.content;
            check_hash("spec.content.hash", &c.hash, &envelope_hash)?;
            check_hash("spec.content.payloadHash", &c.payload_hash, &payload_hash)?;
            check_verifier("spec.publicKey", &e.spec.public_key, want.verifier_der)
        }
        ("intoto", "0.0.2") => {
            let e: IntotoV002 = parse_body(body)?;
            let c = &e.spec.content;
            check_hash("spec.content.hash", &c.hash, &envelope_hash)?;
            check_hash("spec.content.payloadHash", &c.payload_hash, &payload_hash)?;
            if c.envelope.payload_type != want.payload_type {
                return Err(BundleError::EntryMismatch {
                    field: "spec.content.envelope.payloadType",
                    expected: want.payload_type.to_owned(),
                    found: c.envelope.payload_type.clone(),
                });
            }
            find_signature(
                "spec.content.envelope.signatures",
                c.envelope
                    .signatures
                    .iter()
                    .map(|s| (double_b64(&s.sig), s.public_key.as_str())),
                want,
            )
        }
        ("dsse", "0.0.1") => {
            let e: DsseV001 = parse_body(body)?;
            check_hash("spec.envelopeHash", &e.spec.envelope_hash, &envelope_hash)?;
            check_hash("spec.payloadHash", &e.spec.payload_hash, &payload_hash)?;
            find_signature(
                "spec.signatures",
                e.spec
                    .signatures
                    .iter()
                    .map(|s| (B64.decode(s.signature.as_bytes()).ok(), s.verifier.as_str())),
                want,
            )
        }
        (kind, version) => Err(BundleError::EntryMismatch {
            field: "kind",
            expected: DSSE_ENTRY_KINDS.into(),
            found: format!("{kind} {version}"),
        }),
    }
}

fn parse_body<T: serde::de::DeserializeOwned>(body: &[u8]) -> Result<T, BundleError> {
    serde_json::from_slice(body).map_err(|e| malformed(format!("log entry body: {e}")))
}

fn check_hash(field: &'static str, found: &Hash, expected_hex: &str) -> Result<(), BundleError> {
    if found.algorithm != "sha256" || !found.value.eq_ignore_ascii_case(expected_hex) {
        return Err(BundleError::EntryMismatch {
            field,
            expected: format!("sha256:{expected_hex}"),
            found: format!("{}:{}", found.algorithm, found.value),
        });
    }
    Ok(())
}

/// Decodes `base64(base64(signature))`, as intoto 0.0.2 stores DSSE signatures.
fn double_b64(sig: &str) -> Option<Vec<u8>> {
    let once = B64.decode(sig.as_bytes()).ok()?;
    B64.decode(once).ok()
}

/// The DER of the single PEM block inside a base64-encoded PEM, if it is one.
fn verifier_der(b64_pem: &str) -> Option<Vec<u8>> {
    let pem = B64.decode(b64_pem.as_bytes()).ok()?;
    let text = std::str::from_utf8(&pem).ok()?;
    match pem_blocks(text).ok()?.as_mut_slice() {
        [one] => Some(std::mem::take(one)),
        _ => None,
    }
}

fn check_verifier(field: &'static str, b64_pem: &str, expected: &[u8]) -> Result<(), BundleError> {
    match verifier_der(b64_pem) {
        Some(der) if der == expected => Ok(()),
        found => Err(BundleError::EntryMismatch {
            field,
            expected: format!("DER sha256:{}", hex::encode(Sha256::digest(expected))),
            found: found.map_or_else(
                || "not a base64 PEM block".to_owned(),
                |d| format!("DER sha256:{}", hex::encode(Sha256::digest(d))),
            ),
        }),
    }
}

/// One of the logged `(signature, verifier)` pairs must be the one that verified.
fn find_signature<'b>(
    field: &'static str,
    logged: impl Iterator<Item = (Option<Vec<u8>>, &'b str)>,
    want: &DsseEntryExpectation<'_>,
) -> Result<(), BundleError> {
    let mut found = Vec::new();
    for (sig, verifier) in logged {
        let der = verifier_der(verifier);
        if sig.as_deref() == Some(want.signature) && der.as_deref() == Some(want.verifier_der) {
            return Ok(());
        }
        found.push(format!(
            "{} by {}",
            sig.map_or_else(|| "undecodable signature".into(), |s| B64.encode(s)),
            der.map_or_else(
                || "an undecodable verifier".into(),
                |d| format!("DER sha256:{}", hex::encode(Sha256::digest(d)))
            )
        ));
    }
    Err(BundleError::EntryMismatch {
        field,
        expected: format!(
            "{} by DER sha256:{}",
            B64.encode(want.signature),
            hex::encode(Sha256::digest(want.verifier_der))
        ),
        found: if found.is_empty() {
            "no signature".into()
        } else {
            found.join(", ")
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::cosign_dsse::tests::{keyed, keyed_body, real, real_body};

    /// What the real v1.7.0 (intoto 0.0.1) or v2.0.0 (dsse 0.0.1) entry must name.
    fn expectation_parts(version: &str) -> (Vec<u8>, Vec<u8>, Vec<u8>, Vec<u8>) {
        let r = real(version);
        let env: serde_json::Value = serde_json::from_slice(&r.envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let signature = B64
            .decode(env["signatures"][0]["sig"].as_str().unwrap())
            .unwrap();
        let leaf = pem_blocks(&r.certificate).unwrap().remove(0);
        (r.envelope, payload, signature, leaf)
    }

    fn bind_real(
        version: &str,
        body: &serde_json::Value,
        verifier: Option<&[u8]>,
    ) -> Result<(), BundleError> {
        let (envelope, payload, signature, leaf) = expectation_parts(version);
        bind_dsse_entry(
            body.to_string().as_bytes(),
            &DsseEntryExpectation {
                envelope: &envelope,
                payload_type: "application/vnd.in-toto+json",
                payload: &payload,
                signature: &signature,
                verifier_der: verifier.unwrap_or(&leaf),
            },
        )
    }

    #[test]
    fn real_intoto_and_dsse_bodies_bind_to_their_layer() {
        for v in ["v1.4.0", "v1.7.0", "v2.0.0"] {
            bind_real(v, &real_body(&real(v)), None).unwrap_or_else(|e| panic!("{v}: {e}"));
        }
    }

    #[test]
    fn the_verifier_is_compared_as_der_not_as_pem_text() {
        // The same certificate, PEM re-wrapped at 76 columns with CRLF line ends.
        let r = real("v1.7.0");
        let der = pem_blocks(&r.certificate).unwrap().remove(0);
        let b64 = B64.encode(&der);
        let lines: Vec<&str> = b64
            .as_bytes()
            .chunks(76)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let rewrapped = format!(
            "-----BEGIN CERTIFICATE-----\r\n{}\r\n-----END CERTIFICATE-----\r\n",
            lines.join("\r\n")
        );
        assert_ne!(rewrapped, r.certificate);
        let mut body = real_body(&r);
        body["spec"]["publicKey"] = B64.encode(rewrapped).into();
        bind_real("v1.7.0", &body, None).unwrap();
    }

    #[test]
    fn a_verifier_with_two_pem_blocks_or_no_pem_is_rejected() {
        let r = real("v1.7.0");
        for bad in [
            B64.encode(format!("{}{}", r.certificate, r.certificate)),
            B64.encode("not a pem"),
            "%%% not base64".to_owned(),
        ] {
            let mut body = real_body(&r);
            body["spec"]["publicKey"] = bad.into();
            let e = bind_real("v1.7.0", &body, None).unwrap_err();
            assert!(
                matches!(
                    e,
                    BundleError::EntryMismatch {
                        field: "spec.publicKey",
                        ..
                    }
                ),
                "{e:?}"
            );
        }
    }

    #[test]
    fn a_hash_of_another_algorithm_is_rejected_even_with_the_same_value() {
        let r = real("v2.0.0");
        let mut body = real_body(&r);
        body["spec"]["payloadHash"]["algorithm"] = "sha512".into();
        let e = bind_real("v2.0.0", &body, None).unwrap_err();
        assert!(
            matches!(
                e,
                BundleError::EntryMismatch {
                    field: "spec.payloadHash",
                    ..
                }
            ),
            "{e:?}"
        );
    }

    #[test]
    fn an_uppercase_hex_hash_is_the_same_hash() {
        let r = real("v2.0.0");
        let mut body = real_body(&r);
        let upper = body["spec"]["envelopeHash"]["value"]
            .as_str()
            .unwrap()
            .to_ascii_uppercase();
        body["spec"]["envelopeHash"]["value"] = upper.into();
        bind_real("v2.0.0", &body, None).unwrap();
    }

    #[test]
    fn a_dsse_entry_with_the_signature_under_another_verifier_is_rejected() {
        // Signature and verifier must be one pair: a second logged pair whose
        // verifier is ours but whose signature is another does not do.
        let r = real("v2.0.0");
        let mut body = real_body(&r);
        let real_pair = body["spec"]["signatures"][0].clone();
        let other_cert = B64.encode(real("v1.7.0").certificate);
        body["spec"]["signatures"] = serde_json::json!([
            {"signature": real_pair["signature"], "verifier": other_cert},
            {"signature": B64.encode([7u8; 70]), "verifier": real_pair["verifier"]},
        ]);
        let e = bind_real("v2.0.0", &body, None).unwrap_err();
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
        // With the real pair among them it binds.
        body["spec"]["signatures"]
            .as_array_mut()
            .unwrap()
            .push(real_pair);
        bind_real("v2.0.0", &body, None).unwrap();
    }

    #[test]
    fn a_body_missing_a_field_is_malformed_not_a_pass() {
        for (v, pointer) in [
            ("v1.7.0", "/spec/content"),
            ("v1.7.0", "/spec/publicKey"),
            ("v2.0.0", "/spec/envelopeHash"),
            ("v2.0.0", "/spec/signatures"),
        ] {
            let mut body = real_body(&real(v));
            let (parent, key) = pointer.rsplit_once('/').unwrap();
            body.pointer_mut(parent)
                .unwrap()
                .as_object_mut()
                .unwrap()
                .remove(key);
            let e = bind_real(v, &body, None).unwrap_err();
            assert!(
                matches!(e, BundleError::MalformedBundle { .. }),
                "{v} {pointer}: {e:?}"
            );
        }
        for junk in [&b""[..], b"{}", b"null", b"[]", &[0xff; 4]] {
            let (envelope, payload, signature, leaf) = expectation_parts("v2.0.0");
            let e = bind_dsse_entry(
                junk,
                &DsseEntryExpectation {
                    envelope: &envelope,
                    payload_type: "application/vnd.in-toto+json",
                    payload: &payload,
                    signature: &signature,
                    verifier_der: &leaf,
                },
            )
            .unwrap_err();
            assert!(matches!(e, BundleError::MalformedBundle { .. }), "{e:?}");
        }
    }

    #[test]
    fn an_intoto_v002_signature_must_be_base64_twice() {
        let k = keyed();
        let body = keyed_body(&k, "intoto", "0.0.2");
        let key = k.key.public_der();
        let env: serde_json::Value = serde_json::from_slice(&k.envelope).unwrap();
        let payload = B64.decode(env["payload"].as_str().unwrap()).unwrap();
        let want = DsseEntryExpectation {
            envelope: &k.envelope,
            payload_type: "application/vnd.in-toto+json",
            payload: &payload,
            signature: &k.signature,
            verifier_der: &key,
        };
        bind_dsse_entry(body.to_string().as_bytes(), &want).unwrap();
        let mut once = body.clone();
        once["spec"]["content"]["envelope"]["signatures"][0]["sig"] =
            env["signatures"][0]["sig"].clone();
        let e = bind_dsse_entry(once.to_string().as_bytes(), &want).unwrap_err();
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
}

//! A property over whole layouts: two valid images, A and B (different
//! digests, one signing key, as DHI signs every image with one key), in one
//! layout. Changing any single byte of any object, or moving A's
//! attestations and signatures onto B, never makes a failing verification
//! pass, and a pass always approves exactly the digest that was asked for,
//! with every counted attestation about that image's own platform manifest.
//!
//! Deterministic: the byte positions come from a fixed-seed xorshift, and
//! every object of the layout is covered (each blob's first, middle and last
//! byte; `index.json` at those and 40 sampled positions). Hex and decimal
//! digits are changed into other digits, so digests and tags stay
//! well-formed and a change can retarget a tag or make two tags collide.

use std::path::{Path, PathBuf};

use dhi_verify::{Digest, Outcome, Verdict, Verifier};
use dhi_verify_testkit::{DhiImage, Fixture, PredicateKind};
use serde_json::{json, Value};
use tempfile::TempDir;

use crate::util::{block_on, verifier};

/// A small deterministic generator (xorshift64).
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

/// Image B: another image signed by the same key. Its tag differs from A's
/// ("3.13") in one byte, so that a one-byte change of `index.json` can make
/// the two tags collide.
fn image_b(kinds: &[PredicateKind]) -> DhiImage {
    let mut b = DhiImage::python().kinds(kinds);
    b.name = "node".into();
    b.tag = "3.14".into();
    b
}

fn a_kinds() -> Vec<PredicateKind> {
    DhiImage::python().kinds
}

/// What was asked for, and the digests a pass may name.
struct Target {
    reference: String,
    /// The index the reference names (in the unmodified layout).
    index: Digest,
    /// Its linux/amd64 platform manifest.
    platform: Digest,
}

/// Two images written side by side and merged into one layout.
struct Pair {
    _dir: TempDir,
    layout: PathBuf,
    a: Fixture,
    b: Fixture,
}

fn digest(s: &str) -> Digest {
    s.parse().unwrap()
}

fn read_index(layout: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap()
}

fn write_index(layout: &Path, index: &Value) {
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec_pretty(index).unwrap(),
    )
    .unwrap();
}

/// Writes A and B each into its own layout, then copies both into one.
fn pair(b_kinds: &[PredicateKind]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let a = DhiImage::python().write_layout(&dir.path().join("a"));
    let b = image_b(b_kinds).write_layout(&dir.path().join("b"));
    let layout = dir.path().join("ab");
    std::fs::create_dir_all(layout.join("blobs/sha256")).unwrap();
    std::fs::copy(a.dir.join("oci-layout"), layout.join("oci-layout")).unwrap();
    let mut manifests = Vec::new();
    for f in [&a, &b] {
        for e in std::fs::read_dir(f.dir.join("blobs/sha256")).unwrap() {
            let e = e.unwrap();
            std::fs::copy(e.path(), layout.join("blobs/sha256").join(e.file_name())).unwrap();
        }
        let index = read_index(&f.dir);
        manifests.extend(index["manifests"].as_array().unwrap().iter().cloned());
    }
    write_index(
        &layout,
        &json!({"schemaVersion": 2, "manifests": manifests}),
    );
    let (a, b) = (
        Fixture {
            dir: layout.clone(),
            referrers_dir: layout.clone(),
            ..a
        },
        Fixture {
            dir: layout.clone(),
            referrers_dir: layout.clone(),
            ..b
        },
    );
    Pair {
        _dir: dir,
        layout,
        a,
        b,
    }
}

fn amd64(f: &Fixture) -> Digest {
    let (_, d) = f
        .platforms
        .iter()
        .find(|(p, _)| p == "linux/amd64")
        .unwrap();
    digest(d)
}

/// A and B, each by tag and by digest.
fn targets(p: &Pair) -> Vec<Target> {
    let mut out = Vec::new();
    for (f, tag) in [(&p.a, "3.13"), (&p.b, "3.14")] {
        let index = digest(&f.index_digest);
        let platform = amd64(f);
        out.push(Target {
            reference: format!("oci:{}:{tag}", p.layout.display()),
            index,
            platform,
        });
        out.push(Target {
            reference: format!("oci:{}@{}", p.layout.display(), f.index_digest),
            index,
            platform,
        });
    }
    out
}

/// A pass must approve the digest asked for, on its own platform, with
/// every verified attestation about that platform.
fn assert_pass_is_about(v: &Verdict, t: &Target, what: &str) {
    assert_eq!(
        v.digest(),
        &t.index,
        "{what}: {} passed approving another digest",
        t.reference
    );
    for p in &v.platforms {
        assert_eq!(
            p.digest, t.platform,
            "{what}: {} passed with another platform manifest",
            t.reference
        );
    }
    for a in v.verified_attestations() {
        assert_eq!(
            a.subject(),
            &t.platform,
            "{what}: {} counted an attestation about another manifest",
            t.reference
        );
    }
}

/// Verifies every target; returns which passed. A pass is checked with
/// [`assert_pass_is_about`]; an `Err` must be "could not check" (exit 3).
fn verify_all(v: &Verifier, targets: &[Target], what: &str) -> Vec<bool> {
    targets
        .iter()
        .map(|t| match block_on(v.verify(&t.reference)) {
            Ok(verdict) if verdict.outcome == Outcome::Pass => {
                assert_pass_is_about(&verdict, t, what);
                true
            }
            Ok(_) => false,
            Err(e) => {
                assert_eq!(
                    e.class(),
                    dhi_verify::ErrorClass::Error,
                    "{what}: {}: {e}",
                    t.reference
                );
                false
            }
        })
        .collect()
}

/// Positions to change in an object of `len` bytes: first, middle, last and
/// `extra` sampled ones.
fn positions(len: usize, extra: usize, rng: &mut Rng) -> Vec<usize> {
    let mut at = vec![0, len / 2, len.saturating_sub(1)];
    at.extend((0..extra).map(|_| (rng.next() as usize) % len.max(1)));
    at.sort_unstable();
    at.dedup();
    at
}

/// A byte that differs from `b`: a hex digit becomes the next one (so
/// digests stay well-formed), a decimal digit the next one, anything else
/// has its low bit flipped.
fn changed(b: u8, rng: &mut Rng) -> u8 {
    match b {
        b'0'..=b'8' | b'a'..=b'e' => b + 1,
        b'9' => b'a',
        b'f' => b'0',
        _ => b ^ (1 << (rng.next() % 8)),
    }
}

#[test]
fn no_single_byte_change_of_any_object_makes_a_failure_pass_or_a_pass_name_another_image() {
    let p = pair(&a_kinds());
    let targets = targets(&p);
    let v = verifier(&DhiImage::python());
    // Both images pass as themselves, by tag and by digest.
    assert_eq!(
        verify_all(&v, &targets, "unchanged"),
        [true, true, true, true]
    );
    let mut rng = Rng(0x2545_F491_4F6C_DD1D);
    let mut objects: Vec<PathBuf> = std::fs::read_dir(p.layout.join("blobs/sha256"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    objects.sort();
    objects.push(p.layout.join("index.json"));
    let mut changes = 0;
    for path in &objects {
        let original = std::fs::read(path).unwrap();
        let is_index = path.ends_with("index.json");
        // index.json: sampled positions, every target each time. A blob:
        // its first, middle and last byte, one target each, in turn (a blob
        // that no longer matches its name fails every image of the layout,
        // which `bad_input` shows; here the point is that none passes).
        let extra = if is_index { 40 } else { 0 };
        let mut at_positions = positions(original.len(), extra, &mut rng);
        if is_index {
            // Every byte of both tags: "3.13" → "3.14" makes A's tag B's.
            for tag in [&b"\"3.13\""[..], &b"\"3.14\""[..]] {
                let start = original.windows(tag.len()).position(|w| w == tag).unwrap();
                at_positions.extend(start + 1..start + tag.len() - 1);
            }
        }
        for at in at_positions {
            let mut bytes = original.clone();
            bytes[at] = changed(bytes[at], &mut rng);
            std::fs::write(path, &bytes).unwrap();
            let what = format!("byte {at} of {}", path.display());
            if is_index {
                verify_all(&v, &targets, &what);
            } else {
                let t = &targets[changes % targets.len()];
                assert_eq!(
                    verify_all(&v, std::slice::from_ref(t), &what),
                    [false],
                    "{what}"
                );
            }
            changes += 1;
        }
        std::fs::write(path, &original).unwrap();
    }
    assert!(changes >= 2 * objects.len(), "{changes}");
    eprintln!(
        "{changes} single-byte changes over {} objects",
        objects.len()
    );
    assert_eq!(
        verify_all(&v, &targets, "restored"),
        [true, true, true, true]
    );
}

/// `index.json` entries whose tag is `tag`.
fn retag(layout: &Path, from: &str, to: &str) {
    let mut index = read_index(layout);
    for m in index["manifests"].as_array_mut().unwrap() {
        let name = &mut m["annotations"]["org.opencontainers.image.ref.name"];
        if name.as_str() == Some(from) {
            *name = json!(to);
        }
    }
    write_index(layout, &index);
}

/// Writes `value` as a blob of the layout; returns its descriptor.
fn put(layout: &Path, media_type: &str, value: &Value) -> Value {
    let bytes = serde_json::to_vec(value).unwrap();
    let d = dhi_verify_testkit::layout::sha256_str(&bytes);
    std::fs::write(layout.join("blobs/sha256").join(&d[7..]), &bytes).unwrap();
    json!({"mediaType": media_type, "digest": d, "size": bytes.len()})
}

fn blob(layout: &Path, digest: &str) -> Value {
    serde_json::from_slice(&std::fs::read(layout.join("blobs/sha256").join(&digest[7..])).unwrap())
        .unwrap()
}

fn descriptor_of(layout: &Path, digest: &str, media_type: &str) -> Value {
    let len = std::fs::metadata(layout.join("blobs/sha256").join(&digest[7..]))
        .unwrap()
        .len();
    json!({"mediaType": media_type, "digest": digest, "size": len})
}

const OCI_MANIFEST: &str = "application/vnd.oci.image.manifest.v1+json";
const OCI_INDEX: &str = "application/vnd.oci.image.index.v1+json";

/// Adds an `index.json` entry tagged `tag` for the index `listing`.
fn tag_index(layout: &Path, tag: &str, listing: &[Value]) {
    let d = put(
        layout,
        OCI_INDEX,
        &json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": listing}),
    );
    let mut index = read_index(layout);
    let mut entry = d;
    entry["annotations"] = json!({"org.opencontainers.image.ref.name": tag});
    index["manifests"].as_array_mut().unwrap().push(entry);
    write_index(layout, &index);
}

/// Each of A's attestations (with its signature) moved onto B's platform
/// manifest in a way that keeps every digest valid. B carries no
/// attestation of its own, so any pass of B would be A's evidence counted
/// for B.
#[test]
fn attestations_and_signatures_of_a_moved_onto_b_never_make_b_pass() {
    type Attack = fn(&Pair);
    let attacks: [(&str, Attack); 5] = [
        ("A's referrers listing tagged as B's", |p| {
            let a_hex = &amd64(&p.a).to_string()[7..];
            let b_hex = &amd64(&p.b).to_string()[7..];
            let mut index = read_index(&p.layout);
            let copy: Vec<Value> = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .filter(|m| {
                    m["annotations"]["org.opencontainers.image.ref.name"]
                        == format!("sha256-{a_hex}").as_str()
                })
                .cloned()
                .map(|mut m| {
                    m["annotations"]["org.opencontainers.image.ref.name"] =
                        json!(format!("sha256-{b_hex}"));
                    m
                })
                .collect();
            assert!(!copy.is_empty());
            index["manifests"].as_array_mut().unwrap().extend(copy);
            write_index(&p.layout, &index);
        }),
        (
            "A's attestation manifests re-pointed at B, signatures re-pointed at them",
            |p| {
                let b_platform = descriptor_of(&p.layout, &amd64(&p.b).to_string(), OCI_MANIFEST);
                let mut listing = Vec::new();
                for info in
                    p.a.attestations
                        .iter()
                        .filter(|i| i.platform == "linux/amd64")
                {
                    let mut m = blob(&p.layout, &info.manifest_digest);
                    m["subject"] = b_platform.clone();
                    let mut d = put(&p.layout, OCI_MANIFEST, &m);
                    d["artifactType"] = m["artifactType"].clone();
                    d["annotations"] = m["annotations"].clone();
                    if let Some(sig) = &info.signature_digest {
                        let mut s = blob(&p.layout, sig);
                        s["subject"] = json!({"mediaType": OCI_MANIFEST, "digest": d["digest"], "size": d["size"]});
                        let sd = put(&p.layout, OCI_MANIFEST, &s);
                        let mut sd = sd;
                        sd["artifactType"] = s["artifactType"].clone();
                        let hex = d["digest"].as_str().unwrap()[7..].to_owned();
                        tag_index(&p.layout, &format!("sha256-{hex}"), &[sd]);
                    }
                    listing.push(d);
                }
                let b_hex = &amd64(&p.b).to_string()[7..];
                tag_index(&p.layout, &format!("sha256-{b_hex}"), &listing);
            },
        ),
        ("A's attestation manifests listed under B unchanged", |p| {
            let listing: Vec<Value> =
                p.a.attestations
                    .iter()
                    .filter(|i| i.platform == "linux/amd64")
                    .map(|i| {
                        let m = blob(&p.layout, &i.manifest_digest);
                        let mut d = descriptor_of(&p.layout, &i.manifest_digest, OCI_MANIFEST);
                        d["artifactType"] = m["artifactType"].clone();
                        d["annotations"] = m["annotations"].clone();
                        d
                    })
                    .collect();
            let b_hex = &amd64(&p.b).to_string()[7..];
            tag_index(&p.layout, &format!("sha256-{b_hex}"), &listing);
        }),
        (
            "B's index listing A's attestation manifests as BuildKit attestations",
            |p| {
                let mut b_index = blob(&p.layout, &p.b.index_digest);
                for i in
                    p.a.attestations
                        .iter()
                        .filter(|i| i.platform == "linux/amd64")
                {
                    let mut d = descriptor_of(&p.layout, &i.manifest_digest, OCI_MANIFEST);
                    d["platform"] = json!({"os": "unknown", "architecture": "unknown"});
                    d["annotations"] = json!({"vnd.docker.reference.type": "attestation-manifest",
                                          "vnd.docker.reference.digest": amd64(&p.b).to_string()});
                    b_index["manifests"].as_array_mut().unwrap().push(d);
                }
                let d = put(&p.layout, OCI_INDEX, &b_index);
                // The tag moves to the new index; the target's digest is the
                // new one (asked for by tag), see below.
                let mut index = read_index(&p.layout);
                for m in index["manifests"].as_array_mut().unwrap() {
                    if m["annotations"]["org.opencontainers.image.ref.name"] == "3.14" {
                        m["digest"] = d["digest"].clone();
                        m["size"] = d["size"].clone();
                    }
                }
                write_index(&p.layout, &index);
            },
        ),
        ("B's tag moved onto A's index", |p| {
            retag(&p.layout, "3.14", "moved-away");
            let mut index = read_index(&p.layout);
            let mut a_entry = index["manifests"]
                .as_array()
                .unwrap()
                .iter()
                .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == "3.13")
                .cloned()
                .unwrap();
            a_entry["annotations"]["org.opencontainers.image.ref.name"] = json!("3.14");
            index["manifests"].as_array_mut().unwrap().push(a_entry);
            write_index(&p.layout, &index);
        }),
    ];
    let v = verifier(&DhiImage::python());
    for (name, attack) in attacks {
        // B as written carries no attestations: it fails before the attack.
        let p = pair(&[]);
        let b_by_digest = Target {
            reference: format!("oci:{}@{}", p.layout.display(), p.b.index_digest),
            index: digest(&p.b.index_digest),
            platform: amd64(&p.b),
        };
        let b_by_tag = || format!("oci:{}:3.14", p.layout.display());
        let before = block_on(v.verify(&b_by_tag())).unwrap();
        assert_eq!(before.outcome, Outcome::Fail, "{name}: B before the attack");
        attack(&p);
        // A still passes as itself.
        let a = Target {
            reference: format!("oci:{}:3.13", p.layout.display()),
            index: digest(&p.a.index_digest),
            platform: amd64(&p.a),
        };
        assert_eq!(verify_all(&v, &[a], name), [true], "{name}: A");
        // B by digest never passes.
        assert_eq!(verify_all(&v, &[b_by_digest], name), [false], "{name}: B");
        // B by tag: if the tag now names A's index, a pass must approve A's
        // digest (the verdict names what was verified, never what was hoped).
        match block_on(v.verify(&b_by_tag())) {
            Ok(verdict) if verdict.outcome == Outcome::Pass => {
                assert_eq!(
                    verdict.digest(),
                    &digest(&p.a.index_digest),
                    "{name}: B's tag passed for another digest"
                );
                assert_eq!(name, "B's tag moved onto A's index");
            }
            Ok(_) => {}
            Err(e) => assert_eq!(e.class(), dhi_verify::ErrorClass::Error, "{name}: {e}"),
        }
    }
}

//! Reading manifests from text (spans, lines, documents, limits) and pinning
//! them, against the public manifests in `testdata/deploy/`.

use super::*;
use crate::Digest;
use ContainerKind::{ComposeService as Svc, Container as Ctr, Ephemeral as Eph, Init};

fn testdata(name: &str) -> String {
    let path = format!(
        "{}/../../testdata/deploy/{name}",
        env!("CARGO_MANIFEST_DIR")
    );
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// (pointer, document, container kind, line, image) of every use.
type Expected = &'static [(&'static str, usize, ContainerKind, usize, &'static str)];

const PINNED_CONTROLLER: &str = "registry.k8s.io/ingress-nginx/controller:v1.3.0@sha256:d1707ca76d3b044ab8a28277a2466a02100ee9f58a86af1535a3edf9323ea1b5";
const PINNED_CERTGEN: &str = "registry.k8s.io/ingress-nginx/kube-webhook-certgen:v1.1.1@sha256:64d8c73dca984af206adf9d6d7e46aa550362b1d7a01f3a0a91b20cc67868660";

/// Every testdata file, what it uses and what it skips.
fn cases() -> Vec<(&'static str, Expected, &'static [&'static str])> {
    vec![
        (
            "k8s-deployment-sidecar.yaml",
            &[
                (
                    "/spec/template/spec/initContainers/0/image",
                    0,
                    Init,
                    26,
                    "alpine:latest",
                ),
                (
                    "/spec/template/spec/containers/0/image",
                    0,
                    Ctr,
                    19,
                    "alpine:latest",
                ),
            ],
            &[],
        ),
        (
            "k8s-cronjob.yaml",
            &[(
                "/spec/jobTemplate/spec/template/spec/containers/0/image",
                0,
                Ctr,
                13,
                "busybox",
            )],
            &[],
        ),
        (
            "k8s-mysql-statefulset.yaml",
            &[
                (
                    "/spec/template/spec/initContainers/0/image",
                    0,
                    Init,
                    18,
                    "mysql:5.7",
                ),
                (
                    "/spec/template/spec/initContainers/1/image",
                    0,
                    Init,
                    42,
                    "gcr.io/google-samples/xtrabackup:1.0",
                ),
                (
                    "/spec/template/spec/containers/0/image",
                    0,
                    Ctr,
                    66,
                    "mysql:5.7",
                ),
                (
                    "/spec/template/spec/containers/1/image",
                    0,
                    Ctr,
                    97,
                    "gcr.io/google-samples/xtrabackup:1.0",
                ),
            ],
            &[],
        ),
        (
            "k8s-wordpress-mysql.yaml",
            &[(
                "/spec/template/spec/containers/0/image",
                2,
                Ctr,
                48,
                "mysql:8.0",
            )],
            &["Service", "PersistentVolumeClaim"],
        ),
        (
            "ingress-nginx-kind-1.24.yaml",
            &[
                (
                    "/spec/template/spec/containers/0/image",
                    14,
                    Ctr,
                    442,
                    PINNED_CONTROLLER,
                ),
                (
                    "/spec/template/spec/containers/0/image",
                    15,
                    Ctr,
                    549,
                    PINNED_CERTGEN,
                ),
                (
                    "/spec/template/spec/containers/0/image",
                    16,
                    Ctr,
                    598,
                    PINNED_CERTGEN,
                ),
            ],
            &[
                "Namespace",
                "ServiceAccount",
                "ServiceAccount",
                "Role",
                "Role",
                "ClusterRole",
                "ClusterRole",
                "RoleBinding",
                "RoleBinding",
                "ClusterRoleBinding",
                "ClusterRoleBinding",
                "ConfigMap",
                "Service",
                "Service",
                "IngressClass",
                "ValidatingWebhookConfiguration",
            ],
        ),
        (
            "helm-template-podinfo.yaml",
            &[
                (
                    "/spec/template/spec/containers/0/image",
                    2,
                    Ctr,
                    51,
                    "ghcr.io/stefanprodan/podinfo:6.5.4",
                ),
                (
                    "/spec/containers/0/image",
                    3,
                    Ctr,
                    75,
                    "curlimages/curl:7.69.0",
                ),
            ],
            &["Service"],
        ),
        (
            "k8s-list.yaml",
            &[
                (
                    "/items/0/spec/initContainers/0/image",
                    0,
                    Init,
                    21,
                    "busybox:1.28",
                ),
                (
                    "/items/0/spec/initContainers/1/image",
                    0,
                    Init,
                    24,
                    "busybox:1.28",
                ),
                (
                    "/items/0/spec/containers/0/image",
                    0,
                    Ctr,
                    17,
                    "busybox:1.28",
                ),
                (
                    "/items/0/spec/ephemeralContainers/0/image",
                    0,
                    Eph,
                    28,
                    "docker.io/library/busybox:1.36",
                ),
                (
                    "/items/2/spec/jobTemplate/spec/template/spec/containers/0/image",
                    0,
                    Ctr,
                    49,
                    "busybox:1.28",
                ),
            ],
            &["ConfigMap"],
        ),
        (
            "k8s-list.json",
            &[(
                "/items/0/spec/template/spec/containers/0/image",
                0,
                Ctr,
                30,
                "nginx:1.14.2",
            )],
            &["Service"],
        ),
        (
            "compose-react-express-mongodb.yaml",
            &[("/services/mongo/image", 0, Svc, 35, "mongo:4.2.0")],
            &["compose build: frontend", "compose build: backend"],
        ),
        (
            "compose-anchors.yaml",
            &[
                ("/services/api/image", 0, Svc, 3, "dhi.io/python:3.13"),
                ("/services/worker/image", 0, Svc, 3, "dhi.io/python:3.13"),
                ("/services/cache/image", 0, Svc, 14, "redis:7.4-alpine"),
                (
                    "/services/proxy/image",
                    0,
                    Svc,
                    16,
                    "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
                ),
            ],
            &[],
        ),
    ]
}

fn summary(found: &Workload) -> Vec<(&str, usize, ContainerKind, usize, &str)> {
    found
        .uses
        .iter()
        .map(|u| {
            (
                u.pointer.as_str(),
                u.document,
                u.container_kind,
                u.line.unwrap(),
                u.image.as_str(),
            )
        })
        .collect()
}

/// The 1-based line of byte `at`, counted independently of the parser.
fn line_at(text: &str, at: usize) -> usize {
    text[..at].matches('\n').count() + 1
}

/// Asserts each use's span holds the image as written (bare or quoted) on its line.
fn assert_spans_round_trip(name: &str, text: &str, found: &Workload) {
    for u in &found.uses {
        let span = u.span.clone().unwrap();
        let written = &text[span.clone()];
        assert!(
            written == u.image
                || written == format!("\"{}\"", u.image)
                || written == format!("'{}'", u.image),
            "{name} {}: span holds {written:?}, image {:?}",
            u.pointer,
            u.image
        );
        assert_eq!(
            line_at(text, span.start),
            u.line.unwrap(),
            "{name} {}",
            u.pointer
        );
        assert_eq!(u.file.as_deref(), Some(name));
    }
}

#[test]
fn every_testdata_manifest_yields_its_images_with_lines_and_spans() {
    for (name, expected, skipped) in cases() {
        let text = testdata(name);
        let found = read_manifests(name, &text).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(summary(&found), expected.to_vec(), "{name}");
        assert_eq!(found.skipped, skipped.to_vec(), "{name}");
        assert_spans_round_trip(name, &text, &found);
    }
}

#[test]
fn reading_text_finds_what_reading_the_parsed_object_finds() {
    let text = testdata("k8s-list.json");
    let object: serde_json::Value = serde_json::from_str(&text).unwrap();
    let from_object = images_in_object(&object).unwrap();
    let from_text = read_manifests("k8s-list.json", &text).unwrap();
    let strip = |w: &Workload| {
        w.uses
            .iter()
            .map(|u| {
                (
                    u.pointer.clone(),
                    u.image.clone(),
                    u.container_kind,
                    u.name.clone(),
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(strip(&from_object), strip(&from_text));
    assert_eq!(from_object.skipped, from_text.skipped);
}

/// The expected pin output built independently: each use's span replaced
/// by the pinned image in the same quoting.
fn substituted(text: &str, uses: &[&ImageUse], digest: &Digest) -> String {
    let mut uses = uses.to_vec();
    uses.sort_by_key(|u| u.span.as_ref().unwrap().start);
    uses.dedup_by_key(|u| u.span.as_ref().unwrap().start);
    let mut out = text.to_owned();
    for u in uses.iter().rev() {
        let span = u.span.clone().unwrap();
        let written = &text[span.clone()];
        let quote = &written[..written.len() - u.image.len()];
        let quote = &quote[..quote.len() / 2];
        out.replace_range(span, &format!("{quote}{}@{digest}{quote}", u.image));
    }
    out
}

fn has_digest(image: &str) -> bool {
    image.contains("@sha256:")
}

#[test]
fn pinning_rewrites_only_the_image_scalars_and_reads_back_pinned() {
    let digest = Digest::of(b"verified");
    for (name, _, _) in cases() {
        if name == "compose-anchors.yaml" {
            continue; // shared anchor: see its own test
        }
        let text = testdata(name);
        let found = read_manifests(name, &text).unwrap();
        let pins: Vec<(&ImageUse, &Digest)> = found.uses.iter().map(|u| (u, &digest)).collect();
        let pinned = pin(&text, &pins).unwrap_or_else(|e| panic!("{name}: {e}"));
        let to_pin: Vec<&ImageUse> = found
            .uses
            .iter()
            .filter(|u| !has_digest(&u.image))
            .collect();
        assert_eq!(pinned, substituted(&text, &to_pin, &digest), "{name}");

        // Line by line: only lines holding a pinned image differ.
        let image_lines: Vec<usize> = to_pin.iter().map(|u| u.line.unwrap()).collect();
        assert_eq!(text.lines().count(), pinned.lines().count(), "{name}");
        for (i, (before, after)) in text.lines().zip(pinned.lines()).enumerate() {
            assert_eq!(
                before != after,
                image_lines.contains(&(i + 1)),
                "{name} line {}",
                i + 1
            );
        }

        let again = read_manifests(name, &pinned).unwrap();
        assert_eq!(again.uses.len(), found.uses.len(), "{name}");
        for (before, after) in found.uses.iter().zip(&again.uses) {
            let expected = if has_digest(&before.image) {
                before.image.clone()
            } else {
                format!("{}@{digest}", before.image)
            };
            assert_eq!(
                (&after.pointer, after.line, &after.image),
                (&before.pointer, before.line, &expected),
                "{name}"
            );
        }
        assert_spans_round_trip(name, &pinned, &again);
    }
}

#[test]
fn pinned_json_stays_json() {
    let text = testdata("k8s-list.json");
    let found = read_manifests("k8s-list.json", &text).unwrap();
    let digest = Digest::of(b"nginx");
    let pinned = pin(&text, &[(&found.uses[0], &digest)]).unwrap();
    let value: serde_json::Value = serde_json::from_str(&pinned).unwrap();
    assert_eq!(
        value["items"][0]["spec"]["template"]["spec"]["containers"][0]["image"],
        format!("nginx:1.14.2@{digest}")
    );
}

#[test]
fn an_image_shared_through_an_anchor_is_refused_and_the_others_pinned() {
    let text = testdata("compose-anchors.yaml");
    let found = read_manifests("compose-anchors.yaml", &text).unwrap();
    let digest = Digest::of(b"python");
    let api = &found.uses[0];
    assert_eq!(
        pin(&text, &[(api, &digest)]),
        Err(PinError::SharedAnchor {
            line: 3,
            anchor_line: 2,
            pointer: "/services/api/image".to_owned()
        })
    );
    let cache = &found.uses[2];
    let proxy = &found.uses[3];
    let pinned = pin(&text, &[(cache, &digest), (proxy, &digest)]).unwrap();
    assert_eq!(
        pinned,
        text.replace(
            "'redis:7.4-alpine'",
            &format!("'redis:7.4-alpine@{digest}'")
        )
    );
    assert!(pinned.contains("x-service: &service\n  image: \"dhi.io/python:3.13\" # shared"));
}

#[test]
fn an_alias_image_is_read_at_its_anchor_and_not_pinned() {
    let text = "kind: Pod\nspec:\n  initContainers:\n  - name: a\n    image: &img dhi.io/node:22\n  containers:\n  - name: b\n    image: *img\n";
    let found = read_manifests("pod.yaml", text).unwrap();
    assert_eq!(found.uses.len(), 2);
    assert_eq!(&text[found.uses[1].span.clone().unwrap()], "dhi.io/node:22");
    let digest = Digest::of(b"node");
    for u in &found.uses {
        assert!(matches!(
            pin(text, &[(u, &digest)]),
            Err(PinError::SharedAnchor { line: 5, .. })
        ));
    }
}

#[test]
fn an_anchored_image_no_alias_uses_is_pinned_keeping_its_anchor_and_tag() {
    let text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: &img !!str dhi.io/node:22 # node\n";
    let found = read_manifests("pod.yaml", text).unwrap();
    assert_eq!(&text[found.uses[0].span.clone().unwrap()], "dhi.io/node:22");
    let digest = Digest::of(b"node");
    let pinned = pin(text, &[(&found.uses[0], &digest)]).unwrap();
    assert_eq!(
        pinned,
        format!("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: &img !!str dhi.io/node:22@{digest} # node\n")
    );
}

#[test]
fn a_block_scalar_image_is_read_but_not_pinned() {
    let text =
        "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: >-\n      dhi.io/node:22\n";
    let found = read_manifests("pod.yaml", text).unwrap();
    assert_eq!(found.uses[0].image, "dhi.io/node:22");
    assert_eq!(
        pin(text, &[(&found.uses[0], &Digest::of(b"x"))]),
        Err(PinError::BlockScalar {
            line: 6,
            pointer: "/spec/containers/0/image".to_owned()
        })
    );
}

#[test]
fn a_span_that_no_longer_holds_the_image_is_stale() {
    let text = testdata("k8s-cronjob.yaml");
    let found = read_manifests("k8s-cronjob.yaml", &text).unwrap();
    let edited = text.replace("image: busybox", "image: busybox:1.37");
    let err = pin(&edited, &[(&found.uses[0], &Digest::of(b"x"))]).unwrap_err();
    assert!(
        matches!(&err, PinError::Stale { expected, found, .. } if expected == "busybox" && found.contains("busybox:1.37")),
        "{err}"
    );
    let shifted = format!("# a comment added above\n{text}");
    assert!(matches!(
        pin(&shifted, &[(&found.uses[0], &Digest::of(b"x"))]),
        Err(PinError::Stale { .. })
    ));
}

#[test]
fn one_scalar_pinned_to_two_digests_is_a_conflict_and_to_one_is_one_edit() {
    let text = testdata("k8s-cronjob.yaml");
    let found = read_manifests("k8s-cronjob.yaml", &text).unwrap();
    let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
    let u = &found.uses[0];
    assert_eq!(
        pin(&text, &[(u, &a), (u, &b)]),
        Err(PinError::Conflict {
            line: 13,
            first: a,
            second: b
        })
    );
    assert_eq!(
        pin(&text, &[(u, &a), (u, &a)]).unwrap(),
        text.replace("image: busybox", &format!("image: busybox@{a}"))
    );
}

#[test]
fn an_image_use_without_a_span_cannot_be_pinned() {
    let object = serde_json::json!({"kind": "Pod", "spec": {"containers": [{"name": "a", "image": "nginx"}]}});
    let found = images_in_object(&object).unwrap();
    assert!(matches!(
        pin("{}", &[(&found.uses[0], &Digest::of(b"x"))]),
        Err(PinError::NoPosition { .. })
    ));
}

#[test]
fn a_yaml_syntax_error_names_file_document_and_line() {
    let text = "kind: Pod\nspec: {}\n---\n# second\nkind: Pod\nspec:\n  containers:\n  - name: a\n     image: x\n";
    let err = read_manifests("deploy/app.yaml", text).unwrap_err();
    assert_eq!(
        (err.file.as_str(), err.document, err.line),
        ("deploy/app.yaml", 1, 9)
    );
    assert!(matches!(err.kind, ManifestErrorKind::Syntax(_)));
    assert!(
        err.to_string()
            .starts_with("deploy/app.yaml: document 2, line 9: YAML syntax: "),
        "{err}"
    );
}

#[test]
fn a_workload_error_names_file_document_and_line() {
    let text = "---\nkind: Pod\nspec:\n  containers:\n  - name: a\n    image: 42\n";
    let err = read_manifests("pod.yaml", text).unwrap_err();
    assert_eq!((err.document, err.line), (0, 6));
    assert!(matches!(
        &err.kind,
        ManifestErrorKind::Workload(w) if matches!(**w, WorkloadError::Shape { found: "a number", .. })
    ));
    assert_eq!(
        err.to_string(),
        "pod.yaml: document 1, line 6: /spec/containers/0/image: expected an image string, found a number"
    );
}

#[test]
fn a_duplicate_key_is_refused() {
    let text = "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: dhi.io/node:22\n    image: evil.example/node:22\n";
    let err = read_manifests("pod.yaml", text).unwrap_err();
    assert_eq!(
        err.kind,
        ManifestErrorKind::DuplicateKey {
            key: "image".to_owned(),
            first_line: 5
        }
    );
    assert_eq!(err.line, 6);
}

#[test]
fn crlf_line_ends_are_read_and_kept_when_pinning() {
    let text = testdata("k8s-mysql-statefulset.yaml").replace('\n', "\r\n");
    let found = read_manifests("crlf.yaml", &text).unwrap();
    let lines: Vec<usize> = found.uses.iter().map(|u| u.line.unwrap()).collect();
    assert_eq!(lines, [18, 42, 66, 97]);
    assert_spans_round_trip("crlf.yaml", &text, &found);
    let digest = Digest::of(b"mysql");
    let pins: Vec<_> = found.uses.iter().map(|u| (u, &digest)).collect();
    let pinned = pin(&text, &pins).unwrap();
    let uses: Vec<&ImageUse> = found.uses.iter().collect();
    assert_eq!(pinned, substituted(&text, &uses, &digest));
    assert_eq!(pinned.matches("\r\n").count(), text.matches("\r\n").count());
}

#[test]
fn a_byte_order_mark_and_non_ascii_text_shift_byte_spans_correctly() {
    let text = "\u{feff}# café ☕ déploiement\nkind: Pod\nmetadata: {name: \"crème\"}\nspec:\n  containers:\n  - name: é\n    image: \"dhi.io/python:3.13\" # ✓\n";
    let found = read_manifests("bom.yaml", text).unwrap();
    assert_eq!(found.uses[0].line, Some(7));
    assert_eq!(found.uses[0].container, "é");
    assert_spans_round_trip("bom.yaml", text, &found);
    let digest = Digest::of(b"py");
    let pinned = pin(text, &[(&found.uses[0], &digest)]).unwrap();
    assert_eq!(pinned, text.replace("3.13\"", &format!("3.13@{digest}\"")));
}

#[test]
fn document_markers_comments_and_empty_documents() {
    let text = "# leading comment\n---\n# only a comment\n...\n---\n--- # empty, with a comment\n---\nkind: Pod # the first object\nspec:\n  containers: [{name: a, image: 'dhi.io/node:22'}]\n...\n# between\n---\nkind: Service\n...\n";
    let found = read_manifests("m.yaml", text).unwrap();
    assert_eq!(
        summary(&found),
        [("/spec/containers/0/image", 3, Ctr, 10, "dhi.io/node:22")]
    );
    assert_eq!(found.skipped, ["Service"]);
    assert_spans_round_trip("m.yaml", text, &found);
    let digest = Digest::of(b"node");
    assert_eq!(
        pin(text, &[(&found.uses[0], &digest)]).unwrap(),
        text.replace("node:22'", &format!("node:22@{digest}'"))
    );
    for empty in [
        "",
        "\n",
        "# nothing\n",
        "---\n",
        "---\n...\n",
        "--- # c\n---\n",
    ] {
        assert_eq!(
            read_manifests("e.yaml", empty),
            Ok(Workload::default()),
            "{empty:?}"
        );
    }
}

#[test]
fn merge_keys_give_a_service_its_image() {
    let text = "x-base: &base\n  image: dhi.io/node:22\nservices:\n  web:\n    <<: *base\n    build: .\n  api:\n    <<: [*base]\n    image: dhi.io/python:3.13\n";
    let found = read_manifests("compose.yaml", text).unwrap();
    let images: Vec<(&str, &str)> = found
        .uses
        .iter()
        .map(|u| (u.container.as_str(), u.image.as_str()))
        .collect();
    assert_eq!(
        images,
        [("web", "dhi.io/node:22"), ("api", "dhi.io/python:3.13")]
    );
    assert!(found.skipped.is_empty());
    let bad = "services:\n  web:\n    <<: 3\n";
    assert!(matches!(
        read_manifests("c.yaml", bad).unwrap_err().kind,
        ManifestErrorKind::InvalidMerge { found: "a number" }
    ));
}

#[test]
fn billion_laughs_is_refused_without_expanding() {
    let mut text = String::from("a0: &a0 [\"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\", \"lol\"]\n");
    for i in 1..10 {
        let p = i - 1;
        text.push_str(&format!(
            "a{i}: &a{i} [*a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}, *a{p}]\n"
        ));
    }
    text.push_str("kind: List\nitems: *a9\n");
    let started = std::time::Instant::now();
    let err = read_manifests("lol.yaml", &text).unwrap_err();
    assert_eq!(
        err.kind,
        ManifestErrorKind::ExcessiveAliasing { limit: 1_000_000 }
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(2));
}

#[test]
fn nested_lists_of_aliased_lists_stay_within_the_expansion_limit() {
    // A List whose items are Lists by alias: the walk would visit each copy.
    let mut text = String::from("l0: &l0 {kind: List, items: [{kind: Pod, spec: {containers: [{name: a, image: nginx}]}}]}\n");
    for i in 1..8 {
        let p = i - 1;
        text.push_str(&format!("l{i}: &l{i} {{kind: List, items: [*l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}, *l{p}]}}\n"));
    }
    text.push_str("kind: List\nitems: [*l7, *l7, *l7, *l7, *l7, *l7, *l7, *l7]\n");
    assert!(matches!(
        read_manifests("lists.yaml", &text).unwrap_err().kind,
        ManifestErrorKind::ExcessiveAliasing { .. }
    ));
}

#[test]
fn deep_nesting_is_an_error_not_a_crash() {
    let flow = format!("a: {}", "[".repeat(100_000));
    assert!(read_manifests("flow.yaml", &flow).is_err());
    let block: String = (0..5_000)
        .map(|i| format!("{}k:\n", " ".repeat(i)))
        .collect();
    let err = read_manifests("block.yaml", &block).unwrap_err();
    assert_eq!(err.kind, ManifestErrorKind::TooDeep { limit: 128 });
    let seq = format!("{}x\n", "- ".repeat(5_000));
    assert_eq!(
        read_manifests("seq.yaml", &seq).unwrap_err().kind,
        ManifestErrorKind::TooDeep { limit: 128 }
    );
}

#[test]
fn a_recursive_alias_is_refused() {
    for text in ["a: &a [*a]\n", "a: &a {b: *a}\n"] {
        let err = read_manifests("r.yaml", text).unwrap_err();
        assert!(
            matches!(
                err.kind,
                ManifestErrorKind::UnresolvedAlias | ManifestErrorKind::Syntax(_)
            ),
            "{err}"
        );
    }
}

#[test]
fn limits_are_enforced_at_limit_plus_one() {
    let doc = "kind: Pod\nspec:\n  containers: [{name: a, image: nginx}]\n";
    let limits = ManifestLimits {
        max_documents: 3,
        ..ManifestLimits::default()
    };
    let three = format!("{doc}---\n{doc}---\n{doc}");
    assert_eq!(
        read_manifests_with("f", &three, &limits)
            .unwrap()
            .uses
            .len(),
        3
    );
    let four = format!("{three}---\n{doc}");
    let err = read_manifests_with("f", &four, &limits).unwrap_err();
    assert_eq!(
        (err.kind, err.document),
        (ManifestErrorKind::TooManyDocuments { limit: 3 }, 3)
    );

    let limits = ManifestLimits {
        max_bytes: doc.len(),
        ..ManifestLimits::default()
    };
    assert!(read_manifests_with("f", doc, &limits).is_ok());
    let longer = format!("{doc}\n");
    assert_eq!(
        read_manifests_with("f", &longer, &limits).unwrap_err().kind,
        ManifestErrorKind::TooLarge {
            limit: doc.len(),
            found: doc.len() + 1
        }
    );
}

#[test]
fn plain_scalars_are_typed_as_kubernetes_reads_them() {
    for (image, found) in [
        ("true", "a boolean"),
        ("0x1F", "a number"),
        ("1.5e3", "a number"),
        ("~", ""),
    ] {
        let text = format!("kind: Pod\nspec:\n  containers:\n  - name: a\n    image: {image}\n");
        let err = read_manifests("p.yaml", &text).unwrap_err();
        let ManifestErrorKind::Workload(w) = &err.kind else {
            panic!("{err}")
        };
        match &**w {
            WorkloadError::Shape { found: f, .. } => assert_eq!(*f, found, "{image}"),
            WorkloadError::MissingImage { .. } => assert_eq!(found, "", "{image}"),
            other => panic!("{other}"),
        }
    }
    // Quoted, the same text is a string, so an image.
    let quoted = "kind: Pod\nspec:\n  containers:\n  - name: a\n    image: \"1.5\"\n";
    assert_eq!(
        read_manifests("p.yaml", quoted).unwrap().uses[0].image,
        "1.5"
    );
}

#[test]
fn services_merging_a_large_mapping_are_read_in_linear_time() {
    let mut text = String::from("x-env: &env\n");
    for i in 0..10_000 {
        text.push_str(&format!("  k{i}: v\n"));
    }
    text.push_str("services:\n");
    for s in 0..40 {
        text.push_str(&format!(
            "  s{s}:\n    <<: *env\n    image: dhi.io/node:22\n"
        ));
    }
    let started = std::time::Instant::now();
    assert_eq!(read_manifests("c.yaml", &text).unwrap().uses.len(), 40);
    assert!(
        started.elapsed() < std::time::Duration::from_secs(3),
        "{:?}",
        started.elapsed()
    );
}

#[test]
fn tab_indented_json_is_read() {
    let text = "{\n\t\"kind\": \"Pod\",\n\t\"spec\": {\n\t\t\"containers\": [\n\t\t\t{\"name\": \"a\", \"image\": \"nginx:1.27\"}\n\t\t]\n\t}\n}\n";
    let found = read_manifests("pod.json", text).unwrap();
    assert_eq!(found.uses[0].line, Some(5));
    assert_eq!(&text[found.uses[0].span.clone().unwrap()], "\"nginx:1.27\"");
}

/// The fuzz target's properties (`fuzz/fuzz_targets/manifests.rs`) over
/// single-edit mutations of every testdata file: never a panic; spans inside
/// the text on their line; a successful pin reads back pinned.
#[test]
fn mutated_manifests_never_panic_and_keep_span_and_pin_properties() {
    const EDITS: &[&str] = &[
        "", ":", "\"", "'", "&a ", "*a", "- ", "\n", "\t", "{", "]", "#", "é", "\u{feff}", "<<: ",
        "---\n", "|\n",
    ];
    let digest = Digest::of(b"fuzz");
    for (name, _, _) in cases() {
        let text = testdata(name);
        let boundaries: Vec<usize> = text.char_indices().map(|(i, _)| i).collect();
        let step = (boundaries.len() / 16).max(1);
        for &at in boundaries.iter().step_by(step) {
            for edit in EDITS {
                let mut mutated = text.clone();
                if edit.is_empty() {
                    mutated.remove(at);
                } else {
                    mutated.insert_str(at, edit);
                }
                let Ok(found) = read_manifests(name, &mutated) else {
                    continue;
                };
                for u in &found.uses {
                    let span = u.span.clone().unwrap();
                    assert!(mutated.get(span.clone()).is_some(), "{name} @{at} {edit:?}");
                    assert_eq!(
                        u.line,
                        Some(line_at(&mutated, span.start)),
                        "{name} @{at} {edit:?}"
                    );
                }
                let pins: Vec<_> = found.uses.iter().map(|u| (u, &digest)).collect();
                if let Ok(pinned) = pin(&mutated, &pins) {
                    let again = read_manifests(name, &pinned)
                        .unwrap_or_else(|e| panic!("{name} @{at} {edit:?}: {e}"));
                    assert_eq!(again.uses.len(), found.uses.len(), "{name} @{at} {edit:?}");
                    for u in &again.uses {
                        assert!(u.image.contains("@sha256:"), "{name} @{at} {edit:?}: {u:?}");
                    }
                }
            }
        }
    }
}

#[test]
fn nesting_through_alias_chains_is_bounded_like_written_nesting() {
    // Each List holds the previous one by alias: written 3 deep, read 20 000 deep.
    let mut lists = String::from("l0: &l0 {kind: List, items: []}\n");
    let mut merges = String::from("m0: &m0 {image: nginx}\n");
    for i in 1..10_000 {
        let p = i - 1;
        lists.push_str(&format!("l{i}: &l{i} {{kind: List, items: [*l{p}]}}\n"));
        merges.push_str(&format!("m{i}: &m{i} {{<<: *m{p}}}\n"));
    }
    lists.push_str("kind: List\nitems: [*l9999]\n");
    merges.push_str("services: {web: *m9999}\n");
    for text in [lists, merges] {
        assert_eq!(
            read_manifests("chain.yaml", &text).unwrap_err().kind,
            ManifestErrorKind::TooDeep { limit: 128 }
        );
    }
}

#[test]
fn plain_images_in_flow_collections_and_escaped_json_strings_are_pinned() {
    let text = "kind: Pod\nspec: {containers: [{name: a, image: nginx:1.27}, {image: \"dhi.io\\/node:22\", name: b}]}\n";
    let found = read_manifests("flow.yaml", text).unwrap();
    assert_eq!(found.uses[1].image, "dhi.io/node:22");
    let digest = Digest::of(b"flow");
    let pins: Vec<_> = found.uses.iter().map(|u| (u, &digest)).collect();
    assert_eq!(
        pin(text, &pins).unwrap(),
        format!("kind: Pod\nspec: {{containers: [{{name: a, image: nginx:1.27@{digest}}}, {{image: \"dhi.io/node:22@{digest}\", name: b}}]}}\n")
    );
}

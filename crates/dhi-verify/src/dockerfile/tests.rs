//! The parsing rules, one sentence each, and properties over hostile input.

use std::collections::BTreeMap;

use super::*;
use crate::reference::Reference;

fn parse(text: &str) -> Result<Dockerfile, DockerfileError> {
    Dockerfile::parse(text, &BTreeMap::new())
}

fn parse_with(text: &str, args: &[(&str, &str)]) -> Result<Dockerfile, DockerfileError> {
    let args = args
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    Dockerfile::parse(text, &args)
}

fn refs(file: &Dockerfile, target: Option<&str>) -> Vec<String> {
    file.external_images(target)
        .unwrap()
        .into_iter()
        .map(|i| i.reference)
        .collect()
}

/// The image every stage starts from (whether or not the last stage needs it).
fn bases(file: &Dockerfile) -> Vec<String> {
    file.stages()
        .iter()
        .filter_map(|s| match &s.base {
            Base::Image { reference, .. } => Some(reference.clone()),
            _ => None,
        })
        .collect()
}

fn image(base: &Base) -> &str {
    match base {
        Base::Image { reference, .. } => reference,
        other => panic!("not an image: {other:?}"),
    }
}

const HEX: &str = "be3c790e0b4d8f4bbbd0e42a0a6b36d9ac9e6d9e0d7e2e8d2a6b1c7f2e3d4c5b";

fn digest() -> Digest {
    Digest::from_hex(HEX).unwrap()
}

#[test]
fn a_single_stage_file_has_one_external_image() {
    let f = parse("FROM dhi.io/python:3.13\nCMD [\"python\"]\n").unwrap();
    assert_eq!(f.stages().len(), 1);
    assert_eq!(f.stages()[0].line, 1);
    assert_eq!(f.stages()[0].name, None);
    assert_eq!(refs(&f, None), ["dhi.io/python:3.13"]);
}

#[test]
fn instructions_and_the_as_keyword_are_case_insensitive() {
    let f = parse("from dhi.io/python:3.13-dev as Build\nFrOm build aS run\n").unwrap();
    assert_eq!(f.stages()[0].name.as_deref(), Some("build"));
    assert_eq!(f.stages()[1].base, Base::Stage(0));
}

#[test]
fn a_stage_built_on_an_earlier_stage_is_not_an_external_image() {
    let f = parse("FROM alpine:3 AS base\nFROM base AS app\nFROM BASE\n").unwrap();
    assert_eq!(f.stages()[1].base, Base::Stage(0));
    assert_eq!(f.stages()[2].base, Base::Stage(0));
    assert_eq!(refs(&f, None), ["alpine:3"]);
    assert_eq!(f.root_base(2), Some(&f.stages()[0].base));
}

#[test]
fn scratch_is_no_image() {
    let f = parse("FROM scratch\nCOPY x /\n").unwrap();
    assert_eq!(f.stages()[0].base, Base::Scratch);
    assert!(refs(&f, None).is_empty());
}

#[test]
fn platform_flags_are_expanded_and_kept_with_the_base() {
    let f = parse("ARG P=linux/arm64\nFROM --platform=$P alpine:3\n").unwrap();
    assert_eq!(
        f.stages()[0].base,
        Base::Image {
            reference: "alpine:3".into(),
            platform: Some("linux/arm64".into()),
            line: 2
        }
    );
}

#[test]
fn a_platform_naming_the_builders_platform_is_left_to_the_verifier() {
    let f = parse("FROM --platform=$BUILDPLATFORM golang:1 AS build\n").unwrap();
    assert!(matches!(
        f.stages()[0].base,
        Base::Image { platform: None, .. }
    ));
    let f = parse_with(
        "FROM --platform=$BUILDPLATFORM golang:1 AS build\n",
        &[("BUILDPLATFORM", "linux/amd64")],
    )
    .unwrap();
    assert!(
        matches!(&f.stages()[0].base, Base::Image { platform: Some(p), .. } if p == "linux/amd64")
    );
}

#[test]
fn an_invalid_platform_is_an_error_naming_the_line() {
    assert!(matches!(
        parse("FROM --platform=linux alpine\n"),
        Err(DockerfileError::InvalidPlatform { line: 1, .. })
    ));
}

#[test]
fn from_takes_no_flag_but_platform() {
    assert!(matches!(
        parse("FROM --pull=always alpine\n"),
        Err(DockerfileError::UnknownFlag { line: 1, .. })
    ));
    assert!(matches!(
        parse("FROM --platform alpine\n"),
        Err(DockerfileError::MissingFlagValue { line: 1, .. })
    ));
}

#[test]
fn global_args_with_defaults_template_from_lines() {
    let text = "ARG PY=3.13\nARG REG=dhi.io\nFROM ${REG}/python:${PY}-dev AS build\nFROM $REG/python:$PY\n";
    let f = parse(text).unwrap();
    assert_eq!(bases(&f), ["dhi.io/python:3.13-dev", "dhi.io/python:3.13"]);
}

#[test]
fn build_args_override_global_arg_defaults() {
    let f = parse_with("ARG PY=3.13\nFROM dhi.io/python:$PY\n", &[("PY", "3.12")]).unwrap();
    assert_eq!(refs(&f, None), ["dhi.io/python:3.12"]);
}

#[test]
fn a_global_arg_default_can_use_earlier_global_args() {
    let f = parse("ARG V=3.13\nARG IMG=dhi.io/python:${V}\nFROM $IMG\n").unwrap();
    assert_eq!(refs(&f, None), ["dhi.io/python:3.13"]);
}

#[test]
fn default_and_alternative_substitutions_work_in_from() {
    let f = parse(
        "ARG SUFFIX\nFROM dhi.io/python:3.13${SUFFIX:+-$SUFFIX}\nFROM dhi.io/node:${NODE:-22}\n",
    )
    .unwrap();
    assert_eq!(bases(&f), ["dhi.io/python:3.13", "dhi.io/node:22"]);
    let f = parse_with(
        "ARG SUFFIX\nFROM dhi.io/python:3.13${SUFFIX:+-$SUFFIX}\n",
        &[("SUFFIX", "dev")],
    )
    .unwrap();
    assert_eq!(refs(&f, None), ["dhi.io/python:3.13-dev"]);
}

#[test]
fn an_undeclared_arg_in_from_is_an_error_naming_the_line() {
    assert_eq!(
        parse("FROM scratch AS a\nFROM dhi.io/python:$PY\n").unwrap_err(),
        DockerfileError::UndeclaredArg {
            line: 2,
            name: "PY".into()
        }
    );
}

#[test]
fn an_arg_without_default_or_build_arg_is_an_error_naming_both_lines() {
    assert_eq!(
        parse("ARG PY\n\nFROM dhi.io/python:${PY}\n").unwrap_err(),
        DockerfileError::ArgWithoutValue {
            line: 3,
            name: "PY".into(),
            arg_line: 1
        }
    );
    assert!(parse_with("ARG PY\nFROM dhi.io/python:${PY}\n", &[("PY", "3.13")]).is_ok());
}

#[test]
fn args_declared_inside_a_stage_are_not_visible_to_later_from_lines() {
    assert!(matches!(
        parse("FROM alpine\nARG TAG=3\nFROM alpine:$TAG\n"),
        Err(DockerfileError::UndeclaredArg { line: 3, .. })
    ));
}

#[test]
fn a_build_arg_for_an_undeclared_name_is_ignored() {
    assert!(matches!(
        parse_with("FROM dhi.io/python:$PY\n", &[("PY", "3.13")]),
        Err(DockerfileError::UndeclaredArg { line: 1, .. })
    ));
}

#[test]
fn an_image_that_expands_to_nothing_is_an_error() {
    assert!(matches!(
        parse("ARG IMG=\nFROM $IMG\n"),
        Err(DockerfileError::EmptyImage { line: 2, .. })
    ));
}

#[test]
fn an_invalid_reference_is_an_error_naming_the_line() {
    assert!(matches!(
        parse("FROM alpine\nFROM Dhi.io/Python:3\n"),
        Err(DockerfileError::InvalidReference { line: 2, .. })
    ));
}

#[test]
fn oci_layout_references_are_images() {
    let f = parse("FROM oci:/tmp/x/layout:3.13 AS build\nFROM oci:relative/dir\n").unwrap();
    assert_eq!(bases(&f), ["oci:/tmp/x/layout:3.13", "oci:relative/dir"]);
}

#[test]
fn from_without_an_image_is_an_error_naming_the_line() {
    assert_eq!(
        parse("# comment\n\nFROM\n").unwrap_err(),
        DockerfileError::FromWithoutImage { line: 3 }
    );
    assert_eq!(
        parse("FROM --platform=linux/amd64\n").unwrap_err(),
        DockerfileError::FromWithoutImage { line: 1 }
    );
}

#[test]
fn malformed_from_arguments_are_an_error() {
    for bad in [
        "FROM a b\n",
        "FROM a AS\n",
        "FROM a NAMED b\n",
        "FROM a AS b c\n",
    ] {
        assert!(
            matches!(
                parse(bad),
                Err(DockerfileError::MalformedFrom { line: 1, .. })
            ),
            "{bad}"
        );
    }
}

#[test]
fn stage_names_must_start_with_a_letter_and_be_unique() {
    assert!(matches!(
        parse("FROM a AS 1st\n"),
        Err(DockerfileError::InvalidStageName { line: 1, .. })
    ));
    assert_eq!(
        parse("FROM a AS x\nFROM b AS X\n").unwrap_err(),
        DockerfileError::DuplicateStageName {
            line: 2,
            name: "x".into(),
            first_line: 1
        }
    );
}

#[test]
fn from_naming_a_later_stage_is_an_error() {
    assert_eq!(
        parse("FROM builder AS app\nFROM alpine AS builder\n").unwrap_err(),
        DockerfileError::StageUsedBeforeDefined {
            line: 1,
            name: "builder".into(),
            defined_line: 2
        }
    );
}

#[test]
fn a_stage_named_like_its_own_base_builds_on_the_image() {
    let f = parse("FROM alpine AS alpine\nFROM alpine\n").unwrap();
    assert_eq!(image(&f.stages()[0].base), "alpine");
    assert_eq!(f.stages()[1].base, Base::Stage(0));
}

#[test]
fn only_arg_may_come_before_the_first_from() {
    assert_eq!(
        parse("ARG A=1\nRUN echo\nFROM alpine\n").unwrap_err(),
        DockerfileError::InstructionBeforeFrom {
            line: 2,
            instruction: "RUN".into()
        }
    );
}

#[test]
fn an_unknown_instruction_is_an_error_naming_the_line() {
    assert!(matches!(
        parse("FROM alpine\nFORM debian\n"),
        Err(DockerfileError::UnknownInstruction { line: 2, ref found }) if found == "FORM"
    ));
}

#[test]
fn a_file_without_from_is_an_error() {
    assert!(matches!(parse(""), Err(DockerfileError::NoStages { .. })));
    assert!(matches!(
        parse("# nothing\nARG A=1\n"),
        Err(DockerfileError::NoStages { line: 3 })
    ));
}

#[test]
fn from_inside_a_heredoc_or_a_continued_run_is_never_an_instruction() {
    let text = "FROM alpine AS a\nRUN <<EOF\nFROM evil:1\nEOF\nRUN echo \\\n FROM evil:2\nCOPY <<-X /f\n\tFROM evil:3\n\tX\n";
    let f = parse(text).unwrap();
    assert_eq!(f.stages().len(), 1);
    assert_eq!(refs(&f, None), ["alpine"]);
}

#[test]
fn from_split_by_continuations_and_comments_is_one_instruction() {
    let f = parse("FROM \\\n  # the build image\n  --platform=linux/amd64 \\\n  dhi.io/python:3.13-dev \\\n  AS build\n").unwrap();
    assert_eq!(f.stages()[0].name.as_deref(), Some("build"));
    assert_eq!(
        f.stages()[0].base,
        Base::Image {
            reference: "dhi.io/python:3.13-dev".into(),
            platform: Some("linux/amd64".into()),
            line: 1
        }
    );
}

#[test]
fn copy_from_names_a_stage_an_index_or_an_image() {
    let text = "FROM alpine AS build\nFROM scratch\nCOPY --from=build /a /a\nCOPY --from=0 /b /b\nCOPY --chown=1 --from=dhi.io/busybox:1 /bin/sh /sh\n";
    let f = parse(text).unwrap();
    let s = &f.stages()[1];
    assert_eq!(s.sources[0].from, SourceFrom::Stage(0));
    assert_eq!(s.sources[1].from, SourceFrom::Stage(0));
    assert_eq!(
        s.sources[2].from,
        SourceFrom::Image("dhi.io/busybox:1".into())
    );
    let images = f.external_images(None).unwrap();
    assert_eq!(images[1].reference, "dhi.io/busybox:1");
    assert_eq!(images[1].uses[0].kind, UseKind::CopyFrom);
    assert_eq!(images[1].uses[0].line, 5);
}

#[test]
fn copy_from_may_name_a_later_stage() {
    let f = parse("FROM alpine AS a\nCOPY --from=b /x /x\nFROM alpine AS b\n").unwrap();
    assert_eq!(f.stages()[0].sources[0].from, SourceFrom::Stage(1));
}

#[test]
fn copy_from_an_index_that_does_not_exist_is_an_error() {
    assert!(matches!(
        parse("FROM alpine\nCOPY --from=1 /x /x\n"),
        Err(DockerfileError::InvalidStageIndex {
            line: 2,
            stages: 1,
            ..
        })
    ));
    assert!(matches!(
        parse("FROM alpine\nCOPY --from=99999999999999999999999 /x /x\n"),
        Err(DockerfileError::InvalidStageIndex { line: 2, .. })
    ));
}

#[test]
fn copy_from_without_a_value_is_an_error() {
    assert!(matches!(
        parse("FROM alpine\nCOPY --from /x /x\n"),
        Err(DockerfileError::MissingFlagValue { line: 2, .. })
    ));
}

#[test]
fn copy_from_expands_args_declared_in_the_stage() {
    let text =
        "ARG TOOLS=dhi.io/busybox:1\nFROM alpine\nARG TOOLS\nCOPY --from=$TOOLS /bin/sh /sh\n";
    let f = parse(text).unwrap();
    assert_eq!(refs(&f, None), ["alpine", "dhi.io/busybox:1"]);
    // Without the ARG inside the stage, the global one is not in scope.
    assert!(matches!(
        parse("ARG TOOLS=x\nFROM alpine\nCOPY --from=$TOOLS /a /a\n"),
        Err(DockerfileError::UndeclaredArg { line: 3, .. })
    ));
}

#[test]
fn run_mount_from_is_a_source_too() {
    let text = "FROM alpine AS a\nFROM a\nRUN --mount=type=bind,from=dhi.io/go:1,source=/usr,target=/go --mount=type=cache,target=/c,from=a echo\n";
    let f = parse(text).unwrap();
    let s = &f.stages()[1];
    assert_eq!(s.sources[0].from, SourceFrom::Image("dhi.io/go:1".into()));
    assert_eq!(s.sources[0].kind, UseKind::MountFrom);
    assert_eq!(s.sources[1].from, SourceFrom::Stage(0));
}

#[test]
fn a_stage_depending_on_itself_is_a_cycle() {
    assert!(matches!(
        parse("FROM alpine AS a\nCOPY --from=a /x /x\n"),
        Err(DockerfileError::DependencyCycle { line: 2, .. })
    ));
    let err = parse("FROM alpine AS a\nCOPY --from=b /x /x\nFROM a AS b\n").unwrap_err();
    assert!(
        matches!(err, DockerfileError::DependencyCycle { line: 2, ref cycle, .. } if cycle.len() == 3),
        "{err:?}"
    );
}

#[test]
fn target_prunes_to_the_stages_it_needs() {
    let text = "FROM dhi.io/python:3.13-dev AS build\nFROM dhi.io/node:22 AS docs\nFROM dhi.io/python:3.13 AS production\nCOPY --from=build /app /app\nFROM dhi.io/python:3.13-dev AS test\nCOPY --from=production /app /app\n";
    let f = parse(text).unwrap();
    assert_eq!(
        refs(&f, None),
        ["dhi.io/python:3.13-dev", "dhi.io/python:3.13"]
    );
    assert_eq!(
        refs(&f, Some("PRODUCTION")),
        ["dhi.io/python:3.13-dev", "dhi.io/python:3.13"]
    );
    assert_eq!(refs(&f, Some("docs")), ["dhi.io/node:22"]);
    assert_eq!(f.final_stage(Some("production")).unwrap().line, 3);
    let uses = &f.external_images(None).unwrap()[0].uses;
    assert_eq!(uses.len(), 2, "dev image used by build and test: {uses:?}");
}

#[test]
fn an_unknown_target_is_an_error_listing_the_stages() {
    let err = parse("FROM a AS build\nFROM b AS app\n")
        .unwrap()
        .final_stage(Some("prod"))
        .unwrap_err();
    assert_eq!(
        err,
        DockerfileError::UnknownTarget {
            line: 2,
            target: "prod".into(),
            known: vec!["build".into(), "app".into()]
        }
    );
}

#[test]
fn the_escape_directive_applies_to_continuations_and_expansion() {
    let f = parse("# escape=`\nARG V=3\nFROM alpine:$V `\n  AS a\n").unwrap();
    assert_eq!(f.escape(), '`');
    assert_eq!(refs(&f, None), ["alpine:3"]);
}

#[test]
fn the_syntax_directive_is_reported() {
    let f = parse("# syntax=docker/dockerfile:1\nFROM alpine\n").unwrap();
    assert_eq!(f.syntax(), Some("docker/dockerfile:1"));
}

#[test]
fn pin_rewrites_only_the_references_and_keeps_every_other_byte() {
    let text = "# syntax=docker/dockerfile:1\nARG PY=3.13\nfrom  dhi.io/python:${PY}-dev   as Build # trailing\nRUN <<EOF\nFROM not-me\nEOF\nFROM \\\n  # comment\n  dhi.io/python:3.13 AS runtime\nCOPY --from=Build /a /a\nCOPY --from=dhi.io/busybox:1 /bin/sh /sh\n";
    // A trailing "# trailing" is not a comment inside an instruction in
    // Docker; keep this file valid: FROM takes `<image> AS <name>` only.
    let text = text.replace(" # trailing", "");
    let f = parse(&text).unwrap();
    let d = digest();
    let resolved = BTreeMap::from([
        ("dhi.io/python:3.13-dev".to_owned(), d),
        ("dhi.io/python:3.13".to_owned(), d),
        ("dhi.io/busybox:1".to_owned(), d),
    ]);
    let pinned = f.pin(&text, &resolved);
    let expected = text
        .replace(
            "dhi.io/python:${PY}-dev",
            &format!("dhi.io/python:3.13-dev@sha256:{HEX}"),
        )
        .replace(
            "dhi.io/python:3.13 AS",
            &format!("dhi.io/python:3.13@sha256:{HEX} AS"),
        )
        .replace(
            "dhi.io/busybox:1 ",
            &format!("dhi.io/busybox:1@sha256:{HEX} "),
        );
    assert_eq!(pinned, expected);
    // The pinned file has the same stage graph, now with digests.
    let again = parse(&pinned).unwrap();
    assert_eq!(again.stages().len(), f.stages().len());
    for (a, b) in again.stages().iter().zip(f.stages()) {
        assert_eq!((a.index, &a.name, a.line), (b.index, &b.name, b.line));
        match (&a.base, &b.base) {
            (Base::Image { reference: ra, .. }, Base::Image { reference: rb, .. }) => {
                assert_eq!(ra, &format!("{rb}@sha256:{HEX}"));
            }
            (x, y) => assert_eq!(x, y),
        }
    }
    // Pinning again changes nothing.
    let resolved_again: BTreeMap<String, Digest> = again
        .external_images(None)
        .unwrap()
        .into_iter()
        .map(|i| (i.reference, d))
        .collect();
    assert_eq!(again.pin(&pinned, &resolved_again), pinned);
}

#[test]
fn pin_rewrites_a_reference_split_by_a_continuation() {
    let text = "FROM dhi.io/pyth\\\non:3.13 AS a\n";
    let f = parse(text).unwrap();
    let pinned = f.pin(
        text,
        &BTreeMap::from([("dhi.io/python:3.13".to_owned(), digest())]),
    );
    assert_eq!(
        pinned,
        format!("FROM dhi.io/python:3.13@sha256:{HEX}\\\n AS a\n")
    );
    assert_eq!(
        refs(&parse(&pinned).unwrap(), None),
        [format!("dhi.io/python:3.13@sha256:{HEX}")]
    );
}

#[test]
fn pin_drops_the_tag_of_a_layout_reference() {
    let text = "FROM oci:/tmp/l:3.13\n";
    let f = parse(text).unwrap();
    let pinned = f.pin(
        text,
        &BTreeMap::from([("oci:/tmp/l:3.13".to_owned(), digest())]),
    );
    assert_eq!(pinned, format!("FROM oci:/tmp/l@sha256:{HEX}\n"));
}

#[test]
fn pin_leaves_unresolved_and_digest_references_alone() {
    let text = format!("FROM alpine@sha256:{HEX}\nFROM debian:13\n");
    let f = parse(&text).unwrap();
    let resolved = BTreeMap::from([(format!("alpine@sha256:{HEX}"), digest())]);
    assert_eq!(f.pin(&text, &resolved), text);
}

#[test]
fn pin_with_a_different_text_never_panics() {
    let f = parse("FROM alpine:3 AS a\n").unwrap();
    let resolved = BTreeMap::from([("alpine:3".to_owned(), digest())]);
    assert_eq!(f.pin("", &resolved), "");
    assert_eq!(f.pin("FROM é", &resolved), "FROM é");
}

#[test]
fn the_seed_dockerfiles_in_testdata_parse() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/dockerfiles");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if !name.ends_with(".Dockerfile") {
            continue;
        }
        seen += 1;
        let text = std::fs::read_to_string(&path).unwrap();
        let result = parse(&text);
        if name.starts_with("malformed-") {
            let err = result.expect_err(&name);
            let line: usize = name
                .trim_end_matches(".Dockerfile")
                .rsplit("-line")
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| {
                    panic!("{name}: malformed files are named malformed-<what>-line<N>.Dockerfile")
                });
            assert_eq!(err.line(), line, "{name}: {err}");
        } else {
            let f = result.unwrap_or_else(|e| panic!("{name}: {e}"));
            assert!(!f.external_images(None).unwrap().is_empty(), "{name}");
        }
    }
    assert!(seen >= 8, "only {seen} Dockerfiles in {}", dir.display());
}

/// A small deterministic generator (no dependency needed for fuzz-like tests).
struct Lcg(u64);

impl Lcg {
    fn next(&mut self) -> u64 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        self.0 >> 33
    }
}

#[test]
fn random_bytes_never_panic() {
    let mut rng = Lcg(0x5eed);
    let alphabet: &[u8] =
        b"FROMASfromasARGRUNCOPY --from=platform=${}:-+?#\\`'\"<<EOF\n\n\t \r=$/@.0123456789abcxyz";
    for _ in 0..3000 {
        let len = (rng.next() % 300) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                if rng.next() % 8 == 0 {
                    (rng.next() % 256) as u8
                } else {
                    alphabet[(rng.next() as usize) % alphabet.len()]
                }
            })
            .collect();
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(f) = parse(&text) {
            let _ = f.external_images(None);
            let _ = f.final_stage(Some("a"));
            let resolved: BTreeMap<String, Digest> = f
                .external_images(None)
                .unwrap()
                .into_iter()
                .map(|i| (i.reference, digest()))
                .collect();
            let pinned = f.pin(&text, &resolved);
            // Pinning keeps a file parseable.
            assert!(parse(&pinned).is_ok(), "{text:?} pinned to {pinned:?}");
        } else if let Err(e) = parse(&text) {
            let lines = text.split('\n').count().max(1);
            assert!(e.line() >= 1 && e.line() <= lines, "{e:?} for {text:?}");
        }
    }
}

#[test]
fn huge_lines_and_many_stages_are_handled() {
    let long = "a".repeat(1 << 20);
    assert!(matches!(
        parse(&format!("FROM {long}\n")),
        Err(DockerfileError::InvalidReference { line: 1, .. })
    ));
    let continued = "RUN x \\\n".repeat(50_000) + "y\n";
    assert!(parse(&format!("FROM alpine\n{continued}")).is_ok());
    let mut many = String::from("FROM alpine AS s0\n");
    for i in 1..5000 {
        many.push_str(&format!("FROM s{} AS s{i}\n", i - 1));
    }
    let f = parse(&many).unwrap();
    assert_eq!(refs(&f, None), ["alpine"]);
    assert_eq!(
        f.root_base(4999),
        Some(&Base::Image {
            reference: "alpine".into(),
            platform: None,
            line: 1
        })
    );
    // Many named stages and distinct images stay fast (no quadratic lookups).
    let mut wide = String::new();
    wide.push_str("FROM dhi.io/img0:1 AS s0\n");
    for i in 1..100_000 {
        wide.push_str(&format!(
            "FROM dhi.io/img{i}:1 AS s{i}\nCOPY --from=s{} /x /x\n",
            (i - 1) / 2
        ));
    }
    wide.push_str("FROM scratch\n");
    for i in 0..100_000 {
        wide.push_str(&format!("COPY --from=s{i} /x /x\n"));
    }
    let f = parse(&wide).unwrap();
    assert_eq!(f.external_images(None).unwrap().len(), 100_000);
    let nested = format!(
        "FROM alpine:{}{}\n",
        "${A:-".repeat(100_000),
        "}".repeat(100_000)
    );
    assert!(matches!(
        parse(&nested),
        Err(DockerfileError::BadSubstitution { line: 1, .. })
    ));
}

#[test]
fn random_dockerfile_shaped_input_never_panics_and_pins_to_parseable_text() {
    let pieces: &[&str] = &[
        "FROM alpine:3 AS a\n",
        "FROM a AS b\n",
        "from --platform=$BUILDPLATFORM dhi.io/python:${PY:-3.13}-dev as c\n",
        "FROM oci:/tmp/l:1\n",
        "ARG PY=3.13\n",
        "ARG X\n",
        "COPY --from=a /x /x\n",
        "COPY --from=dhi.io/busybox:1 /x /x\n",
        "COPY --from=1 /x /x\n",
        "RUN --mount=type=bind,from=b,target=/b echo\n",
        "RUN --mount=from=dhi.io/go:1 echo\n",
        "RUN <<EOF\nFROM evil\nEOF\n",
        "RUN a \\\n",
        "  # c\n",
        "\n",
        "# escape=`\n",
        "FROM $X\n",
        "FROM\n",
        "COPY <<-E /f\n\tE\n",
        "FROM scratch\n",
        "\\\n",
    ];
    let mut rng = Lcg(42);
    for _ in 0..5000 {
        let n = (rng.next() % 12) as usize;
        let mut text = String::new();
        for _ in 0..n {
            text.push_str(pieces[(rng.next() as usize) % pieces.len()]);
        }
        match parse(&text) {
            Ok(f) => {
                let images = f.external_images(None).unwrap();
                let resolved: BTreeMap<String, Digest> = images
                    .iter()
                    .map(|i| (i.reference.clone(), digest()))
                    .collect();
                let pinned = f.pin(&text, &resolved);
                let again =
                    parse(&pinned).unwrap_or_else(|e| panic!("{text:?} pinned to {pinned:?}: {e}"));
                assert_eq!(again.stages().len(), f.stages().len());
                for i in again.external_images(None).unwrap() {
                    assert!(
                        Reference::parse(&i.reference).unwrap().digest().is_some(),
                        "{pinned:?}"
                    );
                }
            }
            Err(e) => assert!(e.line() >= 1 && e.line() <= text.split('\n').count().max(1)),
        }
    }
}

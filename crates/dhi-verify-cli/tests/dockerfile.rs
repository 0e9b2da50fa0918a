//! `dhi-verify dockerfile`, the real binary: the seed Dockerfiles in
//! `testdata/dockerfiles/` resolved against testkit layouts (issue 8).
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use dhi_verify_testkit::{DhiImage, Fixture, Tamper};
use serde_json::Value;
use tempfile::TempDir;

fn bin() -> Command {
    Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
}

fn seed(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../testdata/dockerfiles")
        .join(name)
}

fn code(o: &Output) -> i32 {
    o.status.code().expect("exited normally")
}

fn stdout(o: &Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn stderr(o: &Output) -> String {
    String::from_utf8(o.stderr.clone()).unwrap()
}

/// Testkit layouts standing in for registry images, and the key that signs them.
struct Images {
    dir: TempDir,
    key: PathBuf,
    /// (reference in the Dockerfile, fixture, layout tag)
    images: Vec<(String, Fixture, String)>,
}

impl Images {
    /// One DHI-shaped layout per `(reference, tag)`; `tamper` breaks the ones named.
    fn new(specs: &[(&str, &str)], tamper: &[(&str, Tamper)]) -> Images {
        let dir = tempfile::tempdir().unwrap();
        let mut images = Vec::new();
        let mut key = None;
        for (i, (reference, tag)) in specs.iter().enumerate() {
            let mut image = DhiImage::python();
            image.tag = (*tag).to_owned();
            // As DHI publishes them: -dev images are the dev variant, with a
            // shell and a package manager, and run as root.
            if tag.ends_with("-dev") || *tag == "dev" {
                image.variant = "dev".into();
                image.user = "0".into();
            }
            if let Some((_, t)) = tamper.iter().find(|(r, _)| r == reference) {
                image = image.tamper(*t);
            }
            let fixture = image.write_layout(&dir.path().join(format!("layout{i}")));
            key.get_or_insert_with(|| DhiImage::python().key.public_pem());
            images.push(((*reference).to_owned(), fixture, (*tag).to_owned()));
        }
        let key_path = dir.path().join("cosign.pub");
        std::fs::write(&key_path, key.unwrap()).unwrap();
        Images {
            dir,
            key: key_path,
            images,
        }
    }

    /// The python images of the seeds: `dhi.io/python:3.13-dev` and `dhi.io/python:3.13`.
    fn python(tamper: &[(&str, Tamper)]) -> Images {
        Images::new(
            &[
                ("dhi.io/python:3.13-dev", "3.13-dev"),
                ("dhi.io/python:3.13", "3.13"),
            ],
            tamper,
        )
    }

    fn fixture(&self, reference: &str) -> &Fixture {
        &self
            .images
            .iter()
            .find(|(r, _, _)| r == reference)
            .unwrap()
            .1
    }

    fn oci(&self, reference: &str) -> String {
        let (_, f, tag) = self.images.iter().find(|(r, _, _)| r == reference).unwrap();
        f.reference(tag)
    }

    /// `dhi-verify dockerfile FILE --key … --platform linux/amd64 --image-map …` plus `extra`.
    fn run(&self, file: &Path, extra: &[&str]) -> Output {
        let mut cmd = bin();
        cmd.arg("dockerfile").arg(file).arg("--key").arg(&self.key);
        cmd.args(["--platform", "linux/amd64"]);
        for (reference, fixture, tag) in &self.images {
            cmd.arg("--image-map")
                .arg(format!("{reference}={}", fixture.reference(tag)));
        }
        cmd.args(extra).output().unwrap()
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }
}

#[test]
fn the_python_multistage_seed_passes_with_a_dev_build_stage_and_a_runtime_final_stage() {
    let images = Images::python(&[]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &[]);
    let out = stdout(&o);
    assert_eq!(code(&o), 0, "{out}\n{}", stderr(&o));
    assert!(
        out.contains("== dhi.io/python:3.13-dev (FROM in stage build, line 4)"),
        "{out}"
    );
    assert!(
        out.contains("== dhi.io/python:3.13 (FROM in stage runtime, line 11)"),
        "{out}"
    );
    assert!(out.contains("✓ stage.runtime-variant: final stage runtime (line 11) runs on a runtime variant (verified index annotation)"), "{out}");
    assert!(out.contains("result: PASS (2 images checked)"), "{out}");
}

#[test]
fn json_is_a_list_of_verdicts_with_stage_names_and_lines() {
    let images = Images::python(&[]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).expect("stdout is JSON and nothing else");
    let list = v.as_array().unwrap();
    assert_eq!(list.len(), 2);
    assert_eq!(list[0]["image"], "dhi.io/python:3.13-dev");
    assert_eq!(list[0]["stages"][0]["name"], "build");
    assert_eq!(list[0]["stages"][0]["line"], 4);
    assert_eq!(list[0]["stages"][0]["use"], "FROM");
    assert_eq!(list[0]["verdict"]["passed"], true);
    assert_eq!(
        list[0]["verdict"]["digest"],
        images
            .fixture("dhi.io/python:3.13-dev")
            .index_digest
            .as_str()
    );
    assert_eq!(list[0]["checks"].as_array().unwrap().len(), 0);
    assert_eq!(list[1]["image"], "dhi.io/python:3.13");
    assert_eq!(list[1]["stages"][0]["name"], "runtime");
    assert_eq!(list[1]["stages"][0]["line"], 11);
    assert_eq!(list[1]["passed"], true);
    assert_eq!(list[1]["checks"][0]["id"], "stage.runtime-variant");
    assert_eq!(list[1]["checks"][0]["status"], "pass");
    assert_eq!(list[1]["location"], images.oci("dhi.io/python:3.13"));
}

#[test]
fn oci_layout_references_written_in_the_dockerfile_are_verified_directly() {
    let images = Images::python(&[]);
    let text = format!(
        "FROM {} AS build\nRUN make\nFROM {}\nCOPY --from=build /app /app\n",
        images.oci("dhi.io/python:3.13-dev"),
        images.oci("dhi.io/python:3.13")
    );
    let file = images.write("Dockerfile", &text);
    let o = bin()
        .arg("dockerfile")
        .arg(&file)
        .arg("--key")
        .arg(&images.key)
        .args(["--platform", "linux/amd64"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
}

#[test]
fn a_base_signed_by_an_untrusted_key_fails_with_exit_1() {
    let images = Images::python(&[("dhi.io/python:3.13-dev", Tamper::WrongKey)]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["verdict"]["outcome"], "fail");
    assert_eq!(v[0]["passed"], false);
    assert_eq!(v[1]["passed"], true);
}

#[test]
fn an_unsigned_base_fails_with_exit_1() {
    let images = Images::python(&[("dhi.io/python:3.13", Tamper::Unsigned)]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &[]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(out.contains("result: FAIL"), "{out}");
    assert!(
        out.contains("runtime      line 11   FROM dhi.io/python:3.13 FAIL  (final)"),
        "{out}"
    );
}

#[test]
fn a_final_stage_on_a_dev_image_fails_the_stage_rule() {
    let images = Images::python(&[]);
    let file = images.write(
        "Dockerfile",
        "FROM dhi.io/python:3.13 AS base\nFROM dhi.io/python:3.13-dev AS app\nCOPY --from=base /x /x\n",
    );
    let o = images.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let dev = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == "dhi.io/python:3.13-dev")
        .unwrap();
    assert_eq!(dev["verdict"]["passed"], true, "the image itself verifies");
    assert_eq!(dev["passed"], false);
    assert_eq!(dev["checks"][0]["id"], "stage.runtime-variant");
    assert_eq!(dev["checks"][0]["status"], "fail");
    assert!(dev["checks"][0]["message"]
        .as_str()
        .unwrap()
        .contains("variant \"dev\""));
    // DHI dev images run as root: the final stage's non-root rule fails too,
    // while the same image as a build stage is fine (see the python seed test).
    assert_eq!(dev["checks"][1]["id"], "stage.non-root");
    assert_eq!(dev["checks"][1]["status"], "fail");
}

#[test]
fn the_stage_rule_follows_stages_built_on_stages_to_their_image() {
    let images = Images::python(&[]);
    let file = images.write(
        "Dockerfile",
        "FROM dhi.io/python:3.13-dev AS build\nFROM build AS final\n",
    );
    let o = images.run(&file, &[]);
    assert_eq!(code(&o), 1);
    let out = stdout(&o);
    assert!(
        out.contains(
            "✗ stage.runtime-variant: final stage final (line 2) runs on dhi.io/python:3.13-dev"
        ),
        "{out}"
    );
}

#[test]
fn target_verifies_only_the_stages_it_needs() {
    let images = Images::python(&[]);
    let file = seed("arg-templated.Dockerfile");
    // The last stage, `test`, builds on the -dev build stage: the stage rule fails.
    let o = images.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["image"], "dhi.io/python:3.13-dev");
    // --target production: both images, and the final stage is the runtime one.
    let o = images.run(&file, &["--format", "json", "--target", "Production"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[1]["image"], "dhi.io/python:3.13");
    assert_eq!(v[1]["checks"][0]["status"], "pass");
}

#[test]
fn build_args_change_the_images_verified() {
    let images = Images::new(
        &[
            ("dhi.io/python:3.12-dev", "3.12-dev"),
            ("dhi.io/python:3.12", "3.12"),
        ],
        &[],
    );
    let o = images.run(
        &seed("arg-templated.Dockerfile"),
        &[
            "--build-arg",
            "PYTHON_VERSION=3.12",
            "--target",
            "production",
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v[0]["image"], "dhi.io/python:3.12-dev");
    assert_eq!(v[1]["image"], "dhi.io/python:3.12");
}

#[test]
fn the_debian_base_and_single_stage_seeds_pass() {
    let images = Images::new(
        &[
            ("dhi.io/debian-base:trixie-dev", "trixie-dev"),
            ("dhi.io/debian-base:trixie", "trixie"),
            ("dhi.io/python:3.13", "3.13"),
            ("dhi.io/python:3.13-dev", "3.13-dev"),
        ],
        &[],
    );
    for name in [
        "debian-base-multistage.Dockerfile",
        "single-stage.Dockerfile",
        "heredocs-and-continuations.Dockerfile",
        "escape-directive.Dockerfile",
    ] {
        let o = images.run(&seed(name), &[]);
        assert_eq!(code(&o), 0, "{name}\n{}\n{}", stdout(&o), stderr(&o));
    }
    // The heredoc bodies and continued RUN name images that are never verified.
    let o = images.run(
        &seed("heredocs-and-continuations.Dockerfile"),
        &["--format", "json"],
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["image"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["dhi.io/python:3.13-dev", "dhi.io/python:3.13"]);
}

#[test]
fn pin_prints_the_dockerfile_with_verified_digests_and_every_other_byte_unchanged() {
    let images = Images::python(&[]);
    let file = seed("python-multistage.Dockerfile");
    let o = images.run(&file, &["--pin"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let original = std::fs::read_to_string(&file).unwrap();
    let dev = &images.fixture("dhi.io/python:3.13-dev").index_digest;
    let run = &images.fixture("dhi.io/python:3.13").index_digest;
    let expected = original
        .replace(
            "FROM dhi.io/python:3.13-dev AS",
            &format!("FROM dhi.io/python:3.13-dev@{dev} AS"),
        )
        .replace(
            "FROM dhi.io/python:3.13 AS",
            &format!("FROM dhi.io/python:3.13@{run} AS"),
        );
    assert_ne!(expected, original);
    assert_eq!(stdout(&o), expected);
    assert!(
        stderr(&o).contains("PASS dhi.io/python:3.13 "),
        "{}",
        stderr(&o)
    );

    // The pinned file verifies to the same digests, and pinning it again changes nothing.
    let pinned = images.write("Dockerfile.pinned", &expected);
    let again = images.run(&pinned, &["--pin"]);
    assert_eq!(code(&again), 0, "{}", stderr(&again));
    assert_eq!(stdout(&again), expected);
    let json = images.run(&pinned, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v[0]["image"], format!("dhi.io/python:3.13-dev@{dev}"));
    assert_eq!(v[0]["verdict"]["digest"], dev.as_str());
    assert_eq!(v[1]["verdict"]["digest"], run.as_str());
}

#[test]
fn pin_prints_nothing_when_an_image_fails() {
    let images = Images::python(&[("dhi.io/python:3.13-dev", Tamper::StatementBytes)]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &["--pin"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
    assert!(stderr(&o).contains("not pinning"), "{}", stderr(&o));
}

#[test]
fn pin_prints_nothing_when_the_stage_rule_fails() {
    let images = Images::python(&[]);
    let file = images.write("Dockerfile", "FROM dhi.io/python:3.13-dev\n");
    let o = images.run(&file, &["--pin"]);
    assert_eq!(code(&o), 1);
    assert_eq!(stdout(&o), "");
}

#[test]
fn scratch_is_skipped_and_copy_from_images_are_verified() {
    let images = Images::python(&[]);
    let file = images.write(
        "Dockerfile",
        "FROM scratch\nCOPY --from=dhi.io/python:3.13 /usr/local/bin/python3 /python3\n",
    );
    let o = images.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["stages"][0]["use"], "COPY --from");
    assert_eq!(v[0]["stages"][0]["line"], 2);
    assert_eq!(
        v[0]["checks"].as_array().unwrap().len(),
        0,
        "the final stage is scratch"
    );
}

#[test]
fn a_stage_platform_is_the_platform_verified() {
    let images = Images::python(&[]);
    let file = images.write(
        "Dockerfile",
        "FROM --platform=linux/arm64 dhi.io/python:3.13\n",
    );
    let o = images.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let platforms: Vec<&str> = v[0]["verdict"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/arm64"]);
}

#[test]
fn malformed_dockerfiles_exit_2_naming_the_line() {
    let images = Images::python(&[]);
    let dir = seed("");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let Some(rest) = name.strip_prefix("malformed-") else {
            continue;
        };
        seen += 1;
        let line = rest
            .trim_end_matches(".Dockerfile")
            .rsplit("-line")
            .next()
            .unwrap();
        let o = images.run(&path, &[]);
        assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
        assert_eq!(stdout(&o), "", "{name}");
        let err = stderr(&o);
        assert!(
            err.contains(&format!("{name}:{line}: line {line}: ")),
            "{name}: {err}"
        );
    }
    assert!(seen >= 6);
}

#[test]
fn an_unknown_target_exits_2_listing_the_stages() {
    let images = Images::python(&[]);
    let o = images.run(&seed("python-multistage.Dockerfile"), &["--target", "prod"]);
    assert_eq!(code(&o), 2);
    let err = stderr(&o);
    assert!(err.contains("unknown --target \"prod\""), "{err}");
    assert!(err.contains("\"build\", \"runtime\""), "{err}");
}

#[test]
fn malformed_flags_exit_2() {
    let images = Images::python(&[]);
    let file = seed("single-stage.Dockerfile");
    assert_eq!(code(&images.run(&file, &["--build-arg", "=x"])), 2);
    assert_eq!(code(&images.run(&file, &["--image-map", "nonsense"])), 2);
    assert_eq!(
        code(&images.run(Path::new("/nonexistent/Dockerfile"), &[])),
        2
    );
}

#[test]
fn the_dockerfile_is_read_from_standard_input_with_a_dash() {
    use std::io::Write as _;
    use std::process::Stdio;
    let images = Images::python(&[]);
    let mut child = bin()
        .args(["dockerfile", "-", "--key"])
        .arg(&images.key)
        .args(["--platform", "linux/amd64", "--image-map"])
        .arg(format!(
            "dhi.io/python:3.13={}",
            images.oci("dhi.io/python:3.13")
        ))
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM dhi.io/python:3.13\n")
        .unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stdout(&o));
}

#[test]
fn a_build_arg_without_a_value_is_taken_from_the_environment() {
    let images = Images::python(&[]);
    let file = images.write("Dockerfile", "ARG TAG\nFROM dhi.io/python:${TAG}\n");
    let mut cmd = bin();
    cmd.arg("dockerfile")
        .arg(&file)
        .arg("--key")
        .arg(&images.key);
    cmd.args([
        "--platform",
        "linux/amd64",
        "--build-arg",
        "TAG",
        "--image-map",
    ]);
    cmd.arg(format!(
        "dhi.io/python:3.13={}",
        images.oci("dhi.io/python:3.13")
    ));
    let o = cmd.env("TAG", "3.13").output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Unset in the environment, it sets nothing: the ARG has no value.
    let o = images.run(&file, &["--build-arg", "TAG"]);
    assert_eq!(code(&o), 2);
    assert!(
        stderr(&o).contains("ARG TAG (line 1) has no value"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn a_multistage_dockerfile_verifies_against_images_in_a_real_registry() {
    use dhi_verify_testkit::registry::distribution::{DistributionRegistry, RegistryAuth};
    let registry = DistributionRegistry::start(RegistryAuth::None);
    let dir = tempfile::tempdir().unwrap();
    let mut dev = DhiImage::python();
    dev.tag = "3.13-dev".into();
    dev.variant = "dev".into();
    dev.user = "0".into();
    let runtime = DhiImage::python();
    for (name, image) in [("dev", &dev), ("runtime", &runtime)] {
        let fixture = image.write_layout(&dir.path().join(name));
        registry.push_layout("dhi/python", &fixture.dir);
    }
    let key = dir.path().join("k.pub");
    std::fs::write(&key, runtime.key.public_pem()).unwrap();
    let base = format!("{}/dhi/python", registry.addr);
    let write = |name: &str, text: String| {
        let p = dir.path().join(name);
        std::fs::write(&p, text).unwrap();
        p
    };
    let good = write(
        "Dockerfile",
        format!("ARG PY=3.13\nFROM {base}:${{PY}}-dev AS build\nRUN make\nFROM {base}:${{PY}} AS runtime\nCOPY --from=build /app /app\n"),
    );
    let run = |file: &Path, extra: &[&str]| {
        bin()
            .arg("dockerfile")
            .arg(file)
            .arg("--key")
            .arg(&key)
            .args(["--platform", "linux/amd64"])
            .args(extra)
            // Its own disk cache, never the developer's.
            .env("XDG_CACHE_HOME", dir.path().join("cache"))
            .output()
            .unwrap()
    };
    let o = run(&good, &[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let pinned = run(&good, &["--pin"]);
    assert_eq!(code(&pinned), 0, "{}", stderr(&pinned));
    let text = stdout(&pinned);
    assert_eq!(text.matches("@sha256:").count(), 2, "{text}");
    assert!(text.starts_with("ARG PY=3.13\n"), "{text}");
    // The pinned file verifies to the same images.
    let repinned = write("Dockerfile.pinned", text.clone());
    assert_eq!(code(&run(&repinned, &[])), 0);
    // A final stage on the dev image fails the stage rules.
    let bad = write(
        "Dockerfile.bad",
        format!("FROM {base}:3.13-dev\nCMD [\"python3\"]\n"),
    );
    let o = run(&bad, &["--format", "json"]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let ids: Vec<(&str, &str)> = v[0]["checks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["id"].as_str().unwrap(), c["status"].as_str().unwrap()))
        .collect();
    assert_eq!(
        ids,
        [
            ("stage.runtime-variant", "fail"),
            ("stage.non-root", "fail")
        ]
    );
}

#[test]
fn the_stage_rules_come_from_the_policy_file() {
    let images = Images::python(&[]);
    let file = images.write(
        "Dockerfile",
        "FROM dhi.io/python:3.13-dev\nCMD [\"python3\"]\n",
    );
    let policy = |text: &str| {
        let p = images.dir.path().join("policy.toml");
        std::fs::write(&p, format!("version = 1\n{text}")).unwrap();
        p.display().to_string()
    };
    let ids = |o: &Output| -> Vec<(String, String)> {
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        v[0]["checks"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| {
                (
                    c["id"].as_str().unwrap().to_owned(),
                    c["status"].as_str().unwrap().to_owned(),
                )
            })
            .collect()
    };
    // Neither stage rule: a dev final stage is accepted.
    let relaxed =
        policy("[image]\nnon-root = false\n[dockerfile]\nfinal-stage-runtime-variant = false\n");
    let o = images.run(&file, &["--policy", &relaxed, "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(ids(&o).is_empty());
    // Only non-root.
    let o = images.run(
        &file,
        &[
            "--policy",
            &policy("[dockerfile]\nfinal-stage-runtime-variant = false\n"),
            "--format",
            "json",
        ],
    );
    assert_eq!(code(&o), 1);
    assert_eq!(ids(&o), [("stage.non-root".to_owned(), "fail".to_owned())]);
}

#[test]
fn every_base_image_must_be_a_dhi_image_when_the_policy_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let mut plain = DhiImage::python();
    plain.dhi_annotations = false;
    let dhi = DhiImage::python().write_layout(&dir.path().join("dhi"));
    let other = plain.write_layout(&dir.path().join("other"));
    let key = dir.path().join("k.pub");
    std::fs::write(&key, plain.key.public_pem()).unwrap();
    let file = dir.path().join("Dockerfile");
    std::fs::write(
        &file,
        "FROM example.com/tools:1 AS build\nFROM dhi.io/python:3.13\nCOPY --from=build /x /x\n",
    )
    .unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n[dockerfile]\nrequire-dhi-images = true\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        bin()
            .arg("dockerfile")
            .arg(&file)
            .arg("--key")
            .arg(&key)
            .args(["--platform", "linux/amd64"])
            .arg("--image-map")
            .arg(format!("example.com/tools:1={}", other.reference("3.13")))
            .arg("--image-map")
            .arg(format!("dhi.io/python:3.13={}", dhi.reference("3.13")))
            .args(extra)
            .output()
            .unwrap()
    };
    assert_eq!(code(&run(&[])), 0, "not required by default");
    let o = run(&["--policy", policy.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&o), 1);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let tools = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == "example.com/tools:1")
        .unwrap();
    assert_eq!(tools["checks"][0]["id"], "stage.dhi-image");
    assert_eq!(tools["checks"][0]["status"], "fail");
    let python = v
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["image"] == "dhi.io/python:3.13")
        .unwrap();
    assert!(python["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["id"] == "stage.dhi-image" && c["status"] == "pass"));
}

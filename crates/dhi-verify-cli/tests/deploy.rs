//! `dhi-verify deploy`, the real binary, against testkit images pushed to
//! Debian's real `docker-registry` (and, to count requests, the testkit's
//! in-process registry): issue 15.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use dhi_verify_testkit::registry::distribution::{DistributionRegistry, RegistryAuth};
use dhi_verify_testkit::registry::{Content, TestRegistry};
use dhi_verify_testkit::{DhiImage, Tamper};
use serde_json::Value;
use tempfile::TempDir;

/// `docs/deploy.schema.json` (with the verdict schema it refers to) accepts `v`.
fn assert_schema(v: &Value) {
    let docs = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs");
    let load = |name: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(docs.join(name)).unwrap()).unwrap()
    };
    let mut schemas = boon::Schemas::new();
    let mut compiler = boon::Compiler::new();
    let base = "https://github.com/dhi-verify/dhi-verify/docs/";
    compiler
        .add_resource(
            &format!("{base}verdict.schema.json"),
            load("verdict.schema.json"),
        )
        .unwrap();
    compiler
        .add_resource(
            &format!("{base}deploy.schema.json"),
            load("deploy.schema.json"),
        )
        .unwrap();
    let index = compiler
        .compile(&format!("{base}deploy.schema.json"), &mut schemas)
        .unwrap();
    if let Err(e) = schemas.validate(v, index) {
        panic!("{e:#}\n{v:#}");
    }
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

/// A real registry holding `dhi/python:3.13` and `dhi/sidecar:1` (signed by
/// the test key), `dhi/unsigned:1` (no signatures) and `dhi/other-key:1`
/// (signed by another key).
struct Cluster {
    registry: DistributionRegistry,
    dir: TempDir,
    key: PathBuf,
    /// The index digest of `dhi/python:3.13`.
    python_digest: String,
}

impl Cluster {
    fn start() -> Cluster {
        let registry = DistributionRegistry::start(RegistryAuth::None);
        let dir = tempfile::tempdir().unwrap();
        let good = DhiImage::python();
        let mut sidecar = DhiImage::python();
        sidecar.tag = "1".into();
        let mut unsigned = DhiImage::python().tamper(Tamper::Unsigned);
        unsigned.tag = "1".into();
        let mut other = DhiImage::python().tamper(Tamper::WrongKey);
        other.tag = "1".into();
        for (repo, image) in [
            ("dhi/python", &good),
            ("dhi/sidecar", &sidecar),
            ("dhi/unsigned", &unsigned),
            ("dhi/other-key", &other),
        ] {
            let fixture = image.write_layout(&dir.path().join(repo.replace('/', "-")));
            registry.push_layout(repo, &fixture.dir);
        }
        let key = dir.path().join("cosign.pub");
        std::fs::write(&key, good.key.public_pem()).unwrap();
        let python_digest = good
            .write_layout(&dir.path().join("python-again"))
            .index_digest;
        Cluster {
            registry,
            dir,
            key,
            python_digest,
        }
    }

    /// `{addr}/dhi/<name>`.
    fn image(&self, name: &str) -> String {
        format!("{}/dhi/{name}", self.registry.addr)
    }

    fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.dir.path().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
        cmd.arg("deploy")
            .arg("--key")
            .arg(&self.key)
            // Its own disk cache, never the developer's.
            .env("XDG_CACHE_HOME", self.dir.path().join("cache"));
        cmd
    }

    fn run(&self, file: &Path, extra: &[&str]) -> Output {
        self.command().arg(file).args(extra).output().unwrap()
    }

    /// A Deployment with an init container, a native sidecar and two
    /// containers, plus a Service and a ConfigMap (skipped).
    fn deployment(&self, init: &str) -> String {
        let python = self.image("python:3.13");
        let sidecar = self.image("sidecar:1");
        format!(
            r#"# The web tier.
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: prod
spec:
  replicas: 2
  selector:
    matchLabels: {{app: web}}
  template:
    metadata:
      labels: {{app: web}}
    spec:
      initContainers:
        - name: migrate
          image: {init}
        - name: log-shipper
          image: "{sidecar}"   # a native sidecar
          restartPolicy: Always
      containers:
        - name: app
          image: {python}
        - name: worker
          image: '{python}'
---
apiVersion: v1
kind: Service
metadata: {{name: web, namespace: prod}}
spec:
  ports: [{{port: 80}}]
---
apiVersion: v1
kind: ConfigMap
metadata: {{name: web-config, namespace: prod}}
data: {{image: "not an image"}}
"#
        )
    }
}

#[test]
fn every_image_of_a_deployment_is_verified_once_and_reported_with_its_uses() {
    let c = Cluster::start();
    let file = c.write("app.yaml", &c.deployment(&c.image("python:3.13")));
    let o = c.run(&file, &[]);
    assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    let python = c.image("python:3.13");
    assert_eq!(
        text.matches(&format!("PASS {python} sha256:")).count(),
        1,
        "{text}"
    );
    assert!(
        text.contains(&format!("PASS {} sha256:", c.image("sidecar:1"))),
        "{text}"
    );
    for use_line in [
        "used by Deployment prod/web initContainer migrate (",
        "used by Deployment prod/web container app (",
        "used by Deployment prod/web container worker (",
        "used by Deployment prod/web initContainer log-shipper (",
    ] {
        assert!(text.contains(use_line), "{use_line}\n{text}");
    }
    assert!(
        text.contains("skipped (no containers): 1 ConfigMap, 1 Service"),
        "{text}"
    );
    assert!(text.contains("result: PASS (2 images, 4 uses)"), "{text}");
}

#[test]
fn an_unsigned_init_container_fails_the_whole_deployment_and_nothing_is_pinned() {
    let c = Cluster::start();
    let file = c.write("app.yaml", &c.deployment(&c.image("unsigned:1")));
    let o = c.run(&file, &[]);
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains(&format!("FAIL {} sha256:", c.image("unsigned:1"))),
        "{text}"
    );
    let json = c.run(&file, &["--format", "json"]);
    assert_eq!(code(&json), 1);
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_schema(&v);
    assert_eq!(
        (&v["passed"], &v["outcome"]),
        (&Value::Bool(false), &Value::from("fail"))
    );
    assert!(
        text.contains("used by Deployment prod/web initContainer migrate"),
        "{text}"
    );
    assert!(text.contains("result: FAIL (3 images, 4 uses)"), "{text}");
    let pinned = c.run(&file, &["--pin"]);
    assert_eq!(code(&pinned), 1);
    assert_eq!(stdout(&pinned), "", "nothing pinned when an image fails");
    assert!(
        stderr(&pinned).contains("not pinning"),
        "{}",
        stderr(&pinned)
    );
    // Another key's signature fails the same way.
    let other = c.write("other.yaml", &c.deployment(&c.image("other-key:1")));
    assert_eq!(code(&c.run(&other, &[])), 1);
}

#[test]
fn pin_changes_only_the_image_scalars_and_the_pinned_file_verifies_to_the_same_digests() {
    let c = Cluster::start();
    let original = c.deployment(&c.image("python:3.13"));
    let file = c.write("app.yaml", &original);
    let o = c.run(&file, &["--pin"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let pinned = stdout(&o);
    let before: Vec<&str> = original.lines().collect();
    let after: Vec<&str> = pinned.lines().collect();
    assert_eq!(before.len(), after.len());
    let mut changed = 0;
    for (b, a) in before.iter().zip(&after) {
        if b != a {
            changed += 1;
            assert!(b.trim_start().starts_with("image:"), "{b} → {a}");
            // name:tag@sha256:…, quoting and comments as they were.
            let (b_image, a_image) = (
                b.split("image: ").nth(1).unwrap(),
                a.split("image: ").nth(1).unwrap(),
            );
            let quote = b_image.chars().next().filter(|q| *q == '"' || *q == '\'');
            assert_eq!(
                quote,
                a_image.chars().next().filter(|q| *q == '"' || *q == '\''),
                "{a}"
            );
            assert!(a.contains("@sha256:"), "{a}");
            assert_eq!(
                b.contains("# a native sidecar"),
                a.contains("# a native sidecar")
            );
        }
    }
    assert_eq!(changed, 4, "{pinned}");
    // Verifying the pinned file verifies the same digests.
    let json = |path: &Path| -> Value {
        let o = c.run(path, &["--format", "json"]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_schema(&v);
        v
    };
    let digests = |v: &Value| -> Vec<String> {
        let mut d: Vec<String> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| i["digest"].as_str().unwrap().to_owned())
            .collect();
        d.sort();
        d
    };
    let first = json(&file);
    let repinned = c.write("app.pinned.yaml", &pinned);
    let second = json(&repinned);
    assert_eq!(digests(&first), digests(&second));
    for image in second["images"].as_array().unwrap() {
        let written = image["image"].as_str().unwrap();
        assert!(
            written.ends_with(image["digest"].as_str().unwrap()),
            "{written}"
        );
    }
}

#[test]
fn manifests_are_read_from_standard_input_and_json_reports_each_use() {
    let c = Cluster::start();
    let python = c.image("python:3.13");
    let cronjob = format!(
        "apiVersion: batch/v1\nkind: CronJob\nmetadata:\n  name: nightly\nspec:\n  schedule: \"0 3 * * *\"\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          restartPolicy: OnFailure\n          containers:\n            - name: report\n              image: {python}\n"
    );
    let mut child = c
        .command()
        .args(["-", "--format", "json", "--platform", "linux/amd64"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::io::Write::write_all(child.stdin.as_mut().unwrap(), cronjob.as_bytes()).unwrap();
    let o = child.wait_with_output().unwrap();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["passed"], true);
    assert_eq!(v["outcome"], "pass");
    let image = &v["images"][0];
    assert_eq!(image["image"], python.as_str());
    let u = &image["uses"][0];
    assert_eq!(u["file"], "-");
    assert_eq!(u["kind"], "CronJob");
    assert_eq!(u["namespace"], Value::Null);
    assert_eq!(u["container"], "report");
    assert_eq!(u["containerKind"], "container");
    assert_eq!(
        u["pointer"],
        "/spec/jobTemplate/spec/template/spec/containers/0/image"
    );
    assert_eq!(u["line"], 14);
    // --platform narrows what is verified.
    let platforms = image["verdict"]["platforms"].as_array().unwrap();
    assert_eq!(platforms.len(), 1);
}

#[test]
fn without_platform_every_platform_of_the_index_is_verified() {
    let c = Cluster::start();
    let file = c.write("app.yaml", &c.deployment(&c.image("python:3.13")));
    let o = c.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let platforms: Vec<&str> = v["images"][0]["verdict"]["platforms"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["platform"].as_str().unwrap())
        .collect();
    assert_eq!(platforms, ["linux/amd64", "linux/arm64"]);
}

#[test]
fn compose_services_are_verified_and_build_only_services_skipped() {
    let c = Cluster::start();
    let compose = format!(
        "name: shop\nservices:\n  web:\n    image: {}\n    ports: [\"8080:80\"]\n  api:\n    build: ./api\n  db:\n    image: {}\n",
        c.image("python:3.13"),
        c.image("unsigned:1")
    );
    let file = c.write("compose.yaml", &compose);
    let o = c.run(&file, &[]);
    assert_eq!(code(&o), 1, "{}\n{}", stdout(&o), stderr(&o));
    let text = stdout(&o);
    assert!(
        text.contains("used by compose shop service web ("),
        "{text}"
    );
    assert!(
        text.contains(&format!("FAIL {}", c.image("unsigned:1"))),
        "{text}"
    );
    assert!(
        text.contains("skipped (no containers): 1 compose build: api"),
        "{text}"
    );
}

#[test]
fn malformed_documents_and_options_exit_2_naming_the_place() {
    let c = Cluster::start();
    let yaml_error = c.write(
        "broken.yaml",
        "apiVersion: v1\nkind: ConfigMap\n---\napiVersion: v1\nkind: Pod\nspec:\n  containers: [\n",
    );
    let o = c.run(&yaml_error, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    let err = stderr(&o);
    assert!(
        err.contains("broken.yaml") && err.contains("document 2"),
        "{err}"
    );
    let no_image = c.write(
        "no-image.yaml",
        "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n    - name: app\n",
    );
    let o = c.run(&no_image, &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("has no image"), "{}", stderr(&o));
    let bad_image = c.write(
        "bad.yaml",
        "apiVersion: v1\nkind: Pod\nspec:\n  containers:\n    - name: app\n      image: \"{{ .Values.image }}\"\n",
    );
    let o = c.run(&bad_image, &[]);
    assert_eq!(code(&o), 2);
    assert!(stderr(&o).contains("bad.yaml"), "{}", stderr(&o));
    let ok = c.write("ok.yaml", &c.deployment(&c.image("python:3.13")));
    let o = c.run(&ok, &["--pin", ok.to_str().unwrap()]);
    assert_eq!(code(&o), 2, "--pin takes one input");
    let o = c.run(&ok, &["--format", "spdx"]);
    assert_eq!(code(&o), 2);
}

#[test]
fn deploy_rules_choose_requirements_per_namespace_and_exemptions_end() {
    let c = Cluster::start();
    let python = c.image("python:3.13");
    let unsigned = c.image("unsigned:1");
    let manifest = |namespace: &str, image: &str| {
        format!("apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  namespace: {namespace}\nspec:\n  containers:\n    - name: app\n      image: {image}\n")
    };
    let key = c.key.display().to_string();
    let policy = |extra: &str| {
        c.write(
            "policy.toml",
            &format!(
                "version = 1\n[trust]\nkeys = [{{ path = {key:?} }}]\n\n[[deploy.rules]]\nimages = [\"*/dhi/python\"]\nnamespaces = [\"prod\"]\nrequire = [\"fips\"]\n{extra}"
            ),
        )
    };
    // A Pod running `image` in namespace `ns`, under the policy with `extra`.
    let run = |extra: &str, ns: &str, image: &str, flags: &[&str]| {
        c.command()
            .arg(c.write("pod.yaml", &manifest(ns, image)))
            .arg("--policy")
            .arg(policy(extra))
            .args(flags)
            .output()
            .unwrap()
    };
    let amd64 = ["--platform", "linux/amd64"];
    // The rule asks for a FIPS attestation the image does not carry: prod fails, dev passes.
    let prod = run("", "prod", &python, &amd64);
    assert_eq!(code(&prod), 1, "{}", stdout(&prod));
    assert!(stdout(&prod).contains("require.fips"), "{}", stdout(&prod));
    assert!(
        stdout(&prod).contains("requirements of deploy.rules[0]"),
        "{}",
        stdout(&prod)
    );
    assert_eq!(code(&run("", "dev", &python, &amd64)), 0);

    // An exemption lets the unsigned image run until its date, and no longer.
    let until_2099 =
        "\n[[deploy.exempt]]\nimages = [\"*/dhi/unsigned:*\"]\nexpires = \"2099-01-01\"\nreason = \"OPS-1\"\n";
    let o = run(until_2099, "dev", &unsigned, &[]);
    assert_eq!(code(&o), 0, "{}", stdout(&o));
    assert!(
        stdout(&o).contains(&format!("EXEMPT {unsigned} until 2099-01-01 (OPS-1)")),
        "{}",
        stdout(&o)
    );
    let o = run(until_2099, "dev", &unsigned, &["--format", "json"]);
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema(&v);
    assert_eq!(v["images"][0]["outcome"], "exempt");
    assert_eq!(v["images"][0]["exemption"]["expires"], "2099-01-01");
    let until_2020 =
        "\n[[deploy.exempt]]\nimages = [\"*/dhi/unsigned:*\"]\nexpires = \"2020-01-01\"\n";
    let o = run(until_2020, "dev", &unsigned, &[]);
    assert_eq!(code(&o), 1, "{}", stdout(&o));
    assert!(
        stdout(&o).contains("an exemption for this image expired on 2020-01-01"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn one_image_in_eight_containers_is_verified_once() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let requests_for = |containers: usize| -> usize {
        let registry = TestRegistry::start("dhi/python", Content::from_layout(&fixture.dir));
        let reference = format!("{}/dhi/python:3.13", registry.addr);
        let mut yaml =
            String::from("apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec:\n  containers:\n");
        for i in 0..containers {
            yaml.push_str(&format!("    - name: c{i}\n      image: {reference}\n"));
        }
        let file = dir.path().join(format!("pod{containers}.yaml"));
        std::fs::write(&file, yaml).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .arg("deploy")
            .arg(&file)
            .arg("--key")
            .arg(&key)
            .arg("--no-cache")
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
        assert!(
            stdout(&o).contains(&format!("(1 image, {containers} use")),
            "{}",
            stdout(&o)
        );
        registry.requests().len()
    };
    let one = requests_for(1);
    assert!(one > 0);
    assert_eq!(requests_for(8), one, "8 uses of one image cost what 1 does");
}

#[test]
fn one_image_under_two_rules_requiring_the_same_is_verified_once() {
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(
        &policy,
        "version = 1\n\n[[deploy.rules]]\nimages = [\"*\"]\nnamespaces = [\"shop\"]\nrequire = [\"provenance\"]\n\n[[deploy.rules]]\nimages = [\"*\"]\nnamespaces = [\"payments\"]\nrequire = [\"provenance\"]\n",
    )
    .unwrap();
    let requests_for = |namespaces: &[&str]| -> usize {
        let registry = TestRegistry::start("dhi/python", Content::from_layout(&fixture.dir));
        let reference = format!("{}/dhi/python:3.13", registry.addr);
        let yaml: String = namespaces
            .iter()
            .map(|ns| {
                format!(
                    "---\napiVersion: v1\nkind: Pod\nmetadata: {{name: p, namespace: {ns}}}\nspec:\n  containers:\n    - name: c\n      image: {reference}\n"
                )
            })
            .collect();
        let file = dir.path().join(format!("pods{}.yaml", namespaces.len()));
        std::fs::write(&file, yaml).unwrap();
        let o = Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .arg("deploy")
            .arg(&file)
            .arg("--key")
            .arg(&key)
            .arg("--policy")
            .arg(&policy)
            .args(["--no-cache", "--format", "json"])
            .output()
            .unwrap();
        assert_eq!(code(&o), 0, "{}\n{}", stdout(&o), stderr(&o));
        let v: Value = serde_json::from_slice(&o.stdout).unwrap();
        // Reported under each rule.
        let rules: Vec<&Value> = v["images"]
            .as_array()
            .unwrap()
            .iter()
            .map(|i| &i["rule"])
            .collect();
        assert_eq!(rules.len(), namespaces.len(), "{v}");
        registry.requests().len()
    };
    let one = requests_for(&["shop"]);
    assert!(one > 0);
    assert_eq!(
        requests_for(&["shop", "payments"]),
        one,
        "two rules requiring the same share one verification"
    );
}

#[test]
fn an_image_that_cannot_be_checked_is_exit_3_never_a_pass() {
    let c = Cluster::start();
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        l.local_addr().unwrap().to_string()
    };
    let file = c.write(
        "pod.yaml",
        &format!(
            "apiVersion: v1\nkind: Pod\nmetadata: {{name: p}}\nspec:\n  containers:\n    - name: ok\n      image: {}\n    - name: gone\n      image: {closed}/dhi/python:3.13\n",
            c.image("python:3.13")
        ),
    );
    let o = c.run(&file, &["--format", "json"]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_schema(&v);
    assert_eq!(v["passed"], false);
    assert_eq!(v["outcome"], "error");
    assert_eq!(v["images"][1]["outcome"], "error");
    let o = c.run(&file, &["--pin"]);
    assert_eq!(code(&o), 3);
    assert_eq!(stdout(&o), "");
}

#[test]
fn an_empty_input_is_refused_but_objects_without_images_pass() {
    let c = Cluster::start();
    let empty = c.write("empty.yaml", "# nothing rendered\n---\n");
    let o = c.run(&empty, &[]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("no Kubernetes object"),
        "{}",
        stderr(&o)
    );
    let config = c.write(
        "config.yaml",
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c}\ndata: {a: b}\n",
    );
    let o = c.run(&config, &[]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("result: PASS (0 images, 0 uses)"),
        "{}",
        stdout(&o)
    );
}

#[test]
fn ten_thousand_documents_finish_with_one_verification_per_image() {
    let c = Cluster::start();
    let python = c.image("python:3.13");
    let mut yaml = String::new();
    for i in 0..10_000 {
        yaml.push_str(&format!(
            "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app-{i}\n  namespace: ns-{}\nspec:\n  template:\n    spec:\n      containers:\n        - name: app\n          image: {python}\n",
            i % 50
        ));
    }
    let file = c.write("many.yaml", &yaml);
    let o = c.run(&file, &["--platform", "linux/amd64"]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains("result: PASS (1 image, 10000 uses)"),
        "{}",
        stdout(&o).lines().last().unwrap_or_default()
    );
}

/// `text` with every image use pointed at the registry's python image (a
/// pinned image at its digest), each scalar keeping its quotes.
fn rewrite_images(c: &Cluster, text: &str, uses: &[dhi_verify::workload::ImageUse]) -> String {
    let mut spans: Vec<(std::ops::Range<usize>, bool)> = uses
        .iter()
        .map(|u| (u.span.clone().unwrap(), u.image.contains('@')))
        .collect();
    spans.sort_by_key(|(s, _)| std::cmp::Reverse(s.start));
    spans.dedup_by_key(|(s, _)| s.start);
    let mut out = text.to_owned();
    for (span, pinned) in spans {
        let new = if pinned {
            format!("{}@{}", c.image("python:3.13"), c.python_digest)
        } else {
            c.image("python:3.13")
        };
        let quote = &text[span.start..span.start + 1];
        let scalar = if quote == "\"" || quote == "'" {
            format!("{quote}{new}{quote}")
        } else {
            new
        };
        out.replace_range(span, &scalar);
    }
    out
}

#[test]
fn the_public_manifests_in_testdata_pass_image_by_image_and_pin() {
    let c = Cluster::start();
    let testdata = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../testdata/deploy");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&testdata)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "json"))
        .collect();
    files.sort();
    assert!(files.len() >= 8, "{files:?}");
    for path in files {
        let name = path.file_name().unwrap().to_str().unwrap().to_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        let found = dhi_verify::workload::read_manifests(&name, &text).unwrap();
        assert!(!found.uses.is_empty(), "{name}: no images");
        let rewritten = c.write(&name, &rewrite_images(&c, &text, &found.uses));
        let o = c.run(&rewritten, &["--platform", "linux/amd64"]);
        assert_eq!(code(&o), 0, "{name}\n{}\n{}", stdout(&o), stderr(&o));
        let uses = found.uses.len();
        let plural = if uses == 1 { "" } else { "s" };
        assert!(
            stdout(&o).contains(&format!(" {uses} use{plural})")),
            "{name}: {}",
            stdout(&o)
        );
        // Pinned, every image carries the verified digest; the rest is as it was.
        let o = c.run(&rewritten, &["--platform", "linux/amd64", "--pin"]);
        if name == "compose-anchors.yaml" {
            // An image in an anchor that aliases share is not pinned in place.
            assert_eq!(code(&o), 2, "{name}: {}", stderr(&o));
            assert!(stderr(&o).contains("shared by an alias"), "{}", stderr(&o));
            assert_eq!(stdout(&o), "");
            continue;
        }
        assert_eq!(code(&o), 0, "{name}: {}", stderr(&o));
        let pinned = stdout(&o);
        let again = dhi_verify::workload::read_manifests(&name, &pinned).unwrap();
        assert_eq!(again.uses.len(), uses, "{name}");
        for u in &again.uses {
            assert!(u.image.ends_with(&c.python_digest), "{name}: {}", u.image);
        }
        assert_eq!(again.skipped, found.skipped, "{name}");
    }
}

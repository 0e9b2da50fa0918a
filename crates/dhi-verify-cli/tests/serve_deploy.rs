//! `deploy/`: the kustomize base's manifests parse as YAML and hold what the
//! webhook needs (fail closed, the webhook's own namespace and kube-system
//! left out, the service path and port the server answers on, a deadline
//! below the API server's timeout, a hardened Deployment with a
//! PodDisruptionBudget, cert-manager's CA injection). When `kubectl` is on
//! the PATH the base is also rendered with `kubectl kustomize` and the
//! rendered objects checked the same way. The Helm chart is rendered with
//! the real `helm` (`$DHI_VERIFY_HELM`, which `scripts/test` fetches, or
//! `helm` on the PATH; the tests fail without it) and checked the same way,
//! with its settings' variants, and the rendered Deployment's arguments and
//! files start the real binary.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};

use serde::Deserialize as _;
use serde_json::Value;

fn deploy() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy")
}

/// Every YAML document of `text` as JSON values (empty documents dropped).
fn documents(text: &str, what: &str) -> Vec<Value> {
    serde_norway::Deserializer::from_str(text)
        .map(|d| Value::deserialize(d).unwrap_or_else(|e| panic!("{what}: {e}")))
        .filter(|v| !v.is_null())
        .collect()
}

fn kind<'a>(objects: &'a [Value], kind: &str) -> Vec<&'a Value> {
    objects.iter().filter(|o| o["kind"] == kind).collect()
}

fn one<'a>(objects: &'a [Value], k: &str) -> &'a Value {
    let found = kind(objects, k);
    assert_eq!(found.len(), 1, "expected one {k}, found {}", found.len());
    found[0]
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

/// Where an installation's serving certificate comes from.
enum Tls<'a> {
    /// A cert-manager Certificate, its CA injected into the webhooks.
    CertManager,
    /// An existing Secret, and the CA bundle written into the webhooks.
    Given { secret: &'a str, ca_bundle: &'a str },
}

/// The checks a webhook installation must pass, on parsed objects.
fn check_installation(objects: &[Value], namespace: &str) {
    check_installation_with(objects, namespace, Tls::CertManager)
}

/// [`check_installation`] with the TLS source `tls`.
fn check_installation_with(objects: &[Value], namespace: &str, tls: Tls) {
    let service = one(objects, "Service");
    let service_port = &service["spec"]["ports"][0];
    let deployment = one(objects, "Deployment");
    let pod = &deployment["spec"]["template"];
    let container = &pod["spec"]["containers"][0];
    let args = strings(&container["args"]);
    assert_eq!(args.first(), Some(&"serve"), "{args:?}");
    let deadline: f64 = args
        .iter()
        .find_map(|a| a.strip_prefix("--admission-deadline="))
        .expect("--admission-deadline in the Deployment's args")
        .parse()
        .unwrap();
    let listen_port: u64 = args
        .iter()
        .find_map(|a| a.strip_prefix("--listen=0.0.0.0:"))
        .expect("--listen in the Deployment's args")
        .parse()
        .unwrap();
    assert_eq!(container["ports"][0]["containerPort"], listen_port);
    assert_eq!(service_port["targetPort"], container["ports"][0]["name"]);

    for (k, path) in [
        ("ValidatingWebhookConfiguration", "/validate"),
        ("MutatingWebhookConfiguration", "/mutate"),
    ] {
        let configuration = one(objects, k);
        let tls_volume = pod["spec"]["volumes"]
            .as_array()
            .unwrap()
            .iter()
            .find(|v| v["name"] == "tls")
            .unwrap();
        let service_name = service["metadata"]["name"].as_str().unwrap();
        match &tls {
            Tls::CertManager => {
                let injected = configuration["metadata"]["annotations"]
                    ["cert-manager.io/inject-ca-from"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{k}: no cert-manager CA injection"));
                let (ca_ns, certificate) = injected.split_once('/').unwrap();
                assert_eq!(ca_ns, namespace, "{k}");
                let cert = kind(objects, "Certificate")
                    .into_iter()
                    .find(|c| c["metadata"]["name"] == certificate)
                    .unwrap_or_else(|| panic!("{k}: no Certificate {certificate}"));
                let secret = cert["spec"]["secretName"].as_str().unwrap();
                assert_eq!(tls_volume["secret"]["secretName"], secret, "{k}");
                let dns = strings(&cert["spec"]["dnsNames"]);
                assert!(
                    dns.contains(&format!("{service_name}.{namespace}.svc").as_str()),
                    "{dns:?}"
                );
            }
            Tls::Given { secret, ca_bundle } => {
                assert!(kind(objects, "Certificate").is_empty());
                assert!(
                    configuration["metadata"]["annotations"]["cert-manager.io/inject-ca-from"]
                        .is_null()
                );
                assert_eq!(tls_volume["secret"]["secretName"], *secret, "{k}");
                for webhook in configuration["webhooks"].as_array().unwrap() {
                    assert_eq!(webhook["clientConfig"]["caBundle"], *ca_bundle, "{k}");
                }
            }
        }
        for webhook in configuration["webhooks"].as_array().unwrap() {
            let name = webhook["name"].as_str().unwrap();
            assert_eq!(webhook["failurePolicy"], "Fail", "{name}");
            assert_eq!(webhook["sideEffects"], "None", "{name}");
            assert_eq!(
                strings(&webhook["admissionReviewVersions"]),
                ["v1"],
                "{name}"
            );
            let timeout = webhook["timeoutSeconds"].as_f64().unwrap();
            assert!(
                deadline < timeout,
                "{name}: deadline {deadline} s, timeout {timeout} s"
            );
            let target = &webhook["clientConfig"]["service"];
            assert_eq!(target["path"], path, "{name}");
            assert_eq!(target["name"], service_name, "{name}");
            assert_eq!(target["namespace"], namespace, "{name}");
            assert_eq!(target["port"], service_port["port"], "{name}");
            let expressions = webhook["namespaceSelector"]["matchExpressions"]
                .as_array()
                .unwrap();
            assert!(
                expressions
                    .iter()
                    .any(|e| e["key"] == "kubernetes.io/metadata.name"
                        && e["operator"] == "NotIn"
                        && strings(&e["values"]).contains(&namespace)
                        && strings(&e["values"]).contains(&"kube-system")),
                "{name}: {expressions:?}"
            );
            let resources: Vec<&str> = webhook["rules"]
                .as_array()
                .unwrap()
                .iter()
                .flat_map(|r| strings(&r["resources"]))
                .collect();
            assert!(resources.contains(&"pods"), "{name}: {resources:?}");
            if path == "/validate" {
                for r in [
                    "pods/ephemeralcontainers",
                    "deployments",
                    "statefulsets",
                    "daemonsets",
                    "jobs",
                    "cronjobs",
                ] {
                    assert!(resources.contains(&r), "{name}: {r} not covered");
                }
            }
        }
    }

    assert!(deployment["spec"]["replicas"].as_u64().unwrap() >= 2);
    assert_eq!(pod["spec"]["securityContext"]["runAsNonRoot"], true);
    assert_eq!(container["securityContext"]["readOnlyRootFilesystem"], true);
    assert_eq!(
        container["securityContext"]["allowPrivilegeEscalation"],
        false
    );
    assert!(container["resources"]["limits"]["memory"].is_string());
    assert!(container["resources"]["limits"]["cpu"].is_string());
    let cache_dir = args
        .iter()
        .find_map(|a| a.strip_prefix("--cache-dir="))
        .expect("a --cache-dir on a writable volume (the root filesystem is read-only)");
    assert!(
        container["volumeMounts"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["mountPath"] == cache_dir),
        "{cache_dir} is not a volume"
    );
    let pdb = one(objects, "PodDisruptionBudget");
    assert_eq!(
        pdb["spec"]["selector"]["matchLabels"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        service["spec"]["selector"],
        deployment["spec"]["selector"]["matchLabels"]
    );
    assert_eq!(
        deployment["spec"]["selector"]["matchLabels"], pod["metadata"]["labels"],
        "the selector selects the pods"
    );
}

#[test]
fn the_kustomize_base_is_a_fail_closed_webhook_installation() {
    let base = deploy().join("kustomize");
    let kustomization = &documents(
        &std::fs::read_to_string(base.join("kustomization.yaml")).unwrap(),
        "kustomization.yaml",
    )[0];
    let namespace = kustomization["namespace"].as_str().unwrap();
    let mut objects = Vec::new();
    for resource in strings(&kustomization["resources"]) {
        let text = std::fs::read_to_string(base.join(resource))
            .unwrap_or_else(|e| panic!("{resource}: {e}"));
        objects.extend(documents(&text, resource));
    }
    // Every file of the base is listed.
    for entry in std::fs::read_dir(&base).unwrap() {
        let name = entry.unwrap().file_name().into_string().unwrap();
        if name != "kustomization.yaml" {
            assert!(
                strings(&kustomization["resources"]).contains(&name.as_str()),
                "{name} not in resources"
            );
        }
    }
    check_installation(&objects, namespace);
    the_deployment_starts_the_real_server(&objects);
    // The image the Deployment names is the one kustomize rewrites.
    let image =
        one(&objects, "Deployment")["spec"]["template"]["spec"]["containers"][0]["image"].clone();
    assert_eq!(kustomization["images"][0]["name"], image);

    // Rendered, when kubectl is here (it bundles kustomize).
    match std::process::Command::new("kubectl")
        .args(["kustomize"])
        .arg(&base)
        .output()
    {
        Ok(out) => {
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
            let rendered = documents(&String::from_utf8(out.stdout).unwrap(), "kubectl kustomize");
            assert_eq!(rendered.len(), objects.len());
            check_installation(&rendered, namespace);
            for o in rendered.iter().filter(|o| {
                o["kind"] != "Namespace"
                    && !o["kind"]
                        .as_str()
                        .unwrap()
                        .ends_with("WebhookConfiguration")
            }) {
                assert_eq!(o["metadata"]["namespace"], namespace, "{}", o["kind"]);
            }
        }
        Err(e) => {
            eprintln!("kubectl not found ({e}): the base was checked as written, not rendered")
        }
    }
}

/// Every `.Values.a.b…` path a template uses.
fn value_paths(template: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(at) = rest.find(".Values.") {
        rest = &rest[at + ".Values.".len()..];
        let path: String = rest
            .chars()
            .take_while(|c| c.is_ascii_alphanumeric() || *c == '.' || *c == '_')
            .collect();
        out.push(path.trim_end_matches('.').to_owned());
    }
    out
}

#[test]
fn the_helm_chart_parses_and_its_templates_use_only_values_that_exist() {
    let chart = deploy().join("helm/dhi-verify");
    let meta = &documents(
        &std::fs::read_to_string(chart.join("Chart.yaml")).unwrap(),
        "Chart.yaml",
    )[0];
    assert_eq!(meta["apiVersion"], "v2");
    assert_eq!(meta["name"], "dhi-verify");
    let values = &documents(
        &std::fs::read_to_string(chart.join("values.yaml")).unwrap(),
        "values.yaml",
    )[0];
    assert_eq!(values["webhook"]["failurePolicy"], "Fail");
    assert!(values["replicaCount"].as_u64().unwrap() >= 2);
    assert!(
        values["admissionDeadline"].as_f64().unwrap()
            < values["webhook"]["timeoutSeconds"].as_f64().unwrap()
    );
    assert!(values["tls"]["certManager"]["enabled"].as_bool().unwrap());
    assert!(strings(&values["webhook"]["excludedNamespaces"]).contains(&"kube-system"));
    let mut checked = 0;
    for entry in std::fs::read_dir(chart.join("templates")).unwrap() {
        let path = entry.unwrap().path();
        let text = std::fs::read_to_string(&path).unwrap();
        for p in value_paths(&text) {
            let pointer = format!("/{}", p.replace('.', "/"));
            assert!(
                values.pointer(&pointer).is_some(),
                "{}: .Values.{p} is not in values.yaml",
                path.display()
            );
            checked += 1;
        }
        // The parts a webhook must have are written into the templates.
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        if name.ends_with("webhookconfiguration.yaml") {
            assert!(text.contains("dhi-verify.webhookCommon"), "{name}");
            assert!(text.contains("cert-manager.io/inject-ca-from"), "{name}");
        }
        if name == "_helpers.tpl" {
            for needle in [
                "kubernetes.io/metadata.name",
                "NotIn",
                ".root.Release.Namespace",
                "path: {{ .path }}",
                "failurePolicy",
            ] {
                assert!(text.contains(needle), "_helpers.tpl: {needle}");
            }
        }
        if name == "deployment.yaml" {
            for needle in [
                "runAsNonRoot: true",
                "readOnlyRootFilesystem: true",
                "--admission-deadline=",
                "--cache-dir=",
                "/readyz",
                "/healthz",
            ] {
                assert!(text.contains(needle), "deployment.yaml: {needle}");
            }
        }
    }
    assert!(checked > 20, "only {checked} value references found");
}

#[test]
fn reading_pull_secrets_is_opt_in_with_get_on_secrets_and_the_token_mounted_only_then() {
    // The base: no token, no RBAC.
    let base = deploy().join("kustomize");
    for file in ["serviceaccount.yaml", "deployment.yaml"] {
        let objects = documents(&std::fs::read_to_string(base.join(file)).unwrap(), file);
        let o = &objects[0];
        let mount = if o["kind"] == "Deployment" {
            &o["spec"]["template"]["spec"]["automountServiceAccountToken"]
        } else {
            &o["automountServiceAccountToken"]
        };
        assert_eq!(mount, false, "{file}");
    }
    // The component: `get` on secrets only, bound to the base's ServiceAccount,
    // and the Deployment's token mounted.
    let component = deploy().join("components/pull-secrets");
    let kustomization = &documents(
        &std::fs::read_to_string(component.join("kustomization.yaml")).unwrap(),
        "kustomization.yaml",
    )[0];
    assert_eq!(kustomization["kind"], "Component");
    let patch = kustomization["patches"][0]["patch"].as_str().unwrap();
    assert!(patch.contains("/spec/template/spec/automountServiceAccountToken"));
    assert!(patch.contains("value: true"));
    let rbac = documents(
        &std::fs::read_to_string(component.join("rbac.yaml")).unwrap(),
        "rbac.yaml",
    );
    let role = one(&rbac, "ClusterRole");
    assert_eq!(
        role["rules"],
        serde_json::json!([{"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]}])
    );
    let binding = one(&rbac, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["name"], "dhi-verify");
    assert_eq!(binding["subjects"][0]["namespace"], "dhi-verify");
    // Rendered over the base, when kubectl is here.
    if std::process::Command::new("kubectl")
        .arg("version")
        .arg("--client")
        .output()
        .is_ok()
    {
        // An overlay (kustomize wants relative paths) in the target directory.
        let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
        let relative = |to: &Path| {
            let (from, to) = (
                dir.path().canonicalize().unwrap(),
                to.canonicalize().unwrap(),
            );
            let common = from
                .components()
                .zip(to.components())
                .take_while(|(a, b)| a == b)
                .count();
            let mut path = PathBuf::new();
            for _ in from.components().skip(common) {
                path.push("..");
            }
            path.extend(to.components().skip(common));
            path.display().to_string()
        };
        std::fs::write(
            dir.path().join("kustomization.yaml"),
            format!(
                "resources:\n  - {}\ncomponents:\n  - {}\n",
                relative(&base),
                relative(&component)
            ),
        )
        .unwrap();
        let out = std::process::Command::new("kubectl")
            .arg("kustomize")
            .arg(dir.path())
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let rendered = documents(&String::from_utf8(out.stdout).unwrap(), "rendered");
        let deployment = one(&rendered, "Deployment");
        assert_eq!(
            deployment["spec"]["template"]["spec"]["automountServiceAccountToken"],
            true
        );
        one(&rendered, "ClusterRoleBinding");
        check_installation(&rendered, "dhi-verify");
    }
    // The chart: off by default; the Deployment mounts the token only when on.
    let chart = deploy().join("helm/dhi-verify");
    let values = &documents(
        &std::fs::read_to_string(chart.join("values.yaml")).unwrap(),
        "values.yaml",
    )[0];
    assert_eq!(values["pullSecrets"]["enabled"], false);
    let deployment = std::fs::read_to_string(chart.join("templates/deployment.yaml")).unwrap();
    assert!(deployment.contains("automountServiceAccountToken: {{ .Values.pullSecrets.enabled }}"));
    let rbac = std::fs::read_to_string(chart.join("templates/rbac.yaml")).unwrap();
    assert!(rbac.starts_with("{{- if .Values.pullSecrets.enabled }}"));
    assert!(rbac.contains("verbs: [\"get\"]"));
    let verbs: Vec<&str> = rbac
        .lines()
        .map(str::trim)
        .filter(|l| l.starts_with("verbs:"))
        .collect();
    assert_eq!(
        verbs, ["verbs: [\"get\"]"; 2],
        "a Role and a ClusterRole, get only"
    );
}

/// The `helm` binary: `$DHI_VERIFY_HELM` (`scripts/test` fetches Helm and
/// sets it), else `helm` on the PATH. A missing helm fails the test: the
/// chart is what users install.
fn helm() -> PathBuf {
    if let Some(path) = std::env::var_os("DHI_VERIFY_HELM") {
        return PathBuf::from(path);
    }
    match std::process::Command::new("helm")
        .args(["version", "--short"])
        .output()
    {
        Ok(out) if out.status.success() => PathBuf::from("helm"),
        _ => panic!(
            "no helm: run ./scripts/test (it fetches Helm {HELM_VERSION}), or set DHI_VERIFY_HELM or put helm on the PATH"
        ),
    }
}

/// The Helm release the tests expect `scripts/test` to fetch.
const HELM_VERSION: &str = "3.17.3";

/// `helm template` of the chart as release `dv` in `namespace`, with the
/// extra `args`: the objects, or helm's error.
fn helm_template(namespace: &str, args: &[&str]) -> Result<Vec<Value>, String> {
    let out = std::process::Command::new(helm())
        .args(["template", "dv"])
        .arg(deploy().join("helm/dhi-verify"))
        .args(["--namespace", namespace])
        .args(args)
        .output()
        .expect("run helm");
    if out.status.success() {
        Ok(documents(
            &String::from_utf8(out.stdout).unwrap(),
            "helm template",
        ))
    } else {
        Err(String::from_utf8_lossy(&out.stderr).into_owned())
    }
}

#[test]
fn the_helm_chart_lints_and_renders_to_a_fail_closed_webhook_installation() {
    let out = std::process::Command::new(helm())
        .args(["lint", "--strict"])
        .arg(deploy().join("helm/dhi-verify"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The defaults: cert-manager, both webhooks, no access to Secrets.
    let objects = helm_template("dhi-verify", &[]).unwrap();
    check_installation(&objects, "dhi-verify");
    assert!(kind(&objects, "ClusterRole").is_empty());
    assert!(kind(&objects, "Role").is_empty());
    assert_eq!(
        one(&objects, "Deployment")["spec"]["template"]["spec"]["automountServiceAccountToken"],
        false
    );
    // Another namespace: the webhooks leave that one out instead.
    let objects = helm_template("security", &["--set", "replicaCount=3"]).unwrap();
    check_installation(&objects, "security");
    assert_eq!(one(&objects, "Deployment")["spec"]["replicas"], 3);
    // A Secret and CA bundle of one's own instead of cert-manager.
    let objects = helm_template(
        "dhi-verify",
        &[
            "--set",
            "tls.certManager.enabled=false",
            "--set",
            "tls.secretName=webhook-tls",
            "--set",
            "tls.caBundle=Q0EK",
        ],
    )
    .unwrap();
    check_installation_with(
        &objects,
        "dhi-verify",
        Tls::Given {
            secret: "webhook-tls",
            ca_bundle: "Q0EK",
        },
    );
    // Only the validating webhook.
    let objects = helm_template("dhi-verify", &["--set", "webhook.mutate.enabled=false"]).unwrap();
    assert!(kind(&objects, "MutatingWebhookConfiguration").is_empty());
    one(&objects, "ValidatingWebhookConfiguration");
}

#[test]
fn the_helm_chart_refuses_settings_under_which_the_webhook_would_not_answer() {
    // A deadline at or past the API server's timeout: answers that come
    // after it gave up.
    for deadline in ["10", "12"] {
        let e = helm_template(
            "dhi-verify",
            &["--set", &format!("admissionDeadline={deadline}")],
        )
        .unwrap_err();
        assert!(
            e.contains("admissionDeadline must be below webhook.timeoutSeconds"),
            "{e}"
        );
    }
    // No cert-manager and no certificate of one's own.
    let e = helm_template("dhi-verify", &["--set", "tls.certManager.enabled=false"]).unwrap_err();
    assert!(e.contains("tls.caBundle is required"), "{e}");
    let e = helm_template(
        "dhi-verify",
        &[
            "--set",
            "tls.certManager.enabled=false",
            "--set",
            "tls.caBundle=Q0EK",
        ],
    )
    .unwrap_err();
    assert!(e.contains("tls.secretName is required"), "{e}");
}

#[test]
fn the_helm_charts_pull_secret_access_is_get_on_secrets_cluster_wide_or_per_namespace() {
    let rules = serde_json::json!([{"apiGroups": [""], "resources": ["secrets", "serviceaccounts"], "verbs": ["get"]}]);
    let objects = helm_template("dhi-verify", &["--set", "pullSecrets.enabled=true"]).unwrap();
    check_installation(&objects, "dhi-verify");
    let deployment = one(&objects, "Deployment");
    let account = &deployment["spec"]["template"]["spec"]["serviceAccountName"];
    assert_eq!(
        deployment["spec"]["template"]["spec"]["automountServiceAccountToken"],
        true
    );
    let role = one(&objects, "ClusterRole");
    assert_eq!(role["rules"], rules);
    let binding = one(&objects, "ClusterRoleBinding");
    assert_eq!(binding["roleRef"]["kind"], "ClusterRole");
    assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
    assert_eq!(binding["subjects"][0]["kind"], "ServiceAccount");
    assert_eq!(binding["subjects"][0]["name"], *account);
    assert_eq!(binding["subjects"][0]["namespace"], "dhi-verify");
    assert!(kind(&objects, "Role").is_empty());

    let objects = helm_template(
        "dhi-verify",
        &[
            "--set",
            "pullSecrets.enabled=true",
            "--set",
            "pullSecrets.namespaces={shop,payments}",
        ],
    )
    .unwrap();
    assert!(kind(&objects, "ClusterRole").is_empty());
    assert!(kind(&objects, "ClusterRoleBinding").is_empty());
    let mut granted = Vec::new();
    for role in kind(&objects, "Role") {
        assert_eq!(role["rules"], rules);
        let namespace = role["metadata"]["namespace"].as_str().unwrap();
        let binding = kind(&objects, "RoleBinding")
            .into_iter()
            .find(|b| b["metadata"]["namespace"] == namespace)
            .unwrap_or_else(|| panic!("no RoleBinding in {namespace}"));
        assert_eq!(binding["roleRef"]["kind"], "Role");
        assert_eq!(binding["roleRef"]["name"], role["metadata"]["name"]);
        assert_eq!(binding["subjects"][0]["name"], *account);
        assert_eq!(binding["subjects"][0]["namespace"], "dhi-verify");
        granted.push(namespace.to_owned());
    }
    granted.sort();
    assert_eq!(granted, ["payments", "shop"]);
}

/// The rendered Deployment's arguments, with its ConfigMap's files and a
/// certificate at the paths it mounts them, start the real binary: a flag
/// the chart writes that `serve` does not know, or a policy or key it
/// cannot load, would be a pod in a crash loop.
#[test]
fn the_helm_charts_deployment_arguments_and_files_start_the_real_server() {
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("policy.toml");
    std::fs::write(&policy, "version = 1\n\n[require]\nattestations = [\"provenance\", \"sbom\"]\n\n[[deploy.rules]]\nimages = [\"registry.example/*\"]\nrequire = [\"signature\"]\n").unwrap();
    let key =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/vectors/dhi/keys/dhi-2.pub");
    let objects = helm_template(
        "dhi-verify",
        &[
            "--set-file",
            &format!("policy={}", policy.display()),
            "--set-file",
            &format!("keys.extra\\.pub={}", key.display()),
            "--set",
            "platforms={linux/amd64,linux/arm64}",
            "--set",
            "registryCredentialsSecret=pull",
        ],
    )
    .unwrap();
    check_installation(&objects, "dhi-verify");
    let args = the_deployment_starts_the_real_server(&objects);
    assert!(args.iter().any(|a| a.starts_with("--policy=")), "{args:?}");
    assert!(args.iter().any(|a| a.ends_with("extra.pub")), "{args:?}");
    assert_eq!(
        args.iter().filter(|a| a.starts_with("--platform=")).count(),
        2,
        "{args:?}"
    );
}

/// Starts the real binary as the Deployment of `objects` would: its
/// arguments and environment, with its ConfigMaps' files, a registry config
/// for each other Secret and a certificate for `tls` written at its mount
/// paths (under a temporary root), listening on a free port instead of
/// 8443. Panics unless it starts serving; returns the arguments it ran with.
fn the_deployment_starts_the_real_server(objects: &[Value]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let deployment = one(objects, "Deployment");
    let pod = &deployment["spec"]["template"]["spec"];
    let container = &pod["containers"][0];
    // Every mount, under the temporary directory.
    let root = dir.path().join("root");
    let at = |path: &str| root.join(path.trim_start_matches('/'));
    let volumes = pod["volumes"].as_array().unwrap();
    for mount in container["volumeMounts"].as_array().unwrap() {
        let target = at(mount["mountPath"].as_str().unwrap());
        std::fs::create_dir_all(&target).unwrap();
        let volume = volumes
            .iter()
            .find(|v| v["name"] == mount["name"])
            .unwrap_or_else(|| panic!("no volume {}", mount["name"]));
        if let Some(map) = volume["configMap"]["name"].as_str() {
            let config_map = kind(objects, "ConfigMap")
                .into_iter()
                .find(|c| c["metadata"]["name"] == map)
                .unwrap_or_else(|| panic!("no ConfigMap {map}"));
            for (file, text) in config_map["data"].as_object().unwrap() {
                std::fs::write(target.join(file), text.as_str().unwrap()).unwrap();
            }
        }
        if volume["secret"].is_object() && volume["name"] != "tls" {
            // Registry credentials (none here) as the Secret's config.json.
            std::fs::write(target.join("config.json"), r#"{"auths":{}}"#).unwrap();
        }
        if volume["name"] == "tls" {
            let out = std::process::Command::new("openssl")
                .args(["req", "-x509", "-newkey", "ec", "-pkeyopt"])
                .args(["ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"])
                .args([
                    "-subj",
                    "/CN=dhi-verify",
                    "-keyout",
                    "tls.key",
                    "-out",
                    "tls.crt",
                ])
                .current_dir(&target)
                .output()
                .expect("openssl");
            assert!(
                out.status.success(),
                "{}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
    }
    let mut args = Vec::new();
    for a in strings(&container["args"]) {
        if a.starts_with("--listen=") {
            // Any free port here, instead of the pod's own 8443.
            args.push("--listen=127.0.0.1:0".to_owned());
        } else if let Some((flag, path)) = a.split_once("=/") {
            args.push(format!("{flag}={}", at(path).display()));
        } else {
            args.push(a.to_owned());
        }
    }
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
    command.args(&args);
    for env in container["env"].as_array().into_iter().flatten() {
        let value = env["value"].as_str().unwrap();
        command.env(
            env["name"].as_str().unwrap(),
            if value.starts_with('/') {
                at(value).display().to_string()
            } else {
                value.to_owned()
            },
        );
    }
    let mut child = command
        .env("XDG_CACHE_HOME", dir.path().join("xdg"))
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::BufRead as _;
    let mut seen = String::new();
    let mut lines = std::io::BufReader::new(child.stderr.take().unwrap()).lines();
    let started = loop {
        match lines.next() {
            Some(Ok(line)) => {
                seen.push_str(&line);
                seen.push('\n');
                if line.starts_with("dhi-verify: serve: listening on https://") {
                    break true;
                }
            }
            _ => break false,
        }
    };
    let _ = child.kill();
    let _ = child.wait();
    assert!(started, "serve did not start with {args:?}: {seen}");
    args
}

/// Real `helm template` output through `dhi-verify deploy`: the chart
/// rendered with its image pointing at a signed test image, read from
/// standard input, verified, and `--pin` rewriting helm's own YAML.
#[test]
fn the_charts_real_helm_output_is_verified_and_pinned_by_deploy() {
    use dhi_verify_testkit::registry::{Content, TestRegistry};
    use dhi_verify_testkit::DhiImage;
    use std::io::Write as _;
    let dir = tempfile::tempdir().unwrap();
    let image = DhiImage::python();
    let fixture = image.write_layout(&dir.path().join("layout"));
    let key = dir.path().join("cosign.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let registry = TestRegistry::start("dhi/python", Content::from_layout(&fixture.dir));
    let rendered = std::process::Command::new(helm())
        .args(["template", "dv"])
        .arg(deploy().join("helm/dhi-verify"))
        .args(["--namespace", "dhi-verify", "--set"])
        .arg(format!("image.repository={}/dhi/python", registry.addr))
        .args(["--set", "image.tag=3.13"])
        .output()
        .unwrap();
    assert!(
        rendered.status.success(),
        "{}",
        String::from_utf8_lossy(&rendered.stderr)
    );
    let deploy_run = |extra: &[&str], input: &[u8]| {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"))
            .args([
                "deploy",
                "-",
                "--no-cache",
                "--platform",
                "linux/amd64",
                "--key",
            ])
            .arg(&key)
            .args(extra)
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(input).unwrap();
        child.wait_with_output().unwrap()
    };
    let o = deploy_run(&["--format", "json"], &rendered.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let report: Value = serde_json::from_slice(&o.stdout).unwrap();
    let images = report["images"].as_array().unwrap();
    assert_eq!(images.len(), 1, "{report}");
    assert_eq!(images[0]["outcome"], "pass");
    assert_eq!(images[0]["uses"].as_array().unwrap().len(), 1, "{report}");
    assert_eq!(images[0]["uses"][0]["kind"], "Deployment");
    // --pin: helm's text with only the image changed, verifying the same digest.
    let o = deploy_run(&["--pin"], &rendered.stdout);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let pinned = String::from_utf8(o.stdout).unwrap();
    let expected = format!("{}/dhi/python:3.13@{}", registry.addr, fixture.index_digest);
    assert!(pinned.contains(&expected), "{pinned}");
    let original = String::from_utf8(rendered.stdout).unwrap();
    assert_eq!(
        pinned.lines().count(),
        original.lines().count(),
        "only the image scalar changed"
    );
    let changed: Vec<(&str, &str)> = original
        .lines()
        .zip(pinned.lines())
        .filter(|(a, b)| a != b)
        .collect();
    assert_eq!(changed.len(), 1, "{changed:?}");
    let o = deploy_run(&[], pinned.as_bytes());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
}

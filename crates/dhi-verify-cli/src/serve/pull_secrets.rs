//! Registry credentials from a pod's `imagePullSecrets`, read through the
//! Kubernetes API (`GET /api/v1/namespaces/{ns}/secrets/{name}`, the
//! ServiceAccount's bearer token, the cluster CA), used in addition to the
//! mounted Docker config for that admission's images only.
//!
//! The secrets' `auths` are merged (the first secret naming a registry wins,
//! as the kubelet tries them in order) and put over the mounted config
//! ([`DockerConfig::auths_over`], which never runs a credential helper the
//! secret names). One verifier is built per distinct merged config (the
//! server's verifier with those credentials) and kept in a small cache keyed
//! by its SHA-256, so namespaces holding the same secret share one, and a
//! rotated secret gets a new one. Reads are kept [`READ_TTL`] and shared by
//! concurrent admissions.
//!
//! A pod template (a Deployment's, a CronJob's, …) that names no pull
//! secrets gets those of its ServiceAccount (`spec.serviceAccountName`, else
//! `default`), read through the API too: the ServiceAccount admission plugin
//! adds them to the Pods it creates, so the workload is judged with the
//! credentials its Pods will have. A Pod already has them (the plugin runs
//! before webhooks), so its ServiceAccount is not read.
//!
//! Fail closed: a secret that cannot be read (RBAC's 403, 404, a timeout, a
//! malformed or other-typed secret) is left out with a warning naming it and
//! why; the images are then verified with the other credentials, and an
//! image that cannot be pulled is denied as usual. An error never allows.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use sha2::{Digest as _, Sha256};

use dhi_verify::source::registry::DockerConfig;
use dhi_verify::Verifier;
use tokio::time::Instant;

use super::cache::Flights;

/// Where a ServiceAccount's token and the cluster CA are mounted in a pod.
pub(crate) const IN_CLUSTER_DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";

/// Largest Secret body read (the API server's limit on a Secret is 1 MiB;
/// base64 and JSON make it larger).
const MAX_SECRET_BYTES: usize = 2 * 1024 * 1024;

/// Longest one Secret read may take (less when the admission has less left).
pub(crate) const SECRET_TIMEOUT: Duration = Duration::from_secs(3);

/// How long a Secret or ServiceAccount read is kept: admissions in a burst
/// share one read, and a rotated secret is seen within this time. Failed
/// reads are not kept.
const READ_TTL: Duration = Duration::from_secs(30);

/// Most reads kept.
const MAX_READS: usize = 1024;

/// Most verifiers kept, one per distinct set of pull-secret credentials.
const MAX_VERIFIERS: usize = 32;

/// Why a pull secret was not used.
#[derive(Debug, Clone, thiserror::Error)]
pub(crate) enum SecretError {
    /// Not a name a Secret can have.
    #[error("expected a Secret name (lowercase letters, digits, '-' and '.'), found {0:?}")]
    Name(String),
    /// The token file could not be read.
    #[error("reading the ServiceAccount token {path}: {reason}")]
    Token {
        /// The token file.
        path: PathBuf,
        /// The I/O error.
        reason: String,
    },
    /// No answer (connection, TLS, timeout).
    #[error("the API server did not answer: {0}")]
    Request(String),
    /// An answer other than 200.
    #[error("expected HTTP 200 from the API server, found {status}{hint}")]
    Status {
        /// The HTTP status.
        status: u16,
        /// What it usually means.
        hint: &'static str,
    },
    /// A body over [`MAX_SECRET_BYTES`].
    #[error("expected a Secret of at most {MAX_SECRET_BYTES} bytes, found more")]
    TooLarge,
    /// Not a Secret, or its data not a Docker config.
    #[error("{0}")]
    Malformed(String),
    /// Another type of Secret.
    #[error("expected a Secret of type kubernetes.io/dockerconfigjson or kubernetes.io/dockercfg, found {0}")]
    Type(String),
}

/// The Kubernetes API as this server's ServiceAccount sees it.
pub(crate) struct KubeApi {
    /// `https://host:port`, without a trailing slash.
    base: String,
    /// Read for every request: the kubelet rotates bound tokens.
    token_file: PathBuf,
    client: reqwest::Client,
}

/// How `serve` reaches the API server: the flags, else the in-cluster
/// environment. `Ok(None)`: not in a cluster, or no token mounted (the chart's
/// default): pull secrets are not read.
pub(crate) fn kube_api(
    api: Option<&str>,
    token_file: Option<&Path>,
    ca_file: Option<&Path>,
) -> Result<Option<KubeApi>, String> {
    let default_dir = Path::new(IN_CLUSTER_DIR);
    let token = token_file.map_or_else(|| default_dir.join("token"), Path::to_path_buf);
    let ca = ca_file.map_or_else(|| default_dir.join("ca.crt"), Path::to_path_buf);
    let base = match api {
        Some(url) => url.trim_end_matches('/').to_owned(),
        None => {
            let (Ok(host), Ok(port)) = (
                std::env::var("KUBERNETES_SERVICE_HOST"),
                std::env::var("KUBERNETES_SERVICE_PORT"),
            ) else {
                return Ok(None);
            };
            if token_file.is_none() && !token.exists() {
                // automountServiceAccountToken: false (pullSecrets off).
                return Ok(None);
            }
            if host.contains(':') {
                format!("https://[{host}]:{port}")
            } else {
                format!("https://{host}:{port}")
            }
        }
    };
    if !base.starts_with("https://") {
        return Err(format!(
            "--kube-api: expected an https:// URL, found {base:?}"
        ));
    }
    std::fs::read(&token).map_err(|e| format!("--kube-token-file {}: {e}", token.display()))?;
    let pem = std::fs::read(&ca).map_err(|e| format!("--kube-ca-file {}: {e}", ca.display()))?;
    let certs = reqwest::Certificate::from_pem_bundle(&pem).map_err(|e| {
        format!(
            "--kube-ca-file {}: expected PEM certificates: {e}",
            ca.display()
        )
    })?;
    if certs.is_empty() {
        return Err(format!(
            "--kube-ca-file {}: expected PEM certificates, found none",
            ca.display()
        ));
    }
    let client = reqwest::Client::builder()
        .tls_certs_only(certs)
        .connect_timeout(SECRET_TIMEOUT)
        .timeout(SECRET_TIMEOUT)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .map_err(|e| format!("the Kubernetes API client: {e}"))?;
    Ok(Some(KubeApi {
        base,
        token_file: token,
        client,
    }))
}

/// A DNS subdomain (what Kubernetes allows as a Secret or namespace name),
/// so that it is one path segment.
fn valid_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !name.starts_with(['-', '.'])
        && name != ".."
}

#[derive(serde::Deserialize)]
struct Secret {
    #[serde(rename = "type", default)]
    kind: Option<String>,
    #[serde(default)]
    data: BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct ServiceAccount {
    #[serde(rename = "imagePullSecrets", default)]
    image_pull_secrets: Vec<Named>,
}

#[derive(serde::Deserialize)]
struct Named {
    #[serde(default)]
    name: String,
}

/// The `imagePullSecrets` names of a ServiceAccount's JSON, each once.
fn pull_secrets_of_service_account(body: &[u8]) -> Result<Vec<String>, SecretError> {
    let account: ServiceAccount = serde_json::from_slice(body)
        .map_err(|e| SecretError::Malformed(format!("expected a ServiceAccount as JSON: {e}")))?;
    let mut names: Vec<String> = Vec::new();
    for n in account.image_pull_secrets {
        if !n.name.is_empty() && !names.contains(&n.name) {
            names.push(n.name);
        }
    }
    Ok(names)
}

impl KubeApi {
    /// The body of `GET /api/v1/namespaces/{namespace}/{resource}/{name}`
    /// (200 only, at most [`MAX_SECRET_BYTES`]).
    async fn get(
        &self,
        namespace: &str,
        resource: &str,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, SecretError> {
        for n in [namespace, name] {
            if !valid_name(n) {
                return Err(SecretError::Name(n.to_owned()));
            }
        }
        let token = std::fs::read_to_string(&self.token_file).map_err(|e| SecretError::Token {
            path: self.token_file.clone(),
            reason: e.to_string(),
        })?;
        let url = format!(
            "{}/api/v1/namespaces/{namespace}/{resource}/{name}",
            self.base
        );
        let fetch = async {
            let mut response = self
                .client
                .get(&url)
                .bearer_auth(token.trim())
                .header("accept", "application/json")
                .timeout(timeout)
                .send()
                .await
                .map_err(|e| SecretError::Request(e.to_string()))?;
            let status = response.status().as_u16();
            if status != 200 {
                let hint = match (status, resource) {
                    (401, _) => " (the ServiceAccount token was refused)",
                    (403, "secrets") => " (this server's ServiceAccount may not get Secrets here: pullSecrets.enabled)",
                    (403, _) => " (this server's ServiceAccount may not get ServiceAccounts here: pullSecrets.enabled)",
                    (404, "secrets") => " (no such Secret)",
                    (404, _) => " (no such ServiceAccount)",
                    _ => "",
                };
                return Err(SecretError::Status { status, hint });
            }
            let mut body = Vec::new();
            while let Some(chunk) = response
                .chunk()
                .await
                .map_err(|e| SecretError::Request(e.to_string()))?
            {
                if body.len() + chunk.len() > MAX_SECRET_BYTES {
                    return Err(SecretError::TooLarge);
                }
                body.extend_from_slice(&chunk);
            }
            Ok(body)
        };
        tokio::time::timeout(timeout, fetch).await.map_err(|_| {
            SecretError::Request(format!("no answer within {} ms", timeout.as_millis()))
        })?
    }
}

/// The `auths` of a Secret's JSON: `.dockerconfigjson` (`{"auths":{…}}`) or
/// the older `.dockercfg` (the `auths` object itself).
fn auths_of_secret(body: &[u8]) -> Result<serde_json::Map<String, serde_json::Value>, SecretError> {
    let secret: Secret = serde_json::from_slice(body)
        .map_err(|e| SecretError::Malformed(format!("expected a Secret as JSON: {e}")))?;
    let kind = secret.kind.unwrap_or_default();
    let key = match kind.as_str() {
        "kubernetes.io/dockerconfigjson" => ".dockerconfigjson",
        "kubernetes.io/dockercfg" => ".dockercfg",
        _ => return Err(SecretError::Type(format!("{kind:?}"))),
    };
    let encoded = secret
        .data
        .get(key)
        .ok_or_else(|| SecretError::Malformed(format!("expected data[{key:?}], found none")))?;
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(encoded.trim())
        .map_err(|e| SecretError::Malformed(format!("data[{key:?}] is not base64: {e}")))?;
    let value: serde_json::Value = serde_json::from_slice(&decoded)
        .map_err(|e| SecretError::Malformed(format!("data[{key:?}] is not JSON: {e}")))?;
    let auths = if key == ".dockercfg" {
        Some(value)
    } else {
        value.get("auths").cloned()
    };
    let Some(serde_json::Value::Object(auths)) = auths else {
        return Err(SecretError::Malformed(format!(
            "expected data[{key:?}] to hold an \"auths\" object, found none"
        )));
    };
    let json = serde_json::json!({ "auths": auths }).to_string();
    // The entries' shape is checked now, so that a bad secret is a warning
    // here rather than an error for every image later.
    DockerConfig::auths_over(json, DockerConfig::None)
        .map_err(|e| SecretError::Malformed(format!("data[{key:?}]: {e}")))?;
    Ok(auths)
}

/// Where a pod spec is: a Pod's `spec`, a pod template's
/// (`spec.template.spec`), a CronJob's (`spec.jobTemplate.spec.template.spec`).
const POD_SPECS: [&str; 3] = [
    "/spec",
    "/spec/template/spec",
    "/spec/jobTemplate/spec/template/spec",
];

/// The pull secrets named in an object's pod spec (`imagePullSecrets`), in
/// order, each once.
pub(crate) fn names_in(object: &serde_json::Value) -> Vec<String> {
    let mut names: Vec<String> = Vec::new();
    for pointer in POD_SPECS {
        let Some(list) = object
            .pointer(&format!("{pointer}/imagePullSecrets"))
            .and_then(|v| v.as_array())
        else {
            continue;
        };
        for name in list.iter().filter_map(|r| r.get("name")?.as_str()) {
            if !name.is_empty() && !names.iter().any(|n| n == name) {
                names.push(name.to_owned());
            }
        }
    }
    names
}

/// The ServiceAccount whose pull secrets a pod template's Pods will get
/// (`serviceAccountName`, else the deprecated `serviceAccount`, else
/// `default`): `None` for a Pod (the ServiceAccount admission plugin has
/// already added them), for an object without a pod template, and when the
/// template names pull secrets of its own (the plugin adds none then).
pub(crate) fn service_account_of_template(object: &serde_json::Value) -> Option<String> {
    if object.get("kind").and_then(|k| k.as_str()) == Some("Pod") || !names_in(object).is_empty() {
        return None;
    }
    let spec = POD_SPECS[1..]
        .iter()
        .find_map(|p| object.pointer(p).filter(|s| s.is_object()))?;
    let named = |key: &str| {
        spec.get(key)
            .and_then(|v| v.as_str())
            .filter(|s| !s.is_empty())
            .map(str::to_owned)
    };
    Some(
        named("serviceAccountName")
            .or_else(|| named("serviceAccount"))
            .unwrap_or_else(|| "default".to_owned()),
    )
}

/// The pull secrets' credentials and the verifiers built with them.
/// A kept read: the object's body, or why it could not be read.
type Read = Arc<Result<Vec<u8>, SecretError>>;

pub(crate) struct PullSecrets {
    api: Arc<KubeApi>,
    /// Reads by (namespace, resource, name), single-flight, kept [`READ_TTL`].
    reads: Arc<Flights<(String, &'static str, String), Read>>,
    /// The server's verifier: each credential set's verifier is this one
    /// with other credentials ([`Verifier::with_docker_config`]), so its
    /// trust is exactly the trust the verdict cache key names (nothing is
    /// read from disk again).
    base: Arc<Verifier>,
    /// Counts each read, used or not.
    metrics: Arc<super::metrics::Metrics>,
    /// Most recently used first.
    verifiers: Mutex<Vec<([u8; 32], Arc<Verifier>)>>,
}

impl PullSecrets {
    pub(crate) fn new(
        api: KubeApi,
        base: Arc<Verifier>,
        metrics: Arc<super::metrics::Metrics>,
    ) -> PullSecrets {
        PullSecrets {
            api: Arc::new(api),
            reads: Flights::new(MAX_READS),
            base,
            metrics,
            verifiers: Mutex::new(Vec::new()),
        }
    }

    /// The body of `resource/name` in `namespace`: kept, being read, or
    /// read now (on its own task, [`SECRET_TIMEOUT`] at most, so a read this
    /// admission stops waiting for still fills the cache); waited for until
    /// `timeout`.
    async fn read(
        &self,
        namespace: &str,
        resource: &'static str,
        name: &str,
        timeout: Duration,
    ) -> Result<Vec<u8>, SecretError> {
        let deadline = Instant::now() + timeout;
        let api = self.api.clone();
        let (ns, n) = (namespace.to_owned(), name.to_owned());
        let (_, pending) = self.reads.get(
            (ns.clone(), resource, n.clone()),
            move || async move { Arc::new(api.get(&ns, resource, &n, SECRET_TIMEOUT).await) },
            |r: &Read| r.is_ok().then_some(READ_TTL),
        );
        match pending.until(deadline).await {
            Some(read) => (*read).clone(),
            None => Err(SecretError::Request(format!(
                "no answer within {} ms",
                timeout.as_millis()
            ))),
        }
    }

    /// The pull secrets of ServiceAccount `account` in `namespace`, and a
    /// warning when it cannot be read (then none).
    pub(crate) async fn service_account_names(
        &self,
        namespace: &str,
        account: &str,
        timeout: Duration,
    ) -> (Vec<String>, Option<String>) {
        let names = self
            .read(namespace, "serviceaccounts", account, timeout)
            .await
            .and_then(|body| pull_secrets_of_service_account(&body));
        match names {
            Ok(names) => {
                self.metrics.pull_secret_read(true);
                (names, None)
            }
            Err(e) => {
                self.metrics.pull_secret_read(false);
                let warning = format!(
                    "dhi-verify: the imagePullSecrets of ServiceAccount {namespace}/{account} not used: {e}; its images are verified with the server's own registry credentials"
                );
                (Vec::new(), Some(warning))
            }
        }
    }

    /// The verifier for `names` in `namespace` (`None`: the server's own,
    /// when no secret could be used) and a warning for each secret left out.
    pub(crate) async fn verifier_for(
        &self,
        namespace: &str,
        names: &[String],
        timeout: Duration,
    ) -> (Option<Arc<Verifier>>, Vec<String>) {
        let reads = names.iter().map(|name| async move {
            let body = self.read(namespace, "secrets", name, timeout).await?;
            auths_of_secret(&body)
        });
        let results = futures_util::future::join_all(reads).await;
        let mut warnings = Vec::new();
        let mut merged = serde_json::Map::new();
        for (name, result) in names.iter().zip(results) {
            self.metrics.pull_secret_read(result.is_ok());
            match result {
                Ok(auths) => {
                    for (registry, entry) in auths {
                        merged.entry(registry).or_insert(entry);
                    }
                }
                Err(e) => warnings.push(format!(
                    "dhi-verify: imagePullSecret {namespace}/{name} not used: {e}; its images are verified with the server's own registry credentials"
                )),
            }
        }
        if merged.is_empty() {
            return (None, warnings);
        }
        let json = serde_json::json!({ "auths": merged }).to_string();
        match self.verifier(json).await {
            Ok(v) => (Some(v), warnings),
            Err(e) => {
                warnings.push(format!(
                    "dhi-verify: imagePullSecrets {} in {namespace} not used: {e}",
                    names.join(", ")
                ));
                (None, warnings)
            }
        }
    }

    /// The verifier for a merged Docker config JSON, kept by its SHA-256.
    async fn verifier(&self, json: String) -> Result<Arc<Verifier>, String> {
        let key: [u8; 32] = Sha256::digest(json.as_bytes()).into();
        if let Some(found) = self.kept(&key) {
            return Ok(found);
        }
        let base = self.base.clone();
        let built = tokio::task::spawn_blocking(move || {
            let config = DockerConfig::auths_over(json, DockerConfig::FromEnvironment)
                .map_err(|e| e.to_string())?;
            base.with_docker_config(config).map_err(|e| e.to_string())
        })
        .await
        .map_err(|e| format!("building the verifier: {e}"))??;
        let built = Arc::new(built);
        let mut kept = self.verifiers.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(i) = kept.iter().position(|(k, _)| *k == key) {
            // Built twice at once: keep the first.
            return Ok(kept[i].1.clone());
        }
        kept.insert(0, (key, built.clone()));
        kept.truncate(MAX_VERIFIERS);
        Ok(built)
    }

    fn kept(&self, key: &[u8; 32]) -> Option<Arc<Verifier>> {
        let mut kept = self.verifiers.lock().unwrap_or_else(|p| p.into_inner());
        let i = kept.iter().position(|(k, _)| k == key)?;
        let entry = kept.remove(i);
        let found = entry.1.clone();
        kept.insert(0, entry);
        Some(found)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secret(kind: &str, key: &str, data: &str) -> Vec<u8> {
        let encoded = base64::engine::general_purpose::STANDARD.encode(data);
        serde_json::json!({"kind": "Secret", "type": kind, "data": {key: encoded}})
            .to_string()
            .into_bytes()
    }

    #[test]
    fn both_docker_secret_types_give_auths_and_others_are_refused() {
        let auths = auths_of_secret(&secret(
            "kubernetes.io/dockerconfigjson",
            ".dockerconfigjson",
            r#"{"auths":{"r.example":{"auth":"YTpi"}}}"#,
        ))
        .unwrap();
        assert!(auths.contains_key("r.example"));
        let auths = auths_of_secret(&secret(
            "kubernetes.io/dockercfg",
            ".dockercfg",
            r#"{"r.example":{"auth":"YTpi"}}"#,
        ))
        .unwrap();
        assert!(auths.contains_key("r.example"));
        for (body, expected) in [
            (b"not json".to_vec(), "expected a Secret as JSON"),
            (secret("Opaque", "x", "{}"), "found \"Opaque\""),
            (
                secret("kubernetes.io/dockerconfigjson", ".dockercfg", "{}"),
                "expected data[\".dockerconfigjson\"], found none",
            ),
            (
                secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{"),
                "is not JSON",
            ),
            (
                secret("kubernetes.io/dockerconfigjson", ".dockerconfigjson", "{}"),
                "to hold an \"auths\" object",
            ),
            (
                secret(
                    "kubernetes.io/dockerconfigjson",
                    ".dockerconfigjson",
                    r#"{"auths":{"r.example":7}}"#,
                ),
                "expected a Docker config JSON",
            ),
        ] {
            let e = auths_of_secret(&body).unwrap_err().to_string();
            assert!(e.contains(expected), "{e} lacks {expected}");
        }
    }

    #[test]
    fn names_come_from_pods_templates_and_cronjobs_once_each() {
        let pod = serde_json::json!({"spec": {"imagePullSecrets": [{"name": "a"}, {"name": "b"}, {"name": "a"}, {}]}});
        assert_eq!(names_in(&pod), ["a", "b"]);
        let deployment = serde_json::json!({"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "c"}]}}}});
        assert_eq!(names_in(&deployment), ["c"]);
        let cronjob = serde_json::json!({"spec": {"jobTemplate": {"spec": {"template": {"spec": {"imagePullSecrets": [{"name": "d"}]}}}}}});
        assert_eq!(names_in(&cronjob), ["d"]);
        assert!(names_in(&serde_json::json!({"spec": {}})).is_empty());
    }

    #[test]
    fn a_templates_service_account_is_read_only_when_its_pods_would_get_its_secrets() {
        let deployment = |spec: serde_json::Value| serde_json::json!({"kind": "Deployment", "spec": {"template": {"spec": spec}}});
        let containers = serde_json::json!([{"name": "a", "image": "x"}]);
        assert_eq!(
            service_account_of_template(&deployment(
                serde_json::json!({"containers": containers, "serviceAccountName": "builder"})
            ))
            .as_deref(),
            Some("builder")
        );
        assert_eq!(
            service_account_of_template(&deployment(
                serde_json::json!({"containers": containers, "serviceAccount": "old"})
            ))
            .as_deref(),
            Some("old")
        );
        assert_eq!(
            service_account_of_template(&deployment(serde_json::json!({"containers": containers})))
                .as_deref(),
            Some("default")
        );
        let cronjob = serde_json::json!({"kind": "CronJob", "spec": {"jobTemplate": {"spec": {"template": {"spec": {"containers": containers}}}}}});
        assert_eq!(
            service_account_of_template(&cronjob).as_deref(),
            Some("default")
        );
        // Its own pull secrets: the plugin adds none.
        assert_eq!(
            service_account_of_template(&deployment(serde_json::json!({
                "containers": containers, "imagePullSecrets": [{"name": "own"}]
            }))),
            None
        );
        // A Pod already has them; a Service has no pods.
        let pod = serde_json::json!({"kind": "Pod", "spec": {"containers": containers}});
        assert_eq!(service_account_of_template(&pod), None);
        let service = serde_json::json!({"kind": "Service", "spec": {"ports": []}});
        assert_eq!(service_account_of_template(&service), None);
    }

    #[test]
    fn names_are_one_path_segment() {
        assert!(valid_name("regcred"));
        assert!(valid_name("my.reg-cred2"));
        for bad in ["", "..", "a/b", "A", "-a", "a?b", "a b"] {
            assert!(!valid_name(bad), "{bad}");
        }
    }
}

//! Debian's `docker-registry` (distribution 2.8.2) on 127.0.0.1 with a
//! random port, a token server for its token-auth mode, and a pusher.
//!
//! Missing `docker-registry` (or `htpasswd`, `openssl`) is a loud failure
//! naming the package to install, never a skipped test.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use p256::ecdsa::signature::Signer as _;
use p256::ecdsa::{Signature, SigningKey};
use p256::pkcs8::DecodePrivateKey as _;
use serde_json::json;
use tempfile::TempDir;

use super::http::{decode, read_request, request, respond, Request};
use super::Content;

const INSTALL: &str =
    "install it: apt-get update && apt-get install -y docker-registry apache2-utils openssl (CI's .ci/run does)";

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

fn b64url(bytes: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
}

/// `Authorization: Basic …` for `user:pass`.
pub fn basic(user: &str, pass: &str) -> String {
    format!("Basic {}", b64(format!("{user}:{pass}").as_bytes()))
}

/// How the registry authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum RegistryAuth {
    None,
    /// htpasswd (bcrypt) with one user.
    Basic {
        user: String,
        pass: String,
    },
    /// Bearer tokens from a [`TokenServer`] that knows one user.
    Token {
        user: String,
        pass: String,
    },
}

/// A token server issuing ES256 JWTs the way distribution's token auth wants them.
///
/// Two ways to ask (distribution's token specification): `GET /token` with
/// `Authorization: Basic user:pass`, and the OAuth2 refresh-token grant,
/// `POST /token` with the form `grant_type=refresh_token&service=…&scope=…&client_id=…&refresh_token=`
/// [`TokenServer::identity_token`] (what `docker login` stores as `identitytoken`).
pub struct TokenServer {
    pub addr: String,
    pub service: String,
    /// The one identity (refresh) token the server accepts.
    pub identity_token: String,
    key: SigningKey,
    cert_der: Vec<u8>,
    stop: Arc<AtomicBool>,
    issued: Arc<AtomicUsize>,
    refreshed: Arc<AtomicUsize>,
}

/// What a `POST /token` form asks for: `Ok(scope)` for a valid refresh-token
/// grant with `refresh_token`, else the OAuth2 error code and description.
fn refresh_grant(
    req: &Request,
    service: &str,
    refresh_token: &str,
) -> Result<String, (&'static str, String)> {
    let body = String::from_utf8_lossy(&req.body);
    let form: std::collections::BTreeMap<String, String> = body
        .split('&')
        .filter(|kv| !kv.is_empty())
        .map(|kv| {
            let (k, v) = kv.split_once('=').unwrap_or((kv, ""));
            (decode(k), decode(v))
        })
        .collect();
    let field = |k: &str| form.get(k).map(String::as_str).unwrap_or_default();
    if !req
        .header("content-type")
        .is_some_and(|c| c.starts_with("application/x-www-form-urlencoded"))
    {
        return Err(("invalid_request", "expected a form".into()));
    }
    if field("grant_type") != "refresh_token" {
        return Err(("unsupported_grant_type", field("grant_type").to_owned()));
    }
    if field("client_id").is_empty() {
        return Err(("invalid_request", "client_id is required".into()));
    }
    if field("service") != service {
        return Err((
            "invalid_request",
            format!("unknown service {:?}", field("service")),
        ));
    }
    if field("refresh_token") != refresh_token {
        return Err(("invalid_grant", "unknown refresh token".into()));
    }
    Ok(field("scope").to_owned())
}

impl TokenServer {
    /// Generates a key and self-signed certificate (with `openssl`) in `dir`,
    /// writes `dir/token.crt`, and serves `GET /token` to `user:pass` and
    /// `POST /token` to the refresh token `dhi-verify-test-identity-<user>-<pass>`.
    pub fn start(dir: &Path, user: &str, pass: &str) -> Self {
        let key_path = dir.join("token.key");
        let cert_path = dir.join("token.crt");
        let out = Command::new("openssl")
            .args([
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:prime256v1",
                "-nodes",
                "-days",
                "2",
                "-subj",
                "/CN=dhi-verify-test-token",
            ])
            .arg("-keyout")
            .arg(&key_path)
            .arg("-out")
            .arg(&cert_path)
            .output()
            .unwrap_or_else(|e| panic!("running openssl: {e}; {INSTALL}"));
        assert!(
            out.status.success(),
            "openssl: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let key_pem = std::fs::read_to_string(&key_path).unwrap();
        let key = SigningKey::from(p256::SecretKey::from_pkcs8_pem(&key_pem).unwrap());
        let cert_pem = std::fs::read_to_string(&cert_path).unwrap();
        let cert_b64: String = cert_pem
            .lines()
            .filter(|l| !l.starts_with("-----"))
            .collect();
        let cert_der = base64::engine::general_purpose::STANDARD
            .decode(cert_b64)
            .unwrap();
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let stop = Arc::new(AtomicBool::new(false));
        let issued = Arc::new(AtomicUsize::new(0));
        let refreshed = Arc::new(AtomicUsize::new(0));
        let server = TokenServer {
            addr,
            service: "test".into(),
            identity_token: format!("dhi-verify-test-identity-{user}-{pass}"),
            key,
            cert_der,
            stop: stop.clone(),
            issued: issued.clone(),
            refreshed: refreshed.clone(),
        };
        let issuer = server.issuer();
        let expected = basic(user, pass);
        let identity_token = server.identity_token.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if stop.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let Some(req) = read_request(&stream) else {
                    continue;
                };
                if req.method == "POST" {
                    match refresh_grant(&req, &issuer.service, &identity_token) {
                        Ok(scope) => {
                            issued.fetch_add(1, Ordering::SeqCst);
                            refreshed.fetch_add(1, Ordering::SeqCst);
                            let token = issuer.issue(&scope);
                            respond(
                                &stream,
                                200,
                                &[("Content-Type", "application/json".into())],
                                serde_json::to_vec(&json!({
                                    "access_token": token, "scope": scope, "expires_in": 3600
                                }))
                                .unwrap()
                                .as_slice(),
                            );
                        }
                        Err((error, description)) => respond(
                            &stream,
                            // RFC 6749 §5.2: 400 for every error but invalid_client.
                            400,
                            &[("Content-Type", "application/json".into())],
                            serde_json::to_vec(
                                &json!({"error": error, "error_description": description}),
                            )
                            .unwrap()
                            .as_slice(),
                        ),
                    }
                    continue;
                }
                if req.header("authorization") != Some(expected.as_str()) {
                    respond(
                        &stream,
                        401,
                        &[("Content-Type", "application/json".into())],
                        br#"{"details":"bad credentials"}"#,
                    );
                    continue;
                }
                let scope = req.query.get("scope").cloned().unwrap_or_default();
                issued.fetch_add(1, Ordering::SeqCst);
                let token = issuer.issue(&scope);
                respond(
                    &stream,
                    200,
                    &[("Content-Type", "application/json".into())],
                    serde_json::to_vec(&json!({"token": token, "access_token": token}))
                        .unwrap()
                        .as_slice(),
                );
            }
        });
        server
    }

    fn issuer(&self) -> Issuer {
        Issuer {
            key: self.key.clone(),
            cert_der: self.cert_der.clone(),
            service: self.service.clone(),
        }
    }

    /// A token for `scope` (`repository:NAME:pull,push`), as the server issues it.
    pub fn issue(&self, scope: &str) -> String {
        self.issuer().issue(scope)
    }

    /// How many tokens the server issued over HTTP.
    pub fn issued(&self) -> usize {
        self.issued.load(Ordering::SeqCst)
    }

    /// How many of them for a refresh-token grant (`POST`).
    pub fn refreshed(&self) -> usize {
        self.refreshed.load(Ordering::SeqCst)
    }

    pub fn realm(&self) -> String {
        format!("http://{}/token", self.addr)
    }
}

impl Drop for TokenServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = std::net::TcpStream::connect(&self.addr);
    }
}

struct Issuer {
    key: SigningKey,
    cert_der: Vec<u8>,
    service: String,
}

impl Issuer {
    fn issue(&self, scope: &str) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let access: Vec<_> = scope
            .split(' ')
            .filter_map(|s| {
                let mut p = s.splitn(3, ':');
                let (t, name, actions) = (p.next()?, p.next()?, p.next()?);
                Some(json!({"type": t, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
            })
            .collect();
        let header = json!({"typ": "JWT", "alg": "ES256", "x5c": [b64(&self.cert_der)]});
        let claims = json!({
            "iss": "test", "sub": "user", "aud": self.service,
            "exp": now + 3600, "nbf": now - 60, "iat": now - 60,
            "jti": format!("{now}-{}", scope.len()), "access": access,
        });
        let signing_input = format!(
            "{}.{}",
            b64url(&serde_json::to_vec(&header).unwrap()),
            b64url(&serde_json::to_vec(&claims).unwrap())
        );
        let sig: Signature = self.key.sign(signing_input.as_bytes());
        format!("{signing_input}.{}", b64url(&sig.to_bytes()))
    }
}

/// A running `docker-registry`, killed (by its pid) when dropped.
pub struct DistributionRegistry {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    pub auth: RegistryAuth,
    pub token: Option<TokenServer>,
    child: Child,
    _dir: TempDir,
}

impl DistributionRegistry {
    /// Starts the registry and waits until it listens.
    pub fn start(auth: RegistryAuth) -> Self {
        if Command::new("docker-registry")
            .arg("--version")
            .output()
            .is_err()
        {
            panic!("docker-registry is not installed; {INSTALL}");
        }
        let dir = tempfile::tempdir().unwrap();
        let mut token = None;
        let auth_yaml = match &auth {
            RegistryAuth::None => String::new(),
            RegistryAuth::Basic { user, pass } => {
                let out = Command::new("htpasswd")
                    .args(["-Bbn", user, pass])
                    .output()
                    .unwrap_or_else(|e| panic!("running htpasswd: {e}; {INSTALL}"));
                assert!(out.status.success());
                let path = dir.path().join("htpasswd");
                std::fs::write(&path, out.stdout).unwrap();
                format!(
                    "auth:\n  htpasswd:\n    realm: test\n    path: {}\n",
                    path.display()
                )
            }
            RegistryAuth::Token { user, pass } => {
                let t = TokenServer::start(dir.path(), user, pass);
                let yaml = format!(
                    "auth:\n  token:\n    realm: {}\n    service: {}\n    issuer: test\n    rootcertbundle: {}\n",
                    t.realm(),
                    t.service,
                    dir.path().join("token.crt").display()
                );
                token = Some(t);
                yaml
            }
        };
        let config = format!(
            "version: 0.1\nlog:\n  level: info\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:0\n{auth_yaml}",
            dir.path().join("data").display()
        );
        let config_path = dir.path().join("config.yml");
        std::fs::write(&config_path, config).unwrap();
        let mut child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config_path)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("starting docker-registry: {e}; {INSTALL}"));
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut tx = Some(tx);
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { return };
                if let Some(rest) = line.split("listening on ").nth(1) {
                    let addr: String = rest
                        .chars()
                        .take_while(|c| !c.is_whitespace() && *c != '"')
                        .collect();
                    if let Some(tx) = tx.take() {
                        let _ = tx.send(addr);
                    }
                }
                // Keep draining so the registry never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(20)) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("docker-registry did not print \"listening on\" within 20 s");
            }
        };
        DistributionRegistry {
            addr,
            auth,
            token,
            child,
            _dir: dir,
        }
    }

    /// The `Authorization` value that may push to `repo`.
    fn push_auth(&self, repo: &str) -> Option<String> {
        match &self.auth {
            RegistryAuth::None => None,
            RegistryAuth::Basic { user, pass } => Some(basic(user, pass)),
            RegistryAuth::Token { .. } => Some(format!(
                "Bearer {}",
                self.token
                    .as_ref()
                    .unwrap()
                    .issue(&format!("repository:{repo}:pull,push"))
            )),
        }
    }

    /// Pushes a fixture layout to `repo` (see [`push`]).
    pub fn push_layout(&self, repo: &str, layout: &Path) -> Content {
        let content = Content::from_layout(layout);
        push(&self.addr, repo, &content, self.push_auth(repo).as_deref());
        content
    }

    /// Pushes a `cosign save` layout to `repo` with cosign's tag schema
    /// (see [`Content::from_cosign_save`]): the image under `tag`, its
    /// `.sig` / `.att` manifests under `sha256-<hex>.sig` / `.att`.
    pub fn push_cosign_save(&self, repo: &str, layout: &Path, tag: &str) -> Content {
        let content = Content::from_cosign_save(layout, tag);
        push(&self.addr, repo, &content, self.push_auth(repo).as_deref());
        content
    }

    pub fn push(&self, repo: &str, content: &Content) {
        push(&self.addr, repo, content, self.push_auth(repo).as_deref());
    }
}

impl Drop for DistributionRegistry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pushes `content` to `repo` at `addr` with the distribution API: blobs
/// (POST then PUT `?digest=`), image manifests, then indexes, then tags;
/// then, for every subject, the `sha256-<hex>` index listing its referrers
/// (the layout's own `sha256-` tags are not pushed: the pusher maintains them).
pub fn push(addr: &str, repo: &str, content: &Content, auth: Option<&str>) {
    let headers = |extra: Vec<(&'static str, String)>| {
        let mut h = extra;
        if let Some(a) = auth {
            h.push(("Authorization", a.to_owned()));
        }
        h
    };
    for (digest, bytes) in &content.blobs {
        let a = request(
            addr,
            "POST",
            &format!("/v2/{repo}/blobs/uploads/"),
            &headers(vec![]),
            b"",
        );
        assert_eq!(
            a.status,
            202,
            "starting upload: {}",
            String::from_utf8_lossy(&a.body)
        );
        let loc = a.header("location").unwrap().to_owned();
        let path = match loc.find("/v2/") {
            Some(i) => loc[i..].to_owned(),
            None => loc,
        };
        let sep = if path.contains('?') { '&' } else { '?' };
        let put = format!("{path}{sep}digest={}", digest.replace(':', "%3A"));
        let a = request(
            addr,
            "PUT",
            &put,
            &headers(vec![("Content-Type", "application/octet-stream".into())]),
            bytes,
        );
        assert_eq!(
            a.status,
            201,
            "uploading {digest}: {}",
            String::from_utf8_lossy(&a.body)
        );
    }
    let put_manifest = |reference: &str, media_type: &str, bytes: &[u8]| {
        let a = request(
            addr,
            "PUT",
            &format!("/v2/{repo}/manifests/{reference}"),
            &headers(vec![("Content-Type", media_type.to_owned())]),
            bytes,
        );
        assert_eq!(
            a.status,
            201,
            "pushing manifest {reference}: {}",
            String::from_utf8_lossy(&a.body)
        );
    };
    let mut pushed = std::collections::BTreeSet::new();
    for (digest, m) in content.manifests.iter().filter(|(_, m)| !m.is_index()) {
        put_manifest(digest, &m.media_type, &m.bytes);
        pushed.insert(digest.clone());
    }
    loop {
        let ready: Vec<_> = content
            .manifests
            .iter()
            .filter(|(d, m)| m.is_index() && !pushed.contains(*d))
            .filter(|(_, m)| {
                m.json["manifests"].as_array().unwrap().iter().all(|c| {
                    let d = c["digest"].as_str().unwrap_or_default();
                    pushed.contains(d) || !content.manifests.contains_key(d)
                })
            })
            .map(|(d, m)| (d.clone(), m.clone()))
            .collect();
        if ready.is_empty() {
            break;
        }
        for (d, m) in ready {
            put_manifest(&d, &m.media_type, &m.bytes);
            pushed.insert(d);
        }
    }
    for (tag, digest) in &content.tags {
        // The pusher writes the referrers tag schema itself; cosign's
        // `sha256-<hex>.sig` / `.att` tags are ordinary tags.
        let cosign = tag.ends_with(".sig") || tag.ends_with(".att");
        if tag.starts_with("sha256-") && !cosign {
            continue;
        }
        let m = &content.manifests[digest];
        put_manifest(tag, &m.media_type, &m.bytes);
    }
    for subject in content.subjects() {
        let tag = subject.replace("sha256:", "sha256-");
        put_manifest(
            &tag,
            "application/vnd.oci.image.index.v1+json",
            &content.fallback_index(&subject),
        );
    }
}

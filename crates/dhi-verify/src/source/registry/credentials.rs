//! Registry credentials: explicit ones first, then Docker's `config.json`
//! (`$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`): `auths`
//! (base64 `user:password` in `auth`, or `username`/`password`),
//! `credHelpers` (per registry) and `credsStore` (default helper), both run as
//! `docker-credential-<helper> get` with the server URL on stdin.
//!
//! An identity token (`auths.<host>.identitytoken`, written by `docker login`
//! against OAuth2 token servers, or a helper answering the user name
//! `<token>`) is kept as Docker keeps it: user name `<token>`, the token as
//! password. It is exchanged at the token server with the OAuth2
//! refresh-token grant (see `auth.rs`), never sent as Basic credentials.
//!
//! Docker Hub's credentials are stored under `https://index.docker.io/v1/`.
//!
//! [`DockerConfig::AuthsOver`] puts the `auths` of a config held in memory
//! (a Kubernetes pull secret's `.dockerconfigjson`) before another config;
//! its credential helpers are ignored, so that such a config cannot make the
//! verifier run a program.

use std::collections::BTreeMap;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use base64::Engine;
use serde::Deserialize;

use crate::error::SourceError;
use crate::reference::DOCKER_HUB;

/// The key Docker stores Docker Hub's credentials under.
pub const DOCKER_HUB_CONFIG_KEY: &str = "https://index.docker.io/v1/";

/// The user name that marks the password as an identity token (Docker's
/// convention, also used by credential helpers).
pub const IDENTITY_TOKEN_USERNAME: &str = "<token>";

/// A user name and password (or token) for Basic authentication. The
/// password is never printed.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// The user name.
    pub username: String,
    /// The password or access token.
    pub password: String,
}

impl Credentials {
    /// Credentials from a user name and password.
    pub fn new(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials {
            username: username.into(),
            password: password.into(),
        }
    }

    /// An identity token (an OAuth2 refresh token for the registry's token server).
    pub fn identity_token_for(token: impl Into<String>) -> Self {
        Credentials::new(IDENTITY_TOKEN_USERNAME, token)
    }

    /// The identity token, when these credentials are one (user name `<token>`).
    pub fn identity_token(&self) -> Option<&str> {
        (self.username == IDENTITY_TOKEN_USERNAME).then_some(self.password.as_str())
    }

    /// The `Authorization: Basic …` header value.
    pub(crate) fn basic_header(&self) -> String {
        let raw = format!("{}:{}", self.username, self.password);
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(raw)
        )
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("username", &self.username)
            .field("password", &"<redacted>")
            .finish()
    }
}

/// Where Docker's configuration is looked for. `Debug` does not print the
/// JSON of [`DockerConfig::AuthsOver`] (it holds credentials).
#[derive(Clone, PartialEq, Eq, Default)]
pub enum DockerConfig {
    /// `$DOCKER_CONFIG/config.json`, else `$HOME/.docker/config.json`.
    #[default]
    FromEnvironment,
    /// This file.
    File(PathBuf),
    /// No Docker configuration: only explicit credentials (or anonymous).
    None,
    /// The `auths` of this Docker config JSON (`{"auths":{…}}`, as a
    /// Kubernetes `kubernetes.io/dockerconfigjson` secret holds it) first,
    /// then `below`. Its `credsStore` and `credHelpers` are ignored: the JSON
    /// may come from someone who must not choose a program to run. Made by
    /// [`DockerConfig::auths_over`], which checks the JSON.
    AuthsOver {
        /// The Docker config JSON.
        json: String,
        /// Where credentials not in `json` are looked for.
        below: Box<DockerConfig>,
    },
}

impl fmt::Debug for DockerConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DockerConfig::FromEnvironment => f.write_str("FromEnvironment"),
            DockerConfig::File(path) => f.debug_tuple("File").field(path).finish(),
            DockerConfig::None => f.write_str("None"),
            DockerConfig::AuthsOver { below, .. } => f
                .debug_struct("AuthsOver")
                .field("json", &"<redacted>")
                .field("below", below)
                .finish(),
        }
    }
}

/// A Docker config JSON that cannot be read.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("expected a Docker config JSON ({{\"auths\":{{…}}}}), found {0}")]
pub struct InvalidDockerConfig(String);

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct ConfigFile {
    #[serde(default)]
    auths: BTreeMap<String, AuthEntry>,
    #[serde(default)]
    creds_store: Option<String>,
    #[serde(default)]
    cred_helpers: BTreeMap<String, String>,
}

#[derive(Debug, Default, Deserialize)]
struct AuthEntry {
    #[serde(default)]
    auth: Option<String>,
    #[serde(default)]
    username: Option<String>,
    #[serde(default)]
    password: Option<String>,
    #[serde(default)]
    identitytoken: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct HelperAnswer {
    username: String,
    secret: String,
}

impl DockerConfig {
    /// [`DockerConfig::AuthsOver`]: the `auths` of `json` before `below`;
    /// `Err` when `json` is not a Docker config (its entries are decoded when
    /// a registry's credentials are looked up, and a bad one is an error then).
    pub fn auths_over(
        json: impl Into<String>,
        below: DockerConfig,
    ) -> Result<DockerConfig, InvalidDockerConfig> {
        let json = json.into();
        let value: serde_json::Value =
            serde_json::from_str(&json).map_err(|e| InvalidDockerConfig(e.to_string()))?;
        if !value.is_object() {
            return Err(InvalidDockerConfig("JSON that is not an object".to_owned()));
        }
        serde_json::from_value::<ConfigFile>(value)
            .map_err(|e| InvalidDockerConfig(e.to_string()))?;
        Ok(DockerConfig::AuthsOver {
            json,
            below: Box::new(below),
        })
    }

    fn path(&self) -> Option<PathBuf> {
        match self {
            DockerConfig::File(p) => Some(p.clone()),
            DockerConfig::None | DockerConfig::AuthsOver { .. } => None,
            DockerConfig::FromEnvironment => {
                if let Some(dir) = std::env::var_os("DOCKER_CONFIG") {
                    return Some(Path::new(&dir).join("config.json"));
                }
                std::env::var_os("HOME")
                    .map(|home| Path::new(&home).join(".docker").join("config.json"))
            }
        }
    }

    /// The credentials stored for `registry`, if any. A missing file means
    /// none; a malformed file or a failing helper is an error.
    pub(crate) fn lookup(&self, registry: &str) -> Result<Option<Credentials>, SourceError> {
        if let DockerConfig::AuthsOver { json, below } = self {
            let mut config: ConfigFile =
                serde_json::from_str(json).map_err(|e| SourceError::Credentials {
                    registry: registry.to_owned(),
                    reason: InvalidDockerConfig(e.to_string()).to_string(),
                })?;
            config.creds_store = None;
            config.cred_helpers.clear();
            let never = |name: &str, _: &str| -> Result<Option<Credentials>, String> {
                Err(format!("credential helper {name:?} is ignored here"))
            };
            return match lookup_in(&config, registry, &never)? {
                Some(found) => Ok(Some(found)),
                None => below.lookup(registry),
            };
        }
        let Some(path) = self.path() else {
            return Ok(None);
        };
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => {
                return Err(SourceError::Credentials {
                    registry: registry.to_owned(),
                    reason: format!("reading {}: {e}", path.display()),
                })
            }
        };
        let config: ConfigFile =
            serde_json::from_slice(&bytes).map_err(|e| SourceError::Credentials {
                registry: registry.to_owned(),
                reason: format!("{} is not a Docker config file: {e}", path.display()),
            })?;
        lookup_in(&config, registry, &run_helper)
    }
}

/// The keys a registry's credentials may be stored under, best first.
fn config_keys(registry: &str) -> Vec<String> {
    if registry == DOCKER_HUB {
        return vec![
            DOCKER_HUB_CONFIG_KEY.to_owned(),
            "index.docker.io".to_owned(),
            "docker.io".to_owned(),
            "registry-1.docker.io".to_owned(),
        ];
    }
    vec![
        registry.to_owned(),
        format!("https://{registry}"),
        format!("https://{registry}/"),
        format!("http://{registry}"),
        format!("https://{registry}/v1/"),
        format!("https://{registry}/v2/"),
    ]
}

/// The server URL handed to a credential helper.
fn helper_server(registry: &str) -> String {
    if registry == DOCKER_HUB {
        DOCKER_HUB_CONFIG_KEY.to_owned()
    } else {
        registry.to_owned()
    }
}

/// Runs a credential helper: (helper name, server URL) → credentials.
type Helper<'a> = &'a dyn Fn(&str, &str) -> Result<Option<Credentials>, String>;

fn lookup_in(
    config: &ConfigFile,
    registry: &str,
    helper: Helper<'_>,
) -> Result<Option<Credentials>, SourceError> {
    let keys = config_keys(registry);
    let fail = |reason: String| SourceError::Credentials {
        registry: registry.to_owned(),
        reason,
    };
    if let Some(name) = keys.iter().find_map(|k| config.cred_helpers.get(k)) {
        return helper(name, &helper_server(registry)).map_err(fail);
    }
    if let Some(entry) = keys.iter().find_map(|k| config.auths.get(k)) {
        // Docker prefers the identity token when an entry holds both.
        if let Some(token) = entry.identitytoken.as_deref().filter(|t| !t.is_empty()) {
            return Ok(Some(Credentials::identity_token_for(token)));
        }
        if let Some(auth) = entry.auth.as_deref().filter(|a| !a.is_empty()) {
            let decoded = base64::engine::general_purpose::STANDARD
                .decode(auth.trim())
                .map_err(|e| fail(format!("auths entry is not base64: {e}")))?;
            let text = String::from_utf8(decoded)
                .map_err(|_| fail("auths entry is not UTF-8".to_owned()))?;
            let (user, pass) = text
                .split_once(':')
                .ok_or_else(|| fail("auths entry is not user:password".to_owned()))?;
            return Ok(Some(Credentials::new(user, pass)));
        }
        if let (Some(u), Some(p)) = (&entry.username, &entry.password) {
            return Ok(Some(Credentials::new(u.clone(), p.clone())));
        }
    }
    if let Some(store) = &config.creds_store {
        return helper(store, &helper_server(registry)).map_err(fail);
    }
    Ok(None)
}

/// Runs `docker-credential-<name> get`. "Not found" answers are `None`.
fn run_helper(name: &str, server: &str) -> Result<Option<Credentials>, String> {
    if name.is_empty()
        || !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
    {
        return Err(format!(
            "credential helper name {name:?} is not a plain name"
        ));
    }
    let program = format!("docker-credential-{name}");
    let mut child = Command::new(&program)
        .arg("get")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("running {program}: {e}"))?;
    if let Some(mut stdin) = child.stdin.take() {
        stdin
            .write_all(server.as_bytes())
            .map_err(|e| format!("writing to {program}: {e}"))?;
    }
    let out = child
        .wait_with_output()
        .map_err(|e| format!("running {program}: {e}"))?;
    if !out.status.success() {
        let msg = String::from_utf8_lossy(&out.stdout).trim().to_owned();
        if msg.contains("credentials not found") {
            return Ok(None);
        }
        return Err(format!("{program} get failed ({}): {msg}", out.status));
    }
    let answer: HelperAnswer = serde_json::from_slice(&out.stdout)
        .map_err(|e| format!("{program} get answered something else than credentials: {e}"))?;
    Ok(Some(Credentials::new(answer.username, answer.secret)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(json: &str) -> ConfigFile {
        serde_json::from_str(json).unwrap()
    }

    fn no_helper(_: &str, _: &str) -> Result<Option<Credentials>, String> {
        panic!("no helper expected")
    }

    #[test]
    fn auths_entries_decode_base64_user_password() {
        // "user:pa:ss" — the password may contain ':'.
        let c = config(r#"{"auths":{"dhi.io":{"auth":"dXNlcjpwYTpzcw=="}}}"#);
        assert_eq!(
            lookup_in(&c, "dhi.io", &no_helper).unwrap(),
            Some(Credentials::new("user", "pa:ss"))
        );
        assert_eq!(lookup_in(&c, "ghcr.io", &no_helper).unwrap(), None);
    }

    #[test]
    fn docker_hub_uses_the_index_v1_key() {
        let c = config(r#"{"auths":{"https://index.docker.io/v1/":{"auth":"YTpi"}}}"#);
        assert_eq!(
            lookup_in(&c, "docker.io", &no_helper).unwrap(),
            Some(Credentials::new("a", "b"))
        );
    }

    #[test]
    fn cred_helpers_win_over_creds_store_and_get_the_server_url() {
        let c = config(
            r#"{"credsStore":"desktop","credHelpers":{"dhi.io":"pass"},"auths":{"dhi.io":{}}}"#,
        );
        let helper = |name: &str, server: &str| Ok(Some(Credentials::new(name, server)));
        assert_eq!(
            lookup_in(&c, "dhi.io", &helper).unwrap(),
            Some(Credentials::new("pass", "dhi.io"))
        );
        assert_eq!(
            lookup_in(&c, "docker.io", &helper).unwrap(),
            Some(Credentials::new("desktop", DOCKER_HUB_CONFIG_KEY))
        );
    }

    #[test]
    fn malformed_auth_entries_are_errors_not_anonymous() {
        let c = config(r#"{"auths":{"dhi.io":{"auth":"not base64!"}}}"#);
        assert!(matches!(
            lookup_in(&c, "dhi.io", &no_helper),
            Err(SourceError::Credentials { .. })
        ));
    }

    #[test]
    fn a_missing_helper_is_an_error() {
        assert!(run_helper("dhi-verify-test-no-such-helper", "x").is_err());
        assert!(run_helper("../../bin/sh", "x").is_err());
    }

    #[test]
    fn identity_tokens_win_over_user_password_in_the_same_entry() {
        let c =
            config(r#"{"auths":{"dhi.io":{"auth":"dXNlcjpwYTpzcw==","identitytoken":"idt-1"}}}"#);
        let found = lookup_in(&c, "dhi.io", &no_helper).unwrap().unwrap();
        assert_eq!(found.identity_token(), Some("idt-1"));
        assert_eq!(found, Credentials::new("<token>", "idt-1"));
        // An empty identity token is no identity token.
        let c = config(r#"{"auths":{"dhi.io":{"auth":"YTpi","identitytoken":""}}}"#);
        let found = lookup_in(&c, "dhi.io", &no_helper).unwrap().unwrap();
        assert_eq!(found.identity_token(), None);
        assert_eq!(found, Credentials::new("a", "b"));
    }

    #[test]
    fn a_helper_answering_user_token_gives_an_identity_token() {
        let c = config(r#"{"credsStore":"desktop"}"#);
        let helper = |_: &str, _: &str| Ok(Some(Credentials::new("<token>", "idt-2")));
        let found = lookup_in(&c, "dhi.io", &helper).unwrap().unwrap();
        assert_eq!(found.identity_token(), Some("idt-2"));
        assert_eq!(Credentials::new("u", "p").identity_token(), None);
    }

    #[test]
    fn the_password_is_not_printed() {
        let s = format!("{:?}", Credentials::new("u", "secret"));
        assert!(!s.contains("secret"), "{s}");
    }

    #[test]
    fn auths_over_come_first_then_the_config_below_and_never_run_helpers() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("config.json");
        // Below: ghcr.io a:b and dhi.io x:y. Above: dhi.io c:d, and a helper
        // for every registry, which must not run.
        std::fs::write(
            &file,
            r#"{"auths":{"ghcr.io":{"auth":"YTpi"},"dhi.io":{"auth":"eDp5"}}}"#,
        )
        .unwrap();
        let config = DockerConfig::auths_over(
            r#"{"auths":{"dhi.io":{"username":"c","password":"d"}},"credsStore":"evil","credHelpers":{"quay.io":"evil"}}"#,
            DockerConfig::File(file),
        )
        .unwrap();
        assert_eq!(
            config.lookup("dhi.io").unwrap(),
            Some(Credentials::new("c", "d"))
        );
        assert_eq!(
            config.lookup("ghcr.io").unwrap(),
            Some(Credentials::new("a", "b"))
        );
        assert_eq!(config.lookup("quay.io").unwrap(), None);
        // Not a Docker config: refused when made.
        for bad in ["", "[]", r#"{"auths":[]}"#, r#"{"auths":{"dhi.io":7}}"#] {
            assert!(
                DockerConfig::auths_over(bad, DockerConfig::None).is_err(),
                "{bad}"
            );
        }
        // A bad entry is an error when looked up, never a fallback.
        let config =
            DockerConfig::auths_over(r#"{"auths":{"dhi.io":{"auth":"!"}}}"#, DockerConfig::None)
                .unwrap();
        assert!(config.lookup("dhi.io").is_err());
        // Debug does not print the credentials.
        let s = format!("{config:?}");
        assert!(s.contains("AuthsOver") && !s.contains("auths"), "{s}");
    }
}

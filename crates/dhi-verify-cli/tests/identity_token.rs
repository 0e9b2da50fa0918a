//! `docker login` identity tokens through the real binary, against Debian's
//! docker-registry in token mode: the token server only knows the identity
//! token through the OAuth2 refresh-token grant (`POST`), so a pass proves the
//! grant was used; a wrong token is exit 3 naming the registry and the scope.
#![allow(clippy::unwrap_used, clippy::expect_used)] // test helpers: a panic is a test failure

use std::path::{Path, PathBuf};
use std::process::Output;

use dhi_verify_testkit::registry::distribution::{DistributionRegistry, RegistryAuth};
use dhi_verify_testkit::DhiImage;
use serde_json::Value;

const REPO: &str = "dhi/python";

struct Setup {
    registry: DistributionRegistry,
    key: PathBuf,
    _dir: tempfile::TempDir,
}

fn setup() -> Setup {
    let registry = DistributionRegistry::start(RegistryAuth::Token {
        user: "dave".into(),
        pass: "pw".into(),
    });
    let image = DhiImage::python();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    registry.push_layout(REPO, &fixture.dir);
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    Setup {
        registry,
        key,
        _dir: dir,
    }
}

/// `dhi-verify image` with `DOCKER_CONFIG` set to `config_dir`, and `path_dir`
/// first on `PATH` (for a credential helper).
fn run(s: &Setup, config_dir: &Path, path_dir: Option<&Path>) -> Output {
    let cache = tempfile::tempdir().unwrap();
    let mut c = std::process::Command::new(env!("CARGO_BIN_EXE_dhi-verify"));
    c.args([
        "image",
        &format!("{}/{REPO}:3.13", s.registry.addr),
        "--platform",
        "linux/amd64",
        "--timeout",
        "5",
        "--format",
        "json",
        "--key",
    ])
    .arg(&s.key)
    .env("DOCKER_CONFIG", config_dir)
    .env("XDG_CACHE_HOME", cache.path());
    if let Some(dir) = path_dir {
        let path = std::env::var_os("PATH").unwrap_or_default();
        let mut paths = vec![dir.to_path_buf()];
        paths.extend(std::env::split_paths(&path));
        c.env("PATH", std::env::join_paths(paths).unwrap());
    }
    c.output().unwrap()
}

fn config_with(json: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("config.json"), json).unwrap();
    dir
}

fn identity_token_config(s: &Setup, token: &str) -> tempfile::TempDir {
    config_with(&format!(
        r#"{{"auths":{{"{}":{{"identitytoken":"{token}"}}}}}}"#,
        s.registry.addr
    ))
}

#[test]
fn a_docker_login_identity_token_is_exchanged_with_the_refresh_token_grant() {
    let s = setup();
    let token = s.registry.token.as_ref().unwrap();
    let good = identity_token_config(&s, &token.identity_token);
    let o = run(&s, good.path(), None);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    // Every token came from the POST grant (the server has no other way to
    // accept the identity token).
    assert!(token.refreshed() >= 1);
    assert_eq!(token.refreshed(), token.issued());
}

#[test]
fn a_wrong_identity_token_is_exit_3_naming_the_registry_and_the_scope() {
    let s = setup();
    let wrong = identity_token_config(&s, "not-the-token");
    let o = run(&s, wrong.path(), None);
    assert_eq!(
        o.status.code(),
        Some(3),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["outcome"], "error");
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains(&s.registry.addr) && msg.contains("repository:dhi/python:pull"),
        "{msg}"
    );
    assert!(
        !msg.contains("not-the-token"),
        "the token is never printed: {msg}"
    );
    assert_eq!(s.registry.token.as_ref().unwrap().issued(), 0);
}

#[cfg(unix)]
#[test]
fn a_credential_helper_answering_user_token_gives_an_identity_token() {
    use std::os::unix::fs::PermissionsExt as _;
    let s = setup();
    let token = s.registry.token.as_ref().unwrap();
    let bin = tempfile::tempdir().unwrap();
    let helper = bin.path().join("docker-credential-dhitest");
    std::fs::write(
        &helper,
        format!(
            "#!/bin/sh\ncat >/dev/null\nprintf '%s' '{{\"ServerURL\":\"x\",\"Username\":\"<token>\",\"Secret\":\"{}\"}}'\n",
            token.identity_token
        ),
    )
    .unwrap();
    std::fs::set_permissions(&helper, std::fs::Permissions::from_mode(0o755)).unwrap();
    let config = config_with(r#"{"credsStore":"dhitest"}"#);
    let o = run(&s, config.path(), Some(bin.path()));
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&o.stdout),
        String::from_utf8_lossy(&o.stderr)
    );
    assert!(token.refreshed() >= 1);
    assert_eq!(token.refreshed(), token.issued());
}

#[test]
fn a_registry_asking_for_basic_never_gets_the_identity_token() {
    let registry = DistributionRegistry::start(RegistryAuth::Basic {
        user: "erin".into(),
        pass: "pw".into(),
    });
    let image = DhiImage::python();
    let dir = tempfile::tempdir().unwrap();
    let fixture = image.write_layout(&dir.path().join("layout"));
    registry.push_layout(REPO, &fixture.dir);
    let key = dir.path().join("k.pub");
    std::fs::write(&key, image.key.public_pem()).unwrap();
    let s = Setup {
        registry,
        key,
        _dir: dir,
    };
    let config = identity_token_config(&s, "secret-identity-token");
    let o = run(&s, config.path(), None);
    assert_eq!(o.status.code(), Some(3));
    let v: Value = serde_json::from_slice(&o.stdout).unwrap();
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("only an identity token") && msg.contains(&s.registry.addr),
        "{msg}"
    );
    assert!(!msg.contains("secret-identity-token"), "{msg}");
}

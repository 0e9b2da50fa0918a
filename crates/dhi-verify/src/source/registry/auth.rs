//! The `WWW-Authenticate` challenge of a registry (RFC 7235 syntax as
//! distribution and Docker Hub write it): `Basic realm="…"` or
//! `Bearer realm="…",service="…",scope="…"`, the token request, and the
//! token server's answer.
//!
//! Two token requests (distribution's token authentication specification):
//!
//! - `GET <realm>?service=…&scope=…`, with `Authorization: Basic` when there
//!   are credentials (a user name and password, or none: anonymous);
//! - with an identity token (what `docker login` stores as `identitytoken`, or
//!   a credential helper answers with the user name `<token>`), the OAuth2
//!   refresh-token grant: `POST <realm>` with the form
//!   `grant_type=refresh_token&service=…&scope=…&client_id=dhi-verify&refresh_token=…`,
//!   answered with JSON `access_token`. The identity token is never sent to
//!   the registry itself, only to the token server it names.

use std::collections::BTreeMap;

use reqwest::header::CONTENT_TYPE;
use reqwest::Url;
use serde::Deserialize;

use super::credentials::Credentials;

/// The `client_id` sent with OAuth2 token requests.
pub(crate) const OAUTH_CLIENT_ID: &str = "dhi-verify";

/// What a registry asked for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Challenge {
    /// HTTP Basic.
    Basic,
    /// A token from `realm`, for `service` and `scope`.
    Bearer {
        /// The token server's URL.
        realm: String,
        /// The `service` parameter to send back.
        service: Option<String>,
        /// The `scope` the registry named, if any.
        scope: Option<String>,
    },
}

/// Parses a challenge. `None` for schemes other than Basic and Bearer, or a
/// Bearer challenge without a realm.
pub(crate) fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = header.split_once(' ').unwrap_or((header, ""));
    let params = parse_params(rest);
    if scheme.eq_ignore_ascii_case("basic") {
        return Some(Challenge::Basic);
    }
    if !scheme.eq_ignore_ascii_case("bearer") {
        return None;
    }
    Some(Challenge::Bearer {
        realm: params.get("realm")?.clone(),
        service: params.get("service").cloned(),
        scope: params.get("scope").cloned(),
    })
}

/// `key=value` or `key="quoted, value"` pairs separated by commas.
fn parse_params(s: &str) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| *c == ',' || c.is_whitespace()) {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() {
            return out;
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            if let Some(n) = chars.next() {
                                value.push(n);
                            }
                        }
                        '"' => break,
                        c => value.push(c),
                    }
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.insert(key.trim().to_ascii_lowercase(), value.trim().to_owned());
    }
}

/// A token server's answer: distribution writes `token`, OAuth2 servers
/// `access_token`; either will do.
#[derive(Debug, Deserialize)]
pub(crate) struct TokenAnswer {
    #[serde(default)]
    token: Option<String>,
    #[serde(default)]
    access_token: Option<String>,
}

impl TokenAnswer {
    /// The token, if the answer carries a non-empty one.
    pub(crate) fn into_token(self) -> Option<String> {
        self.token
            .filter(|t| !t.is_empty())
            .or(self.access_token.filter(|t| !t.is_empty()))
    }
}

/// The token request for `scope` at `realm`: the OAuth2 refresh-token grant
/// (`POST`) for an identity token, else `GET` with the service and scope in
/// the query and Basic credentials if any.
pub(crate) fn token_request(
    http: &reqwest::Client,
    realm: Url,
    service: Option<&str>,
    scope: &str,
    creds: Option<&Credentials>,
) -> reqwest::RequestBuilder {
    if let Some(refresh_token) = creds.and_then(Credentials::identity_token) {
        return http
            .post(realm)
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(refresh_token_form(service, scope, refresh_token));
    }
    let mut url = realm;
    {
        let mut q = url.query_pairs_mut();
        if let Some(s) = service {
            q.append_pair("service", s);
        }
        q.append_pair("scope", scope);
    }
    let req = http.get(url);
    match creds {
        Some(c) => req.header(reqwest::header::AUTHORIZATION, c.basic_header()),
        None => req,
    }
}

/// The credentials to answer a `Basic` challenge with, or why there are none.
/// An identity token is not a password: it is only ever exchanged at a token
/// server, so a registry asking for Basic gets nothing and the user is told.
pub(crate) fn basic_credentials(creds: Option<Credentials>) -> Result<Credentials, &'static str> {
    match creds {
        None => Err(
            "the registry asks for Basic credentials and none are configured \
             (docker login, or ~/.docker/config.json)",
        ),
        Some(c) if c.identity_token().is_some() => Err(
            "the registry asks for Basic credentials and only an identity token is configured \
             (identity tokens are only exchanged at a Bearer token server)",
        ),
        Some(c) => Ok(c),
    }
}

/// Whether a token server's answer refuses the credentials: 401 or 403, or,
/// for a refresh-token grant, the OAuth2 error answer (RFC 6749 §5.2: 400
/// with `"error": "invalid_grant"`, `"invalid_client"`, `"invalid_scope"` or
/// `"unauthorized_client"`).
pub(crate) fn token_refused(status: u16, body: &[u8], creds: Option<&Credentials>) -> bool {
    #[derive(Deserialize)]
    struct OAuthError {
        error: String,
    }
    if status == 401 || status == 403 {
        return true;
    }
    if status != 400 || creds.and_then(Credentials::identity_token).is_none() {
        return false;
    }
    serde_json::from_slice::<OAuthError>(body).is_ok_and(|e| {
        matches!(
            e.error.as_str(),
            "invalid_grant" | "invalid_client" | "invalid_scope" | "unauthorized_client"
        )
    })
}

/// The `application/x-www-form-urlencoded` body of a refresh-token grant.
/// `service` is required by the specification: sent empty when the challenge
/// named none, as Docker does.
pub(crate) fn refresh_token_form(
    service: Option<&str>,
    scope: &str,
    refresh_token: &str,
) -> String {
    let fields = [
        ("grant_type", "refresh_token"),
        ("service", service.unwrap_or_default()),
        ("scope", scope),
        ("client_id", OAUTH_CLIENT_ID),
        ("refresh_token", refresh_token),
    ];
    let mut out = String::new();
    for (i, (k, v)) in fields.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        form_encode(k, &mut out);
        out.push('=');
        form_encode(v, &mut out);
    }
    out
}

/// WHATWG `application/x-www-form-urlencoded` byte serialisation: ASCII
/// alphanumerics and `*-._` as they are, space as `+`, every other byte `%XX`.
fn form_encode(s: &str, out: &mut String) {
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'*' | b'-' | b'.' | b'_' => {
                out.push(char::from(b));
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identity_tokens_are_never_basic_credentials() {
        assert!(basic_credentials(None).is_err());
        let why = basic_credentials(Some(Credentials::identity_token_for("t"))).unwrap_err();
        assert!(why.contains("identity token"), "{why}");
        assert_eq!(
            basic_credentials(Some(Credentials::new("u", "p"))).unwrap(),
            Credentials::new("u", "p")
        );
    }

    #[test]
    fn oauth_error_answers_refuse_only_identity_tokens() {
        let id = Credentials::identity_token_for("t");
        let pw = Credentials::new("u", "p");
        let grant = br#"{"error":"invalid_grant","error_description":"x"}"#;
        assert!(token_refused(400, grant, Some(&id)));
        assert!(!token_refused(400, grant, Some(&pw)));
        assert!(!token_refused(
            400,
            br#"{"error":"invalid_request"}"#,
            Some(&id)
        ));
        assert!(!token_refused(400, b"not json", Some(&id)));
        assert!(token_refused(401, b"", None));
        assert!(token_refused(403, b"", Some(&pw)));
        assert!(!token_refused(500, grant, Some(&id)));
    }

    #[test]
    fn refresh_token_form_encodes_every_field() {
        assert_eq!(
            refresh_token_form(
                Some("registry.docker.io"),
                "repository:dhi/python:pull repository:x/y:pull",
                "a+b/c=d&e",
            ),
            "grant_type=refresh_token&service=registry.docker.io\
             &scope=repository%3Adhi%2Fpython%3Apull+repository%3Ax%2Fy%3Apull\
             &client_id=dhi-verify&refresh_token=a%2Bb%2Fc%3Dd%26e"
        );
        assert!(refresh_token_form(None, "s", "t").contains("&service=&"));
    }

    #[test]
    fn identity_tokens_post_the_form_and_passwords_get_with_basic() {
        let http = reqwest::Client::new();
        let realm = Url::parse("https://auth.example/token?x=1").unwrap();
        let id = Credentials::identity_token_for("idt");
        let req = token_request(
            &http,
            realm.clone(),
            Some("svc"),
            "repository:a:pull",
            Some(&id),
        )
        .build()
        .unwrap();
        assert_eq!(req.method(), reqwest::Method::POST);
        assert_eq!(req.url(), &realm);
        assert!(req.headers().get(reqwest::header::AUTHORIZATION).is_none());
        assert_eq!(
            req.headers().get(CONTENT_TYPE).unwrap(),
            "application/x-www-form-urlencoded"
        );
        let body = std::str::from_utf8(req.body().unwrap().as_bytes().unwrap()).unwrap();
        assert!(body.contains("grant_type=refresh_token") && body.ends_with("refresh_token=idt"));

        let pw = Credentials::new("u", "p");
        let req = token_request(&http, realm, Some("svc"), "repository:a:pull", Some(&pw))
            .build()
            .unwrap();
        assert_eq!(req.method(), reqwest::Method::GET);
        assert_eq!(
            req.url().as_str(),
            "https://auth.example/token?x=1&service=svc&scope=repository%3Aa%3Apull"
        );
        assert_eq!(
            req.headers().get(reqwest::header::AUTHORIZATION).unwrap(),
            "Basic dTpw"
        );
    }

    #[test]
    fn docker_hub_bearer_challenge_parses_with_commas_in_the_scope() {
        let c = parse_challenge(
            r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/python:pull,push""#,
        );
        assert_eq!(
            c,
            Some(Challenge::Bearer {
                realm: "https://auth.docker.io/token".into(),
                service: Some("registry.docker.io".into()),
                scope: Some("repository:library/python:pull,push".into()),
            })
        );
    }

    #[test]
    fn basic_and_unknown_schemes() {
        assert_eq!(
            parse_challenge(r#"Basic realm="test""#),
            Some(Challenge::Basic)
        );
        assert_eq!(parse_challenge("Negotiate"), None);
        assert_eq!(parse_challenge("Bearer service=x"), None);
        assert_eq!(parse_challenge(""), None);
    }

    #[test]
    fn token_or_access_token() {
        let a: TokenAnswer = serde_json::from_str(r#"{"access_token":"b"}"#).unwrap();
        assert_eq!(a.into_token().as_deref(), Some("b"));
        let a: TokenAnswer = serde_json::from_str(r#"{"token":"","access_token":"b"}"#).unwrap();
        assert_eq!(a.into_token().as_deref(), Some("b"));
        let a: TokenAnswer = serde_json::from_str(r#"{}"#).unwrap();
        assert_eq!(a.into_token(), None);
    }
}

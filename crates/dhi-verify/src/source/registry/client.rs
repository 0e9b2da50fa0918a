//! The HTTP side of registries: one connection pool, credential cache and
//! token cache for every registry a verifier talks to; authentication
//! (anonymous, Basic, Bearer challenge); timeouts; bounded retries. At most
//! [`RegistryOptions::max_concurrent_fetches`] requests are in flight at
//! once, and concurrent requests that meet the same 401 challenge share one
//! answer to it (one token request, not one per request). No request starts
//! after the verification's deadline (`source/budget.rs`).
//!
//! Beside it: the options and observer (`options`), where requests and
//! redirects may go (`redirect`: at most [`RegistryOptions::max_redirects`],
//! never in a loop, never to plain HTTP on a host that is not loopback or
//! listed as insecure; reqwest drops `Authorization` when a redirect leaves
//! the host), and capped body reads charged to the byte budget (`body`).

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::Url;

use super::auth::{
    basic_credentials, parse_challenge, token_refused, token_request, Challenge, TokenAnswer,
};
use super::body::{
    error_chain, excerpt, read_capped, read_error_body, BodyError, Cap, ERROR_BODY_BYTES,
    TOKEN_BODY_BYTES,
};
use super::credentials::Credentials;
use super::options::{FetchEvent, RegistryOptions};
use super::redirect::{
    plain_http_allowed, redirect_policy, redirect_refusal, same_origin_redirects,
};
use super::retry::{backoff, retry_after, retryable_status};
use crate::error::{ConfigError, SourceError};
use crate::reference::DOCKER_HUB;
use crate::source::budget;
use crate::source::cache::DiskCache;

/// Where a registry's API lives: Docker Hub's is not at `docker.io`.
fn api_host(registry: &str) -> &str {
    if registry == DOCKER_HUB {
        "registry-1.docker.io"
    } else {
        registry
    }
}

/// One request's subject, for errors and authentication scopes.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Target<'a> {
    /// The registry as written in references (`docker.io`, `localhost:5000`).
    pub registry: &'a str,
    /// The repository.
    pub repository: &'a str,
}

impl Target<'_> {
    /// `registry/repository`, for errors.
    pub(crate) fn location(&self) -> String {
        format!("{}/{}", self.registry, self.repository)
    }
}

/// An answer whose body was read (capped; error bodies are cut short).
#[derive(Debug)]
pub(crate) struct Answer {
    /// HTTP status.
    pub status: u16,
    /// Response headers.
    pub headers: HeaderMap,
    /// The body.
    pub body: Vec<u8>,
    /// The URL the answer came from (after redirects).
    pub url: Url,
    /// How many requests it took.
    pub attempts: u32,
}

impl Answer {
    /// A header as text.
    pub(crate) fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The error for an answer whose status was not expected.
    pub(crate) fn unexpected(
        &self,
        t: Target<'_>,
        what: &str,
        expected: &'static str,
    ) -> SourceError {
        SourceError::Http {
            location: t.location(),
            what: what.to_owned(),
            expected,
            status: self.status,
            attempts: self.attempts,
        }
    }
}

/// One GET as [`RegistryClient::get`] sends it, the same for every attempt.
struct Request<'a> {
    t: Target<'a>,
    url: &'a Url,
    accept: &'a str,
    /// What is fetched, for errors and the observer.
    what: &'a str,
    /// The authentication scope, `repository:<repository>:pull`.
    scope: String,
}

impl Request<'_> {
    /// What is fetched from where, as the byte budget and deadline name it.
    fn label(&self) -> String {
        format!("{} from {}", self.what, self.t.location())
    }
}

/// The error for a 401 after the challenge was answered, or a 403, with
/// the start of the registry's explanation.
async fn refused(
    req: &Request<'_>,
    resp: &mut reqwest::Response,
    credentials: bool,
) -> SourceError {
    let body = match read_capped(resp, ERROR_BODY_BYTES, &req.label()).await {
        Err(BodyError::Refused(e)) => return e,
        other => other.unwrap_or_default(),
    };
    SourceError::Unauthorized {
        location: req.t.location(),
        scope: req.scope.clone(),
        status: resp.status().as_u16(),
        credentials,
        reason: excerpt(&body),
    }
}

/// The HTTP client with `redirects`, the options' timeouts and our user agent.
fn http_client(
    options: &RegistryOptions,
    redirects: reqwest::redirect::Policy,
) -> Result<reqwest::Client, reqwest::Error> {
    reqwest::Client::builder()
        .redirect(redirects)
        .connect_timeout(options.connect_timeout)
        .timeout(options.request_timeout)
        .user_agent(concat!("dhi-verify/", env!("CARGO_PKG_VERSION")))
        .build()
}

/// The client every registry source of one verifier shares. Cheap to clone.
#[derive(Debug, Clone)]
pub(crate) struct RegistryClient {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    /// For the refresh-token `POST`, built on first use: follows redirects
    /// only within the token server's origin, because a 307/308 resends the
    /// body, and the body holds the refresh token (reqwest strips only
    /// `Authorization` when a redirect leaves the host).
    token_post: std::sync::OnceLock<Result<reqwest::Client, String>>,
    options: RegistryOptions,
    /// `Authorization` values by (registry, scope).
    tokens: Mutex<HashMap<(String, String), String>>,
    /// Registries that asked for Basic authentication.
    basic: Mutex<HashSet<String>>,
    /// Credential lookups, by registry (None: none stored).
    creds: Mutex<HashMap<String, Option<Credentials>>>,
    /// Bounds the requests in flight.
    permits: tokio::sync::Semaphore,
    /// Per (registry, scope): held while answering a challenge, so
    /// concurrent 401s share one answer. One lock per key, so a stalled
    /// token server holds back only its own registry's requests.
    auth_locks: KeyedLocks,
    /// Per (registry, scope): held by the first request to a key nothing is
    /// known about yet, so that concurrent first requests do not each meet
    /// the challenge: the others wait for its answer (one round trip). One
    /// lock per key, so a stalled registry holds back only itself.
    first_locks: KeyedLocks,
    /// (registry, scope)s that answered something other than 401.
    known: Mutex<HashSet<(String, String)>>,
    /// `registry/repository`s whose referrers endpoint answered 404: their
    /// listings go straight to the tag schema.
    no_referrers_api: Mutex<HashSet<String>>,
    /// The disk cache, when there is one.
    cache: Option<DiskCache>,
}

impl std::fmt::Debug for Inner {
    /// Tokens and credentials are secrets: only their count is shown.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RegistryClient")
            .field("options", &self.options)
            .field("cached_tokens", &lock(&self.tokens).len())
            .finish_non_exhaustive()
    }
}

/// Async locks by (registry, scope).
type KeyedLocks = Mutex<HashMap<(String, String), Arc<tokio::sync::Mutex<()>>>>;

/// The lock for `key`, made on first use.
fn keyed(locks: &KeyedLocks, key: &(String, String)) -> Arc<tokio::sync::Mutex<()>> {
    lock(locks).entry(key.clone()).or_default().clone()
}

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent (inserts only).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RegistryClient {
    /// Builds the HTTP client (rustls, system roots).
    pub(crate) fn new(options: RegistryOptions) -> Result<Self, ConfigError> {
        let http = http_client(
            &options,
            redirect_policy(options.max_redirects, options.insecure_registries.clone()),
        )
        .map_err(|e| ConfigError::RegistryClient {
            reason: error_chain(&e),
        })?;
        let permits = options.max_concurrent_fetches.max(1);
        if options.offline && options.cache_dir.is_none() {
            return Err(ConfigError::RegistryClient {
                reason: "offline verification needs a cache directory".into(),
            });
        }
        let cache = options.cache_dir.as_ref().map(DiskCache::new);
        Ok(RegistryClient {
            inner: Arc::new(Inner {
                http,
                token_post: std::sync::OnceLock::new(),
                options,
                tokens: Mutex::new(HashMap::new()),
                basic: Mutex::new(HashSet::new()),
                creds: Mutex::new(HashMap::new()),
                permits: tokio::sync::Semaphore::new(permits),
                auth_locks: Mutex::new(HashMap::new()),
                first_locks: Mutex::new(HashMap::new()),
                known: Mutex::new(HashSet::new()),
                no_referrers_api: Mutex::new(HashSet::new()),
                cache,
            }),
        })
    }

    /// The disk cache, if any.
    /// The options this client was built with.
    pub(crate) fn options(&self) -> &RegistryOptions {
        &self.inner.options
    }

    pub(crate) fn cache(&self) -> Option<&DiskCache> {
        self.inner.cache.as_ref()
    }

    /// Whether to answer from the cache only.
    pub(crate) fn offline(&self) -> bool {
        self.inner.options.offline
    }

    /// Tells the observer, if any.
    pub(crate) fn notify(&self, event: impl FnOnce() -> FetchEvent) {
        if let Some(o) = &self.inner.options.observer {
            o.notify(&event());
        }
    }

    /// Whether `t`'s referrers endpoint answered 404 before.
    pub(crate) fn lacks_referrers_api(&self, t: Target<'_>) -> bool {
        lock(&self.inner.no_referrers_api).contains(&t.location())
    }

    /// Remembers that `t`'s referrers endpoint answered 404 (no API: the
    /// distribution spec has a registry with the API answer 200, with an
    /// empty index, for any digest).
    pub(crate) fn note_no_referrers_api(&self, t: Target<'_>) {
        lock(&self.inner.no_referrers_api).insert(t.location());
    }

    /// Whether `registry` is reached over plain HTTP.
    pub(crate) fn plain_http(&self, registry: &str) -> bool {
        plain_http_allowed(&self.inner.options.insecure_registries, registry)
    }

    /// `<scheme>://<host>/v2/<repository>/<tail>`.
    pub(crate) fn url(&self, t: Target<'_>, tail: &str) -> Result<Url, SourceError> {
        let scheme = if self.plain_http(t.registry) {
            "http"
        } else {
            "https"
        };
        let text = format!(
            "{scheme}://{}/v2/{}/{tail}",
            api_host(t.registry),
            t.repository
        );
        Url::parse(&text).map_err(|e| SourceError::Protocol {
            location: t.location(),
            what: tail.to_owned(),
            problem: format!("expected a valid registry URL, found {text:?} ({e})"),
        })
    }

    fn credentials(&self, registry: &str) -> Result<Option<Credentials>, SourceError> {
        if let Some(c) = self.inner.options.credentials.get(registry) {
            return Ok(Some(c.clone()));
        }
        if let Some(c) = lock(&self.inner.creds).get(registry) {
            return Ok(c.clone());
        }
        let found = self.inner.options.docker_config.lookup(registry)?;
        lock(&self.inner.creds).insert(registry.to_owned(), found.clone());
        Ok(found)
    }

    fn cached_auth(&self, registry: &str, scope: &str) -> Option<String> {
        if let Some(t) = lock(&self.inner.tokens).get(&(registry.to_owned(), scope.to_owned())) {
            return Some(t.clone());
        }
        if lock(&self.inner.basic).contains(registry) {
            return self
                .credentials(registry)
                .ok()
                .flatten()
                .map(|c| c.basic_header());
        }
        None
    }

    fn timeout_error(&self, t: Target<'_>, what: &str, connect: bool) -> SourceError {
        let (after, which) = if connect {
            (self.inner.options.connect_timeout, "connect")
        } else {
            (self.inner.options.request_timeout, "request")
        };
        SourceError::Timeout {
            location: t.location(),
            what: what.to_owned(),
            after_ms: u64::try_from(after.as_millis()).unwrap_or(u64::MAX),
            which,
        }
    }

    /// GETs `url` with authentication, retries and a capped body. Answers of
    /// any status but 401/403 come back as `Ok` (retryable ones once retries
    /// are spent); the caller decides what a status means.
    ///
    /// In steps: take a request slot and, for the first request to a
    /// registry and scope, go alone ([`RegistryClient::first_request`]);
    /// then per attempt: send ([`RegistryClient::send`]); answer one 401
    /// challenge ([`RegistryClient::answer_challenge`]) and send again; give
    /// up on 401/403 ([`refused`]); wait and retry a retryable status
    /// ([`RegistryClient::retry_delay`]); read the body
    /// ([`RegistryClient::read_answer`]), again after a backoff when it
    /// broke off.
    pub(crate) async fn get(
        &self,
        t: Target<'_>,
        url: &Url,
        accept: &str,
        what: &str,
        cap: Cap,
    ) -> Result<Answer, SourceError> {
        let opts = &self.inner.options;
        let req = Request {
            t,
            url,
            accept,
            what,
            scope: format!("repository:{}:pull", t.repository),
        };
        let label = || req.label();
        let _reading = budget::reading(label);
        // Never closed, so acquiring cannot fail; were it to, go unbounded
        // rather than fail the request.
        let _permit = self.inner.permits.acquire().await.ok();
        let (mut auth, _first) = self.first_request(&req).await;
        let mut challenged = false;
        let mut attempts = 0u32;
        loop {
            budget::check_deadline(label)?;
            attempts += 1;
            let retry_left = attempts <= opts.retries;
            let Some(mut resp) = self
                .send(&req, auth.as_deref(), attempts, retry_left)
                .await?
            else {
                continue;
            };
            let status = resp.status().as_u16();
            if status == 401 && !challenged {
                challenged = true;
                attempts -= 1;
                auth = Some(self.answer_challenge(&req, resp, auth.as_ref()).await?);
                continue;
            }
            if status == 401 || status == 403 {
                return Err(refused(&req, &mut resp, auth.is_some()).await);
            }
            if retryable_status(status) && retry_left {
                tokio::time::sleep(self.retry_delay(&resp, attempts)).await;
                continue;
            }
            if let Some(answer) = self
                .read_answer(&req, &mut resp, cap, attempts, retry_left)
                .await?
            {
                return Ok(answer);
            }
            tokio::time::sleep(backoff(opts.retry_base_delay, attempts)).await;
        }
    }

    /// The `Authorization` to start with for `req`'s registry and scope, and
    /// whether this request goes first. The first request to a registry and
    /// scope goes alone (holding the guard returned); the others wait for it,
    /// then go with whatever authentication it established.
    async fn first_request(
        &self,
        req: &Request<'_>,
    ) -> (Option<String>, Option<tokio::sync::OwnedMutexGuard<()>>) {
        let t = req.t;
        let key = (t.registry.to_owned(), req.scope.clone());
        let mut auth = self.cached_auth(t.registry, &req.scope);
        let is_known =
            |auth: &Option<String>| auth.is_some() || lock(&self.inner.known).contains(&key);
        let first = if is_known(&auth) {
            None
        } else {
            let guard = keyed(&self.inner.first_locks, &key).lock_owned().await;
            auth = self.cached_auth(t.registry, &req.scope);
            (!is_known(&auth)).then_some(guard)
        };
        (auth, first)
    }

    /// Sends one attempt of `req`, telling the observer about the request and
    /// its status line. `None` when it failed to connect and a retry is left
    /// (after the backoff delay); a timeout or a refused redirect is never
    /// retried.
    async fn send(
        &self,
        req: &Request<'_>,
        auth: Option<&str>,
        attempts: u32,
        retry_left: bool,
    ) -> Result<Option<reqwest::Response>, SourceError> {
        let opts = &self.inner.options;
        let (t, what) = (req.t, req.what);
        let mut request = self
            .inner
            .http
            .get(req.url.clone())
            .header(ACCEPT, req.accept);
        if let Some(h) = auth {
            request = request.header(AUTHORIZATION, h);
        }
        self.notify(|| FetchEvent::Request {
            location: t.location(),
            what: what.to_owned(),
            url: req.url.to_string(),
        });
        let sent = Instant::now();
        let resp = match request.send().await {
            Ok(r) => r,
            Err(e) if e.is_timeout() => return Err(self.timeout_error(t, what, e.is_connect())),
            // A refused redirect is the registry's answer: not retried.
            Err(e) if e.is_redirect() => {
                return Err(SourceError::Redirect {
                    location: t.location(),
                    what: what.to_owned(),
                    limit: opts.max_redirects,
                    reason: redirect_refusal(&e).unwrap_or_else(|| error_chain(&e)),
                })
            }
            Err(_) if retry_left => {
                tokio::time::sleep(backoff(opts.retry_base_delay, attempts)).await;
                return Ok(None);
            }
            Err(e) => {
                return Err(SourceError::Transport {
                    location: t.location(),
                    what: what.to_owned(),
                    reason: error_chain(&e),
                    attempts,
                })
            }
        };
        let status = resp.status().as_u16();
        self.notify(|| FetchEvent::Response {
            location: t.location(),
            what: what.to_owned(),
            status,
            elapsed: sent.elapsed(),
        });
        if status != 401 {
            lock(&self.inner.known).insert((t.registry.to_owned(), req.scope.clone()));
        }
        Ok(Some(resp))
    }

    /// Answers the 401 challenge in `resp`: the `Authorization` value to send
    /// next. One answer per challenge: a request that waited here while
    /// another answered it uses that answer (`auth` is what it sent).
    async fn answer_challenge(
        &self,
        req: &Request<'_>,
        resp: reqwest::Response,
        auth: Option<&String>,
    ) -> Result<String, SourceError> {
        let header = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned);
        let key = (req.t.registry.to_owned(), req.scope.clone());
        let _answering = keyed(&self.inner.auth_locks, &key).lock_owned().await;
        match self.cached_auth(req.t.registry, &req.scope) {
            Some(fresh) if Some(&fresh) != auth => Ok(fresh),
            _ => {
                self.authenticate(req.t, header.as_deref(), &req.scope)
                    .await
            }
        }
    }

    /// How long to wait before retrying a retryable status: the registry's
    /// `Retry-After` (at most [`RegistryOptions::max_retry_after`]), else the
    /// backoff for this attempt.
    fn retry_delay(&self, resp: &reqwest::Response, attempts: u32) -> Duration {
        let opts = &self.inner.options;
        let hinted = retry_after(
            resp.headers()
                .get(RETRY_AFTER)
                .and_then(|v| v.to_str().ok()),
            opts.max_retry_after,
        );
        hinted.unwrap_or_else(|| backoff(opts.retry_base_delay, attempts))
    }

    /// Reads the body of an answer that is neither refused nor retried: an
    /// error status's cut short (it only feeds messages), a success's capped
    /// by `cap`. `None` when the body broke off and a retry is left.
    async fn read_answer(
        &self,
        req: &Request<'_>,
        resp: &mut reqwest::Response,
        cap: Cap,
        attempts: u32,
        retry_left: bool,
    ) -> Result<Option<Answer>, SourceError> {
        let (t, what) = (req.t, req.what);
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let url = resp.url().clone();
        let body = if (200..300).contains(&status) {
            match read_capped(resp, cap.limit, &req.label()).await {
                Ok(body) => body,
                Err(BodyError::TooLarge(found)) => {
                    return Err(match cap.digest {
                        Some(digest) => SourceError::TooLarge {
                            digest,
                            limit_name: cap.name,
                            limit: cap.limit,
                            found,
                        },
                        None => SourceError::ResponseTooLarge {
                            location: t.location(),
                            what: what.to_owned(),
                            limit: cap.limit,
                            found,
                        },
                    })
                }
                Err(BodyError::Timeout) => return Err(self.timeout_error(t, what, false)),
                Err(BodyError::Refused(e)) => return Err(e),
                Err(BodyError::Broken(_)) if retry_left => return Ok(None),
                Err(BodyError::Broken(reason)) => {
                    return Err(SourceError::Transport {
                        location: t.location(),
                        what: what.to_owned(),
                        reason: format!("reading the body: {reason}"),
                        attempts,
                    })
                }
            }
        } else {
            read_error_body(resp, || req.label()).await?
        };
        Ok(Some(Answer {
            status,
            headers,
            body,
            url,
            attempts,
        }))
    }

    /// Answers a 401 challenge: the `Authorization` value to send next.
    async fn authenticate(
        &self,
        t: Target<'_>,
        header: Option<&str>,
        scope: &str,
    ) -> Result<String, SourceError> {
        let denied = |credentials: bool, reason: String| SourceError::Unauthorized {
            location: t.location(),
            scope: scope.to_owned(),
            status: 401,
            credentials,
            reason,
        };
        let Some(header) = header else {
            return Err(denied(
                false,
                "401 without a WWW-Authenticate challenge".into(),
            ));
        };
        let challenge = parse_challenge(header).ok_or_else(|| SourceError::Protocol {
            location: t.location(),
            what: "authentication challenge".into(),
            problem: format!(
                "expected WWW-Authenticate: Basic or Bearer realm=…, found {}",
                excerpt(header.as_bytes())
            ),
        })?;
        let creds = self.credentials(t.registry)?;
        match challenge {
            Challenge::Basic => {
                let creds = basic_credentials(creds).map_err(|why| denied(false, why.into()))?;
                lock(&self.inner.basic).insert(t.registry.to_owned());
                Ok(creds.basic_header())
            }
            Challenge::Bearer { realm, service, .. } => {
                let token = self
                    .fetch_token(t, &realm, service.as_deref(), scope, creds.as_ref())
                    .await?;
                let value = format!("Bearer {token}");
                lock(&self.inner.tokens)
                    .insert((t.registry.to_owned(), scope.to_owned()), value.clone());
                Ok(value)
            }
        }
    }

    /// The client for refresh-token `POST`s (see [`Inner::token_post`]).
    fn token_post_client(&self) -> Result<&reqwest::Client, String> {
        let o = &self.inner.options;
        self.inner
            .token_post
            .get_or_init(|| {
                http_client(o, same_origin_redirects(o.max_redirects)).map_err(|e| error_chain(&e))
            })
            .as_ref()
            .map_err(Clone::clone)
    }

    /// Asks a token server for a token for `scope`.
    async fn fetch_token(
        &self,
        t: Target<'_>,
        realm: &str,
        service: Option<&str>,
        scope: &str,
        creds: Option<&Credentials>,
    ) -> Result<String, SourceError> {
        let what = format!("token from {realm}");
        let protocol = |expected: &'static str, found: String| SourceError::Protocol {
            location: t.location(),
            what: what.clone(),
            problem: format!("expected {expected}, found {found}"),
        };
        let url = Url::parse(realm)
            .map_err(|e| protocol("a token realm URL", format!("{realm:?} ({e})")))?;
        let realm_host = url.host_str().unwrap_or_default().to_owned();
        let realm_authority = match url.port() {
            Some(p) => format!("{realm_host}:{p}"),
            None => realm_host.clone(),
        };
        let plain_ok = self.plain_http(&realm_authority) || self.plain_http(&realm_host);
        if url.scheme() != "https" && !(url.scheme() == "http" && plain_ok) {
            return Err(protocol(
                "an https token realm (plain http only for loopback or insecure registries)",
                realm.to_owned(),
            ));
        }
        let http = if creds.and_then(Credentials::identity_token).is_some() {
            match self.token_post_client() {
                Ok(c) => c,
                Err(reason) => {
                    return Err(SourceError::Transport {
                        location: t.location(),
                        what,
                        reason,
                        attempts: 1,
                    })
                }
            }
        } else {
            &self.inner.http
        };
        let req = token_request(http, url, service, scope, creds);
        let mut resp = req.send().await.map_err(|e| {
            if e.is_timeout() {
                self.timeout_error(t, &what, e.is_connect())
            } else {
                SourceError::Transport {
                    location: t.location(),
                    what: what.clone(),
                    reason: error_chain(&e),
                    attempts: 1,
                }
            }
        })?;
        let status = resp.status().as_u16();
        let body = match read_capped(&mut resp, TOKEN_BODY_BYTES, &what).await {
            Ok(b) => b,
            Err(BodyError::Refused(e)) => return Err(e),
            Err(BodyError::Timeout) => return Err(self.timeout_error(t, &what, false)),
            Err(BodyError::TooLarge(n)) => {
                return Err(protocol("a token answer under 1 MiB", format!("{n} bytes")))
            }
            Err(BodyError::Broken(reason)) => {
                return Err(SourceError::Transport {
                    location: t.location(),
                    what,
                    reason,
                    attempts: 1,
                })
            }
        };
        if token_refused(status, &body, creds) {
            return Err(SourceError::Unauthorized {
                location: t.location(),
                scope: scope.to_owned(),
                status,
                credentials: creds.is_some(),
                reason: format!("token server {realm} refused: {}", excerpt(&body)),
            });
        }
        if !(200..300).contains(&status) {
            return Err(SourceError::Http {
                location: t.location(),
                what,
                expected: "200",
                status,
                attempts: 1,
            });
        }
        let answer: TokenAnswer = serde_json::from_slice(&body)
            .map_err(|e| protocol("a JSON token answer", e.to_string()))?;
        answer
            .into_token()
            .ok_or_else(|| protocol("a token or access_token", excerpt(&body)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_and_listed_hosts_are_plain_http() {
        let c =
            RegistryClient::new(RegistryOptions::default().with_insecure_registry("reg.lan:5000"))
                .unwrap();
        for plain in [
            "localhost:5000",
            "127.0.0.1:1",
            "127.9.9.9",
            "[::1]:5000",
            "reg.lan:5000",
        ] {
            assert!(c.plain_http(plain), "{plain}");
        }
        for tls in [
            "dhi.io",
            "reg.lan:5001",
            "localhost.evil.com",
            "128.0.0.1",
            "docker.io",
        ] {
            assert!(!c.plain_http(tls), "{tls}");
        }
    }

    #[test]
    fn credentials_never_go_to_a_plain_http_token_realm_elsewhere() {
        let c = RegistryClient::new(RegistryOptions::default()).unwrap();
        let t = Target {
            registry: "dhi.io",
            repository: "python",
        };
        let creds = Credentials::new("u", "p");
        let r = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(c.fetch_token(
                t,
                "http://auth.example.com/token",
                Some("x"),
                "repository:python:pull",
                Some(&creds),
            ));
        assert!(
            matches!(&r, Err(SourceError::Protocol { problem, .. }) if problem.contains("https token realm")),
            "{r:?}"
        );
    }

    /// A one-thread HTTP server on loopback: answers each request with
    /// `answer(request text)`, and keeps every request it got.
    fn serve(
        answer: impl Fn(&str) -> String + Send + 'static,
    ) -> (String, std::sync::Arc<Mutex<Vec<String>>>) {
        use std::io::{Read, Write};
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let seen = std::sync::Arc::new(Mutex::new(Vec::new()));
        let log = seen.clone();
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { return };
                let mut buf = vec![0u8; 64 * 1024];
                let mut got = Vec::new();
                // headers, then as much body as Content-Length says
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 {
                        break;
                    }
                    got.extend_from_slice(&buf[..n]);
                    let text = String::from_utf8_lossy(&got).to_string();
                    if let Some(end) = text.find("\r\n\r\n") {
                        let len = text
                            .lines()
                            .find_map(|l| {
                                l.to_ascii_lowercase()
                                    .strip_prefix("content-length:")
                                    .map(|v| v.trim().parse::<usize>().unwrap_or(0))
                            })
                            .unwrap_or(0);
                        if got.len() >= end + 4 + len {
                            break;
                        }
                    }
                }
                let text = String::from_utf8_lossy(&got).to_string();
                let reply = answer(&text);
                lock(&log).push(text);
                let _ = stream.write_all(reply.as_bytes());
            }
        });
        (addr, seen)
    }

    fn redirect_to(location: &str) -> String {
        format!("HTTP/1.1 307 Temporary Redirect\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
    }

    fn fetch_with_identity_token(realm: &str) -> Result<String, SourceError> {
        let c = RegistryClient::new(RegistryOptions::default()).unwrap();
        let t = Target {
            registry: "127.0.0.1:1",
            repository: "python",
        };
        let creds = Credentials::identity_token_for("s3cret-refresh");
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap()
            .block_on(c.fetch_token(
                t,
                realm,
                Some("svc"),
                "repository:python:pull",
                Some(&creds),
            ))
    }

    /// A 307 resends the body, and the refresh-token grant's body is the
    /// identity token: it must not follow the token server anywhere else.
    #[test]
    fn the_refresh_token_is_not_resent_to_another_origin() {
        let (elsewhere, seen_elsewhere) = serve(|_| {
            "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"token\":\"t\"}"
                .into()
        });
        let target = format!("http://{elsewhere}/token");
        let (realm, seen) = serve(move |_| redirect_to(&target));
        let r = fetch_with_identity_token(&format!("http://{realm}/token"));
        let err = r.expect_err("a redirect to another origin is refused");
        assert!(err.to_string().contains("another origin"), "{err}");
        assert!(
            lock(&seen)[0].contains("s3cret-refresh"),
            "the realm got the grant"
        );
        assert!(
            lock(&seen_elsewhere).is_empty(),
            "nothing reached the other origin"
        );
    }

    #[test]
    fn the_refresh_token_follows_a_redirect_within_the_token_server() {
        let (realm, seen) = serve(|req| {
            if req.starts_with("POST /token2") {
                "HTTP/1.1 200 OK\r\nContent-Length: 13\r\nConnection: close\r\n\r\n{\"token\":\"t\"}".into()
            } else {
                redirect_to("/token2")
            }
        });
        let token = fetch_with_identity_token(&format!("http://{realm}/token")).unwrap();
        assert_eq!(token, "t");
        assert!(lock(&seen).iter().all(|r| r.contains("s3cret-refresh")));
    }

    #[test]
    fn debug_output_shows_no_secrets() {
        let c = RegistryClient::new(
            RegistryOptions::default().with_credentials("r", Credentials::new("u", "hunter2")),
        )
        .unwrap();
        lock(&c.inner.tokens).insert(("r".into(), "s".into()), "Bearer tok3n".into());
        let s = format!("{c:?}");
        assert!(!s.contains("hunter2") && !s.contains("tok3n"), "{s}");
    }

    #[test]
    fn docker_hub_is_reached_at_registry_1() {
        let c = RegistryClient::new(RegistryOptions::default()).unwrap();
        let t = Target {
            registry: "docker.io",
            repository: "library/python",
        };
        assert_eq!(
            c.url(t, "manifests/3").unwrap().as_str(),
            "https://registry-1.docker.io/v2/library/python/manifests/3"
        );
    }
}

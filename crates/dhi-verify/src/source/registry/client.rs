//! The HTTP side of registries: one connection pool, credential cache and
//! token cache for every registry a verifier talks to; authentication
//! (anonymous, Basic, Bearer challenge); timeouts; bounded retries; and
//! response bodies read with a cap so that no answer can exceed its limit,
//! whatever its `Content-Length` says. At most
//! [`RegistryOptions::max_concurrent_fetches`] requests are in flight at
//! once, and concurrent requests that meet the same 401 challenge share one
//! answer to it (one token request, not one per request).
//!
//! Redirects (registries send blob GETs to object stores and CDNs) are
//! followed at most [`RegistryOptions::max_redirects`] times, never in a
//! loop, and never to plain HTTP on a host that is not loopback or listed as
//! insecure; `Authorization` is dropped when a redirect leaves the host
//! (reqwest removes it when host, port or scheme change). Every body byte
//! read is charged to the verification's byte budget, and no request starts
//! after its deadline (`source/budget.rs`).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::net::IpAddr;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use reqwest::header::{HeaderMap, ACCEPT, AUTHORIZATION, RETRY_AFTER, WWW_AUTHENTICATE};
use reqwest::Url;

use super::auth::{
    basic_credentials, parse_challenge, token_refused, token_request, Challenge, TokenAnswer,
};
use super::credentials::{Credentials, DockerConfig};
use super::retry::{backoff, retry_after, retryable_status};
use crate::digest::Digest;
use crate::error::{ConfigError, SourceError};
use crate::reference::DOCKER_HUB;
use crate::source::budget;
use crate::source::cache::DiskCache;

/// How to reach registries: timeouts, retries, plain-HTTP hosts, credentials.
/// `RegistryOptions::default()` documents each default.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RegistryOptions {
    /// Longest wait for a TCP + TLS connection: 10 s.
    pub connect_timeout: Duration,
    /// Longest wait for one whole request, body included: 60 s. A registry
    /// that stalls past it is an error (exit 3), not retried.
    pub request_timeout: Duration,
    /// Retries after the first attempt on 429/500/502/503/504 and failed
    /// connections: 3.
    pub retries: u32,
    /// First backoff delay (doubled per retry, with jitter, at most 8 s): 250 ms.
    pub retry_base_delay: Duration,
    /// Longest `Retry-After` honoured: 30 s (longer ones are cut to this).
    pub max_retry_after: Duration,
    /// Hosts (`host` or `host:port`) reached over plain HTTP. Loopback hosts
    /// (`localhost`, 127.0.0.0/8, `::1`) always are; every other host is
    /// reached over HTTPS only.
    pub insecure_registries: Vec<String>,
    /// Credentials by registry host, used before Docker's configuration.
    pub credentials: BTreeMap<String, Credentials>,
    /// Where Docker's `config.json` is read from.
    pub docker_config: DockerConfig,
    /// Most requests in flight at once, over every registry of a verifier: 16
    /// (enough for the widest level of a DHI image: its configuration, five
    /// attestation manifests and five signature listings).
    /// 1 makes verification fully sequential; 0 is treated as 1.
    pub max_concurrent_fetches: usize,
    /// Told about every request and cache hit (progress displays, `-v` logs).
    pub observer: Option<Observer>,
    /// The disk cache of manifests and blobs by digest: none by default in
    /// the library (the CLI uses [`crate::source::cache::default_dir`]).
    pub cache_dir: Option<std::path::PathBuf>,
    /// Answer from the disk cache only: a tag resolves to the digest last
    /// seen for it, referrers listings are the last ones fetched, and
    /// anything not in the cache is an error (exit 3). Needs `cache_dir`.
    pub offline: bool,
    /// Most redirects followed for one request: 5 (reqwest's own default is
    /// 10; registries use one, to a blob store or CDN, and 5 leaves room for
    /// a CDN hop or two). A loop, a longer chain, or a redirect to plain
    /// HTTP on a host that is not loopback or insecure is an error (exit 3)
    /// naming the registry, what was fetched and this limit. 0 follows none.
    pub max_redirects: u32,
}

/// What the registry source is doing, for progress displays and request logs.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum FetchEvent {
    /// A request is about to be sent (each attempt, each page).
    Request {
        /// `registry/repository`.
        location: String,
        /// What is asked for, e.g. "manifest sha256:…", "referrers of sha256:…".
        what: String,
        /// The URL.
        url: String,
    },
    /// A response's status line arrived.
    Response {
        /// `registry/repository`.
        location: String,
        /// What was asked for.
        what: String,
        /// The HTTP status.
        status: u16,
        /// Time from sending to the status line.
        elapsed: Duration,
    },
    /// Content was served from the disk cache (its digest re-checked).
    CacheHit {
        /// What was asked for.
        what: String,
    },
    /// A disk cache entry did not match its digest (or its limit) and was
    /// deleted; the content is fetched again.
    CacheCorrupt {
        /// The digest the entry should have had.
        digest: Digest,
        /// The deleted file.
        path: std::path::PathBuf,
    },
}

/// Receives [`FetchEvent`]s, synchronously, on the verifying task: keep it quick.
#[derive(Clone)]
pub struct Observer(Arc<dyn Fn(&FetchEvent) + Send + Sync>);

impl Observer {
    /// Wraps a callback.
    pub fn new(f: impl Fn(&FetchEvent) + Send + Sync + 'static) -> Self {
        Observer(Arc::new(f))
    }

    /// Tells the callback.
    pub(crate) fn notify(&self, event: &FetchEvent) {
        (self.0)(event);
    }
}

impl std::fmt::Debug for Observer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Observer(..)")
    }
}

impl Default for RegistryOptions {
    fn default() -> Self {
        RegistryOptions {
            connect_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            retries: 3,
            retry_base_delay: Duration::from_millis(250),
            max_retry_after: Duration::from_secs(30),
            insecure_registries: Vec::new(),
            credentials: BTreeMap::new(),
            docker_config: DockerConfig::FromEnvironment,
            max_concurrent_fetches: 16,
            observer: None,
            cache_dir: None,
            offline: false,
            max_redirects: 5,
        }
    }
}

impl RegistryOptions {
    /// Sets the connect and whole-request timeouts.
    pub fn with_timeouts(mut self, connect: Duration, request: Duration) -> Self {
        self.connect_timeout = connect;
        self.request_timeout = request;
        self
    }

    /// Sets how many times a failed request is retried, and the first delay.
    pub fn with_retries(mut self, retries: u32, base_delay: Duration) -> Self {
        self.retries = retries;
        self.retry_base_delay = base_delay;
        self
    }

    /// Reaches `host` (or `host:port`) over plain HTTP.
    pub fn with_insecure_registry(mut self, host: impl Into<String>) -> Self {
        self.insecure_registries.push(host.into());
        self
    }

    /// Uses these credentials for `registry` (before Docker's configuration).
    pub fn with_credentials(mut self, registry: impl Into<String>, creds: Credentials) -> Self {
        self.credentials.insert(registry.into(), creds);
        self
    }

    /// Reads Docker credentials from here instead of the environment's default.
    pub fn with_docker_config(mut self, config: DockerConfig) -> Self {
        self.docker_config = config;
        self
    }

    /// Sets [`RegistryOptions::max_concurrent_fetches`] (0 is treated as 1).
    pub fn with_max_concurrent_fetches(mut self, n: usize) -> Self {
        self.max_concurrent_fetches = n;
        self
    }

    /// Keeps manifests and blobs by digest in `dir` (see [`crate::source::cache`]).
    pub fn with_cache_dir(mut self, dir: impl Into<std::path::PathBuf>) -> Self {
        self.cache_dir = Some(dir.into());
        self
    }

    /// Works from the disk cache only (see [`RegistryOptions::offline`]).
    pub fn with_offline(mut self, offline: bool) -> Self {
        self.offline = offline;
        self
    }

    /// Sets [`RegistryOptions::max_redirects`].
    pub fn with_max_redirects(mut self, n: u32) -> Self {
        self.max_redirects = n;
        self
    }

    /// Tells `observer` about every request and cache hit.
    pub fn with_observer(mut self, observer: Observer) -> Self {
        self.observer = Some(observer);
        self
    }
}

/// The host part of `host[:port]` (brackets of IPv6 literals removed).
fn host_of(registry: &str) -> &str {
    if let Some(rest) = registry.strip_prefix('[') {
        return rest.split(']').next().unwrap_or(rest);
    }
    match registry.rsplit_once(':') {
        Some((h, port)) if port.bytes().all(|b| b.is_ascii_digit()) => h,
        _ => registry,
    }
}

/// Whether `registry` (`host` or `host:port`) may be reached over plain
/// HTTP: loopback, or listed in `insecure`.
fn plain_http_allowed(insecure: &[String], registry: &str) -> bool {
    is_loopback(registry)
        || insecure
            .iter()
            .any(|h| h == registry || h == host_of(registry))
}

/// Why a redirect was not followed (found again in reqwest's error chain).
#[derive(Debug)]
struct RedirectRefused(String);

impl std::fmt::Display for RedirectRefused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for RedirectRefused {}

/// Follows at most `max` redirects, never in a loop, and to plain HTTP only
/// on hosts `insecure` allows. reqwest itself drops `Authorization` when a
/// redirect changes host, port or scheme.
fn redirect_policy(max: u32, insecure: Vec<String>) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let next = attempt.url().clone();
        // `previous` starts with the URL first asked for.
        let previous = attempt.previous();
        if previous.contains(&next) {
            let from = previous.last().map(Url::to_string).unwrap_or_default();
            return attempt.error(RedirectRefused(format!(
                "redirect loop: {from} redirects back to {next}"
            )));
        }
        if previous.len() > usize::try_from(max).unwrap_or(usize::MAX) {
            return attempt.error(RedirectRefused(format!(
                "more than {max} redirects (the next to {next})"
            )));
        }
        if next.scheme() != "https" {
            let host = next.host_str().unwrap_or_default();
            let authority = match next.port() {
                Some(p) => format!("{host}:{p}"),
                None => host.to_owned(),
            };
            if next.scheme() != "http" || !plain_http_allowed(&insecure, &authority) {
                return attempt.error(RedirectRefused(format!(
                    "refusing a redirect to {next}: plain HTTP only for loopback or insecure registries"
                )));
            }
        }
        attempt.follow()
    })
}

/// Follows at most `max` redirects, and only within the origin (scheme, host,
/// port) first asked: for requests whose body is a secret.
fn same_origin_redirects(max: u32) -> reqwest::redirect::Policy {
    reqwest::redirect::Policy::custom(move |attempt| {
        let next = attempt.url().clone();
        let previous = attempt.previous();
        let first = previous.first().cloned();
        if previous.len() > usize::try_from(max).unwrap_or(usize::MAX) || previous.contains(&next) {
            return attempt.error(RedirectRefused(format!(
                "more than {max} redirects, or a loop (the next to {next})"
            )));
        }
        if first.is_some_and(|f| f.origin() != next.origin()) {
            return attempt.error(RedirectRefused(format!(
                "refusing a redirect of the refresh-token request to another origin ({next}): \
                 the identity token would be sent there"
            )));
        }
        attempt.follow()
    })
}

/// The reason a redirect was refused, if `e` is such a refusal.
fn redirect_refusal(e: &reqwest::Error) -> Option<String> {
    if !e.is_redirect() {
        return None;
    }
    let mut cur: Option<&(dyn std::error::Error + 'static)> = std::error::Error::source(e);
    while let Some(c) = cur {
        if let Some(r) = c.downcast_ref::<RedirectRefused>() {
            return Some(r.0.clone());
        }
        cur = c.source();
    }
    Some(error_chain(e))
}

/// Loopback: `localhost`, 127.0.0.0/8, `::1`.
fn is_loopback(registry: &str) -> bool {
    let host = host_of(registry);
    host.eq_ignore_ascii_case("localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

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

/// The largest body accepted, and what to call it in an error.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Cap {
    /// The limit in bytes.
    pub limit: u64,
    /// The limit's name in [`crate::Limits`].
    pub name: &'static str,
    /// The digest the content is asked by, when it is.
    pub digest: Option<Digest>,
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

/// How much of an error answer's body is kept for messages.
const ERROR_BODY_BYTES: u64 = 4 * 1024;
/// Largest token server answer read.
const TOKEN_BODY_BYTES: u64 = 1024 * 1024;

enum BodyError {
    TooLarge(u64),
    Timeout,
    Broken(String),
    /// The verification's byte budget or deadline refused more.
    Refused(SourceError),
}

/// Reads a body: refuses a declared length over `limit` before reading, and
/// stops reading at `limit + 1` bytes whatever was declared. Every chunk is
/// charged to the verification's budget as `what` before it is kept.
async fn read_capped(
    resp: &mut reqwest::Response,
    limit: u64,
    what: &str,
) -> Result<Vec<u8>, BodyError> {
    if let Some(len) = resp.content_length() {
        if len > limit {
            return Err(BodyError::TooLarge(len));
        }
    }
    let hint = resp.content_length().unwrap_or(0).min(limit);
    let mut body = Vec::with_capacity(usize::try_from(hint).unwrap_or(0));
    loop {
        match resp.chunk().await {
            Ok(Some(chunk)) => {
                budget::charge(chunk.len() as u64, || what.to_owned())
                    .map_err(BodyError::Refused)?;
                body.extend_from_slice(&chunk);
                if body.len() as u64 > limit {
                    return Err(BodyError::TooLarge(body.len() as u64));
                }
            }
            Ok(None) => return Ok(body),
            Err(e) if e.is_timeout() => return Err(BodyError::Timeout),
            Err(e) => return Err(BodyError::Broken(error_chain(&e))),
        }
    }
}

/// An error with its causes, which is where reqwest keeps the useful part.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A short, printable excerpt of an error body.
fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
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
    /// Held while answering a challenge, so concurrent 401s share one answer.
    auth_lock: tokio::sync::Mutex<()>,
    /// Held by the first request to a (registry, scope) nothing is known
    /// about yet, so that concurrent first requests do not each meet the
    /// challenge: the others wait for its answer (one round trip).
    first_lock: tokio::sync::Mutex<()>,
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

fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    // A panic while holding one of these maps leaves it consistent (inserts only).
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl RegistryClient {
    /// Builds the HTTP client (rustls, system roots).
    pub(crate) fn new(options: RegistryOptions) -> Result<Self, ConfigError> {
        let http = reqwest::Client::builder()
            .redirect(redirect_policy(
                options.max_redirects,
                options.insecure_registries.clone(),
            ))
            .connect_timeout(options.connect_timeout)
            .timeout(options.request_timeout)
            .user_agent(concat!("dhi-verify/", env!("CARGO_PKG_VERSION")))
            .build()
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
                auth_lock: tokio::sync::Mutex::new(()),
                first_lock: tokio::sync::Mutex::new(()),
                known: Mutex::new(HashSet::new()),
                no_referrers_api: Mutex::new(HashSet::new()),
                cache,
            }),
        })
    }

    /// The disk cache, if any.
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
    pub(crate) async fn get(
        &self,
        t: Target<'_>,
        url: &Url,
        accept: &str,
        what: &str,
        cap: Cap,
    ) -> Result<Answer, SourceError> {
        let opts = &self.inner.options;
        let label = || format!("{what} from {}", t.location());
        let _reading = budget::reading(label);
        // Never closed, so acquiring cannot fail; were it to, go unbounded
        // rather than fail the request.
        let _permit = self.inner.permits.acquire().await.ok();
        let scope = format!("repository:{}:pull", t.repository);
        let key = (t.registry.to_owned(), scope.clone());
        let mut auth = self.cached_auth(t.registry, &scope);
        let is_known =
            |auth: &Option<String>| auth.is_some() || lock(&self.inner.known).contains(&key);
        // The first request to a registry and scope goes alone; the others
        // wait for it, then go with whatever authentication it established.
        let _first = if is_known(&auth) {
            None
        } else {
            let guard = self.inner.first_lock.lock().await;
            auth = self.cached_auth(t.registry, &scope);
            (!is_known(&auth)).then_some(guard)
        };
        let mut challenged = false;
        let mut attempts = 0u32;
        loop {
            budget::check_deadline(label)?;
            attempts += 1;
            let retry_left = attempts <= opts.retries;
            let mut req = self.inner.http.get(url.clone()).header(ACCEPT, accept);
            if let Some(h) = &auth {
                req = req.header(AUTHORIZATION, h.as_str());
            }
            self.notify(|| FetchEvent::Request {
                location: t.location(),
                what: what.to_owned(),
                url: url.to_string(),
            });
            let sent = Instant::now();
            let mut resp = match req.send().await {
                Ok(r) => r,
                Err(e) if e.is_timeout() => {
                    return Err(self.timeout_error(t, what, e.is_connect()))
                }
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
                    continue;
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
                lock(&self.inner.known).insert(key.clone());
            }
            if status == 401 && !challenged {
                challenged = true;
                attempts -= 1;
                let header = resp
                    .headers()
                    .get(WWW_AUTHENTICATE)
                    .and_then(|v| v.to_str().ok())
                    .map(str::to_owned);
                // One answer per challenge: a request that waited here while
                // another answered it uses that answer.
                let _answering = self.inner.auth_lock.lock().await;
                auth = match self.cached_auth(t.registry, &scope) {
                    Some(fresh) if Some(&fresh) != auth.as_ref() => Some(fresh),
                    _ => Some(self.authenticate(t, header.as_deref(), &scope).await?),
                };
                continue;
            }
            if status == 401 || status == 403 {
                let body = match read_capped(&mut resp, ERROR_BODY_BYTES, &label()).await {
                    Err(BodyError::Refused(e)) => return Err(e),
                    other => other.unwrap_or_default(),
                };
                return Err(SourceError::Unauthorized {
                    location: t.location(),
                    scope,
                    status,
                    credentials: auth.is_some(),
                    reason: excerpt(&body),
                });
            }
            if retryable_status(status) && retry_left {
                let hinted = retry_after(
                    resp.headers()
                        .get(RETRY_AFTER)
                        .and_then(|v| v.to_str().ok()),
                    opts.max_retry_after,
                );
                tokio::time::sleep(
                    hinted.unwrap_or_else(|| backoff(opts.retry_base_delay, attempts)),
                )
                .await;
                continue;
            }
            let headers = resp.headers().clone();
            let final_url = resp.url().clone();
            if !(200..300).contains(&status) {
                // Error bodies only feed messages: cut them short, never fail on them.
                let mut body = Vec::new();
                while let Ok(Some(chunk)) = resp.chunk().await {
                    budget::charge(chunk.len() as u64, label)?;
                    body.extend_from_slice(&chunk);
                    if body.len() as u64 >= ERROR_BODY_BYTES {
                        break;
                    }
                }
                return Ok(Answer {
                    status,
                    headers,
                    body,
                    url: final_url,
                    attempts,
                });
            }
            match read_capped(&mut resp, cap.limit, &label()).await {
                Ok(body) => {
                    return Ok(Answer {
                        status,
                        headers,
                        body,
                        url: final_url,
                        attempts,
                    })
                }
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
                Err(BodyError::Broken(_)) if retry_left => {
                    tokio::time::sleep(backoff(opts.retry_base_delay, attempts)).await;
                }
                Err(BodyError::Broken(reason)) => {
                    return Err(SourceError::Transport {
                        location: t.location(),
                        what: what.to_owned(),
                        reason: format!("reading the body: {reason}"),
                        attempts,
                    })
                }
            }
        }
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
                reqwest::Client::builder()
                    .redirect(same_origin_redirects(o.max_redirects))
                    .connect_timeout(o.connect_timeout)
                    .timeout(o.request_timeout)
                    .user_agent(concat!("dhi-verify/", env!("CARGO_PKG_VERSION")))
                    .build()
                    .map_err(|e| error_chain(&e))
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

//! How the registry client is configured and watched: [`RegistryOptions`]
//! (timeouts, retries, plain-HTTP hosts, credentials, concurrency, cache,
//! redirects), each with its documented default, and the [`FetchEvent`]s an
//! [`Observer`] is told. Values only: nothing here sends a request.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::credentials::{Credentials, DockerConfig};
use crate::digest::Digest;

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

    /// Keeps manifests and blobs by digest in `dir` (see `docs/registry.md`).
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

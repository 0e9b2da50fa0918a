//! `dhi-verify serve`: an HTTPS server that answers Kubernetes admission
//! webhooks (`/validate`, `/mutate`) and Gatekeeper's external-data
//! provider protocol (`/external-data`) with one verifier built from the
//! same flags as `image`, plus `/healthz`, `/readyz` and `/metrics`.
//!
//! Wiring only: flags to settings, the verifier, TLS, the accept loop with
//! its limits, routing, graceful shutdown. What each endpoint decides is in
//! its module; the verdict cache in `cache` and `verdicts`.

mod admission;
mod cache;
mod external_data;
mod metrics;
mod pull_secrets;
mod tls;
mod verdicts;

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use futures_util::future::join_all;
use http_body_util::{BodyExt as _, Full, Limited};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::net::TcpListener;
use tokio::time::Instant;
use tokio_rustls::TlsAcceptor;

use dhi_verify::policy::deploy::{Decision, DeployRules, Exemption};
use dhi_verify::PlatformSelection;

use crate::args::{ServeArgs, VerifyOptions};
use crate::EXIT_USAGE;

use self::metrics::Metrics;
use self::verdicts::{Answer, Ttls, Verdicts};

/// Exit code when the server cannot start or stops on an I/O error.
const EXIT_ERROR: u8 = 3;

/// The default verification deadline of `serve` when `--deadline` is not
/// given: long enough to finish a cold verification in the background,
/// short enough that a stalled registry does not hold a task for minutes.
const SERVE_DEFAULT_DEADLINE_SECS: u64 = 60;

/// `serve`'s default `--timeout` (one registry request) and
/// `--connect-timeout`, shorter than `image`'s 60 s and 10 s: the first
/// request to a registry and scope goes alone (the others share its
/// authentication), so a first request that stalls holds back the other
/// admissions of that repository for up to this long (docs/admission.md,
/// "Known limits").
const SERVE_DEFAULT_TIMEOUTS_SECS: (u64, u64) = (15, 5);

/// Longest a client may take to finish the TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a client may take to send a request's headers.
const HEADER_TIMEOUT: Duration = Duration::from_secs(10);

/// Longest a client may take to send a request's body (3 MiB at most).
const BODY_TIMEOUT: Duration = Duration::from_secs(10);

/// Most connections open at once; past it a new connection is closed at
/// once (the API server keeps a few per replica; this bounds a flood).
const MAX_CONNECTIONS: usize = 4096;

/// The settings of the endpoints.
#[derive(Debug, Clone)]
pub(crate) struct Settings {
    /// Per admission review.
    pub(crate) admission_deadline: Duration,
    /// Per provider request.
    pub(crate) external_data_deadline: Duration,
    /// Largest request body read.
    pub(crate) max_body_bytes: usize,
}

/// What every request shares.
pub(crate) struct State {
    verdicts: Verdicts,
    /// The policy's `[[deploy.rules]]` and `[[deploy.exempt]]`.
    rules: DeployRules,
    metrics: Arc<Metrics>,
    settings: Settings,
    /// Pods' `imagePullSecrets`, when the API server can be asked.
    pull_secrets: Option<pull_secrets::PullSecrets>,
    /// False once shutdown began (readiness fails so no new traffic comes).
    ready: AtomicBool,
}

/// What to do with one image in one namespace (the policy's deployment rules).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Treatment {
    /// Verify, under the policy's `[require]` (`rule: None`) or the
    /// requirements of `[[deploy.rules]]` entry `rule`; `expired` notes an
    /// exemption that matched but has ended.
    Verify {
        rule: Option<usize>,
        expired: Option<String>,
    },
    /// Not verified: an exemption covers it (said in a warning).
    Exempt(String),
}

/// `YYYY-MM-DD` of a Unix time.
fn date(unix: u64) -> String {
    jiff::Timestamp::from_second(i64::try_from(unix).unwrap_or(i64::MAX))
        .map_or_else(|_| unix.to_string(), |t| t.strftime("%Y-%m-%d").to_string())
}

impl State {
    /// The treatment of `image` used in `namespace`, now.
    pub(crate) fn treatment(&self, image: &str, namespace: Option<&str>) -> Treatment {
        if self.rules.is_empty() {
            return Treatment::Verify {
                rule: None,
                expired: None,
            };
        }
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let why = |e: &Exemption| {
            let reason = e
                .reason
                .as_deref()
                .map(|r| format!(" ({r})"))
                .unwrap_or_default();
            format!("until {}{reason}", date(e.expires_unix))
        };
        match self.rules.decide(image, namespace, now) {
            Decision::Exempt { index, exemption } => Treatment::Exempt(format!(
                "{image} is exempt from verification by [[deploy.exempt]] entry {} {}",
                index + 1,
                why(exemption)
            )),
            Decision::Verify { rule, expired, .. } => Treatment::Verify {
                rule,
                expired: expired.map(|e| {
                    format!(
                        "an exemption for {image} expired on {}: it is verified again",
                        date(e.expires_unix)
                    )
                }),
            },
            // A decision a later library adds is not an exemption: verify.
            _ => Treatment::Verify {
                rule: None,
                expired: None,
            },
        }
    }

    /// One answer per distinct (image, rule), all checked at once by
    /// `deadline`, with `verifier` (one with a pod's pull secrets) or the
    /// server's own.
    pub(crate) async fn answers<'a>(
        &self,
        images: impl Iterator<Item = (&'a str, Option<usize>)>,
        deadline: Instant,
        budget: Duration,
        verifier: Option<&Arc<dhi_verify::Verifier>>,
    ) -> BTreeMap<(&'a str, Option<usize>), Answer> {
        let mut distinct: Vec<(&str, Option<usize>)> = images.collect();
        distinct.sort_unstable();
        distinct.dedup();
        let checks = distinct.iter().map(|(image, rule)| {
            self.verdicts
                .check(image, *rule, deadline, budget, verifier)
        });
        distinct
            .iter()
            .copied()
            .zip(join_all(checks).await)
            .collect()
    }
}

/// Seconds, possibly fractional (`8`, `2.5`), as a positive duration.
pub(crate) fn seconds(s: &str) -> Result<Duration, String> {
    let v: f64 = s
        .parse()
        .map_err(|_| format!("expected seconds such as 8 or 2.5, found {s:?}"))?;
    if !(v.is_finite() && v > 0.0 && v <= 86_400.0) {
        return Err(format!("expected between 0 and 86400 seconds, found {s}"));
    }
    Ok(Duration::from_secs_f64(v))
}

/// Seconds as [`seconds`], zero allowed.
pub(crate) fn seconds_or_zero(s: &str) -> Result<Duration, String> {
    if s.trim() == "0" {
        return Ok(Duration::ZERO);
    }
    seconds(s)
}

/// The API server's own wait, from the `timeout` query parameter it adds to
/// webhook URLs (`?timeout=10s`, a Go duration in seconds or milliseconds).
fn api_server_timeout(query: Option<&str>) -> Option<Duration> {
    let value = query?
        .split('&')
        .find_map(|kv| kv.strip_prefix("timeout="))?;
    let (number, scale) = match value.strip_suffix("ms") {
        Some(n) => (n, 0.001),
        None => (value.strip_suffix('s')?, 1.0),
    };
    let v: f64 = number.parse().ok()?;
    (v.is_finite() && v > 0.0).then(|| Duration::from_secs_f64(v * scale))
}

/// The admission deadline: `--admission-deadline`, or less when the API
/// server says it waits less (its timeout minus a fifth, at most a second,
/// for the answer's way back).
fn admission_deadline(configured: Duration, api_server: Option<Duration>) -> Duration {
    match api_server {
        Some(t) => configured.min(t - (t / 5).min(Duration::from_secs(1))),
        None => configured,
    }
}

/// The trust material's bytes for the cache key: each file a trust or
/// policy flag names, and the identity flags.
fn trust_bytes(v: &VerifyOptions) -> Vec<u8> {
    let mut out = Vec::new();
    let files = v
        .keys
        .iter()
        .chain(v.policy.iter())
        .chain(v.trusted_root.iter());
    for path in files {
        out.extend_from_slice(path.display().to_string().as_bytes());
        out.push(0);
        out.extend_from_slice(&std::fs::read(path).unwrap_or_default());
        out.push(0);
    }
    out.extend_from_slice(
        format!(
            "{:?}{:?}{:?}{:?}{:?}",
            v.certificate_identity,
            v.certificate_identity_regexp,
            v.certificate_oidc_issuer,
            v.certificate_oidc_issuer_regexp,
            v.certificate_claims
        )
        .as_bytes(),
    );
    out
}

pub fn run(args: ServeArgs) -> u8 {
    let mut options = args.verify.clone();
    options.deadline = options.deadline.or(Some(SERVE_DEFAULT_DEADLINE_SECS));
    options.timeout = options.timeout.or(Some(SERVE_DEFAULT_TIMEOUTS_SECS.0));
    options.connect_timeout = options
        .connect_timeout
        .or(Some(SERVE_DEFAULT_TIMEOUTS_SECS.1));
    let verifier = match crate::config::build(&options) {
        Ok(v) => Arc::new(v),
        Err(e) => {
            eprintln!("dhi-verify: {e}");
            return EXIT_USAGE;
        }
    };
    let loaded_at = tls::stamps(&args.tls_cert, &args.tls_key);
    let first = match tls::load(&args.tls_cert, &args.tls_key) {
        Ok(k) => k,
        Err(e) => {
            eprintln!("dhi-verify: --tls-cert/--tls-key: {e}");
            return EXIT_USAGE;
        }
    };
    let (tls_config, resolver) = match tls::server_config(first) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("dhi-verify: {e}");
            return EXIT_ERROR;
        }
    };
    // The deployment rules of the policy file (the verifier was built from
    // the same file, so it loads).
    let rules = match &options.policy {
        Some(path) => match dhi_verify::policy::load_policy(path) {
            Ok(loaded) => loaded.deploy,
            Err(e) => {
                eprintln!("dhi-verify: {e}");
                return EXIT_USAGE;
            }
        },
        None => DeployRules::default(),
    };
    // A cluster's nodes vary: every platform of the index unless narrowed
    // (as `deploy`).
    let platforms = if options.platforms.is_empty() && !options.all_platforms {
        PlatformSelection::All
    } else {
        verifier.platforms().clone()
    };
    let metrics = Arc::new(Metrics::default());
    let pull_secrets = if args.no_pull_secrets {
        None
    } else {
        match pull_secrets::kube_api(
            args.kube_api.as_deref(),
            args.kube_token_file.as_deref(),
            args.kube_ca_file.as_deref(),
        ) {
            Ok(api) => api
                .map(|api| pull_secrets::PullSecrets::new(api, verifier.clone(), metrics.clone())),
            Err(e) => {
                eprintln!("dhi-verify: {e}");
                return EXIT_USAGE;
            }
        }
    };
    eprintln!(
        "dhi-verify: serve: pods' imagePullSecrets are {}",
        if pull_secrets.is_some() {
            "read through the Kubernetes API"
        } else {
            "not read (no Kubernetes API or no ServiceAccount token)"
        }
    );
    let requirements: Vec<Vec<dhi_verify::Requirement>> =
        rules.rules.iter().map(|r| r.require.clone()).collect();
    let state = Arc::new(State {
        rules,
        verdicts: Verdicts::new(
            verifier,
            &requirements,
            platforms,
            &trust_bytes(&options),
            Ttls {
                verdict: args.cache_ttl,
                tag: args.tag_ttl,
                max_entries: args.cache_entries,
            },
            metrics.clone(),
        ),
        metrics,
        settings: Settings {
            admission_deadline: args.admission_deadline,
            external_data_deadline: args.external_data_deadline,
            max_body_bytes: args.max_body_bytes,
        },
        pull_secrets,
        ready: AtomicBool::new(true),
    });
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("dhi-verify: starting the async runtime: {e}");
            return EXIT_ERROR;
        }
    };
    let code = runtime.block_on(async move {
        tokio::spawn(tls::watch(
            resolver,
            args.tls_cert.clone(),
            args.tls_key.clone(),
            args.tls_reload_interval,
            loaded_at,
        ));
        match serve(
            args.listen,
            TlsAcceptor::from(tls_config),
            state,
            args.shutdown_delay,
            args.shutdown_grace,
        )
        .await
        {
            Ok(()) => 0,
            Err(e) => {
                eprintln!("dhi-verify: serve: {e}");
                EXIT_ERROR
            }
        }
    });
    // Verifications still warming the cache end with the process.
    runtime.shutdown_timeout(Duration::from_millis(100));
    code
}

/// Resolves on SIGTERM (Kubernetes stopping the pod) or SIGINT.
async fn stop_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        match signal(SignalKind::terminate()) {
            Ok(mut term) => {
                tokio::select! {
                    _ = term.recv() => {}
                    _ = tokio::signal::ctrl_c() => {}
                }
            }
            Err(_) => {
                let _ = tokio::signal::ctrl_c().await;
            }
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}

async fn serve(
    listen: SocketAddr,
    acceptor: TlsAcceptor,
    state: Arc<State>,
    delay: Duration,
    grace: Duration,
) -> std::io::Result<()> {
    let listener = TcpListener::bind(listen).await?;
    // Tests and scripts read the port from this line (with --listen …:0).
    eprintln!(
        "dhi-verify: serve: listening on https://{}",
        listener.local_addr()?
    );
    let graceful = hyper_util::server::graceful::GracefulShutdown::new();
    let connections = Arc::new(tokio::sync::Semaphore::new(MAX_CONNECTIONS));
    let stop = stop_signal();
    tokio::pin!(stop);
    // After the signal: keep accepting for `delay` with /readyz failing, so
    // that the Service stops sending here before the listener closes (the
    // API server would otherwise meet a refused connection: a rejection).
    let draining = tokio::time::sleep(Duration::MAX);
    tokio::pin!(draining);
    let mut stopping = false;
    loop {
        let (tcp, _peer) = tokio::select! {
            () = &mut stop, if !stopping => {
                stopping = true;
                state.ready.store(false, Ordering::SeqCst);
                eprintln!(
                    "dhi-verify: serve: stopping: not ready; still accepting for {} ms",
                    delay.as_millis()
                );
                draining.as_mut().reset(tokio::time::Instant::now() + delay);
                continue;
            }
            () = &mut draining, if stopping => break,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                // Out of file descriptors and the like: keep serving the
                // connections there are, try again shortly.
                Err(e) => {
                    eprintln!("dhi-verify: serve: accept: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
        };
        let Ok(permit) = connections.clone().try_acquire_owned() else {
            // Over the bound: closing is all a flood gets.
            drop(tcp);
            continue;
        };
        let _ = tcp.set_nodelay(true);
        let acceptor = acceptor.clone();
        let state = state.clone();
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                // A client that cannot or will not finish the handshake.
                Ok(Err(_)) | Err(_) => return,
            };
            let service = hyper::service::service_fn(move |req| {
                let state = state.clone();
                async move { Ok::<_, Infallible>(route(&state, req).await) }
            });
            let connection = hyper::server::conn::http1::Builder::new()
                .timer(TokioTimer::new())
                .header_read_timeout(HEADER_TIMEOUT)
                .serve_connection(TokioIo::new(tls), service);
            let _ = watcher.watch(connection).await;
            drop(permit);
        });
    }
    eprintln!("dhi-verify: serve: no new connections; finishing those in flight");
    drop(listener);
    tokio::select! {
        () = graceful.shutdown() => {}
        () = tokio::time::sleep(grace) => {
            eprintln!("dhi-verify: serve: {} s passed with requests still open: stopping anyway", grace.as_secs());
        }
    }
    Ok(())
}

type Body = Full<Bytes>;

fn reply(status: StatusCode, content_type: &str, body: impl Into<Bytes>) -> Response<Body> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = hyper::header::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(hyper::header::CONTENT_TYPE, v);
    }
    r
}

fn text(status: StatusCode, body: impl Into<String>) -> Response<Body> {
    let mut b = body.into();
    b.push('\n');
    reply(status, "text/plain; charset=utf-8", b)
}

fn json(value: &impl serde::Serialize) -> Response<Body> {
    match serde_json::to_vec(value) {
        Ok(bytes) => reply(StatusCode::OK, "application/json", bytes),
        // Never an allow: the API server treats a 500 as a failed call
        // (failurePolicy: Fail denies).
        Err(e) => text(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("writing the response: {e}"),
        ),
    }
}

/// The request body, at most `max` bytes; `Err` is the reply.
async fn read_body(req: Request<Incoming>, max: usize) -> Result<Bytes, Response<Body>> {
    let declared = req
        .headers()
        .get(hyper::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "request body: expected at most {max} bytes, found a Content-Length of {}",
                declared.unwrap_or_default()
            ),
        ));
    }
    match Limited::new(req.into_body(), max).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => Err(text(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!("request body: expected at most {max} bytes, found more"),
        )),
        Err(e) => Err(text(
            StatusCode::BAD_REQUEST,
            format!("reading the request body: {e}"),
        )),
    }
}

async fn route(state: &Arc<State>, req: Request<Incoming>) -> Response<Body> {
    let path = req.uri().path().to_owned();
    let method = req.method().clone();
    match (method, path.as_str()) {
        (Method::GET, "/healthz") => text(StatusCode::OK, "ok"),
        (Method::GET, "/readyz") => {
            // The verifier (trust material, policy) was built before the
            // server listened: ready until shutdown begins.
            if state.ready.load(Ordering::SeqCst) {
                text(StatusCode::OK, "ready")
            } else {
                text(StatusCode::SERVICE_UNAVAILABLE, "shutting down")
            }
        }
        (Method::GET, "/metrics") => reply(
            StatusCode::OK,
            "text/plain; version=0.0.4; charset=utf-8",
            state.metrics.render(state.verdicts.kept()),
        ),
        (Method::POST, "/validate" | "/mutate" | "/external-data") => {
            let started = std::time::Instant::now();
            let deadline = admission_deadline(
                state.settings.admission_deadline,
                api_server_timeout(req.uri().query()),
            );
            let read =
                tokio::time::timeout(BODY_TIMEOUT, read_body(req, state.settings.max_body_bytes));
            let body = match read.await {
                Ok(Ok(b)) => b,
                Ok(Err(reply)) => {
                    state.metrics.bad_request();
                    return reply;
                }
                Err(_) => {
                    state.metrics.bad_request();
                    return text(
                        StatusCode::REQUEST_TIMEOUT,
                        format!(
                            "request body: not received within {} s",
                            BODY_TIMEOUT.as_secs()
                        ),
                    );
                }
            };
            let (endpoint, result) = match path.as_str() {
                "/external-data" => (
                    "external-data",
                    external_data::answer(state, &body)
                        .await
                        .map(|(v, allowed)| (json(&v), allowed))
                        .map_err(|e| e.to_string()),
                ),
                p => {
                    let mode = if p == "/mutate" {
                        admission::Mode::Mutate
                    } else {
                        admission::Mode::Validate
                    };
                    (
                        mode.endpoint(),
                        admission::review(state, &body, mode, deadline)
                            .await
                            .map(|(review, allowed)| (json(&review), allowed))
                            .map_err(|e| e.to_string()),
                    )
                }
            };
            match result {
                Ok((response, allowed)) => {
                    state.metrics.answer(endpoint, allowed, started.elapsed());
                    response
                }
                Err(message) => {
                    state.metrics.bad_request();
                    text(StatusCode::BAD_REQUEST, message)
                }
            }
        }
        (_, "/healthz" | "/readyz" | "/metrics" | "/validate" | "/mutate" | "/external-data") => {
            state.metrics.bad_request();
            text(
                StatusCode::METHOD_NOT_ALLOWED,
                format!("{path}: method not allowed"),
            )
        }
        _ => {
            state.metrics.bad_request();
            text(StatusCode::NOT_FOUND, format!("{path}: not found (expected /validate, /mutate, /external-data, /healthz, /readyz or /metrics)"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_api_servers_timeout_parameter_shortens_the_admission_deadline() {
        let s = Duration::from_secs;
        assert_eq!(api_server_timeout(Some("timeout=10s")), Some(s(10)));
        assert_eq!(
            api_server_timeout(Some("a=b&timeout=2500ms")),
            Some(Duration::from_millis(2500))
        );
        assert_eq!(
            api_server_timeout(Some("timeout=1.5s")),
            Some(Duration::from_millis(1500))
        );
        for bad in [
            "timeout=",
            "timeout=10",
            "timeout=-1s",
            "timeout=xs",
            "other=1s",
        ] {
            assert_eq!(api_server_timeout(Some(bad)), None, "{bad}");
        }
        assert_eq!(api_server_timeout(None), None);
        // 10 s: the configured 8 s stands; 3 s: 2.4 s; 1 s: 0.8 s.
        assert_eq!(admission_deadline(s(8), Some(s(10))), s(8));
        assert_eq!(
            admission_deadline(s(8), Some(s(3))),
            Duration::from_millis(2400)
        );
        assert_eq!(
            admission_deadline(s(8), Some(s(1))),
            Duration::from_millis(800)
        );
        assert_eq!(admission_deadline(s(8), None), s(8));
    }

    #[test]
    fn seconds_are_positive_and_bounded() {
        assert_eq!(seconds("2.5"), Ok(Duration::from_millis(2500)));
        for bad in ["0", "-1", "nan", "inf", "x", "100000"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
        assert_eq!(seconds_or_zero("0"), Ok(Duration::ZERO));
    }
}

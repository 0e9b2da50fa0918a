//! Where requests may go: plain HTTP only to loopback hosts and hosts listed
//! as insecure, and the redirect policies reqwest applies (at most
//! [`RegistryOptions::max_redirects`](super::RegistryOptions::max_redirects),
//! never in a loop, never down to plain HTTP elsewhere; the refresh-token
//! `POST` kept within its token server's origin). A refused redirect's
//! reason is found again in reqwest's error chain. No requests sent here.

use std::net::IpAddr;

use reqwest::Url;

use super::body::error_chain;

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
pub(super) fn plain_http_allowed(insecure: &[String], registry: &str) -> bool {
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
pub(super) fn redirect_policy(max: u32, insecure: Vec<String>) -> reqwest::redirect::Policy {
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
pub(super) fn same_origin_redirects(max: u32) -> reqwest::redirect::Policy {
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
pub(super) fn redirect_refusal(e: &reqwest::Error) -> Option<String> {
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

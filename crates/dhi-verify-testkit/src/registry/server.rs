//! A small in-process registry that follows the distribution spec where
//! Debian's registry cannot: the referrers API (`GET /v2/<name>/referrers/<digest>`,
//! the `artifactType` filter with `OCI-Filters-Applied`, `Link` pagination).
//! Without the API it answers the referrers endpoint 404 and serves the
//! `sha256-<hex>` fallback tags instead, as distribution 2.8.2 plus a pusher
//! would. [`Fault`]s make it misbehave on purpose.

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::distribution::basic;
use super::http::{read_request, respond, Request};
use super::Content;

/// One way to misbehave.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FaultKind {
    /// Answer with this status (and `Retry-After` seconds, if given).
    Status(u16, Option<u64>),
    /// Serve the right length but one byte changed.
    WrongBody,
    /// Declare the full `Content-Length`, send half, close.
    Truncated,
    /// Send this many bytes with no `Content-Length` (until close).
    Unbounded(usize),
    /// Declare this `Content-Length` (send the real body only).
    DeclaredLength(u64),
    /// Wait this long before answering at all.
    Stall(Duration),
    /// Redirect (307) `n` times on this server before serving the content:
    /// to `/hop/<n>/<path>`, which redirects to `/hop/<n-1>/<path>`, …,
    /// and `/hop/1/<path>` serves `<path>` (without faults).
    RedirectChain(usize),
    /// Redirect to `/hop/loop/<path>`, which redirects to itself forever.
    RedirectLoop,
    /// Redirect to the same path and query on another server
    /// (`http://127.0.0.1:<port>`), as registries send blobs to a CDN.
    RedirectTo(String),
}

/// A fault on requests whose path contains `path_contains`, for the first
/// `times` such requests.
#[derive(Clone, Debug)]
pub struct Fault {
    pub path_contains: String,
    pub kind: FaultKind,
    pub times: usize,
}

impl Fault {
    pub fn new(path_contains: &str, kind: FaultKind, times: usize) -> Self {
        Fault {
            path_contains: path_contains.to_owned(),
            kind,
            times,
        }
    }
}

struct State {
    repo: String,
    content: Content,
    referrers_api: bool,
    apply_filter: bool,
    page_size: Option<usize>,
    credentials: Option<String>,
    faults: Vec<Fault>,
    log: Vec<String>,
    unauthorized: usize,
    /// Requests that carried an `Authorization` header.
    with_authorization: usize,
}

/// The in-process registry, serving one repository. Stops when dropped.
pub struct TestRegistry {
    pub addr: String,
    state: Arc<Mutex<State>>,
    stop: Arc<AtomicBool>,
    load: Arc<Load>,
}

/// Requests being answered now, and the most at once so far.
#[derive(Default)]
struct Load {
    now: AtomicUsize,
    peak: AtomicUsize,
}

impl TestRegistry {
    /// Serves `content` as `repo`, with the referrers API, applying the
    /// `artifactType` filter, unpaginated, without authentication.
    pub fn start(repo: &str, content: Content) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap().to_string();
        let state = Arc::new(Mutex::new(State {
            repo: repo.to_owned(),
            content,
            referrers_api: true,
            apply_filter: true,
            page_size: None,
            credentials: None,
            faults: Vec::new(),
            log: Vec::new(),
            unauthorized: 0,
            with_authorization: 0,
        }));
        let stop = Arc::new(AtomicBool::new(false));
        let load = Arc::new(Load::default());
        let (st, sp, ld) = (state.clone(), stop.clone(), load.clone());
        std::thread::spawn(move || {
            for stream in listener.incoming() {
                if sp.load(Ordering::SeqCst) {
                    return;
                }
                let Ok(stream) = stream else { continue };
                let (st, ld) = (st.clone(), ld.clone());
                std::thread::spawn(move || handle(&st, &ld, &stream));
            }
        });
        TestRegistry {
            addr,
            state,
            stop,
            load,
        }
    }

    fn with(self, f: impl FnOnce(&mut State)) -> Self {
        f(&mut self.state.lock().unwrap());
        self
    }

    /// Without the referrers API (404), serving fallback tags instead.
    pub fn without_referrers_api(self) -> Self {
        self.with(|s| s.referrers_api = false)
    }

    /// Ignore `artifactType` (as registries may).
    pub fn ignoring_filter(self) -> Self {
        self.with(|s| s.apply_filter = false)
    }

    /// Paginate referrers listings, `n` per page.
    pub fn paginated(self, n: usize) -> Self {
        self.with(|s| s.page_size = Some(n))
    }

    /// Require Basic `user:pass`.
    pub fn with_credentials(self, user: &str, pass: &str) -> Self {
        let b = basic(user, pass);
        self.with(|s| s.credentials = Some(b))
    }

    pub fn fault(self, fault: Fault) -> Self {
        self.with(|s| s.faults.push(fault))
    }

    /// How many requests were answered 401.
    pub fn unauthorized(&self) -> usize {
        self.state.lock().unwrap().unauthorized
    }

    /// How many requests carried an `Authorization` header.
    pub fn requests_with_authorization(&self) -> usize {
        self.state.lock().unwrap().with_authorization
    }

    /// The most requests answered at the same time so far.
    pub fn peak_concurrency(&self) -> usize {
        self.load.peak.load(Ordering::SeqCst)
    }

    /// `METHOD path?query` of every request so far.
    pub fn requests(&self) -> Vec<String> {
        self.state.lock().unwrap().log.clone()
    }
}

impl Drop for TestRegistry {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect(&self.addr);
    }
}

enum Reply {
    Ok {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: Vec<u8>,
    },
}

fn not_found(code: &str) -> Reply {
    Reply::Ok {
        status: 404,
        headers: vec![("Content-Type", "application/json".into())],
        body: format!(r#"{{"errors":[{{"code":"{code}"}}]}}"#).into_bytes(),
    }
}

fn handle(state: &Mutex<State>, load: &Load, stream: &TcpStream) {
    let Some(req) = read_request(stream) else {
        return;
    };
    let now = load.now.fetch_add(1, Ordering::SeqCst) + 1;
    load.peak.fetch_max(now, Ordering::SeqCst);
    // Counted as answered just before the answer is written, so that a
    // client that waits for it can never be seen overlapping it.
    answer(state, &req, stream, || {
        load.now.fetch_sub(1, Ordering::SeqCst);
    });
}

fn answer(state: &Mutex<State>, req: &Request, stream: &TcpStream, done: impl FnOnce()) {
    let (reply, fault) = {
        let mut s = state.lock().unwrap();
        let line = if req.query.is_empty() {
            format!("{} {}", req.method, req.path)
        } else {
            let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
            format!("{} {}?{}", req.method, req.path, q.join("&"))
        };
        s.log.push(line);
        if req.header("authorization").is_some() {
            s.with_authorization += 1;
        }
        if let Some(reply) = hop(&s, req) {
            drop(s);
            done();
            let Reply::Ok {
                status,
                headers,
                body,
            } = reply;
            respond(stream, status, &headers, &body);
            return;
        }
        let fault = s
            .faults
            .iter_mut()
            .find(|f| f.times > 0 && req.path.contains(&f.path_contains))
            .map(|f| {
                f.times -= 1;
                f.kind.clone()
            });
        let reply = route(&s, req);
        if matches!(reply, Reply::Ok { status: 401, .. }) {
            s.unauthorized += 1;
        }
        (reply, fault)
    };
    let Reply::Ok {
        status,
        mut headers,
        mut body,
    } = reply;
    if let Some(FaultKind::Stall(d)) = &fault {
        std::thread::sleep(*d);
    }
    done();
    match fault {
        None | Some(FaultKind::Stall(_)) => respond(stream, status, &headers, &body),
        Some(FaultKind::Status(code, retry_after)) => {
            let mut h = vec![("Content-Type", "application/json".to_owned())];
            if let Some(secs) = retry_after {
                h.push(("Retry-After", secs.to_string()));
            }
            respond(stream, code, &h, br#"{"errors":[{"code":"UNAVAILABLE"}]}"#);
        }
        Some(FaultKind::WrongBody) => {
            if let Some(b) = body.last_mut() {
                *b ^= 0x20;
            }
            respond(stream, status, &headers, &body);
        }
        Some(FaultKind::Truncated) => {
            headers.push(("Content-Length", body.len().to_string()));
            body.truncate(body.len() / 2);
            raw(stream, status, &headers, &body);
        }
        Some(FaultKind::Unbounded(n)) => {
            raw(stream, status, &headers, &vec![b' '; n]);
        }
        Some(FaultKind::DeclaredLength(n)) => {
            headers.push(("Content-Length", n.to_string()));
            raw(stream, status, &headers, &body);
        }
        Some(FaultKind::RedirectChain(n)) => redirect(stream, &format!("/hop/{n}{}", req.path)),
        Some(FaultKind::RedirectLoop) => redirect(stream, &format!("/hop/loop{}", req.path)),
        Some(FaultKind::RedirectTo(base)) => {
            redirect(stream, &format!("{base}{}", path_and_query(req)))
        }
    }
}

fn path_and_query(req: &Request) -> String {
    if req.query.is_empty() {
        return req.path.clone();
    }
    let q: Vec<String> = req.query.iter().map(|(k, v)| format!("{k}={v}")).collect();
    format!("{}?{}", req.path, q.join("&"))
}

fn redirect(stream: &TcpStream, location: &str) {
    respond(stream, 307, &[("Location", location.to_owned())], b"");
}

/// Answers `/hop/<n>/<path>` (see [`FaultKind::RedirectChain`]); `None` for
/// every other path.
fn hop(s: &State, req: &Request) -> Option<Reply> {
    let rest = req.path.strip_prefix("/hop/")?;
    let (n, path) = rest.split_once('/')?;
    let path = format!("/{path}");
    let to = match n {
        "loop" => req.path.clone(),
        "1" => {
            let mut inner = req.clone();
            inner.path = path;
            return Some(route(s, &inner));
        }
        n => format!("/hop/{}{path}", n.parse::<usize>().ok()?.checked_sub(1)?),
    };
    Some(Reply::Ok {
        status: 307,
        headers: vec![("Location", to)],
        body: Vec::new(),
    })
}

/// Writes a head and body as given: no `Content-Length` added.
fn raw(mut stream: &TcpStream, status: u16, headers: &[(&str, String)], body: &[u8]) {
    let mut head = format!("HTTP/1.1 {status} X\r\n");
    for (k, v) in headers {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    head.push_str("Connection: close\r\n\r\n");
    let _ = stream.write_all(head.as_bytes());
    let _ = stream.write_all(body);
    let _ = stream.flush();
    let _ = stream.shutdown(std::net::Shutdown::Both);
}

fn route(s: &State, req: &Request) -> Reply {
    if let Some(expected) = &s.credentials {
        if req.header("authorization") != Some(expected.as_str()) {
            return Reply::Ok {
                status: 401,
                headers: vec![("WWW-Authenticate", r#"Basic realm="test""#.into())],
                body: br#"{"errors":[{"code":"UNAUTHORIZED"}]}"#.to_vec(),
            };
        }
    }
    if req.path == "/v2/" {
        return Reply::Ok {
            status: 200,
            headers: vec![],
            body: b"{}".to_vec(),
        };
    }
    let prefix = format!("/v2/{}/", s.repo);
    let Some(rest) = req.path.strip_prefix(&prefix) else {
        return not_found("NAME_UNKNOWN");
    };
    if let Some(digest) = rest.strip_prefix("referrers/") {
        if !s.referrers_api {
            return Reply::Ok {
                status: 404,
                headers: vec![("Content-Type", "text/plain".into())],
                body: b"404 page not found\n".to_vec(),
            };
        }
        return referrers(s, digest, req);
    }
    if let Some(reference) = rest.strip_prefix("manifests/") {
        let digest = if let Some(d) = s.content.tags.get(reference) {
            Some(d.clone())
        } else if reference.starts_with("sha256:") {
            Some(reference.to_owned())
        } else if !s.referrers_api && reference.starts_with("sha256-") {
            let subject = reference.replacen("sha256-", "sha256:", 1);
            if s.content.referrers_of(&subject).is_empty() {
                return not_found("MANIFEST_UNKNOWN");
            }
            let bytes = s.content.fallback_index(&subject);
            return manifest_reply("application/vnd.oci.image.index.v1+json", bytes, req);
        } else if reference.starts_with("sha256-") {
            None
        } else {
            s.content.tags.get(reference).cloned()
        };
        let Some(m) = digest.and_then(|d| s.content.manifests.get(&d)) else {
            return not_found("MANIFEST_UNKNOWN");
        };
        return manifest_reply(&m.media_type, m.bytes.clone(), req);
    }
    if let Some(digest) = rest.strip_prefix("blobs/") {
        let bytes = s
            .content
            .blobs
            .get(digest)
            .or_else(|| s.content.manifests.get(digest).map(|m| &m.bytes));
        return match bytes {
            Some(b) => Reply::Ok {
                status: 200,
                headers: vec![
                    ("Content-Type", "application/octet-stream".into()),
                    ("Docker-Content-Digest", digest.to_owned()),
                ],
                body: b.clone(),
            },
            None => not_found("BLOB_UNKNOWN"),
        };
    }
    not_found("UNSUPPORTED")
}

fn manifest_reply(media_type: &str, bytes: Vec<u8>, req: &Request) -> Reply {
    // As distribution 2.8.2: an OCI index only for clients that accept it.
    let accept = req.header("accept").unwrap_or_default();
    if media_type.contains("index") && !accept.contains(media_type) {
        return not_found("MANIFEST_UNKNOWN");
    }
    Reply::Ok {
        status: 200,
        headers: vec![
            ("Content-Type", media_type.to_owned()),
            ("Docker-Content-Digest", crate::layout::sha256_str(&bytes)),
        ],
        body: bytes,
    }
}

fn referrers(s: &State, digest: &str, req: &Request) -> Reply {
    let mut list = s.content.referrers_of(digest);
    let mut headers = vec![(
        "Content-Type",
        "application/vnd.oci.image.index.v1+json".to_owned(),
    )];
    let filter = req.query.get("artifactType").cloned();
    if let (Some(t), true) = (&filter, s.apply_filter) {
        list.retain(|d| d["artifactType"].as_str() == Some(t.as_str()));
        headers.push(("OCI-Filters-Applied", "artifactType".into()));
    }
    if let Some(n) = s.page_size {
        let page: usize = req
            .query
            .get("page")
            .and_then(|p| p.parse().ok())
            .unwrap_or(0);
        let start = (page * n).min(list.len());
        let end = (start + n).min(list.len());
        if end < list.len() {
            let mut next = format!("/v2/{}/referrers/{digest}?page={}", s.repo, page + 1);
            if let Some(t) = &filter {
                next.push_str(&format!("&artifactType={t}"));
            }
            headers.push(("Link", format!("<{next}>; rel=\"next\"")));
        }
        list = list[start..end].to_vec();
    }
    let body = serde_json::to_vec(&json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": list,
    }))
    .unwrap();
    Reply::Ok {
        status: 200,
        headers,
        body,
    }
}

//! Reading answers: bodies read with a cap, so that no answer exceeds its
//! limit whatever its `Content-Length` says, and every byte charged to the
//! verification's budget (`source/budget.rs`); error bodies cut short, since
//! they only feed messages; and the text of transport errors for messages.

use crate::digest::Digest;
use crate::error::SourceError;
use crate::source::budget;

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

/// How much of an error answer's body is kept for messages.
pub(super) const ERROR_BODY_BYTES: u64 = 4 * 1024;
/// Largest token server answer read.
pub(super) const TOKEN_BODY_BYTES: u64 = 1024 * 1024;

/// Why a capped body read stopped.
pub(super) enum BodyError {
    TooLarge(u64),
    Timeout,
    Broken(String),
    /// The verification's byte budget or deadline refused more.
    Refused(SourceError),
}

/// Reads a body: refuses a declared length over `limit` before reading, and
/// stops reading at `limit + 1` bytes whatever was declared. Every chunk is
/// charged to the verification's budget as `what` before it is kept.
pub(super) async fn read_capped(
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
pub(super) fn error_chain(e: &dyn std::error::Error) -> String {
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
pub(super) fn excerpt(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    let mut out: String = text.chars().take(300).collect();
    if text.chars().count() > 300 {
        out.push('…');
    }
    out
}

/// Reads an error answer's body for messages: whole chunks until at least
/// [`ERROR_BODY_BYTES`] are kept, never failing on a broken body (what
/// arrived is kept); every chunk is still charged to the budget as `what`.
pub(super) async fn read_error_body(
    resp: &mut reqwest::Response,
    what: impl Fn() -> String,
) -> Result<Vec<u8>, SourceError> {
    let mut body = Vec::new();
    while let Ok(Some(chunk)) = resp.chunk().await {
        budget::charge(chunk.len() as u64, &what)?;
        body.extend_from_slice(&chunk);
        if body.len() as u64 >= ERROR_BODY_BYTES {
            break;
        }
    }
    Ok(body)
}

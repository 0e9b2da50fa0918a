//! Listing referrers from a registry: the referrers API
//! (`GET /v2/<repo>/referrers/<digest>`, an image index, paginated with
//! `Link: <…>; rel="next"`), and the tag-schema fallback (`sha256-<hex>`)
//! used **only** when the API answers 404 (after which the repository's
//! listings go to the tag schema directly, saving a round trip each). Any other failure is an error,
//! never an empty list: "could not look" must not read as "nothing there".
//!
//! Nothing is filtered here (registries may ignore `artifactType`; discovery
//! filters on the client).

use std::collections::BTreeMap;

use reqwest::Url;

use super::body::Cap;
use super::client::{RegistryClient, Target};
use super::MANIFEST_ACCEPT;
use crate::digest::Digest;
use crate::error::SourceError;
use crate::limits::Limits;
use crate::oci::{media_type, Descriptor, ImageIndex};
use crate::source::check_content;

/// Finds the `rel="next"` target of a `Link` header.
pub(crate) fn next_link(header: &str) -> Option<&str> {
    header.split(',').find_map(|part| {
        let part = part.trim();
        let (target, params) = part.strip_prefix('<')?.split_once('>')?;
        let is_next = params.split(';').any(|p| {
            let p = p.trim();
            p.strip_prefix("rel=")
                .map(|v| v.trim_matches('"').split_whitespace().any(|r| r == "next"))
                .unwrap_or(false)
        });
        is_next.then_some(target)
    })
}

fn parse_index(
    t: Target<'_>,
    what: &str,
    body: &[u8],
    content_type: Option<&str>,
) -> Result<ImageIndex, SourceError> {
    let protocol = |found: String| SourceError::Protocol {
        location: t.location(),
        what: what.to_owned(),
        problem: format!(
            "expected an OCI image index (application/vnd.oci.image.index.v1+json), found {found}"
        ),
    };
    let index: ImageIndex =
        serde_json::from_slice(body).map_err(|e| protocol(format!("unparseable JSON: {e}")))?;
    let declared = index
        .media_type
        .as_deref()
        .or(content_type.map(|c| c.split(';').next().unwrap_or(c).trim()));
    if index.schema_version != 2 || declared.is_some_and(|m| m != media_type::OCI_INDEX) {
        return Err(protocol(format!(
            "schemaVersion {} and media type {declared:?}",
            index.schema_version
        )));
    }
    Ok(index)
}

/// Lists the referrers of `subject` in `t`, at most `limits.max_referrers`.
pub(crate) async fn list(
    client: &RegistryClient,
    t: Target<'_>,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<Descriptor>, SourceError> {
    let what = format!("referrers of {subject}");
    let cap = Cap {
        limit: limits.max_manifest_bytes,
        name: "max_manifest_bytes",
        digest: None,
    };
    if client.lacks_referrers_api(t) {
        return fallback(client, t, subject, limits).await;
    }
    let first = client.url(t, &format!("referrers/{subject}"))?;
    let mut url: Url = first;
    let mut found: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    let mut pages = 0usize;
    loop {
        pages += 1;
        let answer = client
            .get(t, &url, media_type::OCI_INDEX, &what, cap)
            .await?;
        match answer.status {
            200 => {}
            404 if pages == 1 => {
                client.note_no_referrers_api(t);
                return fallback(client, t, subject, limits).await;
            }
            _ => return Err(answer.unexpected(t, &what, "200 (or 404: no referrers API)")),
        }
        let index = parse_index(t, &what, &answer.body, answer.header("content-type"))?;
        add_listed(&mut found, index, subject, limits)?;
        let Some(next) = answer.header("link").and_then(next_link) else {
            break;
        };
        let next = answer.url.join(next).map_err(|e| SourceError::Protocol {
            location: t.location(),
            what: what.clone(),
            problem: format!("expected a Link header with a valid next URL, found {next:?} ({e})"),
        })?;
        if next.origin() != answer.url.origin() {
            return Err(SourceError::Protocol {
                location: t.location(),
                what,
                problem: format!("expected a next page on the same registry, found {next}"),
            });
        }
        // A page per referrer at worst; more pages than that is a loop.
        if pages > limits.max_referrers {
            return Err(SourceError::Protocol {
                location: t.location(),
                what,
                problem: format!(
                    "expected pagination that ends, found more than {} pages",
                    limits.max_referrers
                ),
            });
        }
        url = next;
    }
    Ok(found.into_values().collect())
}

/// The tag schema: the index tagged `sha256-<hex>` lists the referrers; no
/// such tag means none.
async fn fallback(
    client: &RegistryClient,
    t: Target<'_>,
    subject: &Digest,
    limits: &Limits,
) -> Result<Vec<Descriptor>, SourceError> {
    let tag = subject.fallback_tag();
    let what = format!("referrers tag {tag}");
    let url = client.url(t, &format!("manifests/{tag}"))?;
    let cap = Cap {
        limit: limits.max_manifest_bytes,
        name: "max_manifest_bytes",
        digest: None,
    };
    let answer = client.get(t, &url, MANIFEST_ACCEPT, &what, cap).await?;
    match answer.status {
        200 => {}
        404 => return Ok(Vec::new()),
        _ => return Err(answer.unexpected(t, &what, "200 or 404")),
    }
    if let Some(d) = answer
        .header("docker-content-digest")
        .and_then(|h| h.parse::<Digest>().ok())
    {
        check_content(&d, None, &answer.body)?;
    }
    let index = parse_index(t, &what, &answer.body, answer.header("content-type"))?;
    let mut found: BTreeMap<Digest, Descriptor> = BTreeMap::new();
    add_listed(&mut found, index, subject, limits)?;
    Ok(found.into_values().collect())
}

/// Adds the manifests an index lists to `found` (a digest listed twice keeps
/// its first descriptor); more than `limits.max_referrers` in all is an error.
fn add_listed(
    found: &mut BTreeMap<Digest, Descriptor>,
    index: ImageIndex,
    subject: &Digest,
    limits: &Limits,
) -> Result<(), SourceError> {
    for d in index.manifests {
        found.entry(d.digest).or_insert(d);
    }
    if found.len() > limits.max_referrers {
        return Err(SourceError::TooManyReferrers {
            subject: *subject,
            limit: limits.max_referrers,
            found: found.len(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_link_is_found_among_others() {
        assert_eq!(
            next_link(r#"</v2/a/referrers/sha256:x?n=1&last=y>; rel="next""#),
            Some("/v2/a/referrers/sha256:x?n=1&last=y")
        );
        assert_eq!(
            next_link(r#"<https://r/p1>; rel="prev", <https://r/p3>; rel=next"#),
            Some("https://r/p3")
        );
        assert_eq!(next_link(r#"<https://r/p1>; rel="prev""#), None);
        assert_eq!(next_link("garbage"), None);
    }

    #[test]
    fn a_referrers_answer_must_be_an_oci_index() {
        let t = Target {
            registry: "r",
            repository: "a",
        };
        let manifest = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","manifests":[]}"#;
        assert!(matches!(
            parse_index(t, "x", manifest, None),
            Err(SourceError::Protocol { .. })
        ));
        assert!(parse_index(t, "x", b"<html>", None).is_err());
        let ok = br#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[]}"#;
        assert!(parse_index(t, "x", ok, Some("application/vnd.oci.image.index.v1+json")).is_ok());
    }
}

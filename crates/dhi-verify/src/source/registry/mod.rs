//! A registry speaking the OCI distribution API as a source: manifests by
//! tag or digest (with `Accept` for OCI and Docker manifest and index types),
//! blobs by digest, and referrers (API, or the tag schema on 404).
//!
//! Every answer is size-capped before it is read and digest-checked before it
//! is returned; a tag resolves to the digest of the bytes actually fetched
//! (checked against `Docker-Content-Digest` when the registry sends one).
//! Plain HTTP is used only for loopback hosts and hosts the caller listed as
//! insecure; everything else is HTTPS with rustls.
//!
//! With a disk cache ([`RegistryOptions::cache_dir`]), content by digest is
//! read from it first (re-hashed; see `source/cache.rs`) and content
//! fetched is kept in it. Tags and referrers listings always go to the
//! registry, except offline ([`RegistryOptions::offline`]), where everything
//! comes from the cache and a miss is an error.

mod auth;
mod body;
mod client;
mod credentials;
mod options;
mod redirect;
mod referrers;
mod retry;

use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

pub(crate) use client::RegistryClient;
pub use credentials::{Credentials, DockerConfig, InvalidDockerConfig, DOCKER_HUB_CONFIG_KEY};
pub use options::{FetchEvent, Observer, RegistryOptions};

use self::body::Cap;
use self::client::Target;
use super::cache::{DiskCache, Lookup, TagEntry};
use super::{check_content, ContentKind, Source};
use crate::digest::Digest;
use crate::error::SourceError;
use crate::limits::Limits;
use crate::oci::{media_type, Descriptor, Manifest};

/// The manifest and index media types asked for. distribution 2.8 answers
/// 404 for an OCI index unless it is listed.
pub(crate) const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, \
application/vnd.oci.image.manifest.v1+json, \
application/vnd.docker.distribution.manifest.list.v2+json, \
application/vnd.docker.distribution.manifest.v2+json";

/// One repository in a registry.
#[derive(Debug)]
pub(crate) struct RegistrySource {
    client: RegistryClient,
    registry: String,
    repository: String,
    limits: Limits,
    /// Manifests fetched while resolving, digest-checked, kept so the fetch
    /// that follows a resolve costs no second request.
    resolved: Mutex<HashMap<Digest, Vec<u8>>>,
    /// Whether signature listings may come from the disk cache online.
    kept_signature_listings: bool,
}

impl RegistrySource {
    /// A source for `registry/repository`, sharing `client`'s connections and caches.
    pub(crate) fn new(
        client: RegistryClient,
        registry: impl Into<String>,
        repository: impl Into<String>,
        limits: Limits,
    ) -> Self {
        RegistrySource {
            client,
            registry: registry.into(),
            repository: repository.into(),
            limits,
            resolved: Mutex::new(HashMap::new()),
            kept_signature_listings: false,
        }
    }

    /// Lets [`Source::signature_referrers`] answer from listings kept in the
    /// disk cache (see there for why that is safe).
    pub(crate) fn with_kept_signature_listings(mut self, allowed: bool) -> Self {
        self.kept_signature_listings = allowed;
        self
    }

    fn target(&self) -> Target<'_> {
        Target {
            registry: &self.registry,
            repository: &self.repository,
        }
    }

    fn remember(&self, digest: Digest, bytes: &[u8]) {
        let mut map = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.insert(digest, bytes.to_vec());
    }

    fn recall(&self, digest: &Digest) -> Option<Vec<u8>> {
        let map = self
            .resolved
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        map.get(digest).cloned()
    }

    fn cache(&self) -> Option<&DiskCache> {
        self.client.cache()
    }

    /// `what` is not in the cache and the source is offline: an error (exit
    /// 3), naming what was needed and where it was looked for.
    fn not_cached(&self, what: &str, path: std::path::PathBuf) -> SourceError {
        SourceError::Io {
            path,
            message: format!(
                "offline: expected {what} of {}/{} in the cache, found none",
                self.registry, self.repository
            ),
        }
    }

    /// Content from the cache, re-hashed and charged to the verification's
    /// byte budget; `None` on a miss (a corrupt entry was deleted and is
    /// reported to the observer).
    fn cached(
        &self,
        digest: &Digest,
        limit: u64,
        what: &str,
    ) -> Result<Option<Vec<u8>>, SourceError> {
        let Some(cache) = self.cache() else {
            return Ok(None);
        };
        match cache.get(digest, limit) {
            Lookup::Hit(bytes) => {
                super::budget::charge(bytes.len() as u64, || format!("{what} from the cache"))?;
                self.client.notify(|| FetchEvent::CacheHit {
                    what: what.to_owned(),
                });
                Ok(Some(bytes))
            }
            Lookup::Corrupt(path) => {
                self.client.notify(|| FetchEvent::CacheCorrupt {
                    digest: *digest,
                    path,
                });
                Ok(None)
            }
            Lookup::Miss => Ok(None),
        }
    }

    /// A manifest by digest from the cache, as [`Source::resolve`] answers.
    fn resolve_cached(&self, digest: &Digest) -> Result<Option<Descriptor>, SourceError> {
        let what = format!("manifest {digest}");
        match self.cached(digest, self.limits.max_manifest_bytes, &what)? {
            Some(bytes) => {
                let media_type = manifest_media_type(&bytes, None);
                let size = bytes.len() as u64;
                self.remember(*digest, &bytes);
                Ok(Some(descriptor(media_type, *digest, size)))
            }
            None if self.client.offline() => Err(self.not_cached(
                &what,
                self.cache()
                    .map(|c| c.content_path(digest))
                    .unwrap_or_default(),
            )),
            None => Ok(None),
        }
    }

    fn manifest_cap(&self, digest: Option<Digest>) -> Cap {
        Cap {
            limit: self.limits.max_manifest_bytes,
            name: "max_manifest_bytes",
            digest,
        }
    }
}

/// The media type a manifest declares, else the one the registry sent.
fn manifest_media_type(bytes: &[u8], content_type: Option<&str>) -> String {
    let declared = match Manifest::parse(bytes) {
        Ok(Manifest::Index(i)) => i.media_type,
        Ok(Manifest::Image(m)) => m.media_type,
        Err(_) => None,
    };
    declared
        .or_else(|| content_type.map(|c| c.split(';').next().unwrap_or(c).trim().to_owned()))
        .unwrap_or_else(|| media_type::OCI_MANIFEST.to_owned())
}

fn descriptor(media_type: String, digest: Digest, size: u64) -> Descriptor {
    Descriptor {
        media_type,
        digest,
        size,
        artifact_type: None,
        annotations: BTreeMap::new(),
        platform: None,
        data: None,
    }
}

impl Source for RegistrySource {
    fn location(&self) -> String {
        format!("registry {}/{}", self.registry, self.repository)
    }

    async fn resolve(
        &self,
        tag: Option<&str>,
        digest: Option<&Digest>,
    ) -> Result<Descriptor, SourceError> {
        let t = self.target();
        let location = t.location();
        if let Some(d) = digest {
            if let Some(found) = self.resolve_cached(d)? {
                return Ok(found);
            }
        } else if self.client.offline() {
            let tag = tag.unwrap_or("latest");
            let cache = self.cache();
            return match cache.and_then(|c| c.tag(&location, tag)) {
                Some(TagEntry::Digest(d)) => match self.resolve_cached(&d)? {
                    Some(found) => Ok(found),
                    None => Err(self.not_cached(&format!("manifest {d}"), Default::default())),
                },
                Some(TagEntry::Absent) => Err(SourceError::TagNotFound {
                    tag: tag.to_owned(),
                    location: self.location(),
                }),
                None => Err(self.not_cached(
                    &format!("tag {tag:?}"),
                    cache
                        .map(|c| c.tag_path(&location, tag))
                        .unwrap_or_default(),
                )),
            };
        }
        let (reference, what) = match (digest, tag) {
            (Some(d), _) => (d.to_string(), format!("manifest {d}")),
            (None, Some(tag)) => (tag.to_owned(), format!("manifest tag {tag:?}")),
            (None, None) => ("latest".to_owned(), "manifest tag \"latest\"".to_owned()),
        };
        let url = self.client.url(t, &format!("manifests/{reference}"))?;
        let answer = self
            .client
            .get(
                t,
                &url,
                MANIFEST_ACCEPT,
                &what,
                self.manifest_cap(digest.copied()),
            )
            .await?;
        match answer.status {
            200 => {}
            404 => {
                return Err(match digest {
                    Some(d) => SourceError::Missing {
                        digest: *d,
                        location: self.location(),
                    },
                    None => {
                        if let Some(c) = self.cache() {
                            c.put_tag(&location, &reference, TagEntry::Absent);
                        }
                        SourceError::TagNotFound {
                            tag: reference,
                            location: self.location(),
                        }
                    }
                })
            }
            _ => return Err(answer.unexpected(t, &what, "200 or 404")),
        }
        let fetched = Digest::of(&answer.body);
        let media_type = manifest_media_type(&answer.body, answer.header("content-type"));
        let size = answer.body.len() as u64;
        // What the registry claims the content is: the digest asked for, or
        // the one it sent for a tag.
        let claimed = digest.copied().or_else(|| {
            answer
                .header("docker-content-digest")
                .and_then(|h| h.parse::<Digest>().ok())
        });
        match claimed {
            // Bytes that do not match the digest that names them are not
            // kept: the descriptor names the claimed digest, and the fetch
            // discovery makes next fails the digest check (a failed
            // verification, not an error).
            Some(c) if c != fetched => Ok(descriptor(media_type, c, size)),
            _ => {
                self.remember(fetched, &answer.body);
                if let Some(c) = self.cache() {
                    c.put(&fetched, &answer.body);
                    if digest.is_none() {
                        c.put_tag(&location, &reference, TagEntry::Digest(fetched));
                    }
                }
                Ok(descriptor(media_type, fetched, size))
            }
        }
    }

    async fn fetch(
        &self,
        digest: &Digest,
        declared_size: Option<u64>,
        kind: ContentKind,
    ) -> Result<Vec<u8>, SourceError> {
        let (limit, limit_name) = kind.limit(&self.limits);
        if let Some(size) = declared_size.filter(|s| *s > limit) {
            return Err(SourceError::TooLarge {
                digest: *digest,
                limit_name,
                limit,
                found: size,
            });
        }
        if kind == ContentKind::Manifest {
            if let Some(bytes) = self.recall(digest) {
                check_content(digest, declared_size, &bytes)?;
                return Ok(bytes);
            }
        }
        let what = match kind {
            ContentKind::Manifest => format!("manifest {digest}"),
            _ => format!("blob {digest}"),
        };
        if let Some(bytes) = self.cached(digest, limit, &what)? {
            check_content(digest, declared_size, &bytes)?;
            return Ok(bytes);
        }
        if self.client.offline() {
            return Err(self.not_cached(
                &what,
                self.cache()
                    .map(|c| c.content_path(digest))
                    .unwrap_or_default(),
            ));
        }
        let t = self.target();
        let (url, accept) = match kind {
            ContentKind::Manifest => (
                self.client.url(t, &format!("manifests/{digest}"))?,
                MANIFEST_ACCEPT,
            ),
            _ => (self.client.url(t, &format!("blobs/{digest}"))?, "*/*"),
        };
        let cap = Cap {
            limit,
            name: limit_name,
            digest: Some(*digest),
        };
        let answer = self.client.get(t, &url, accept, &what, cap).await?;
        match answer.status {
            200 => {}
            404 => {
                return Err(SourceError::Missing {
                    digest: *digest,
                    location: self.location(),
                })
            }
            _ => return Err(answer.unexpected(t, &what, "200 or 404")),
        }
        check_content(digest, declared_size, &answer.body)?;
        if let Some(c) = self.cache() {
            c.put(digest, &answer.body);
        }
        Ok(answer.body)
    }

    async fn referrers(&self, subject: &Digest) -> Result<Vec<Descriptor>, SourceError> {
        let location = self.target().location();
        if self.client.offline() {
            let cache = self.cache();
            let listed = cache
                .and_then(|c| c.referrers(&location, subject, self.limits.max_manifest_bytes))
                .ok_or_else(|| {
                    self.not_cached(
                        &format!("the referrers listing of {subject}"),
                        cache
                            .map(|c| c.referrers_path(&location, subject))
                            .unwrap_or_default(),
                    )
                })?;
            if listed.len() > self.limits.max_referrers {
                return Err(SourceError::TooManyReferrers {
                    subject: *subject,
                    limit: self.limits.max_referrers,
                    found: listed.len(),
                });
            }
            self.client.notify(|| FetchEvent::CacheHit {
                what: format!("referrers of {subject}"),
            });
            return Ok(listed);
        }
        let listed = referrers::list(&self.client, self.target(), subject, &self.limits).await?;
        // Listings change: kept for a later offline run, and read online only
        // as signature listings (`signature_referrers`).
        if let Some(c) = self.cache() {
            c.put_referrers(&location, subject, &listed);
        }
        Ok(listed)
    }

    async fn signature_referrers(
        &self,
        subject: &Digest,
    ) -> Result<(Vec<Descriptor>, bool), SourceError> {
        let kept = match self.cache() {
            Some(c) if self.kept_signature_listings && !self.client.offline() => c.referrers(
                &self.target().location(),
                subject,
                self.limits.max_manifest_bytes,
            ),
            _ => None,
        };
        match kept {
            Some(listed) if listed.len() <= self.limits.max_referrers => {
                self.client.notify(|| FetchEvent::CacheHit {
                    what: format!("signature referrers of {subject} (kept listing)"),
                });
                Ok((listed, true))
            }
            _ => self.referrers(subject).await.map(|l| (l, false)),
        }
    }
}

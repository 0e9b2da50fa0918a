//! The content-addressed disk cache of registry content: manifests and blobs
//! by digest, plus what `--offline` needs that is not content-addressed (the
//! last digest a tag resolved to, the last referrers listing of a digest).
//!
//! It owns the files under its directory and nothing else. It never vouches
//! for anything: every content read is capped at the caller's limit and
//! re-hashed against the digest that names it, and an entry that does not
//! match is deleted and reported as a miss, so the caller fetches it again.
//! Writes go to a temporary file in the same directory and are renamed into
//! place, so a reader sees a whole entry or none (a torn entry left by a
//! crash fails its hash and is refetched). Failing to write is not an error:
//! the content was already checked, it just is not kept.
//!
//! Layout, under the root (`$XDG_CACHE_HOME/dhi-verify`, else
//! `~/.cache/dhi-verify`, or `--cache-dir`):
//!
//! ```text
//! sha256/<hex>          content, named by its digest
//! tags/<hex>            "sha256:<hex>\n" or "absent\n", keyed by sha256("<registry>/<repository>:<tag>")
//! referrers/<hex>       an OCI index, keyed by sha256("<registry>/<repository>@<digest>")
//! ```

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::digest::Digest;
use crate::oci::{media_type, Descriptor, ImageIndex};

/// The default cache directory: `$XDG_CACHE_HOME/dhi-verify`, else
/// `$HOME/.cache/dhi-verify`; `None` when neither variable is set.
pub fn default_dir() -> Option<PathBuf> {
    let xdg = std::env::var_os("XDG_CACHE_HOME")
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
        .filter(|p| p.is_absolute());
    let base = xdg.or_else(|| {
        std::env::var_os("HOME")
            .filter(|v| !v.is_empty())
            .map(|h| PathBuf::from(h).join(".cache"))
    })?;
    Some(base.join("dhi-verify"))
}

/// What a content lookup found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Lookup {
    /// Bytes that hash to the digest asked for.
    Hit(Vec<u8>),
    /// No usable entry (none, unreadable, over the limit, or corrupt and deleted).
    Miss,
    /// An entry was there and did not match its digest; it was deleted.
    Corrupt(PathBuf),
}

/// What the cache remembers a tag resolved to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TagEntry {
    /// The tag named this digest.
    Digest(Digest),
    /// The registry answered that the tag does not exist.
    Absent,
}

/// A cache directory. Cheap to share by reference; safe to use from several
/// processes at once (entries are immutable once renamed into place).
#[derive(Debug)]
pub(crate) struct DiskCache {
    root: PathBuf,
}

/// Distinguishes temporary files of one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

impl DiskCache {
    /// A cache rooted at `root` (created on first write).
    pub(crate) fn new(root: impl Into<PathBuf>) -> Self {
        DiskCache { root: root.into() }
    }

    /// Where the content named `digest` is kept.
    pub(crate) fn content_path(&self, digest: &Digest) -> PathBuf {
        self.root.join("sha256").join(digest.hex())
    }

    fn keyed_path(&self, dir: &str, key: &str) -> PathBuf {
        self.root.join(dir).join(Digest::of(key.as_bytes()).hex())
    }

    /// Where the tag entry of `location:tag` is kept.
    pub(crate) fn tag_path(&self, location: &str, tag: &str) -> PathBuf {
        self.keyed_path("tags", &format!("{location}:{tag}"))
    }

    /// Where the referrers listing of `location@subject` is kept.
    pub(crate) fn referrers_path(&self, location: &str, subject: &Digest) -> PathBuf {
        self.keyed_path("referrers", &format!("{location}@{subject}"))
    }

    /// The content named `digest`, at most `limit` bytes, re-hashed.
    pub(crate) fn get(&self, digest: &Digest, limit: u64) -> Lookup {
        let path = self.content_path(digest);
        let Some(bytes) = read_capped(&path, limit) else {
            return Lookup::Miss;
        };
        if Digest::of(&bytes) == *digest {
            Lookup::Hit(bytes)
        } else {
            // Never trusted, never kept: the caller fetches it again.
            let _ = std::fs::remove_file(&path);
            Lookup::Corrupt(path)
        }
    }

    /// Keeps `bytes`, already checked against `digest` by the caller.
    pub(crate) fn put(&self, digest: &Digest, bytes: &[u8]) {
        if Digest::of(bytes) != *digest {
            return;
        }
        let path = self.content_path(digest);
        if path.exists() {
            return;
        }
        write_atomic(&path, bytes);
    }

    /// What `location:tag` resolved to last.
    pub(crate) fn tag(&self, location: &str, tag: &str) -> Option<TagEntry> {
        let text = read_capped(&self.tag_path(location, tag), 128)?;
        let text = std::str::from_utf8(&text).ok()?.trim();
        if text == "absent" {
            return Some(TagEntry::Absent);
        }
        text.parse().ok().map(TagEntry::Digest)
    }

    /// Remembers what `location:tag` resolved to (for `--offline`).
    pub(crate) fn put_tag(&self, location: &str, tag: &str, entry: TagEntry) {
        let text = match entry {
            TagEntry::Digest(d) => format!("{d}\n"),
            TagEntry::Absent => "absent\n".to_owned(),
        };
        write_atomic(&self.tag_path(location, tag), text.as_bytes());
    }

    /// The last referrers listing of `location@subject` (for `--offline`),
    /// at most `limit` bytes. `None` when there is none or it does not parse.
    pub(crate) fn referrers(
        &self,
        location: &str,
        subject: &Digest,
        limit: u64,
    ) -> Option<Vec<Descriptor>> {
        let bytes = read_capped(&self.referrers_path(location, subject), limit)?;
        // A refusal is kept by the budget and ends the verification as an error.
        super::budget::charge(bytes.len() as u64, || {
            format!("the cached referrers listing of {subject}")
        })
        .ok()?;
        serde_json::from_slice::<ImageIndex>(&bytes)
            .ok()
            .map(|i| i.manifests)
    }

    /// Remembers a referrers listing (for `--offline`).
    pub(crate) fn put_referrers(&self, location: &str, subject: &Digest, list: &[Descriptor]) {
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_type::OCI_INDEX,
            "manifests": list,
        });
        if let Ok(bytes) = serde_json::to_vec(&index) {
            write_atomic(&self.referrers_path(location, subject), &bytes);
        }
    }
}

/// A file's bytes, unless it is missing, unreadable or over `limit` bytes.
fn read_capped(path: &Path, limit: u64) -> Option<Vec<u8>> {
    let file = std::fs::File::open(path).ok()?;
    let len = file.metadata().ok()?.len();
    if len > limit {
        return None;
    }
    let mut bytes = Vec::with_capacity(usize::try_from(len).unwrap_or(0));
    file.take(limit.saturating_add(1))
        .read_to_end(&mut bytes)
        .ok()?;
    if bytes.len() as u64 > limit {
        return None;
    }
    Some(bytes)
}

/// Writes `bytes` to a temporary file beside `path`, then renames it into
/// place. Failures leave no entry (and no temporary file when avoidable).
fn write_atomic(path: &Path, bytes: &[u8]) {
    let Some(dir) = path.parent() else { return };
    if std::fs::create_dir_all(dir).is_err() {
        return;
    }
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{name}.tmp.{}.{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = std::fs::File::create(&temp).and_then(|mut f| {
        f.write_all(bytes)?;
        f.flush()
    });
    if written.is_err() || std::fs::rename(&temp, path).is_err() {
        let _ = std::fs::remove_file(&temp);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_comes_back_only_when_it_hashes_to_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let d = Digest::of(b"manifest");
        assert_eq!(cache.get(&d, 100), Lookup::Miss);
        cache.put(&d, b"manifest");
        assert_eq!(cache.get(&d, 100), Lookup::Hit(b"manifest".to_vec()));
        // Corrupted on disk: reported, deleted, never returned.
        std::fs::write(cache.content_path(&d), b"manifesT").unwrap();
        assert_eq!(cache.get(&d, 100), Lookup::Corrupt(cache.content_path(&d)));
        assert!(!cache.content_path(&d).exists());
        assert_eq!(cache.get(&d, 100), Lookup::Miss);
    }

    #[test]
    fn bytes_that_do_not_match_the_digest_are_not_stored() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let d = Digest::of(b"right");
        cache.put(&d, b"wrong");
        assert!(!cache.content_path(&d).exists());
    }

    #[test]
    fn entries_over_the_limit_are_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let d = Digest::of(b"0123456789");
        cache.put(&d, b"0123456789");
        assert_eq!(cache.get(&d, 9), Lookup::Miss);
        // Still there for a caller with a larger limit.
        assert_eq!(cache.get(&d, 10), Lookup::Hit(b"0123456789".to_vec()));
    }

    #[test]
    fn writes_leave_no_temporary_files() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let d = Digest::of(b"x");
        cache.put(&d, b"x");
        cache.put_tag("r/a", "1", TagEntry::Digest(d));
        let names: Vec<String> = std::fs::read_dir(dir.path().join("sha256"))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec![d.hex()]);
    }

    #[test]
    fn tags_and_listings_are_remembered_per_repository() {
        let dir = tempfile::tempdir().unwrap();
        let cache = DiskCache::new(dir.path());
        let d = Digest::of(b"index");
        cache.put_tag("r/a", "1", TagEntry::Digest(d));
        cache.put_tag("r/a", "sha256-x.sig", TagEntry::Absent);
        assert_eq!(cache.tag("r/a", "1"), Some(TagEntry::Digest(d)));
        assert_eq!(cache.tag("r/b", "1"), None);
        assert_eq!(cache.tag("r/a", "sha256-x.sig"), Some(TagEntry::Absent));
        assert_eq!(cache.referrers("r/a", &d, 4096), None);
        cache.put_referrers("r/a", &d, &[]);
        assert_eq!(cache.referrers("r/a", &d, 4096), Some(vec![]));
        assert_eq!(cache.referrers("r/b", &d, 4096), None);
    }
}

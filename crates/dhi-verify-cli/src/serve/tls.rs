//! The server's TLS: a rustls configuration (aws-lc-rs, as the registry
//! client uses) whose certificate and key are read from two PEM files and
//! read again when either file changes (cert-manager renews the mounted
//! secret in place). A reload that fails keeps the pair in use and says why.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio_rustls::rustls;
use tokio_rustls::rustls::pki_types::pem::PemObject as _;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;

/// A certificate and key pair that cannot be used. Names the file and says
/// what was expected in it.
#[derive(Debug, thiserror::Error)]
pub(crate) enum TlsError {
    /// The file cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The file holds no PEM section of the kind expected.
    #[error("{}: expected {expected} in PEM, found none usable ({source})", path.display())]
    Pem {
        /// The file.
        path: PathBuf,
        /// What it should hold.
        expected: &'static str,
        /// What the PEM reader said.
        source: rustls::pki_types::pem::Error,
    },
    /// The key is of a type rustls cannot sign with, or does not match the certificate.
    #[error("{}: {source}", path.display())]
    Key {
        /// The key file.
        path: PathBuf,
        /// rustls's reason.
        source: rustls::Error,
    },
    /// The rustls configuration cannot be built (protocol versions).
    #[error("TLS configuration: {0}")]
    Config(rustls::Error),
}

/// Reads a certificate chain and its private key from PEM files.
pub(crate) fn load(cert: &Path, key: &Path) -> Result<CertifiedKey, TlsError> {
    let read = |path: &Path| {
        std::fs::read(path).map_err(|source| TlsError::Read {
            path: path.to_owned(),
            source,
        })
    };
    let cert_pem = read(cert)?;
    let key_pem = read(key)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|source| TlsError::Pem {
            path: cert.to_owned(),
            expected: "CERTIFICATE sections",
            source,
        })?;
    if chain.is_empty() {
        return Err(TlsError::Pem {
            path: cert.to_owned(),
            expected: "a CERTIFICATE section",
            source: rustls::pki_types::pem::Error::NoItemsFound,
        });
    }
    let private = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|source| TlsError::Pem {
        path: key.to_owned(),
        expected: "a PRIVATE KEY, RSA PRIVATE KEY or EC PRIVATE KEY section",
        source,
    })?;
    let provider = rustls::crypto::aws_lc_rs::default_provider();
    let certified =
        CertifiedKey::from_der(chain, private, &provider).map_err(|source| TlsError::Key {
            path: key.to_owned(),
            source,
        })?;
    Ok(certified)
}

/// Serves whichever pair was loaded last.
#[derive(Debug)]
pub(crate) struct Reloading {
    current: RwLock<Arc<CertifiedKey>>,
}

impl Reloading {
    fn get(&self) -> Arc<CertifiedKey> {
        match self.current.read() {
            Ok(g) => g.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }

    fn set(&self, key: CertifiedKey) {
        let key = Arc::new(key);
        match self.current.write() {
            Ok(mut g) => *g = key,
            Err(poisoned) => *poisoned.into_inner() = key,
        }
    }
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.get())
    }
}

/// The server configuration (HTTP/1.1 over TLS 1.2 or 1.3) and the
/// resolver that [`watch`] updates.
pub(crate) fn server_config(
    first: CertifiedKey,
) -> Result<(Arc<rustls::ServerConfig>, Arc<Reloading>), TlsError> {
    let resolver = Arc::new(Reloading {
        current: RwLock::new(Arc::new(first)),
    });
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_no_client_auth()
        .with_cert_resolver(resolver.clone());
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((Arc::new(config), resolver))
}

/// Modification times of the two files (None when unreadable).
pub(crate) type Stamps = (Option<SystemTime>, Option<SystemTime>);

/// The files' modification times now: taken before the first load, so a
/// change during or after it is seen by [`watch`].
pub(crate) fn stamps(cert: &Path, key: &Path) -> Stamps {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (m(cert), m(key))
}

/// Polls the files' modification times every `every`; when either changed,
/// loads the pair again and serves it from the next handshake on. Kubernetes
/// updates a mounted secret by swapping a symlink, which changes the
/// modification time the path resolves to. Runs until the runtime stops.
pub(crate) async fn watch(
    resolver: Arc<Reloading>,
    cert: PathBuf,
    key: PathBuf,
    every: Duration,
    mut seen: Stamps,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let now = stamps(&cert, &key);
        if now == seen {
            continue;
        }
        match load(&cert, &key) {
            Ok(pair) => {
                resolver.set(pair);
                seen = now;
                eprintln!(
                    "dhi-verify: serve: TLS certificate reloaded from {}",
                    cert.display()
                );
            }
            // Half-written files (the certificate renewed, the key not yet):
            // keep the old pair and try again on the next change or tick.
            Err(e) => eprintln!(
                "dhi-verify: serve: TLS reload failed, keeping the current certificate: {e}"
            ),
        }
    }
}

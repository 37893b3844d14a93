//! HTTPS in the binary: rustls with a certificate chain and key read from PEM files
//! (`TLS_CERT_FILE`, `TLS_KEY_FILE`), picked up again when the files change — a renewal
//! by certbot, cert-manager or a mounted secret takes effect without a restart, and a
//! broken renewal keeps the pair that works.

use std::path::{Path, PathBuf};
use std::sync::{Arc, RwLock};
use std::time::{Duration, SystemTime};

use tokio_rustls::rustls::crypto::{aws_lc_rs, CryptoProvider};
use tokio_rustls::rustls::pki_types::pem::PemObject;
use tokio_rustls::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio_rustls::rustls::server::{ClientHello, ResolvesServerCert};
use tokio_rustls::rustls::sign::CertifiedKey;
use tokio_rustls::rustls::ServerConfig;
use tokio_rustls::TlsAcceptor;

/// How often the files are looked at for a change (two `stat` calls).
const RELOAD_CHECK: Duration = Duration::from_secs(2);

/// The certificate and key files, as configured.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// When each file last changed, and its length: a new value means "read them again".
type Stamp = [Option<(SystemTime, u64)>; 2];

/// Hands every handshake the pair loaded last.
#[derive(Debug)]
struct Reloading {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    current: RwLock<(Stamp, Arc<CertifiedKey>)>,
}

impl ResolvesServerCert for Reloading {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|p| p.into_inner());
        Some(current.1.clone())
    }
}

/// The TLS side of the public listener.
pub struct Tls {
    acceptor: TlsAcceptor,
    resolver: Arc<Reloading>,
}

impl Tls {
    /// Loads the pair once; fails with a line naming the file when either is unusable.
    pub async fn load(files: &TlsFiles) -> Result<Self, String> {
        // aws-lc-rs: 12–16 % more handshakes and 20–33 % more bulk throughput than ring
        // on this machine (benches/tls_providers.rs); set explicitly.
        let provider = Arc::new(aws_lc_rs::default_provider());
        let stamp = stamp(files).await;
        let key = read_pair(files, &provider).await?;
        let resolver = Arc::new(Reloading {
            files: files.clone(),
            provider: provider.clone(),
            current: RwLock::new((stamp, key)),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(resolver.clone());
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(Self {
            acceptor: TlsAcceptor::from(Arc::new(config)),
            resolver,
        })
    }

    pub fn acceptor(&self) -> &TlsAcceptor {
        &self.acceptor
    }

    /// Reloads the pair whenever the files change, until the task is dropped. A pair that
    /// does not load (half-written, mismatched, expired format) is reported and the one in
    /// use is kept.
    pub async fn watch(self) {
        let resolver = self.resolver;
        let mut ticks = tokio::time::interval(RELOAD_CHECK);
        ticks.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            ticks.tick().await;
            let now = stamp(&resolver.files).await;
            let seen = resolver.current.read().unwrap_or_else(|p| p.into_inner()).0;
            if now == seen {
                continue;
            }
            match read_pair(&resolver.files, &resolver.provider).await {
                Ok(key) => {
                    *resolver.current.write().unwrap_or_else(|p| p.into_inner()) = (now, key);
                    tracing::info!("TLS certificate reloaded");
                }
                Err(error) => {
                    resolver
                        .current
                        .write()
                        .unwrap_or_else(|p| p.into_inner())
                        .0 = now;
                    tracing::error!(%error, "TLS certificate not reloaded; keeping the one in use");
                }
            }
        }
    }
}

async fn stamp(files: &TlsFiles) -> Stamp {
    async fn one(path: &Path) -> Option<(SystemTime, u64)> {
        let meta = tokio::fs::metadata(path).await.ok()?;
        Some((meta.modified().ok()?, meta.len()))
    }
    [one(&files.cert).await, one(&files.key).await]
}

async fn read_pair(
    files: &TlsFiles,
    provider: &CryptoProvider,
) -> Result<Arc<CertifiedKey>, String> {
    let cert_pem = tokio::fs::read(&files.cert)
        .await
        .map_err(|e| format!("TLS_CERT_FILE: cannot read {}: {e}", files.cert.display()))?;
    let key_pem = tokio::fs::read(&files.key)
        .await
        .map_err(|e| format!("TLS_KEY_FILE: cannot read {}: {e}", files.key.display()))?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("TLS_CERT_FILE: not a PEM certificate chain ({e})"))?;
    if chain.is_empty() {
        return Err("TLS_CERT_FILE: no certificate in the file".into());
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem)
        .map_err(|e| format!("TLS_KEY_FILE: not a PEM private key ({e})"))?;
    CertifiedKey::from_der(chain, key, provider)
        .map(Arc::new)
        .map_err(|e| format!("TLS_KEY_FILE: does not fit the certificate ({e})"))
}

/// Makes aws-lc-rs the process's TLS provider for every client that asks for "the
/// default" (the Redis client does). Called first thing; a second call changes nothing.
/// Both providers are compiled in (ring comes with the database and HTTP clients), so
/// without it such clients could not choose and would panic.
pub fn install_crypto_provider() {
    let _ = aws_lc_rs::default_provider().install_default();
}

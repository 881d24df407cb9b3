//! The TLS client of https deliveries: rustls on aws-lc-rs (the crypto the server builds
//! anyway), trusting Mozilla's root programme (compiled in: the same on every machine, no
//! system bundle needed in a slim container) and, when `webhook_ca_file` is set, the CA
//! certificates of that PEM file too — for receivers behind a private CA. Certificates are
//! verified as usual (chain, name, validity); there is no switch to turn that off.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;
use rustls::{ClientConfig, RootCertStore};

/// Why the TLS client could not be configured.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("webhook_ca_file {}: {reason}", path.display())]
    CaFile { path: PathBuf, reason: String },
    #[error("cannot configure TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

/// The rustls configuration for webhook requests.
pub fn client_config(ca_file: Option<&Path>) -> Result<ClientConfig, TlsError> {
    let mut roots = RootCertStore::from_iter(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
    if let Some(path) = ca_file {
        let extra = read_ca_file(path)?;
        let mut added = 0;
        for cert in extra {
            roots.add(cert).map_err(|e| TlsError::CaFile {
                path: path.to_owned(),
                reason: format!("a certificate cannot be a trust anchor: {e}"),
            })?;
            added += 1;
        }
        tracing::info!(path = %path.display(), certificates = added,
            "webhooks trust the CA file as well as the built-in roots");
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    Ok(ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

/// Every certificate of a PEM file; at least one.
fn read_ca_file(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let error = |reason: String| TlsError::CaFile {
        path: path.to_owned(),
        reason,
    };
    let certs = CertificateDer::pem_file_iter(path)
        .map_err(|e| error(e.to_string()))?
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| error(e.to_string()))?;
    if certs.is_empty() {
        return Err(error("holds no PEM certificate".into()));
    }
    Ok(certs)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_roots_configure_a_client() {
        assert!(client_config(None).is_ok());
    }

    #[test]
    fn a_missing_or_empty_ca_file_is_refused_naming_it() {
        let dir = std::env::temp_dir().join(format!("caucus-webhook-tls-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let missing = dir.join("missing.pem");
        let error = client_config(Some(&missing)).unwrap_err().to_string();
        assert!(error.contains("missing.pem"), "{error}");
        let empty = dir.join("empty.pem");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = client_config(Some(&empty)).unwrap_err().to_string();
        assert!(error.contains("holds no PEM certificate"), "{error}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! The certificate pair of `tls_cert` and `tls_key`: read and checked, handed to every
//! handshake by [`CertResolver`], and swapped by [`CertWatch`] when the files change.
//!
//! A pair loads when the certificate file holds a chain (the server's certificate first), the
//! key file one private key (PKCS#8, PKCS#1 or SEC1) the provider can sign with, and the key
//! is the certificate's. A change is seen in the files' bytes, not their modification time:
//! a copy that keeps the time, or two writes within its granularity, are still seen.

use std::path::{Path, PathBuf};
use std::sync::{Arc, PoisonError, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::pki_types::pem::PemObject as _;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;

/// The two files, as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    pub cert: PathBuf,
    pub key: PathBuf,
}

/// Why a pair could not be used; each names the setting and its file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TlsError {
    #[error("{setting} {}: {reason}", path.display())]
    File {
        setting: &'static str,
        path: PathBuf,
        reason: String,
    },
    #[error("tls_key {} is not the key of tls_cert {}: {reason}", key.display(), cert.display())]
    Pair {
        cert: PathBuf,
        key: PathBuf,
        reason: String,
    },
}

/// The bytes of both files, as last read.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PairBytes {
    cert: Vec<u8>,
    key: Vec<u8>,
}

impl TlsFiles {
    fn file_error(&self, setting: &'static str, reason: String) -> TlsError {
        let path = if setting == "tls_cert" {
            &self.cert
        } else {
            &self.key
        };
        TlsError::File {
            setting,
            path: path.clone(),
            reason,
        }
    }

    fn read(&self) -> Result<PairBytes, TlsError> {
        let read = |setting, path: &Path| {
            std::fs::read(path).map_err(|e| self.file_error(setting, e.to_string()))
        };
        Ok(PairBytes {
            cert: read("tls_cert", &self.cert)?,
            key: read("tls_key", &self.key)?,
        })
    }

    fn parse(
        &self,
        bytes: &PairBytes,
        provider: &CryptoProvider,
    ) -> Result<Arc<CertifiedKey>, TlsError> {
        let chain = CertificateDer::pem_slice_iter(&bytes.cert)
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| self.file_error("tls_cert", e.to_string()))?;
        if chain.is_empty() {
            return Err(self.file_error("tls_cert", "holds no PEM certificate".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(&bytes.key).map_err(|e| {
            self.file_error(
                "tls_key",
                format!("holds no PEM private key (PKCS#8, PKCS#1 or SEC1): {e}"),
            )
        })?;
        let signer = provider
            .key_provider
            .load_private_key(key)
            .map_err(|e| self.file_error("tls_key", e.to_string()))?;
        let certified = CertifiedKey::new(chain, signer);
        certified.keys_match().map_err(|e| TlsError::Pair {
            cert: self.cert.clone(),
            key: self.key.clone(),
            reason: e.to_string(),
        })?;
        Ok(Arc::new(certified))
    }
}

/// Hands every new handshake the pair in use.
#[derive(Debug)]
pub struct CertResolver {
    current: RwLock<Arc<CertifiedKey>>,
}

impl CertResolver {
    /// The pair new handshakes get.
    pub fn current(&self) -> Arc<CertifiedKey> {
        Arc::clone(&self.current.read().unwrap_or_else(PoisonError::into_inner))
    }

    fn swap(&self, pair: Arc<CertifiedKey>) {
        *self.current.write().unwrap_or_else(PoisonError::into_inner) = pair;
    }
}

impl ResolvesServerCert for CertResolver {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        Some(self.current())
    }
}

/// What one look at the files found.
#[derive(Debug, PartialEq, Eq)]
pub enum Check {
    /// The files hold the pair in use, or the one refused last time.
    Unchanged,
    /// A new pair is in use.
    Loaded,
    /// The files changed and do not hold a usable pair; the old one stays.
    Refused(TlsError),
}

/// What the files held when they last did not load: read errors are told apart by their
/// text, so a file that stays missing is reported once.
#[derive(Debug, PartialEq, Eq)]
enum Seen {
    Bytes(PairBytes),
    Unreadable(String),
}

/// The files and the pair loaded from them.
#[derive(Debug)]
pub struct CertWatch {
    files: TlsFiles,
    provider: Arc<CryptoProvider>,
    resolver: Arc<CertResolver>,
    in_use: PairBytes,
    refused: Option<Seen>,
}

impl CertWatch {
    /// Read and check the pair (blocking file IO); the error names the setting and its file.
    pub fn load(files: TlsFiles, provider: Arc<CryptoProvider>) -> Result<CertWatch, TlsError> {
        let bytes = files.read()?;
        let pair = files.parse(&bytes, &provider)?;
        Ok(CertWatch {
            files,
            provider,
            resolver: Arc::new(CertResolver {
                current: RwLock::new(pair),
            }),
            in_use: bytes,
            refused: None,
        })
    }

    pub fn resolver(&self) -> Arc<CertResolver> {
        Arc::clone(&self.resolver)
    }

    pub fn files(&self) -> &TlsFiles {
        &self.files
    }

    /// Read the files (blocking IO) and swap in their pair if it changed and loads.
    pub fn check(&mut self) -> Check {
        let bytes = match self.files.read() {
            Ok(bytes) => bytes,
            Err(e) => {
                let seen = Seen::Unreadable(e.to_string());
                if self.refused.as_ref() == Some(&seen) {
                    return Check::Unchanged;
                }
                self.refused = Some(seen);
                return Check::Refused(e);
            }
        };
        if bytes == self.in_use {
            // Back to the pair in use: a later bad change is reported again.
            self.refused = None;
            return Check::Unchanged;
        }
        if matches!(&self.refused, Some(Seen::Bytes(refused)) if *refused == bytes) {
            return Check::Unchanged;
        }
        match self.files.parse(&bytes, &self.provider) {
            Ok(pair) => {
                self.resolver.swap(pair);
                self.in_use = bytes;
                self.refused = None;
                Check::Loaded
            }
            Err(e) => {
                self.refused = Some(Seen::Bytes(bytes));
                Check::Refused(e)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Dir(PathBuf);

    impl Drop for Dir {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn dir(name: &str) -> (Dir, TlsFiles) {
        let dir = std::env::temp_dir().join(format!("caucus-tls-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let files = TlsFiles {
            cert: dir.join("cert.pem"),
            key: dir.join("key.pem"),
        };
        (Dir(dir), files)
    }

    fn pem(label: &str, der: &[u8]) -> String {
        use base64::Engine as _;
        let body = base64::engine::general_purpose::STANDARD.encode(der);
        let lines: Vec<&str> = body
            .as_bytes()
            .chunks(64)
            .map(|line| std::str::from_utf8(line).unwrap())
            .collect();
        format!(
            "-----BEGIN {label}-----\n{}\n-----END {label}-----\n",
            lines.join("\n")
        )
    }

    /// A self-signed certificate for `name` and its key, in PEM.
    fn pair(name: &str) -> (String, String) {
        let key = rcgen::KeyPair::generate().unwrap();
        let cert = rcgen::CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .self_signed(&key)
            .unwrap();
        (
            pem("CERTIFICATE", cert.der()),
            pem("PRIVATE KEY", &key.serialize_der()),
        )
    }

    fn write(files: &TlsFiles, (cert, key): &(String, String)) {
        std::fs::write(&files.cert, cert).unwrap();
        std::fs::write(&files.key, key).unwrap();
    }

    fn provider() -> Arc<CryptoProvider> {
        Arc::new(rustls::crypto::aws_lc_rs::default_provider())
    }

    fn served(watch: &CertWatch) -> Vec<u8> {
        watch.resolver().current().cert[0].to_vec()
    }

    fn der(pem: &str) -> Vec<u8> {
        CertificateDer::from_pem_slice(pem.as_bytes())
            .unwrap()
            .to_vec()
    }

    #[test]
    fn a_missing_empty_or_mismatched_file_is_refused_naming_its_setting() {
        let (_dir, files) = dir("start");
        let error = CertWatch::load(files.clone(), provider()).unwrap_err();
        assert!(
            error.to_string().starts_with("tls_cert ") && error.to_string().contains("cert.pem"),
            "{error}"
        );
        let (cert, key) = pair("a.example");
        std::fs::write(&files.cert, &cert).unwrap();
        std::fs::write(&files.key, "not a key\n").unwrap();
        let error = CertWatch::load(files.clone(), provider()).unwrap_err();
        assert!(error.to_string().starts_with("tls_key "), "{error}");
        std::fs::write(&files.cert, "").unwrap();
        std::fs::write(&files.key, &key).unwrap();
        let error = CertWatch::load(files.clone(), provider()).unwrap_err();
        assert!(
            error.to_string().contains("holds no PEM certificate"),
            "{error}"
        );
        let (_, other_key) = pair("b.example");
        write(&files, &(cert, other_key));
        let error = CertWatch::load(files.clone(), provider()).unwrap_err();
        assert!(
            matches!(error, TlsError::Pair { .. }),
            "a key of another certificate: {error}"
        );
    }

    #[test]
    fn a_changed_pair_is_swapped_in_and_a_bad_one_is_refused_once() {
        let (_dir, files) = dir("reload");
        let first = pair("a.example");
        write(&files, &first);
        let mut watch = CertWatch::load(files.clone(), provider()).unwrap();
        assert_eq!(served(&watch), der(&first.0));
        assert_eq!(watch.check(), Check::Unchanged);

        let second = pair("b.example");
        write(&files, &second);
        assert_eq!(watch.check(), Check::Loaded);
        assert_eq!(served(&watch), der(&second.0));

        // Half a replacement: a new certificate with the old key.
        let third = pair("c.example");
        std::fs::write(&files.cert, &third.0).unwrap();
        assert!(matches!(
            watch.check(),
            Check::Refused(TlsError::Pair { .. })
        ));
        assert_eq!(served(&watch), der(&second.0), "the old pair keeps serving");
        assert_eq!(watch.check(), Check::Unchanged, "reported once");
        // The rest of it.
        std::fs::write(&files.key, &third.1).unwrap();
        assert_eq!(watch.check(), Check::Loaded);
        assert_eq!(served(&watch), der(&third.0));

        std::fs::remove_file(&files.key).unwrap();
        assert!(matches!(
            watch.check(),
            Check::Refused(TlsError::File {
                setting: "tls_key",
                ..
            })
        ));
        assert_eq!(
            watch.check(),
            Check::Unchanged,
            "a missing file is reported once"
        );
        assert_eq!(served(&watch), der(&third.0));
    }
}

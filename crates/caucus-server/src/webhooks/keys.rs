//! Where an endpoint's signing key comes from: its `secret` in the configuration, or a random
//! key generated once and kept in `<data>/webhook-keys/` (directory 0700, one file 0600 per
//! endpoint, named by the SHA-256 of its URL), or — with an in-memory store — a random key
//! that lives as long as the process. Never the token secret: a receiver holding its key can
//! verify deliveries and nothing else, and leaking one endpoint's key forges no tokens.
//! `caucus webhooks` prints every endpoint's key for the operator to hand to the receiver.

use std::io::{self, Write as _};
use std::path::{Path, PathBuf};

use aws_lc_rs::digest;

use super::WebhookEndpoint;
use super::signing::SigningKey;

/// The directory, inside the data directory, holding generated keys.
pub const DIR_NAME: &str = "webhook-keys";

/// Where a key came from (for the operator's listing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeySource {
    /// The endpoint's `secret` in the configuration.
    Configured,
    /// Generated and kept in this file.
    File(PathBuf),
    /// Generated for this process only (in-memory store).
    Ephemeral,
}

/// Why a key could not be had.
#[derive(Debug, thiserror::Error)]
pub enum KeysError {
    #[error("webhook endpoint {url}: secret {source}")]
    Configured {
        url: String,
        source: super::signing::KeyError,
    },
    #[error("webhook endpoint {url}: key file {}: {source}", path.display())]
    File {
        url: String,
        path: PathBuf,
        source: io::Error,
    },
}

/// Every endpoint's key, in order: configured, read from `data`, or generated (into `data`,
/// or only in memory when `data` is `None`).
pub fn resolve(
    endpoints: &[WebhookEndpoint],
    data: Option<&Path>,
) -> Result<Vec<(SigningKey, KeySource)>, KeysError> {
    endpoints
        .iter()
        .map(|endpoint| {
            if let Some(secret) = &endpoint.secret {
                let key = SigningKey::parse(secret).map_err(|source| KeysError::Configured {
                    url: endpoint.url.clone(),
                    source,
                })?;
                return Ok((key, KeySource::Configured));
            }
            let Some(data) = data else {
                return Ok((SigningKey::generate(), KeySource::Ephemeral));
            };
            let path = key_path(data, &endpoint.url);
            load_or_create(&path)
                .map(|key| (key, KeySource::File(path.clone())))
                .map_err(|source| KeysError::File {
                    url: endpoint.url.clone(),
                    path,
                    source,
                })
        })
        .collect()
}

/// `<data>/webhook-keys/<hex SHA-256 of the URL>`: a URL holds characters no file name may.
pub fn key_path(data: &Path, url: &str) -> PathBuf {
    let hash = digest::digest(&digest::SHA256, url.as_bytes());
    let name: String = hash.as_ref().iter().map(|b| format!("{b:02x}")).collect();
    data.join(DIR_NAME).join(name)
}

/// Read the key at `path`, or generate it there. Two processes racing (the server and
/// `caucus webhooks`) agree: the file is created with `create_new`, and the loser reads the
/// winner's key.
fn load_or_create(path: &Path) -> io::Result<SigningKey> {
    match read(path) {
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        other => return other,
    }
    if let Some(dir) = path.parent() {
        create_private_dir(dir)?;
    }
    let key = SigningKey::generate();
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let mut file = match options.open(path) {
        Ok(file) => file,
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => return read(path),
        Err(e) => return Err(e),
    };
    file.write_all(key.encoded().as_bytes())?;
    file.write_all(b"\n")?;
    file.sync_all()?;
    tracing::info!(path = %path.display(),
        "generated a webhook signing key; `caucus webhooks` prints it for the receiver");
    Ok(key)
}

fn read(path: &Path) -> io::Result<SigningKey> {
    let text = std::fs::read_to_string(path)?;
    SigningKey::parse(text.trim()).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

fn create_private_dir(dir: &Path) -> io::Result<()> {
    let mut builder = std::fs::DirBuilder::new();
    builder.recursive(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::DirBuilderExt;
        builder.mode(0o700);
    }
    builder.create(dir)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str, secret: Option<&str>) -> WebhookEndpoint {
        WebhookEndpoint {
            url: url.to_owned(),
            secret: secret.map(str::to_owned),
            events: Vec::new(),
        }
    }

    #[test]
    fn a_generated_key_is_kept_private_and_read_back() {
        let data = std::env::temp_dir().join(format!("caucus-webhook-keys-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&data);
        let endpoints = [
            endpoint("https://a.example/hook", None),
            endpoint("https://b.example/hook", None),
        ];
        let first = resolve(&endpoints, Some(&data)).unwrap();
        let again = resolve(&endpoints, Some(&data)).unwrap();
        assert_eq!(first, again, "the same keys after a restart");
        assert_ne!(first[0].0, first[1].0, "one key per endpoint");
        let KeySource::File(path) = &first[0].1 else {
            panic!("a generated key lives in a file: {:?}", first[0].1);
        };
        assert_eq!(path, &key_path(&data, "https://a.example/hook"));
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(path), 0o600);
            assert_eq!(mode(&data.join(DIR_NAME)), 0o700);
        }
        std::fs::remove_dir_all(&data).unwrap();
    }

    #[test]
    fn a_configured_secret_is_used_and_a_bad_one_refused() {
        let configured = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
        let keys = resolve(&[endpoint("http://h/x", Some(configured))], None).unwrap();
        assert_eq!(keys[0].0, SigningKey::parse(configured).unwrap());
        assert_eq!(keys[0].1, KeySource::Configured);
        let error = resolve(&[endpoint("http://h/x", Some("plain"))], None).unwrap_err();
        assert!(error.to_string().contains("whsec_"), "{error}");
    }

    #[test]
    fn without_a_data_dir_keys_are_random_per_process() {
        let endpoints = [endpoint("http://h/x", None)];
        let a = resolve(&endpoints, None).unwrap();
        let b = resolve(&endpoints, None).unwrap();
        assert_eq!(a[0].1, KeySource::Ephemeral);
        assert_ne!(a[0].0, b[0].0);
    }
}

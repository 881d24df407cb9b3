//! The server's HMAC secret: from the configuration, or `<data>/secret`, generated on first
//! start (32 random bytes as hex, file mode 0600). Other secrets kept in files (the TURN
//! secret's `turn_secret_file`) are read the same way.

use std::fmt::Write as _;
use std::io::{self, Write as _};
use std::path::Path;

use rand::RngCore;

const FILE_NAME: &str = "secret";

/// `n` random bytes as lowercase hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0u8; n];
    rand::rng().fill_bytes(&mut bytes);
    bytes.iter().fold(String::with_capacity(n * 2), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// A secret kept in `path`: its text without surrounding whitespace (a trailing newline is
/// not part of it); an empty file is an error. Warns when other users may read the file.
pub fn read_file(path: &Path) -> io::Result<String> {
    let text = std::fs::read_to_string(path)?;
    let secret = text.trim().to_owned();
    if secret.is_empty() {
        return Err(io::Error::new(
            io::ErrorKind::InvalidData,
            format!("{} is empty", path.display()),
        ));
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        if let Ok(meta) = std::fs::metadata(path)
            && meta.permissions().mode() & 0o077 != 0
        {
            tracing::warn!(path = %path.display(), "a secret file is readable by other users; chmod 600 it");
        }
    }
    Ok(secret)
}

/// Read `<data>/secret`, creating the directory and the file on first use.
pub fn load_or_create(data: &Path) -> io::Result<String> {
    let path = data.join(FILE_NAME);
    match read_file(&path) {
        Ok(secret) => Ok(secret),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {
            crate::private_fs::create_dir_all(data)?;
            let secret = random_hex(32);
            // `create_new` never overwrites: if two processes race to create the secret, one
            // fails loudly instead of both silently using different secrets.
            let mut file = crate::private_fs::create_new_file(&path)?;
            file.write_all(secret.as_bytes())?;
            file.write_all(b"\n")?;
            file.sync_all()?;
            tracing::info!(path = %path.display(), "generated a new token secret");
            Ok(secret)
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_secret_is_generated_once_and_kept() {
        let dir = std::env::temp_dir().join(format!("caucus-secret-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        let first = load_or_create(&dir).unwrap();
        assert_eq!(first.len(), 64);
        assert_eq!(load_or_create(&dir).unwrap(), first);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(dir.join(FILE_NAME))
                .unwrap()
                .permissions()
                .mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn a_secret_file_is_read_without_its_newline_and_may_not_be_empty() {
        let dir = std::env::temp_dir().join(format!("caucus-secret-file-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("turn-secret");
        std::fs::write(&path, "  shared-with-coturn \n").unwrap();
        assert_eq!(read_file(&path).unwrap(), "shared-with-coturn");
        std::fs::write(&path, "\n").unwrap();
        assert_eq!(
            read_file(&path).unwrap_err().kind(),
            io::ErrorKind::InvalidData
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }
}

//! Room and breakout passwords: PBKDF2-HMAC-SHA256 (aws-lc-rs) with a random 16-byte salt.
//!
//! A hash is one self-describing string, `pbkdf2-sha256$<iterations>$<salt hex>$<hash hex>`,
//! so the iteration count can be raised later without invalidating stored hashes. [`verify`]
//! compares in constant time and answers `false` — never panics — for any string it cannot
//! read, including a hash whose iteration count is absurd (a tampered row must not become a way
//! to burn CPU).

use std::num::NonZeroU32;

use aws_lc_rs::pbkdf2;
use rand::RngCore;

/// Iterations for new hashes: the floor this project set. OWASP's 2023 figure for
/// PBKDF2-HMAC-SHA256 is 600,000, for account passwords; these are shared room passwords and
/// `verify` runs on the join path of a 2-core server, where each 100k costs about 40 ms of CPU
/// (600k would make 1,000 people joining a protected room cost four CPU-minutes). Stored hashes
/// carry their own count, so raising this later invalidates nothing.
pub const ITERATIONS: u32 = 100_000;

const SCHEME: &str = "pbkdf2-sha256";
const SALT_LEN: usize = 16;
const HASH_LEN: usize = 32;
/// Hashes claiming more iterations than this are refused by `verify` unread.
const MAX_ITERATIONS: u32 = 10_000_000;
/// Hashes claiming fewer than this are refused: nothing this crate wrote has fewer.
const MIN_ITERATIONS: u32 = 100_000;

/// Hashes `password` with a fresh random salt.
pub fn hash(password: &str) -> String {
    let mut salt = [0u8; SALT_LEN];
    rand::rng().fill_bytes(&mut salt);
    hash_with_salt(password, &salt, ITERATIONS)
}

/// Whether `password` matches `stored` (a [`hash`] string). Constant-time in the comparison;
/// `false` for a malformed or tampered `stored`.
pub fn verify(password: &str, stored: &str) -> bool {
    let Some(parsed) = Parsed::from_str(stored) else {
        return false;
    };
    pbkdf2::verify(
        pbkdf2::PBKDF2_HMAC_SHA256,
        parsed.iterations,
        &parsed.salt,
        password.as_bytes(),
        &parsed.hash,
    )
    .is_ok()
}

/// Whether `stored` reads as a hash this module wrote; the store refuses anything else, so a
/// plain password can never land in the database by mistake.
pub fn is_hash(stored: &str) -> bool {
    Parsed::from_str(stored).is_some()
}

fn hash_with_salt(password: &str, salt: &[u8], iterations: u32) -> String {
    let iterations = NonZeroU32::new(iterations.max(1)).unwrap_or(NonZeroU32::MIN);
    let mut out = [0u8; HASH_LEN];
    pbkdf2::derive(
        pbkdf2::PBKDF2_HMAC_SHA256,
        iterations,
        salt,
        password.as_bytes(),
        &mut out,
    );
    format!("{SCHEME}${iterations}${}${}", hex(salt), hex(&out))
}

struct Parsed {
    iterations: NonZeroU32,
    salt: Vec<u8>,
    hash: Vec<u8>,
}

impl Parsed {
    fn from_str(stored: &str) -> Option<Parsed> {
        let mut parts = stored.split('$');
        let (scheme, iterations, salt, hash) =
            (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
        if scheme != SCHEME || parts.next().is_some() {
            return None;
        }
        if iterations.is_empty() || !iterations.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        let iterations: u32 = iterations.parse().ok()?;
        if !(MIN_ITERATIONS..=MAX_ITERATIONS).contains(&iterations) {
            return None;
        }
        let salt = unhex(salt)?;
        let hash = unhex(hash)?;
        if salt.len() < SALT_LEN || salt.len() > 64 || hash.len() != HASH_LEN {
            return None;
        }
        Some(Parsed {
            iterations: NonZeroU32::new(iterations)?,
            salt,
            hash,
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut text = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        text.push(char::from(DIGITS[usize::from(b >> 4)]));
        text.push(char::from(DIGITS[usize::from(b & 0x0f)]));
    }
    text
}

/// Lowercase hex only: one spelling per hash.
fn unhex(text: &str) -> Option<Vec<u8>> {
    fn nibble(c: u8) -> Option<u8> {
        match c {
            b'0'..=b'9' => Some(c - b'0'),
            b'a'..=b'f' => Some(c - b'a' + 10),
            _ => None,
        }
    }
    if !text.len().is_multiple_of(2) {
        return None;
    }
    text.as_bytes()
        .chunks_exact(2)
        .map(|pair| Some(nibble(pair[0])? << 4 | nibble(pair[1])?))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_right_password_verifies_and_a_wrong_one_does_not() {
        let stored = hash("open sesame");
        assert!(stored.starts_with("pbkdf2-sha256$100000$"), "{stored}");
        assert_eq!(stored.len(), "pbkdf2-sha256$100000$".len() + 32 + 1 + 64);
        assert!(is_hash(&stored));
        assert!(verify("open sesame", &stored));
        assert!(!verify("open sesame ", &stored));
        assert!(!verify("", &stored));
        assert!(!verify("Open sesame", &stored));
    }

    #[test]
    fn salts_differ_so_equal_passwords_hash_differently() {
        let a = hash("same");
        let b = hash("same");
        assert_ne!(a, b);
        assert!(verify("same", &a) && verify("same", &b));
    }

    #[test]
    fn the_empty_and_unicode_passwords_work() {
        for password in ["", "pässwörd 🔑", "a$b$c"] {
            let stored = hash(password);
            assert!(verify(password, &stored), "{password:?}");
        }
    }

    #[test]
    fn a_known_vector_matches() {
        // Computed independently: Python's hashlib.pbkdf2_hmac("sha256", b"password",
        // b"0123456789abcdef", 100000).
        let stored = hash_with_salt("password", b"0123456789abcdef", 100_000);
        assert_eq!(
            stored,
            "pbkdf2-sha256$100000$30313233343536373839616263646566$\
             a75190a792cd59d6d9c8c3a63b11c276ad449972b7886e1c2d819c286053366f"
        );
        assert!(verify("password", &stored));
    }

    #[test]
    fn tampered_or_foreign_strings_are_false_not_a_panic() {
        let good = hash("secret");
        let parts: Vec<&str> = good.split('$').collect();
        let flip = |s: &str| {
            let mut bytes = s.as_bytes().to_vec();
            bytes[0] = if bytes[0] == b'0' { b'1' } else { b'0' };
            String::from_utf8(bytes).unwrap()
        };
        // Well-formed but wrong: a flipped salt or hash byte, another iteration count.
        let wrong = [
            format!("{}${}${}${}", parts[0], parts[1], flip(parts[2]), parts[3]),
            format!("{}${}${}${}", parts[0], parts[1], parts[2], flip(parts[3])),
            format!("{}$100001${}${}", parts[0], parts[2], parts[3]),
        ];
        for stored in &wrong {
            assert!(is_hash(stored) && !verify("secret", stored), "{stored:?}");
        }
        let malformed = vec![
            String::new(),
            "secret".to_owned(),
            "$$$".to_owned(),
            format!("pbkdf2-sha1${}${}${}", parts[1], parts[2], parts[3]),
            format!("{}$0${}${}", parts[0], parts[2], parts[3]),
            format!("{}$-5${}${}", parts[0], parts[2], parts[3]),
            format!("{}$+100000${}${}", parts[0], parts[2], parts[3]),
            format!("{}$99999${}${}", parts[0], parts[2], parts[3]),
            format!("{}$99999999999${}${}", parts[0], parts[2], parts[3]),
            format!("{}$4000000000${}${}", parts[0], parts[2], parts[3]),
            format!("{}${}${}${}$", parts[0], parts[1], parts[2], parts[3]),
            format!("{}${}${}", parts[0], parts[1], parts[2]),
            format!("{}${}${}${}", parts[0], parts[1], &parts[2][1..], parts[3]),
            format!("{}${}${}${}", parts[0], parts[1], parts[2], &parts[3][2..]),
            format!(
                "{}${}${}${}",
                parts[0],
                parts[1],
                parts[2].to_uppercase(),
                parts[3]
            ),
            format!("{}${}${}${}", parts[0], parts[1], parts[2], "zz".repeat(32)),
            format!("{}${}$${}", parts[0], parts[1], parts[3]),
            format!("{}${}${}${}", parts[0], parts[1], "é".repeat(16), parts[3]),
        ];
        for stored in malformed {
            assert!(!is_hash(&stored), "{stored:?} read as a hash");
            assert!(!verify("secret", &stored), "{stored:?} verified");
        }
    }
}

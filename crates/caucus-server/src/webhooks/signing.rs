//! The signature of a delivery, as Standard Webhooks defines it: an endpoint's key is
//! `whsec_` and the base64 of 24 to 64 random bytes; a delivery carries `webhook-id`,
//! `webhook-timestamp` (Unix seconds of the attempt) and `webhook-signature: v1,<base64>`,
//! the HMAC-SHA256 under the key's bytes of `{id}.{timestamp}.{body}`. Covering the timestamp
//! is what lets a receiver refuse a replayed request: it checks the signature, then that the
//! timestamp is within its window (five minutes), then deduplicates by id.

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use rand::RngCore;

/// The prefix of an encoded key.
pub const KEY_PREFIX: &str = "whsec_";
/// The fewest and most key bytes accepted (Standard Webhooks' bounds).
pub const MIN_KEY_BYTES: usize = 24;
pub const MAX_KEY_BYTES: usize = 64;
/// How many bytes a generated key has.
const GENERATED_KEY_BYTES: usize = 32;

/// Why a configured key is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum KeyError {
    #[error("must start with `{KEY_PREFIX}` (then the base64 of the key bytes)")]
    MissingPrefix,
    #[error("is not base64 after `{KEY_PREFIX}`")]
    NotBase64,
    #[error("must hold {MIN_KEY_BYTES} to {MAX_KEY_BYTES} bytes, holds {0}")]
    Length(usize),
}

impl KeyError {
    /// A stable snake_case code.
    pub fn code(&self) -> &'static str {
        match self {
            KeyError::MissingPrefix => "missing_prefix",
            KeyError::NotBase64 => "not_base64",
            KeyError::Length(_) => "wrong_length",
        }
    }
}

/// One endpoint's HMAC key. Its `Debug` never shows the bytes (it ends up in logs).
#[derive(Clone, PartialEq, Eq)]
pub struct SigningKey(Vec<u8>);

impl std::fmt::Debug for SigningKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "SigningKey({} bytes)", self.0.len())
    }
}

impl SigningKey {
    /// A fresh random key.
    pub fn generate() -> SigningKey {
        let mut bytes = vec![0u8; GENERATED_KEY_BYTES];
        rand::rng().fill_bytes(&mut bytes);
        SigningKey(bytes)
    }

    /// Read `whsec_<base64>`.
    pub fn parse(text: &str) -> Result<SigningKey, KeyError> {
        let encoded = text
            .strip_prefix(KEY_PREFIX)
            .ok_or(KeyError::MissingPrefix)?;
        let bytes = STANDARD.decode(encoded).map_err(|_| KeyError::NotBase64)?;
        if !(MIN_KEY_BYTES..=MAX_KEY_BYTES).contains(&bytes.len()) {
            return Err(KeyError::Length(bytes.len()));
        }
        Ok(SigningKey(bytes))
    }

    /// `whsec_<base64>`: what the receiver is given.
    pub fn encoded(&self) -> String {
        format!("{KEY_PREFIX}{}", STANDARD.encode(&self.0))
    }

    /// The HMAC key bytes.
    pub fn bytes(&self) -> &[u8] {
        &self.0
    }

    /// The `webhook-signature` value: `v1,` and the base64 HMAC-SHA256 of
    /// `{id}.{timestamp_s}.{body}`.
    pub fn sign(&self, id: &str, timestamp_s: u64, body: &[u8]) -> String {
        let key = hmac::Key::new(hmac::HMAC_SHA256, &self.0);
        let mut context = hmac::Context::with_key(&key);
        context.update(id.as_bytes());
        context.update(b".");
        context.update(timestamp_s.to_string().as_bytes());
        context.update(b".");
        context.update(body);
        format!("v1,{}", STANDARD.encode(context.sign().as_ref()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The example of the Standard Webhooks specification, which its reference libraries test.
    #[test]
    fn the_standard_webhooks_example_verifies() {
        let key = SigningKey::parse("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw").unwrap();
        assert_eq!(
            key.sign(
                "msg_p5jXN8AQM9LWM0D4loKWxJek",
                1_614_265_330,
                br#"{"test": 2432232314}"#
            ),
            "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
        );
    }

    #[test]
    fn the_timestamp_and_the_id_are_signed() {
        let key = SigningKey::generate();
        let base = key.sign("ev_1", 100, b"{}");
        assert_ne!(key.sign("ev_1", 101, b"{}"), base);
        assert_ne!(key.sign("ev_2", 100, b"{}"), base);
        assert_ne!(key.sign("ev_1", 100, b"{ }"), base);
        assert_eq!(key.sign("ev_1", 100, b"{}"), base);
    }

    #[test]
    fn keys_round_trip_and_bad_ones_are_refused_with_a_code() {
        let key = SigningKey::generate();
        assert_eq!(key.bytes().len(), 32);
        assert_eq!(SigningKey::parse(&key.encoded()).unwrap(), key);
        assert_ne!(SigningKey::generate(), key);
        assert!(!format!("{key:?}").contains(&key.encoded()[KEY_PREFIX.len()..]));
        for (text, code) in [
            ("MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", "missing_prefix"),
            ("whsec_not base64!", "not_base64"),
            ("whsec_c2hvcnQ=", "wrong_length"),
        ] {
            assert_eq!(SigningKey::parse(text).unwrap_err().code(), code, "{text}");
        }
    }
}

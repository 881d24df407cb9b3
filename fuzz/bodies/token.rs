//! Join and management tokens through `TokenIssuer::verify_join` and `verify_management`.
//!
//! The first byte picks what the rest is: a token as a client sends it, or a claims document
//! the harness signs with the server's secret (so the claim checks behind the signature are
//! reached too), or one signed with another secret.
//!
//! Properties: a refusal is `token_invalid`, `token_expired` or `unauthorized`, names the
//! `token` field and has clean text; an accepted join token names a room and a user of 1 to
//! 128 characters, and its claims signed again verify to the same claims; an accepted
//! management token says `mgmt: true`.

use caucus_proto::ErrorCode;
use caucus_server::{TokenError, TokenIssuer};

use crate::leak::assert_clean;

const SECRET: &str = "fuzz-secret";

pub fn run(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let issuer = TokenIssuer::new(SECRET);
    let token = match mode % 3 {
        0 => String::from_utf8_lossy(rest).into_owned(),
        signed => {
            let Ok(claims) = serde_json::from_slice::<serde_json::Value>(rest) else {
                return;
            };
            let signer = if signed == 1 {
                issuer.clone()
            } else {
                TokenIssuer::new("another-secret")
            };
            match signer.sign(&claims) {
                Ok(token) => token,
                Err(e) => panic!("signing a JSON value failed: {e}"),
            }
        }
    };
    match issuer.verify_join(&token) {
        Ok(claims) => {
            for id in [claims.room.as_str(), claims.user_id.as_str()] {
                assert!(!id.is_empty() && id.chars().count() <= 128, "{claims:?}");
            }
            let again = issuer.sign(&claims).expect("claims sign");
            assert_eq!(issuer.verify_join(&again).as_ref(), Ok(&claims));
        }
        Err(e) => check_refusal(&e, &what_the_client_sent(data, &token)),
    }
    match issuer.verify_management(&token) {
        Ok(claims) => assert!(claims.mgmt),
        Err(e) => check_refusal(&e, &what_the_client_sent(data, &token)),
    }
}

/// The token, its parts decoded, and the claims it was made from: text a refusal may quote.
fn what_the_client_sent(data: &[u8], token: &str) -> Vec<u8> {
    let mut sent = data.to_vec();
    sent.extend_from_slice(token.as_bytes());
    for part in token.split('.') {
        sent.extend(base64url(part));
    }
    sent
}

/// Lenient base64url: what a JWT reader decodes a part to (bad characters are skipped).
fn base64url(text: &str) -> Vec<u8> {
    let mut out = Vec::new();
    let (mut acc, mut bits) = (0u32, 0);
    for c in text.bytes() {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'-' | b'+' => 62,
            b'_' | b'/' => 63,
            _ => continue,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push((acc >> bits) as u8);
        }
    }
    out
}

fn check_refusal(error: &TokenError, token: &[u8]) {
    assert!(
        matches!(
            error.code,
            ErrorCode::TokenInvalid | ErrorCode::TokenExpired | ErrorCode::Unauthorized
        ),
        "{error:?}"
    );
    assert_clean(&error.message, token);
    let body = error.clone().into_body();
    assert_eq!(body.field.as_deref(), Some("token"));
}

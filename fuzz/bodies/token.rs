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
        Err(e) => check_refusal(&e, token.as_bytes()),
    }
    match issuer.verify_management(&token) {
        Ok(claims) => assert!(claims.mgmt),
        Err(e) => check_refusal(&e, token.as_bytes()),
    }
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

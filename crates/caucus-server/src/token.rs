//! Join and management tokens: JWT, HS256, signed with the server's secret.
//!
//! A join token names the room, the user, the role and a display name; a management token
//! carries `mgmt: true`. [`TokenIssuer`] mints both and verifies them. Verification accepts
//! only HS256 (so `alg: none` and every other algorithm are refused), checks `exp` and `nbf`
//! with a small leeway for clock skew, and maps every refusal to a stable
//! [`ErrorCode`]: `token_expired` for an expired token, `token_invalid` for everything else
//! that is wrong with the token itself, `unauthorized` for a good token used for the wrong
//! thing (a management token at join, a token for another room).

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use caucus_proto::{ErrorBody, ErrorCode, InvalidId, RoleName, RoomId, UserId};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, EncodingKey, Header, Validation};
use serde::{Deserialize, Serialize};

/// Seconds of clock skew tolerated on `exp` and `nbf`.
const LEEWAY_S: u64 = 30;

/// The claims of a join token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct JoinClaims {
    pub room: RoomId,
    pub user_id: UserId,
    pub role: RoleName,
    /// Display name; empty means "use the user id".
    #[serde(default)]
    pub name: String,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    #[serde(default)]
    pub nbf: u64,
}

/// The claims of a management token.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ManagementClaims {
    pub mgmt: bool,
    pub exp: u64,
    #[serde(default)]
    pub iat: u64,
    #[serde(default)]
    pub nbf: u64,
}

/// What a join token grants: who joins which room as what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JoinGrant {
    pub room: RoomId,
    pub user_id: UserId,
    pub role: RoleName,
    pub name: Option<String>,
}

impl JoinGrant {
    pub fn new(
        room: impl Into<RoomId>,
        user_id: impl Into<UserId>,
        role: impl Into<RoleName>,
    ) -> Self {
        Self {
            room: room.into(),
            user_id: user_id.into(),
            role: role.into(),
            name: None,
        }
    }

    pub fn with_name(mut self, name: impl Into<String>) -> Self {
        self.name = Some(name.into());
        self
    }
}

/// A refused token: a stable code and a human sentence.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct TokenError {
    pub code: ErrorCode,
    pub message: String,
}

impl TokenError {
    fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        Self {
            code,
            message: message.into(),
        }
    }

    pub fn into_body(self) -> ErrorBody {
        ErrorBody {
            code: self.code,
            message: self.message,
            field: Some("token".to_owned()),
        }
    }
}

/// Mints and verifies tokens with one secret. Cheap to clone.
#[derive(Clone)]
pub struct TokenIssuer {
    encoding: EncodingKey,
    decoding: DecodingKey,
}

impl std::fmt::Debug for TokenIssuer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TokenIssuer(..)")
    }
}

impl TokenIssuer {
    /// An issuer for this secret (its UTF-8 bytes are the HMAC key).
    pub fn new(secret: &str) -> Self {
        Self {
            encoding: EncodingKey::from_secret(secret.as_bytes()),
            decoding: DecodingKey::from_secret(secret.as_bytes()),
        }
    }

    /// A join token valid for `ttl` from now. Its ids must follow the rule of chosen ids
    /// (`invalid_id` otherwise): a token is how an id reaches a room and its files.
    pub fn mint_join(&self, grant: &JoinGrant, ttl: Duration) -> Result<String, TokenError> {
        check_ids(&grant.room, &grant.user_id, &grant.role)
            .map_err(|(what, e)| TokenError::new(ErrorCode::InvalidId, format!("{what}: {e}")))?;
        let now = unix_now();
        let claims = JoinClaims {
            room: grant.room.clone(),
            user_id: grant.user_id.clone(),
            role: grant.role.clone(),
            name: grant
                .name
                .clone()
                .unwrap_or_else(|| grant.user_id.to_string()),
            exp: now.saturating_add(ttl.as_secs()),
            iat: now,
            nbf: now,
        };
        self.sign(&claims)
    }

    /// A management token valid for `ttl` from now.
    pub fn mint_management(&self, ttl: Duration) -> Result<String, TokenError> {
        let now = unix_now();
        self.sign(&ManagementClaims {
            mgmt: true,
            exp: now.saturating_add(ttl.as_secs()),
            iat: now,
            nbf: now,
        })
    }

    /// Sign any claims (tests use this to forge tokens with chosen `exp`/`nbf`).
    pub fn sign<T: Serialize>(&self, claims: &T) -> Result<String, TokenError> {
        jsonwebtoken::encode(&Header::new(Algorithm::HS256), claims, &self.encoding)
            .map_err(|e| TokenError::new(ErrorCode::InvalidValue, format!("cannot sign: {e}")))
    }

    /// Verify a join token.
    pub fn verify_join(&self, token: &str) -> Result<JoinClaims, TokenError> {
        let value: serde_json::Value = self.verify(token)?;
        if value.get("mgmt").is_some() && value.get("room").is_none() {
            return Err(TokenError::new(
                ErrorCode::Unauthorized,
                "a management token cannot join a room; use a join token",
            ));
        }
        let claims: JoinClaims = serde_json::from_value(value).map_err(|e| {
            TokenError::new(ErrorCode::TokenInvalid, format!("not a join token: {e}"))
        })?;
        check_ids(&claims.room, &claims.user_id, &claims.role).map_err(|(what, e)| {
            TokenError::new(ErrorCode::TokenInvalid, format!("the token's {what}: {e}"))
        })?;
        Ok(claims)
    }

    /// Verify a management token.
    pub fn verify_management(&self, token: &str) -> Result<ManagementClaims, TokenError> {
        let value: serde_json::Value = self.verify(token)?;
        match serde_json::from_value::<ManagementClaims>(value) {
            Ok(claims) if claims.mgmt => Ok(claims),
            _ => Err(TokenError::new(
                ErrorCode::Unauthorized,
                "not a management token",
            )),
        }
    }

    fn verify<T: serde::de::DeserializeOwned>(&self, token: &str) -> Result<T, TokenError> {
        let mut validation = Validation::new(Algorithm::HS256);
        validation.leeway = LEEWAY_S;
        validation.validate_nbf = true;
        validation.set_required_spec_claims(&["exp"]);
        jsonwebtoken::decode::<T>(token, &self.decoding, &validation)
            .map(|data| data.claims)
            .map_err(|e| match e.kind() {
                ErrorKind::ExpiredSignature => {
                    TokenError::new(ErrorCode::TokenExpired, "the token has expired")
                }
                ErrorKind::ImmatureSignature => {
                    TokenError::new(ErrorCode::TokenInvalid, "the token is not valid yet")
                }
                ErrorKind::InvalidSignature => {
                    TokenError::new(ErrorCode::TokenInvalid, "the token's signature is wrong")
                }
                ErrorKind::InvalidAlgorithm => TokenError::new(
                    ErrorCode::TokenInvalid,
                    "the token must be signed with HS256",
                ),
                _ => TokenError::new(ErrorCode::TokenInvalid, format!("unreadable token: {e}")),
            })
    }
}

/// The token's ids against the rule of chosen ids; the first that breaks it, by claim name.
fn check_ids(
    room: &RoomId,
    user: &UserId,
    role: &RoleName,
) -> Result<(), (&'static str, InvalidId)> {
    RoomId::check(room.as_str()).map_err(|e| ("room", e))?;
    UserId::check(user.as_str()).map_err(|e| ("user_id", e))?;
    RoleName::check(role.as_str()).map_err(|e| ("role", e))
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer() -> TokenIssuer {
        TokenIssuer::new("test-secret")
    }

    fn claims(exp_offset: i64, nbf_offset: i64) -> JoinClaims {
        let now = unix_now() as i64;
        JoinClaims {
            room: "demo".into(),
            user_id: "ana".into(),
            role: "host".into(),
            name: "Ana".into(),
            exp: (now + exp_offset) as u64,
            iat: now as u64,
            nbf: (now + nbf_offset) as u64,
        }
    }

    fn code(result: Result<JoinClaims, TokenError>) -> ErrorCode {
        result.unwrap_err().code
    }

    #[test]
    fn a_minted_join_token_verifies() {
        let grant = JoinGrant::new("demo", "ana", "host");
        let token = issuer().mint_join(&grant, Duration::from_secs(60)).unwrap();
        let claims = issuer().verify_join(&token).unwrap();
        assert_eq!(claims.room.as_str(), "demo");
        assert_eq!(claims.name, "ana", "the name defaults to the user id");
    }

    #[test]
    fn refusals_carry_stable_codes() {
        let i = issuer();
        let expired = i.sign(&claims(-3600, -7200)).unwrap();
        assert_eq!(code(i.verify_join(&expired)), ErrorCode::TokenExpired);
        let early = i.sign(&claims(7200, 3600)).unwrap();
        assert_eq!(code(i.verify_join(&early)), ErrorCode::TokenInvalid);
        let other = TokenIssuer::new("other").sign(&claims(60, 0)).unwrap();
        assert_eq!(code(i.verify_join(&other)), ErrorCode::TokenInvalid);
        assert_eq!(code(i.verify_join("garbage")), ErrorCode::TokenInvalid);
        let mgmt = i.mint_management(Duration::from_secs(60)).unwrap();
        assert_eq!(code(i.verify_join(&mgmt)), ErrorCode::Unauthorized);
        assert!(i.verify_management(&mgmt).unwrap().mgmt);
    }

    #[test]
    fn other_algorithms_and_none_are_refused() {
        let i = issuer();
        let hs512 = jsonwebtoken::encode(
            &Header::new(Algorithm::HS512),
            &claims(60, 0),
            &EncodingKey::from_secret(b"test-secret"),
        )
        .unwrap();
        assert_eq!(code(i.verify_join(&hs512)), ErrorCode::TokenInvalid);
        let good = i.sign(&claims(60, 0)).unwrap();
        let payload = good.split('.').nth(1).unwrap();
        // {"alg":"none","typ":"JWT"}
        let none = format!("eyJhbGciOiJub25lIiwidHlwIjoiSldUIn0.{payload}.");
        assert_eq!(code(i.verify_join(&none)), ErrorCode::TokenInvalid);
    }

    #[test]
    fn ids_outside_the_rule_are_neither_minted_nor_accepted() {
        let i = issuer();
        for (room, user, role) in [
            ("..", "ana", "host"),
            ("demo", "a/b", "host"),
            ("demo", "ana", "."),
        ] {
            let grant = JoinGrant::new(room, user, role);
            let refused = i.mint_join(&grant, Duration::from_secs(60)).unwrap_err();
            assert_eq!(refused.code, ErrorCode::InvalidId, "{room} {user} {role}");
            // Signed by the server all the same (an older build, a hand-made token): refused.
            let forged = JoinClaims {
                room: room.into(),
                user_id: user.into(),
                role: role.into(),
                ..claims(60, 0)
            };
            let token = i.sign(&forged).unwrap();
            assert_eq!(code(i.verify_join(&token)), ErrorCode::TokenInvalid);
        }
    }
}

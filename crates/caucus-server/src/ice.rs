//! The STUN and TURN servers each joining peer is told (`ice_servers` of its `joined` event).
//!
//! The fixed list (`ice_servers`) goes out as configured. TURN servers (`turn_urls`) get
//! credentials minted per join with the TURN REST scheme that coturn implements as
//! `use-auth-secret`: the username is `<unix expiry>:<user id>` and the credential is
//! base64(HMAC-SHA1(shared secret, username)). The TURN server recomputes the HMAC from the
//! username it is given, so nothing is stored and nothing is shared but the secret; it refuses
//! the credential once the expiry has passed.
//!
//! The computation is pure: the caller hands in the current Unix time.

use std::time::Duration;

use aws_lc_rs::hmac;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use caucus_proto::{IceServer, UserId};

/// TURN REST credentials: the TURN server's URLs, the secret shared with it, how long a
/// credential lasts.
#[derive(Clone)]
pub struct TurnRest {
    pub urls: Vec<String>,
    pub secret: String,
    pub ttl: Duration,
}

impl std::fmt::Debug for TurnRest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TurnRest")
            .field("urls", &self.urls)
            .field("secret", &"…")
            .field("ttl", &self.ttl)
            .finish()
    }
}

/// Everything needed to tell a joining peer its ICE servers.
#[derive(Debug, Clone, Default)]
pub struct IceServers {
    pub fixed: Vec<IceServer>,
    pub turn: Option<TurnRest>,
}

impl IceServers {
    /// The list for `user` joining at `now_unix_s`: the fixed servers, then the TURN servers
    /// with a fresh credential.
    pub fn for_user(&self, user: &UserId, now_unix_s: u64) -> Vec<IceServer> {
        let mut servers = self.fixed.clone();
        if let Some(turn) = &self.turn {
            let expiry = now_unix_s.saturating_add(turn.ttl.as_secs());
            let username = turn_username(expiry, user);
            let credential = turn_credential(turn.secret.as_bytes(), &username);
            servers.push(IceServer {
                urls: turn.urls.clone(),
                username: Some(username),
                credential: Some(credential),
            });
        }
        servers
    }
}

/// `<expiry>:<user id>`: the TURN server reads the expiry before the first `:` (a user id
/// never holds one).
pub fn turn_username(expiry_unix_s: u64, user: &UserId) -> String {
    format!("{expiry_unix_s}:{user}")
}

/// base64(HMAC-SHA1(`secret`, `username`)), the password the TURN server expects for
/// `username`. SHA-1 is what the scheme (and coturn) fix; its weaknesses as a hash do not
/// make HMAC-SHA1 forgeable.
pub fn turn_credential(secret: &[u8], username: &str) -> String {
    let key = hmac::Key::new(hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, secret);
    STANDARD.encode(hmac::sign(&key, username.as_bytes()).as_ref())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_credential_is_base64_of_hmac_sha1_over_the_username() {
        // Computed with Python: base64.b64encode(hmac.new(secret, username, hashlib.sha1).digest())
        assert_eq!(
            turn_credential(b"north-by-northwest-turn-secret", "1767225600:ana"),
            "I6XKOTbj8X/WxApsRGiS+c/gaLs="
        );
    }

    #[test]
    fn a_join_gets_the_fixed_servers_then_turn_with_a_credential_that_expires_after_the_ttl() {
        let stun = IceServer {
            urls: vec!["stun:stun.example.org:3478".into()],
            username: None,
            credential: None,
        };
        let servers = IceServers {
            fixed: vec![stun.clone()],
            turn: Some(TurnRest {
                urls: vec![
                    "turn:turn.example.org:3478?transport=udp".into(),
                    "turns:turn.example.org:443?transport=tcp".into(),
                ],
                secret: "north-by-northwest-turn-secret".into(),
                ttl: Duration::from_secs(3_600),
            }),
        };
        let list = servers.for_user(&UserId::from("ana"), 1_767_222_000);
        assert_eq!(list.len(), 2);
        assert_eq!(list[0], stun);
        assert_eq!(list[1].urls.len(), 2);
        assert_eq!(list[1].username.as_deref(), Some("1767225600:ana"));
        assert_eq!(
            list[1].credential.as_deref(),
            Some("I6XKOTbj8X/WxApsRGiS+c/gaLs=")
        );
        assert_eq!(
            IceServers::default().for_user(&UserId::from("ana"), 1),
            Vec::new()
        );
    }
}

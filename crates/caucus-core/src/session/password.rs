//! The password gates — a join's room password, a breakout room's password for those who
//! choose a room themselves — and how fast passwords may be tried.
//!
//! A room password is either compared here ([`RoomPassword::Plain`]) or known only as a
//! stored hash ([`RoomPassword::Hash`]): then the join answers [`Outcome::CheckPassword`],
//! the shell checks the password off its event loop (a hash costs tens of milliseconds of a
//! core on purpose) and gives the join again with the verdict. Either way the refusals are the
//! same, with the same codes, at the same point of the join's order. A restored breakout plan
//! keeps only hashes too, so a breakout room's password goes through the same gate.
//!
//! Checks against a hash are rationed — per user (a burst of 3, then one a second) and per
//! session (a burst of 10, then five a second) — so guessing stays slow and a crowd of
//! guessers cannot keep the server's cores busy.

use std::collections::BTreeMap;
use std::time::Duration;

use caucus_proto::{ErrorCode, UserId};

use super::Session;
use crate::command::{JoinRequest, Outcome, RoomPassword};
use crate::denial::Denial;
use crate::time::Time;

const PER_USER: Gcra = Gcra {
    interval: Duration::from_secs(1),
    burst: 3,
};
const PER_SESSION: Gcra = Gcra {
    interval: Duration::from_millis(200),
    burst: 10,
};

/// How many password checks against a hash may run, and when.
#[derive(Debug, Clone, Default)]
pub(crate) struct CheckBudget {
    /// Per user: when its allowance is used up (the generic cell rate algorithm's
    /// "theoretical arrival time").
    users: BTreeMap<UserId, Time>,
    session: Option<Time>,
}

impl CheckBudget {
    /// Take one check for `user` at `now`, or say it must wait.
    fn take(&mut self, now: Time, user: &UserId) -> bool {
        self.users.retain(|_, tat| *tat > now);
        let user_tat = self.users.get(user).copied();
        let (Some(user_next), Some(session_next)) = (
            PER_USER.admit(now, user_tat),
            PER_SESSION.admit(now, self.session),
        ) else {
            return false;
        };
        self.users.insert(user.clone(), user_next);
        self.session = Some(session_next);
        true
    }
}

/// The generic cell rate algorithm: one event per `interval` on average, `burst` at once.
#[derive(Debug, Clone, Copy)]
struct Gcra {
    interval: Duration,
    burst: u32,
}

impl Gcra {
    /// The next theoretical arrival time if an event at `now` is admitted.
    fn admit(self, now: Time, tat: Option<Time>) -> Option<Time> {
        let tat = tat.filter(|t| *t > now).unwrap_or(now);
        let tolerance = self.interval * (self.burst - 1);
        (now.until(tat) <= tolerance).then(|| tat + self.interval)
    }
}

impl Session {
    /// The room password gate: `Ok(None)` lets the join go on, `Ok(Some(check))` asks for the
    /// given password to be checked against the stored hash.
    pub(super) fn check_room_password(
        &mut self,
        now: Time,
        request: &JoinRequest,
        password_ok: Option<bool>,
    ) -> Result<Option<Outcome>, Denial> {
        let Some(expected) = self.config.password.clone() else {
            return Ok(None);
        };
        let gate = Gate {
            missing: "this room needs a password".to_owned(),
            wrong: "the room password is wrong".to_owned(),
        };
        self.pass_gate(
            now,
            &request.user_id,
            &expected,
            request.password.as_deref(),
            password_ok,
            &gate,
        )
    }

    /// A password gate, the room's or a breakout room's: compared here when plain; checked by
    /// the shell against a hash (rationed) when only a hash is known, the verdict coming back
    /// as `password_ok`.
    pub(in crate::session) fn pass_gate(
        &mut self,
        now: Time,
        user: &UserId,
        expected: &RoomPassword,
        given: Option<&str>,
        password_ok: Option<bool>,
        gate: &Gate,
    ) -> Result<Option<Outcome>, Denial> {
        let wrong = |message: &str| {
            Denial::new(ErrorCode::WrongPassword, message.to_owned()).with_field("password")
        };
        let Some(given) = given else {
            return Err(wrong(&gate.missing));
        };
        match (expected, password_ok) {
            (RoomPassword::Plain(expected), _) if password_matches(expected, given) => Ok(None),
            (RoomPassword::Plain(_), _) | (RoomPassword::Hash(_), Some(false)) => {
                Err(wrong(&gate.wrong))
            }
            (RoomPassword::Hash(_), Some(true)) => Ok(None),
            (RoomPassword::Hash(hash), None) => {
                let hash = hash.clone();
                if !self.password_checks.take(now, user) {
                    return Err(Denial::new(
                        ErrorCode::RateLimited,
                        "too many password attempts; try again in a second",
                    )
                    .with_field("password"));
                }
                Ok(Some(Outcome::CheckPassword {
                    hash,
                    plain: given.to_owned(),
                }))
            }
        }
    }
}

/// What a password gate says when it refuses.
pub(in crate::session) struct Gate {
    /// No password was given.
    pub(in crate::session) missing: String,
    /// The password given is not the one.
    pub(in crate::session) wrong: String,
}

/// Compares in time that depends only on the lengths.
fn password_matches(expected: &str, given: &str) -> bool {
    expected.len() == given.len()
        && expected
            .bytes()
            .zip(given.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_user_gets_a_burst_of_three_then_one_a_second() {
        let mut budget = CheckBudget::default();
        let ana = UserId::from("ana");
        let t0 = Time::ZERO;
        assert!((0..3).all(|_| budget.take(t0, &ana)));
        assert!(!budget.take(t0, &ana));
        assert!(budget.take(t0 + Duration::from_secs(1), &ana));
        assert!(!budget.take(t0 + Duration::from_secs(1), &ana));
        // Another user has an allowance of its own.
        assert!(budget.take(t0 + Duration::from_secs(1), &UserId::from("bob")));
    }

    #[test]
    fn a_crowd_of_users_shares_the_sessions_allowance() {
        let mut budget = CheckBudget::default();
        let admitted = (0..50)
            .filter(|i| budget.take(Time::ZERO, &UserId::from(format!("u{i}").as_str())))
            .count();
        assert_eq!(admitted, 10);
        let later = Time::ZERO + Duration::from_secs(1);
        let admitted = (50..100)
            .filter(|i| budget.take(later, &UserId::from(format!("u{i}").as_str())))
            .count();
        assert_eq!(admitted, 5);
    }
}

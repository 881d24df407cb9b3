//! Time as a value. The shell reads its monotonic clock and hands the core a `Time`; tests
//! hand it simulated time. Nothing in the core can tell the difference.

use std::ops::{Add, Sub};
use std::time::Duration;

/// Milliseconds on a monotonic clock whose epoch the shell chooses.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Time(u64);

impl Time {
    pub const ZERO: Time = Time(0);

    pub const fn from_millis(ms: u64) -> Self {
        Time(ms)
    }

    pub const fn from_secs(s: u64) -> Self {
        Time(s.saturating_mul(1000))
    }

    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// How long from `self` until `later`; zero if `later` is already past.
    pub const fn until(self, later: Time) -> Duration {
        Duration::from_millis(later.0.saturating_sub(self.0))
    }
}

impl Add<Duration> for Time {
    type Output = Time;

    fn add(self, rhs: Duration) -> Time {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Time(self.0.saturating_add(ms))
    }
}

impl Sub<Duration> for Time {
    type Output = Time;

    fn sub(self, rhs: Duration) -> Time {
        let ms = u64::try_from(rhs.as_millis()).unwrap_or(u64::MAX);
        Time(self.0.saturating_sub(ms))
    }
}

pub(crate) fn millis_between(now: Time, later: Time) -> u64 {
    later.0.saturating_sub(now.0)
}

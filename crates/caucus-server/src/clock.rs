//! The server's one monotonic clock, and its translation to the core's [`Time`].
//!
//! The core counts milliseconds from an epoch the shell chooses; here that is the moment the
//! server started. Every room task shares the same base, so times are comparable in logs.

use caucus_core::Time;
use tokio::time::Instant;

/// A monotonic base instant. `Copy`, so every task holds its own.
#[derive(Debug, Clone, Copy)]
pub struct Clock {
    start: Instant,
}

impl Clock {
    pub fn start() -> Self {
        Self {
            start: Instant::now(),
        }
    }

    /// Now, as the core counts.
    pub fn now(&self) -> Time {
        let ms = u64::try_from(self.start.elapsed().as_millis()).unwrap_or(u64::MAX);
        Time::from_millis(ms)
    }

    /// The instant at which the core's `at` falls (for a tokio timer).
    pub fn instant(&self, at: Time) -> Instant {
        self.start + std::time::Duration::from_millis(at.as_millis())
    }
}

/// Milliseconds since the Unix epoch (the store's and the webhooks' time unit).
pub fn unix_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
        .max(1)
}

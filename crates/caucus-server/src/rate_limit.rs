//! A token bucket: `rate` messages per second sustained, `burst` at once.
//!
//! One per connection, owned by its task; a refused message costs the room nothing because it
//! never leaves the connection.

use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimit {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl RateLimit {
    pub fn new(rate_per_s: u32, burst: u32, now: Instant) -> Self {
        let burst = f64::from(burst.max(1));
        Self {
            rate_per_s: f64::from(rate_per_s),
            burst,
            tokens: burst,
            last: now,
        }
    }

    /// Take one token if there is one.
    pub fn allow(&mut self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.last = now;
        self.tokens = (self.tokens + elapsed.as_secs_f64() * self.rate_per_s).min(self.burst);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Whether the bucket would be full at `now` (nothing to remember about its owner).
    pub fn is_full(&self, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last);
        self.tokens + elapsed.as_secs_f64() * self.rate_per_s >= self.burst
    }

    /// How long until the next token (for a helpful error message).
    pub fn retry_after(&self) -> Duration {
        if self.rate_per_s <= 0.0 {
            return Duration::from_secs(1);
        }
        Duration::from_secs_f64(((1.0 - self.tokens) / self.rate_per_s).max(0.0))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_burst_passes_then_the_rate_holds() {
        let t0 = Instant::now();
        let mut limit = RateLimit::new(10, 5, t0);
        assert_eq!((0..8).filter(|_| limit.allow(t0)).count(), 5);
        assert!(!limit.allow(t0));
        let later = t0 + Duration::from_millis(100);
        assert!(limit.allow(later), "one token per 100 ms");
        assert!(!limit.allow(later));
        let much_later = t0 + Duration::from_secs(60);
        assert_eq!(
            (0..8).filter(|_| limit.allow(much_later)).count(),
            5,
            "never above burst"
        );
    }
}

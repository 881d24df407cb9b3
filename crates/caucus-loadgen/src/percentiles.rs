//! Percentiles of a set of durations: a sorted `Vec`, nearest rank. Samples here are counted in
//! thousands at most (joins, moves, peers), so nothing cleverer is needed.

use std::time::Duration;

use serde::Serialize;

/// Count, p50, p95, p99 and max of a set of samples, in milliseconds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize)]
pub struct Percentiles {
    pub n: usize,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

impl Percentiles {
    /// From durations in any order; all zero when there are none.
    pub fn of(samples: &[Duration]) -> Percentiles {
        let mut ms: Vec<f64> = samples.iter().map(|d| d.as_secs_f64() * 1e3).collect();
        ms.sort_by(f64::total_cmp);
        Percentiles {
            n: ms.len(),
            p50_ms: rank(&ms, 0.50),
            p95_ms: rank(&ms, 0.95),
            p99_ms: rank(&ms, 0.99),
            max_ms: ms.last().copied().unwrap_or(0.0),
        }
    }

    /// `p50 … / p95 … / p99 … / max … ms (n)`.
    pub fn line(&self) -> String {
        format!(
            "p50 {:.1} ms, p95 {:.1} ms, p99 {:.1} ms, max {:.1} ms (n = {})",
            self.p50_ms, self.p95_ms, self.p99_ms, self.max_ms, self.n
        )
    }
}

/// The nearest-rank `q`-quantile of sorted values: the ⌈q·n⌉-th smallest.
pub fn rank(sorted: &[f64], q: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let r = ((q * sorted.len() as f64).ceil() as usize).clamp(1, sorted.len());
    sorted[r - 1]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nearest_rank_on_a_hundred_samples() {
        let samples: Vec<Duration> = (1..=100).rev().map(Duration::from_millis).collect();
        let p = Percentiles::of(&samples);
        assert_eq!(
            (p.n, p.p50_ms, p.p95_ms, p.p99_ms, p.max_ms),
            (100, 50.0, 95.0, 99.0, 100.0)
        );
        assert_eq!(Percentiles::of(&[]), Percentiles::default());
    }
}

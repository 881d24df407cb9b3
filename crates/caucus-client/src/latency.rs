//! One-way latency of a stream: exact minimum, maximum and mean, and percentiles from a
//! log-linear histogram.
//!
//! Keeping every sample would cost memory in proportion to the test's length (the load generator
//! runs for minutes with thousands of streams), so samples are counted in buckets: exact below
//! 64 µs, then 32 buckets per power of two — a percentile is at most ~3 % above the true value,
//! and a stream costs a few KiB at most.

use std::time::Duration;

const LINEAR: u64 = 64;
const SUB_BITS: u32 = 5; // 32 sub-buckets per octave
const SUB: u64 = 1 << SUB_BITS;

/// Latency samples of one stream, in microseconds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Latency {
    count: u64,
    sum_us: u128,
    min_us: u64,
    max_us: u64,
    buckets: Vec<u64>,
}

impl Latency {
    /// Adds one sample.
    pub fn record(&mut self, us: u64) {
        if self.count == 0 || us < self.min_us {
            self.min_us = us;
        }
        self.max_us = self.max_us.max(us);
        self.count += 1;
        self.sum_us += u128::from(us);
        let index = bucket_of(us);
        if self.buckets.len() <= index {
            self.buckets.resize(index + 1, 0);
        }
        self.buckets[index] += 1;
    }

    /// Number of samples.
    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn min(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.min_us))
    }

    pub fn max(&self) -> Option<Duration> {
        (self.count > 0).then(|| Duration::from_micros(self.max_us))
    }

    pub fn mean(&self) -> Option<Duration> {
        let mean = self.sum_us.checked_div(u128::from(self.count))?;
        Some(Duration::from_micros(
            u64::try_from(mean).unwrap_or(u64::MAX),
        ))
    }

    /// The `q`-quantile (`0.95` = p95): the upper edge of the bucket holding it, never above
    /// the largest sample.
    pub fn quantile(&self, q: f64) -> Option<Duration> {
        if self.count == 0 {
            return None;
        }
        let q = q.clamp(0.0, 1.0);
        // The rank of the sample, 1-based: ceil(q · n), at least 1.
        let rank = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        let mut seen = 0;
        for (index, n) in self.buckets.iter().enumerate() {
            seen += n;
            if seen >= rank {
                let edge = upper_edge(index).min(self.max_us).max(self.min_us);
                return Some(Duration::from_micros(edge));
            }
        }
        self.max()
    }

    pub fn p95(&self) -> Option<Duration> {
        self.quantile(0.95)
    }

    /// Adds every sample of `other`, as if each had been recorded here: percentiles over many
    /// streams (the load generator sums thousands) keep the same bucket precision.
    pub fn merge(&mut self, other: &Latency) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min_us < self.min_us {
            self.min_us = other.min_us;
        }
        self.max_us = self.max_us.max(other.max_us);
        self.count += other.count;
        self.sum_us += other.sum_us;
        if self.buckets.len() < other.buckets.len() {
            self.buckets.resize(other.buckets.len(), 0);
        }
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }
}

fn bucket_of(us: u64) -> usize {
    if us < LINEAR {
        return us as usize;
    }
    // Octave o ≥ 6 holds [2^o, 2^(o+1)) in SUB equal steps.
    let octave = 63 - us.leading_zeros();
    let step_shift = octave - SUB_BITS;
    let sub = (us >> step_shift) - SUB;
    (LINEAR + u64::from(octave - 6) * SUB + sub) as usize
}

/// The largest value that falls into bucket `index`.
fn upper_edge(index: usize) -> u64 {
    let index = index as u64;
    if index < LINEAR {
        return index;
    }
    let octave = (index - LINEAR) / SUB + 6;
    let sub = (index - LINEAR) % SUB;
    let step_shift = octave - u64::from(SUB_BITS);
    let lower = (SUB + sub) << step_shift;
    lower + (1u64 << step_shift) - 1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_each_value_lies_within_its_bucket() {
        let mut previous_edge = None;
        for index in 0..(LINEAR as usize + 20 * SUB as usize) {
            let edge = upper_edge(index);
            if let Some(prev) = previous_edge {
                assert!(edge > prev, "bucket {index}");
                assert_eq!(bucket_of(prev + 1), index, "first value of bucket {index}");
            }
            assert_eq!(bucket_of(edge), index, "last value of bucket {index}");
            previous_edge = Some(edge);
        }
    }

    #[test]
    fn min_max_mean_are_exact() {
        let mut l = Latency::default();
        assert_eq!(l.p95(), None);
        for us in [300, 100, 200] {
            l.record(us);
        }
        assert_eq!(l.min(), Some(Duration::from_micros(100)));
        assert_eq!(l.max(), Some(Duration::from_micros(300)));
        assert_eq!(l.mean(), Some(Duration::from_micros(200)));
        assert_eq!(l.count(), 3);
    }

    #[test]
    fn p95_is_within_the_bucket_precision() {
        let mut l = Latency::default();
        // 1..=1000 ms in µs: the true p95 is 950 ms.
        for ms in 1..=1000u64 {
            l.record(ms * 1000);
        }
        let p95 = l.p95().expect("samples").as_micros() as f64;
        let truth = 950_000.0;
        assert!(p95 >= truth && p95 <= truth * 1.04, "p95 = {p95}");
        assert_eq!(l.quantile(1.0), l.max());
        let p0 = l.quantile(0.0).expect("samples");
        assert!(p0 >= Duration::from_millis(1) && p0 <= Duration::from_micros(1040));
    }

    #[test]
    fn a_merge_equals_recording_every_sample_in_one() {
        let (mut a, mut b, mut all) = (Latency::default(), Latency::default(), Latency::default());
        for us in [5, 700, 90_000] {
            a.record(us);
            all.record(us);
        }
        for us in [40, 3_000] {
            b.record(us);
            all.record(us);
        }
        let mut merged = Latency::default();
        merged.merge(&a);
        merged.merge(&Latency::default());
        merged.merge(&b);
        assert_eq!(merged, all);
    }

    #[test]
    fn small_values_are_exact() {
        let mut l = Latency::default();
        for us in 0..20 {
            l.record(us);
        }
        assert_eq!(l.p95(), Some(Duration::from_micros(18)));
    }
}

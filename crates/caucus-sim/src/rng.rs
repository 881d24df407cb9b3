//! The simulation's one source of chance: SplitMix64, small, fast and the same on every
//! machine. Everything random in a run (the plan, network faults, delays) is drawn from it or
//! from a value hashed out of the seed, never from the OS.

/// A seeded generator.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Self {
        Rng(seed ^ 0x9E37_79B9_7F4A_7C15)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        mix(self.0)
    }

    /// A value in `lo..hi` (`lo` when the range is empty).
    pub fn range(&mut self, lo: u64, hi: u64) -> u64 {
        if hi <= lo {
            return lo;
        }
        lo + self.next_u64() % (hi - lo)
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.unit() < p
    }

    /// A value in `[0, 1)`.
    pub fn unit(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// One element of a non-empty slice.
    pub fn pick<'a, T>(&mut self, items: &'a [T]) -> Option<&'a T> {
        if items.is_empty() {
            return None;
        }
        items.get(self.range(0, items.len() as u64) as usize)
    }
}

/// SplitMix64's finalizer: a well-spread hash of one word.
pub fn mix(mut z: u64) -> u64 {
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// FNV-1a over everything a run observed: two runs of one seed must end with the same value.
#[derive(Debug, Clone)]
pub struct Digest(u64, Option<Vec<String>>);

impl Default for Digest {
    fn default() -> Self {
        Digest(0xcbf2_9ce4_8422_2325, None)
    }
}

impl Digest {
    /// Keep every line written too (to find where two runs part).
    pub fn keeping_lines() -> Self {
        Digest(0xcbf2_9ce4_8422_2325, Some(Vec::new()))
    }

    pub fn lines(&self) -> &[String] {
        self.1.as_deref().unwrap_or_default()
    }

    pub fn write(&mut self, bytes: &[u8]) {
        if let Some(lines) = &mut self.1 {
            lines.push(String::from_utf8_lossy(bytes).into_owned());
        }
        for b in bytes {
            self.0 ^= u64::from(*b);
            self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
        }
        // A separator, so ("ab","c") and ("a","bc") differ.
        self.0 ^= 0xff;
        self.0 = self.0.wrapping_mul(0x0100_0000_01b3);
    }

    pub fn value(&self) -> u64 {
        self.0
    }
}

//! A tiny seeded xorshift64* generator: every random choice the harness makes (which call gets
//! which fault, body shapes, kill moments) comes from a seed printed in the report, so a failing
//! run can be repeated. Not cryptographic, and it does not need to be.

/// xorshift64* (Vigna), seeded through splitmix64 so that small or similar seeds give unrelated
/// streams and the state is never zero.
#[derive(Debug, Clone)]
pub struct XorShift64 {
    state: u64,
}

impl XorShift64 {
    pub fn new(seed: u64) -> Self {
        let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        Self {
            state: if z == 0 { 0x2545_F491_4F6C_DD1D } else { z },
        }
    }

    /// A generator for one purpose, derived from the run's seed and a label, so adding draws in
    /// one place does not change the choices made in another.
    pub fn derive(seed: u64, label: &str) -> Self {
        let mixed = label.bytes().fold(seed, |acc, byte| {
            (acc ^ u64::from(byte)).wrapping_mul(0x0000_0100_0000_01B3)
        });
        Self::new(mixed)
    }

    pub fn next_u64(&mut self) -> u64 {
        let mut x = self.state;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.state = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in `[0, 1)`.
    pub fn next_f64(&mut self) -> f64 {
        // The top 53 bits fill an f64 mantissa exactly.
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in `[0, bound)`; 0 when `bound` is 0. The modulo bias is negligible for the
    /// small bounds used here.
    pub fn below(&mut self, bound: u64) -> u64 {
        if bound == 0 {
            0
        } else {
            self.next_u64() % bound
        }
    }

    /// Uniform in `[low, high]` (inclusive); `low` when the range is empty.
    pub fn between(&mut self, low: u64, high: u64) -> u64 {
        if high <= low {
            low
        } else {
            low + self.below(high - low + 1)
        }
    }

    /// True with probability `p`.
    pub fn chance(&mut self, p: f64) -> bool {
        self.next_f64() < p
    }

    pub fn fill(&mut self, bytes: &mut [u8]) {
        for chunk in bytes.chunks_mut(8) {
            let word = self.next_u64().to_le_bytes();
            chunk.copy_from_slice(&word[..chunk.len()]);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stream(seed: u64) -> Vec<u64> {
        let mut rng = XorShift64::new(seed);
        (0..8).map(|_| rng.next_u64()).collect()
    }

    #[test]
    fn same_seed_same_stream_different_seed_different_stream() {
        assert_eq!(stream(7), stream(7));
        assert_ne!(stream(7), stream(8));
        assert!(stream(0).iter().all(|x| *x != 0));
    }

    #[test]
    fn floats_stay_in_range_and_chance_follows_the_rate() {
        let mut rng = XorShift64::derive(42, "test");
        let mut hits = 0;
        for _ in 0..100_000 {
            let x = rng.next_f64();
            assert!((0.0..1.0).contains(&x));
            if rng.chance(0.3) {
                hits += 1;
            }
        }
        assert!((29_000..31_000).contains(&hits), "{hits}");
        for _ in 0..1000 {
            assert!((3..=9).contains(&rng.between(3, 9)));
        }
        assert_eq!(rng.below(0), 0);
        assert_eq!(rng.between(5, 5), 5);
    }

    #[test]
    fn derived_streams_differ_by_label() {
        assert_ne!(
            XorShift64::derive(1, "faults").next_u64(),
            XorShift64::derive(1, "bodies").next_u64()
        );
    }
}

//! Seeded shuffles and train/test splits that Python can reproduce exactly.
//!
//! The generator is SplitMix64 (Steele, Lea and Flood, 2014) and the shuffle is Fisher–Yates
//! drawing `next_u64() % (i + 1)`: ten lines in any language, so the fixtures script computes the
//! same split as the labs and scikit-learn's reference results use the very same rows.

/// SplitMix64: a tiny, fast, well-tested 64-bit generator (not for cryptography).
#[derive(Debug, Clone)]
pub struct SplitMix64 {
    state: u64,
}

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self { state: seed }
    }

    /// The whole state: `SplitMix64::new(rng.state())` continues exactly where `rng` is, which
    /// is what a checkpoint saves to resume a run's random draws.
    pub fn state(&self) -> u64 {
        self.state
    }

    pub fn next_u64(&mut self) -> u64 {
        self.state = self.state.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.state;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// A uniform float in [0, 1) from the top 53 bits.
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// `0..n` shuffled by Fisher–Yates with SplitMix64 seeded by `seed`.
pub fn shuffled_indices(n: usize, seed: u64) -> Vec<usize> {
    let mut idx: Vec<usize> = (0..n).collect();
    let mut rng = SplitMix64::new(seed);
    for i in (1..n).rev() {
        let j = (rng.next_u64() % (i as u64 + 1)) as usize;
        idx.swap(i, j);
    }
    idx
}

/// Splits `0..n` into (train, test) after a seeded shuffle: the test set is the first
/// `round(n * test_fraction)` shuffled indices, both parts sorted ascending. A `test_fraction` of
/// 0 gives an empty test set.
pub fn train_test_indices(n: usize, test_fraction: f64, seed: u64) -> (Vec<usize>, Vec<usize>) {
    let shuffled = shuffled_indices(n, seed);
    let n_test = ((n as f64) * test_fraction.clamp(0.0, 1.0)).round() as usize;
    let mut test = shuffled[..n_test].to_vec();
    let mut train = shuffled[n_test..].to_vec();
    test.sort_unstable();
    train.sort_unstable();
    (train, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn splitmix64_matches_the_reference_sequence() {
        // First outputs for seed 1234567, from the reference C code (splitmix64.c, Vigna).
        let mut r = SplitMix64::new(1234567);
        assert_eq!(r.next_u64(), 6457827717110365317);
        assert_eq!(r.next_u64(), 3203168211198807973);
        assert_eq!(r.next_u64(), 9817491932198370423);
    }

    #[test]
    fn split_is_a_partition() {
        let (train, test) = train_test_indices(10, 0.3, 7);
        assert_eq!(test.len(), 3);
        let mut all = [train, test].concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        assert_eq!(train_test_indices(5, 0.0, 1).1, Vec::<usize>::new());
    }
}

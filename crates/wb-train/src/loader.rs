//! Seeded shuffling and batching of row indices.
//!
//! Each epoch's order is a Fisher–Yates shuffle (SplitMix64, as in `wb_data::split`) seeded by a
//! mix of the loader's seed and the epoch number, so it depends on nothing else: a run that
//! resumes at epoch 7 from a checkpoint draws exactly the batches the uninterrupted run drew.

use wb_core::{MlError, Result};
use wb_data::{SplitMix64, shuffled_indices};

/// Splits `0..n_rows` into batches of row indices, shuffled per epoch or in order.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchLoader {
    n_rows: usize,
    batch_size: usize,
    shuffle: bool,
    drop_last: bool,
    seed: u64,
}

impl BatchLoader {
    /// `drop_last` drops a final batch smaller than `batch_size` (as PyTorch's `DataLoader`).
    pub fn new(
        n_rows: usize,
        batch_size: usize,
        shuffle: bool,
        drop_last: bool,
        seed: u64,
    ) -> Result<Self> {
        if n_rows == 0 {
            return Err(MlError::Empty {
                arg: "n_rows".to_string(),
                detail: "a loader needs at least one row".to_string(),
            });
        }
        if batch_size == 0 {
            return Err(MlError::InvalidArgument {
                arg: "batch_size".to_string(),
                detail: "expected at least 1, got 0".to_string(),
            });
        }
        if drop_last && batch_size > n_rows {
            return Err(MlError::InvalidArgument {
                arg: "batch_size".to_string(),
                detail: format!(
                    "with drop_last, {batch_size} rows per batch leaves no batch of {n_rows} rows"
                ),
            });
        }
        Ok(Self {
            n_rows,
            batch_size,
            shuffle,
            drop_last,
            seed,
        })
    }

    /// How many batches one epoch has.
    pub fn batches_per_epoch(&self) -> usize {
        if self.drop_last {
            self.n_rows / self.batch_size
        } else {
            self.n_rows.div_ceil(self.batch_size)
        }
    }

    /// The seed of one epoch's shuffle: the loader's seed and the epoch, mixed by one SplitMix64
    /// step so that neighbouring epochs get unrelated orders.
    pub fn epoch_seed(&self, epoch: usize) -> u64 {
        SplitMix64::new(self.seed ^ (epoch as u64).wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64()
    }

    /// The batches of `epoch` (0-based), in order, each a list of row indices.
    pub fn epoch(&self, epoch: usize) -> Vec<Vec<usize>> {
        let order: Vec<usize> = if self.shuffle {
            shuffled_indices(self.n_rows, self.epoch_seed(epoch))
        } else {
            (0..self.n_rows).collect()
        };
        order
            .chunks(self.batch_size)
            .take(self.batches_per_epoch())
            .map(|c| c.to_vec())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_row_once_per_epoch_and_the_last_batch_is_short() {
        let l = BatchLoader::new(10, 4, true, false, 42).unwrap();
        let batches = l.epoch(0);
        assert_eq!(batches.iter().map(Vec::len).collect::<Vec<_>>(), [4, 4, 2]);
        let mut all: Vec<usize> = batches.concat();
        all.sort_unstable();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
    }

    #[test]
    fn drop_last_drops_the_short_batch() {
        let l = BatchLoader::new(10, 4, false, true, 0).unwrap();
        assert_eq!(l.epoch(3), vec![vec![0, 1, 2, 3], vec![4, 5, 6, 7]]);
    }

    #[test]
    fn order_depends_only_on_seed_and_epoch() {
        let a = BatchLoader::new(100, 8, true, false, 7).unwrap();
        let b = BatchLoader::new(100, 8, true, false, 7).unwrap();
        // b asks for epoch 5 first, as a resumed run would: the same batches.
        assert_eq!(b.epoch(5), a.epoch(5));
        assert_ne!(a.epoch(5), a.epoch(6));
        let c = BatchLoader::new(100, 8, true, false, 8).unwrap();
        assert_ne!(a.epoch(0), c.epoch(0));
        // The epoch seed is the documented mix, reproducible by hand.
        let want = SplitMix64::new(7 ^ 5u64.wrapping_mul(0x9e37_79b9_7f4a_7c15)).next_u64();
        assert_eq!(a.epoch_seed(5), want);
    }

    #[test]
    fn bad_arguments_are_named() {
        let e = BatchLoader::new(0, 4, true, false, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("n_rows"), "{e}");
        let e = BatchLoader::new(3, 4, true, true, 0)
            .unwrap_err()
            .to_string();
        assert!(e.contains("batch_size"), "{e}");
    }
}

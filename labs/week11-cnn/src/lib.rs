//! Week 11: convolutional networks.
//!
//! - [`conv`]: 2-D convolution twice from scratch (direct loops, then im2col + one matrix
//!   product) and max-pooling, checked against candle's `conv2d` and `max_pool2d`;
//! - [`augment`]: shifts, small rotations and noise for 28 × 28 images;
//! - [`data`]: MNIST-10k and Fashion-MNIST as candle tensors, with the workbook's fixed split;
//! - [`model`]: a small CNN with candle-nn, trained by `wb_train::fit`.

pub mod augment;
pub mod conv;
pub mod data;
pub mod model;

/// Errors of this lab: bad arguments (which one, what was expected) or a tensor error.
pub type Result<T> = std::result::Result<T, wb_train::TrainError>;

//! The lab's plots.

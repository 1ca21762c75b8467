//! Week 1

//! Grader checks for week 1 (being written).

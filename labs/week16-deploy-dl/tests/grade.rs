//! Grader checks for week 16.

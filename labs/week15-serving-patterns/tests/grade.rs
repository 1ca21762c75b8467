//! Grader checks for week 15.

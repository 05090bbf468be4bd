//! Fixture-based tests (filled in below).

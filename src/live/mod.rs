//! Live Log Analytics source (issue 6).

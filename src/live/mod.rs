//! Live Log Analytics source (issue 6): query a workspace instead of reading exported files.
//!
//! * [`kql`] — the query templates (`queries/*.kql`) and their typed, validated parameters.

pub mod kql;

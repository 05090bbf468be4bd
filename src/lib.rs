//! fwlog: what Azure Firewall denied for an AKS cluster, which of it AKS needs, and the rule to add.
//!
//! Data flows one way: sources ([`input`] files, [`live`] Log Analytics) → the canonical [`event`] schema →
//! [`engine`] (polars lazy queries) → [`report`] (and the recommender) → renderers.

pub mod catalog;
pub mod cli;
pub mod engine;
pub mod error;
pub mod event;
pub mod input;
pub mod legacy;
pub mod live;
pub mod output;
pub mod policy;
pub mod recommend;
pub mod report;

/// `fwlog --version` text: crate version plus the built-in catalog's version.
pub fn version_line() -> &'static str {
    static LINE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        format!(
            "{} (catalog {})",
            env!("CARGO_PKG_VERSION"),
            catalog::builtin_version()
        )
    });
    LINE.as_str()
}

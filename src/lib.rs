//! fwlog: what Azure Firewall denied for an AKS cluster, which of it AKS needs, and the rule to add.
//!
//! One path for data, pointing one way — each layer imports only those below it (checked by a test in
//! [`layering`]):
//!
//! 1. [`cli`] — commands on top: arguments → plan → source → engine → report/recommend → render → output.
//! 2. [`render`] — every output format; [`output`] writes atomically.
//! 3. [`report`], [`recommend`], [`policy`] — pure functions over groups, the [`catalog`] and the user's
//!    firewall policy.
//! 4. [`engine`] — canonical batches + a [`query`] → groups (polars).
//! 5. Sources: [`input`] (files) and [`live`] (Log Analytics, Azure Data Explorer / Fabric Eventhouse) push
//!    canonical batches and read statistics.
//! 6. Below everything that runs: the [`query`] vocabulary, the canonical [`event`] schema, the [`legacy`]
//!    parser, the [`catalog`] data, [`messages`] and [`error`].

pub mod catalog;
pub mod cli;
pub mod engine;
pub mod error;
pub mod event;
pub mod input;
#[cfg(test)]
mod layering;
pub mod legacy;
pub mod live;
pub mod messages;
pub mod output;
pub mod parallel;
pub mod policy;
pub mod query;
pub mod recommend;
pub mod render;
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

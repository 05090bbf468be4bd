//! Renderers: every format fwlog writes, for every command, turns data into bytes here and nowhere else. They are
//! deterministic (the data arrives sorted; nothing depends on time or locale), so the same input gives
//! byte-identical output. A new output format goes here: a variant of the command's format enum and a function.
//!
//! * [`report`] — the deny report: table, JSON, CSV, Markdown, Parquet.
//! * [`recommend`] — rules: table, Markdown, JSON, Bicep, Terraform, ARM, az CLI.
//! * [`follow`] — the lines `deny-report --follow` prints as groups appear or grow.
//! * [`catalog`] — `fwlog catalog list | match | features`.
//! * [`policy`] — `fwlog why`: a flow, its last logged decision, the policy's explanation, the smallest change.
//! * [`table`] — the one terminal-table constructor they share.

pub mod against;
pub mod catalog;
pub mod escape;
pub mod follow;
pub mod policy;
pub mod recommend;
pub mod report;
pub mod table;

/// Formats of the deny report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReportFormat {
    Table,
    Json,
    Csv,
    Tsv,
    Markdown,
    Parquet,
}

/// Formats of a recommendation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecommendFormat {
    Table,
    Json,
    Markdown,
    Bicep,
    Terraform,
    Arm,
    Azcli,
}

/// Formats of the catalog commands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CatalogFormat {
    Table,
    Json,
}

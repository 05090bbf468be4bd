//! fwlog: what Azure Firewall denied for an AKS cluster, which of it AKS needs, and the rule to add.
//!
//! Data flows one way: sources ([`input`] files, [`live`] Log Analytics) → the canonical [`event`] schema →
//! [`engine`] (a polars LazyFrame) → [`report`] / [`recommend`] → renderers.

pub mod catalog;
pub mod event;
pub mod legacy;
pub mod live;

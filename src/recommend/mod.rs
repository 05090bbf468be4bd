//! `fwlog recommend` as pure functions: deny groups (one per source IP) → catalog matches → rules with evidence
//! ([`select`], checked by [`guard`]). [`model`] is the JSON contract; [`options`] the values that shape rules.
//! Renderers live in `crate::render::recommend`.

pub mod guard;
pub mod model;
pub mod options;
pub mod policy;
pub mod select;

//! Reading the user's Azure Firewall policy and explaining denies against it (issue: "Why was it denied?").
//!
//! A pure library: no CLI, no network. The flow of data:
//!
//! 1. [`load`] reads policy exports of any supported shape (ARM template, az CLI, REST, `terraform show -json`,
//!    classic firewall rules), IP Group lists and a Service Tags file, told apart by content, into one
//!    normalized [`Policy`] (with its base policy, when given) plus [`IpGroups`] and [`ServiceTags`]. Malformed or
//!    unsupported input is a user error naming the file and the JSON path. See `docs/policy.md`.
//! 2. [`evaluate`] walks the rules in Azure Firewall's processing order and answers allowed / denied / translated /
//!    default deny, or *unknown* with the reason when a fact is not available offline.
//! 3. [`explain`] turns the evaluation of a denied flow into an [`Explanation`] (nearest miss, shadowing deny, tag
//!    drift, …).
//! 4. [`smallest_change`] proposes the smallest edit of the user's own groups and collections that allows the flow;
//!    [`missing_rules`] drops candidate rules the policy already allows.

mod addr;
mod arm;
pub mod change;
pub mod eval;
pub mod explain;
pub mod fqdn;
mod json;
pub mod load;
pub mod model;
mod rest;
pub mod sites;
mod terraform;

#[cfg(test)]
mod tests;

pub use addr::{Address, Coverage};
pub use change::{
    Change, Placement, RuleField, RuleSpec, missing_rules, placement_for, smallest_change,
};
pub use eval::{
    AKS_FQDN_TAG, DestCheck, DestMiss, Env, Evaluation, Flow, FlowKind, Outcome, PortCheck,
    ProtoCheck, RuleCheck, RuleRef, SourceCheck, State, Unknown, Via, evaluate,
};
pub use explain::{Explained, Explanation, TagModel, explain, explain_evaluation};
pub use load::{PolicyInputs, load, load_named, load_texts};
pub use model::{
    Action, AppProtocol, AppProtocolType, ApplicationRule, Destination, HttpHeader, IpGroup,
    IpGroups, NatRule, NetProtocol, NetworkRule, Policy, PolicyKind, PortRange, Rule,
    RuleCollection, RuleCollectionGroup, RuleKind, ServiceTags, Written, texts_of,
};

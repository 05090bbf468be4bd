//! The user's firewall policy in words: `fwlog why` and the smallest change that would allow a flow.

use std::fmt::Write as _;

use serde::Serialize;

use super::escape;
use super::table::{Layout, wrap};
use crate::policy::{Change, Explained, RuleField};

/// The last decision the logs recorded for a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Logged {
    pub time: String,
    pub action: String,
    /// `policy / group / collection / rule` when a rule decided, else the reason (default action, …).
    pub decided_by: String,
    /// Events of this flow in the inputs.
    pub events: u64,
    pub first_seen: String,
    pub origin: String,
}

/// Everything `fwlog why` found about one flow.
#[derive(Debug, Clone, Serialize)]
pub struct Why {
    pub flow: String,
    pub logged: Option<Logged>,
    pub policy: Option<String>,
    pub explanation: Option<serde_json::Value>,
    pub explanation_text: Option<String>,
    pub notes: Vec<String>,
    pub change: Option<serde_json::Value>,
    pub change_text: Option<String>,
}

impl Why {
    pub fn new(flow: String, logged: Option<Logged>) -> Why {
        Why {
            flow,
            logged,
            policy: None,
            explanation: None,
            explanation_text: None,
            notes: Vec::new(),
            change: None,
            change_text: None,
        }
    }

    /// Add the policy's explanation and the smallest change.
    pub fn with_policy(mut self, policy: &str, x: &Explained, change: &Change) -> Why {
        self.policy = Some(policy.to_string());
        self.explanation = serde_json::to_value(&x.explanation).ok();
        self.explanation_text = Some(x.explanation.to_string());
        self.notes = x.notes.clone();
        self.change = serde_json::to_value(change).ok();
        self.change_text = Some(change_text(change));
        self
    }
}

fn field_name(f: RuleField) -> &'static str {
    match f {
        RuleField::SourceAddresses => "sourceAddresses",
        RuleField::Protocols => "protocols",
        RuleField::IpProtocols => "ipProtocols",
        RuleField::DestinationPorts => "destinationPorts",
        RuleField::TargetFqdns => "targetFqdns",
    }
}

/// The smallest change, as a sentence.
pub fn change_text(c: &Change) -> String {
    match c {
        Change::None { reason } => format!("no change: {reason}"),
        Change::WidenRule { rule, field, add } => format!(
            "widen {rule}: add {} to its {}",
            add.join(", "),
            field_name(*field)
        ),
        Change::WidenIpGroup {
            rule,
            ip_group,
            add,
        } => format!(
            "add {} to IP Group {ip_group}, the sources of {rule}",
            add.join(", ")
        ),
        Change::AddRule { placement, rule } => {
            let what = if rule.target_fqdns.is_empty() {
                format!(
                    "{} to {} port {}",
                    rule.protocols.join(","),
                    rule.destination_addresses.join(" "),
                    rule.destination_ports.join(",")
                )
            } else {
                format!(
                    "{} {}",
                    rule.protocols.join(","),
                    rule.target_fqdns.join(" ")
                )
            };
            let collection = if placement.new_collection {
                format!(
                    "a new allow collection {} (priority {})",
                    placement.collection, placement.collection_priority
                )
            } else {
                format!(
                    "allow collection {} (priority {})",
                    placement.collection, placement.collection_priority
                )
            };
            let group = if placement.new_group {
                format!(
                    "a new group {} (priority {})",
                    placement.group, placement.group_priority
                )
            } else {
                format!(
                    "group {} (priority {})",
                    placement.group, placement.group_priority
                )
            };
            format!(
                "add rule {} ({what}, from {}) to {collection} of {group}: {}",
                rule.name,
                rule.source_addresses.join(" "),
                placement.reason
            )
        }
        Change::PolicySetting {
            setting,
            value,
            reason,
        } => format!("set {setting} = {value}: {reason}"),
        Change::Undecided { reason } => format!("no change proposed: {reason}"),
    }
}

/// `fwlog why` as text for people.
pub fn why_text(w: &Why, layout: &Layout) -> String {
    let mut out = String::new();
    let mut line = |label: &str, text: &str| {
        let body = wrap(
            &escape::terminal(text),
            layout.width.saturating_sub(label.len() as u16 + 2),
        );
        let indent = " ".repeat(label.len() + 2);
        let _ = writeln!(
            out,
            "{label}: {}",
            body.replace('\n', &format!("\n{indent}"))
        );
    };
    line("Flow", &w.flow);
    match &w.logged {
        Some(l) => line(
            "Last logged",
            &format!(
                "{} {} by {} ({} event{} since {}; {})",
                l.time,
                l.action,
                l.decided_by,
                l.events,
                if l.events == 1 { "" } else { "s" },
                l.first_seen,
                l.origin
            ),
        ),
        None => line("Last logged", "not in the inputs (give -i LOGS to look)"),
    }
    match (&w.policy, &w.explanation_text) {
        (Some(p), Some(x)) => line(&format!("Policy {p}"), x),
        _ => line("Policy", "not given (--policy FILE explains the decision)"),
    }
    for n in &w.notes {
        line("Note", n);
    }
    if let Some(c) = &w.change_text {
        line("Smallest change", c);
    }
    out
}

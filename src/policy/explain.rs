//! Why a logged deny happened, in terms of the user's policy.
//!
//! [`explain`] assumes the flow was *denied* in the logs (that is what fwlog explains) and turns the evaluation into
//! one [`Explanation`]: a typed value with a stable `"verdict"` tag for JSON, and a one-line `Display`.
//!
//! * The policy denies it by a rule → [`Explanation::ShadowedByDeny`] when a later allow rule would have allowed it,
//!   else [`Explanation::DeniedByRule`].
//! * No rule decides it → the *nearest miss*: among allow rules, in processing order, the first whose destination
//!   matches, and the first dimension it misses (protocol, then port, then source); failing that, the first allow
//!   rule whose wildcard misses only the apex, whose target the product rejects, whose FQDN tag excludes the name,
//!   or whose FQDN needs the DNS proxy that is off; failing that, the default action.
//! * The policy given *allows* it → the log predates the rule, or the policy given is not the one in force; or, when
//!   the allowing rule matched only through fwlog's model of the `AzureKubernetesService` FQDN tag, tag drift.
//! * fwlog cannot tell → [`Explanation::Unknown`], with the reason; never a guess.
//!
//! What the FQDN tag explanations can claim: Microsoft owns the tag's contents and does not publish them; fwlog's
//! catalog records, per endpoint, whether the AKS docs say the tag covers it. A deny of a name that a tag rule would
//! otherwise match (protocol, port and source all match) proves, *if the policy given is the one in force*, that
//! the tag did not cover the name when the log was written. It cannot prove the tag changed.

use std::fmt;

use ipnet::IpNet;
use serde::Serialize;

use super::addr::net_text;
use super::eval::*;
use super::model::*;
use crate::event::normalize::format_time_us;

/// What fwlog's catalog says about a name and an FQDN tag.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TagModel {
    /// Documented as part of the tag.
    Listed,
    /// Known to the catalog, but not documented as part of the tag (or not known at all).
    Undocumented,
    /// Documented as not part of the tag.
    Excluded,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Explanation {
    /// No rule matches; the default action denies the flow.
    DefaultDeny {
        policy: String,
        rules_checked: usize,
    },
    ProtocolMismatch {
        rule: RuleRef,
        destination: String,
        /// How the rule's destination matched (a target FQDN, fwlog's model of an FQDN tag, an address, …).
        via: Via,
        flow: String,
        rule_protocols: Vec<String>,
    },
    PortMismatch {
        rule: RuleRef,
        destination: String,
        via: Via,
        port: String,
        rule_ports: Vec<String>,
    },
    /// The rule's sources miss the flow's source, or cover only part of its subnet (`covered` non-empty).
    SourceNotCovered {
        rule: RuleRef,
        destination: String,
        via: Via,
        #[serde(serialize_with = "super::addr::ser_net")]
        source: IpNet,
        rule_sources: Vec<String>,
        #[serde(serialize_with = "super::addr::ser_nets")]
        covered: Vec<IpNet>,
        #[serde(serialize_with = "super::addr::ser_nets")]
        missing: Vec<IpNet>,
    },
    /// `*.x` does not match `x`.
    WildcardMissesApex {
        rule: RuleRef,
        pattern: String,
        destination: String,
    },
    /// A target pattern Azure Firewall does not support never matches.
    RejectedPattern {
        rule: RuleRef,
        pattern: String,
        destination: String,
        why: String,
    },
    NetworkFqdnWithoutDnsProxy {
        rule: RuleRef,
        fqdn: String,
    },
    ShadowedByDeny {
        deny: RuleRef,
        allow: RuleRef,
    },
    DeniedByRule {
        rule: RuleRef,
    },
    /// The policy given allows the flow.
    AllowedByPolicy {
        rule: RuleRef,
        via: Option<Via>,
        last_seen: Option<String>,
    },
    FqdnTagNotCovering {
        rule: RuleRef,
        tag: String,
        destination: String,
        catalog: TagModel,
        entry: Option<String>,
    },
    /// TLS without SNI: application rules cannot match; `nearest` is an application rule that otherwise would.
    NoSni {
        nearest: Option<RuleRef>,
    },
    Unknown {
        rule: RuleRef,
        because: Unknown,
    },
}

/// A flow, the evaluation's outcome and its explanation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Explained {
    pub flow: Flow,
    pub outcome: Outcome,
    pub explanation: Explanation,
    pub notes: Vec<String>,
}

/// Evaluate a denied flow and explain the deny.
pub fn explain(policy: &Policy, flow: &Flow, env: &Env<'_>) -> Explained {
    let e = evaluate(policy, flow, env);
    let explanation = explain_evaluation(policy, &e);
    let mut notes = e.notes;
    // The outcome was in doubt but another rule explains the deny better: keep the doubt visible.
    if let Outcome::Unknown { rule, because } = &e.outcome
        && !matches!(
            explanation,
            Explanation::Unknown { .. } | Explanation::FqdnTagNotCovering { .. }
        )
    {
        notes.push(format!(
            "{rule} could also have allowed it ({because}); the deny shows it did not, if the policy given is the one in force"
        ));
    }
    Explained {
        flow: e.flow,
        outcome: e.outcome,
        explanation,
        notes,
    }
}

fn dest_text(f: &Flow) -> String {
    f.destination
        .clone()
        .unwrap_or_else(|| "(no SNI)".to_string())
}

fn proto_port(f: &Flow) -> String {
    match f.port {
        Some(p) => format!("{}:{p}", f.protocol),
        None => f.protocol.clone(),
    }
}

/// Explain an evaluation of a flow that the logs show denied.
pub fn explain_evaluation(policy: &Policy, e: &Evaluation) -> Explanation {
    let flow = &e.flow;
    let find = |r: &RuleRef| e.checks.iter().find(|c| c.rule == *r);
    match &e.outcome {
        Outcome::Allowed { rule } | Outcome::Translated { rule } => {
            let via = find(rule).and_then(|c| match &c.destination {
                DestCheck::Match { via } => Some(via.clone()),
                _ => None,
            });
            if let Some(Via::FqdnTag { tag, entry }) = &via {
                return Explanation::FqdnTagNotCovering {
                    rule: rule.clone(),
                    tag: tag.clone(),
                    destination: dest_text(flow),
                    catalog: TagModel::Listed,
                    entry: Some(entry.clone()),
                };
            }
            Explanation::AllowedByPolicy {
                rule: rule.clone(),
                via,
                last_seen: flow.last_seen_us.map(format_time_us),
            }
        }
        Outcome::Denied { rule } => {
            let after = e.checks.iter().skip_while(|c| c.rule != *rule).skip(1);
            let allow = after
                .filter(|c| c.rule.action == Action::Allow)
                .find(|c| c.state() == State::Match);
            match allow {
                Some(a) => Explanation::ShadowedByDeny {
                    deny: rule.clone(),
                    allow: a.rule.clone(),
                },
                None => Explanation::DeniedByRule { rule: rule.clone() },
            }
        }
        Outcome::Unknown { rule, because } => {
            if let Unknown::FqdnTagUnclear { tag, entry } = because
                && rule.action == Action::Allow
                && find(rule).is_some_and(RuleCheck::matches_besides_destination)
            {
                // A rule that names the destination itself and misses on one field says more than the tag's
                // unpublished contents (both are true: the tag did not cover the name, and that rule missed).
                if let Some(x) = explicit_near_miss(policy, e) {
                    return x;
                }
                return Explanation::FqdnTagNotCovering {
                    rule: rule.clone(),
                    tag: tag.clone(),
                    destination: dest_text(flow),
                    catalog: TagModel::Undocumented,
                    entry: entry.clone(),
                };
            }
            Explanation::Unknown {
                rule: rule.clone(),
                because: because.clone(),
            }
        }
        Outcome::DefaultDeny => nearest_miss(policy, e),
    }
}

fn nearest_miss(policy: &Policy, e: &Evaluation) -> Explanation {
    let flow = &e.flow;
    let allows: Vec<&RuleCheck> = e
        .checks
        .iter()
        .filter(|c| c.rule.action == Action::Allow && c.state() == State::Miss)
        .collect();
    if flow.destination.is_none() && flow.kind == FlowKind::Application {
        let nearest = allows
            .iter()
            .find(|c| c.rule.kind == RuleKind::Application && c.matches_besides_destination())
            .map(|c| c.rule.clone());
        return Explanation::NoSni { nearest };
    }
    if let Some(x) = explicit_near_miss(policy, e) {
        return x;
    }
    let destination = dest_text(flow);
    nearest_by_destination_miss(policy, e, &allows, destination)
}

/// The first allow rule, in processing order, whose destination matches and which misses the flow on protocol,
/// port or source.
fn explicit_near_miss(policy: &Policy, e: &Evaluation) -> Option<Explanation> {
    let flow = &e.flow;
    let destination = dest_text(flow);
    let (c, via) = e.checks.iter().find_map(|c| match &c.destination {
        DestCheck::Match { via } if c.rule.action == Action::Allow && c.state() == State::Miss => {
            Some((c, via.clone()))
        }
        _ => None,
    })?;
    if let ProtoCheck::Miss { flow: f, rule } = &c.protocol {
        return Some(Explanation::ProtocolMismatch {
            rule: c.rule.clone(),
            destination,
            via,
            flow: f.clone(),
            rule_protocols: rule.clone(),
        });
    }
    if let PortCheck::Miss { flow: p, rule } = &c.port {
        return Some(Explanation::PortMismatch {
            rule: c.rule.clone(),
            destination,
            via,
            port: p.clone(),
            rule_ports: rule.clone(),
        });
    }
    let (covered, missing) = match &c.source {
        SourceCheck::Part { covered, missing } => (covered.clone(), missing.clone()),
        _ => (Vec::new(), vec![flow.source]),
    };
    let (_, _, _, rule) = locate(policy, &c.rule);
    let mut rule_sources: Vec<String> = rule
        .source_addresses()
        .iter()
        .map(ToString::to_string)
        .collect();
    rule_sources.extend(
        rule.source_ip_groups()
            .iter()
            .map(|g| resource_name(g).to_string()),
    );
    Some(Explanation::SourceNotCovered {
        rule: c.rule.clone(),
        destination,
        via,
        source: flow.source,
        rule_sources,
        covered,
        missing,
    })
}

fn nearest_by_destination_miss(
    policy: &Policy,
    e: &Evaluation,
    allows: &[&RuleCheck],
    destination: String,
) -> Explanation {
    let by_miss = |pred: &dyn Fn(&DestMiss) -> bool| {
        allows
            .iter()
            .find(|c| matches!(&c.destination, DestCheck::Miss { why } if pred(why)))
            .copied()
    };
    if let Some(c) = by_miss(&|w| matches!(w, DestMiss::ApexOnly { .. }))
        && let DestCheck::Miss {
            why: DestMiss::ApexOnly { pattern },
        } = &c.destination
    {
        return Explanation::WildcardMissesApex {
            rule: c.rule.clone(),
            pattern: pattern.clone(),
            destination,
        };
    }
    if let Some(c) = by_miss(&|w| matches!(w, DestMiss::RejectedPattern { .. }))
        && let DestCheck::Miss {
            why: DestMiss::RejectedPattern { pattern, why },
        } = &c.destination
    {
        return Explanation::RejectedPattern {
            rule: c.rule.clone(),
            pattern: pattern.clone(),
            destination,
            why: why.clone(),
        };
    }
    if let Some(c) = by_miss(&|w| matches!(w, DestMiss::TagExcludes { .. }))
        && let DestCheck::Miss {
            why: DestMiss::TagExcludes { tag, entry },
        } = &c.destination
    {
        return Explanation::FqdnTagNotCovering {
            rule: c.rule.clone(),
            tag: tag.clone(),
            destination,
            catalog: TagModel::Excluded,
            entry: Some(entry.clone()),
        };
    }
    if let Some(c) = by_miss(&|w| matches!(w, DestMiss::DnsProxyOff { .. }))
        && let DestCheck::Miss {
            why: DestMiss::DnsProxyOff { fqdn },
        } = &c.destination
    {
        return Explanation::NetworkFqdnWithoutDnsProxy {
            rule: c.rule.clone(),
            fqdn: fqdn.clone(),
        };
    }
    Explanation::DefaultDeny {
        policy: policy.name.clone(),
        rules_checked: e.checks.len(),
    }
}

fn list(v: &[String]) -> String {
    if v.is_empty() {
        "nothing".into()
    } else {
        v.join(", ")
    }
}

/// The destination, and how it matched when that is only fwlog's model (an FQDN tag).
fn matched(destination: &str, via: &Via) -> String {
    match via {
        Via::FqdnTag { tag, .. } => {
            format!("{destination} (through FQDN tag {tag}, in fwlog's model of the tag)")
        }
        _ => destination.to_string(),
    }
}

fn nets(v: &[IpNet]) -> String {
    v.iter()
        .map(|n| net_text(*n))
        .collect::<Vec<_>>()
        .join(", ")
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Explanation::DefaultDeny {
                policy,
                rules_checked,
            } => write!(
                f,
                "no rule of policy {policy} matches ({rules_checked} rules checked): the default action denies it"
            ),
            Explanation::ProtocolMismatch {
                rule,
                destination,
                via,
                flow,
                rule_protocols,
            } => write!(
                f,
                "{rule} matches {} but not the protocol: it allows {}, the flow is {flow}",
                matched(destination, via),
                list(rule_protocols)
            ),
            Explanation::PortMismatch {
                rule,
                destination,
                via,
                port,
                rule_ports,
            } => write!(
                f,
                "{rule} matches {} but not port {port}: it allows {}",
                matched(destination, via),
                list(rule_ports)
            ),
            Explanation::SourceNotCovered {
                rule,
                destination,
                via,
                source,
                rule_sources,
                covered,
                missing,
            } => {
                if covered.is_empty() {
                    write!(
                        f,
                        "{rule} matches {} but not the source: {} is not in its sources ({})",
                        matched(destination, via),
                        net_text(*source),
                        list(rule_sources)
                    )
                } else {
                    write!(
                        f,
                        "{rule} matches {} but covers only {} of source {}: {} is not in its sources ({})",
                        matched(destination, via),
                        nets(covered),
                        net_text(*source),
                        nets(missing),
                        list(rule_sources)
                    )
                }
            }
            Explanation::WildcardMissesApex {
                rule,
                pattern,
                destination,
            } => write!(
                f,
                "{rule} targets {pattern}, which matches names below {destination} but not {destination} itself: \
                 Azure Firewall needs the bare name listed too"
            ),
            Explanation::RejectedPattern {
                rule,
                pattern,
                destination,
                why,
            } => write!(
                f,
                "{rule} targets {pattern}, which Azure Firewall does not support ({why}), so it never matches {destination}"
            ),
            Explanation::NetworkFqdnWithoutDnsProxy { rule, fqdn } => write!(
                f,
                "{rule} names {fqdn}, but the policy's DNS proxy is off: FQDNs in network rules work only with DNS proxy enabled"
            ),
            Explanation::ShadowedByDeny { deny, allow } => write!(
                f,
                "shadowed: denied by {deny}, which is processed before {allow} that would allow it"
            ),
            Explanation::DeniedByRule { rule } => write!(f, "denied by {rule}"),
            Explanation::AllowedByPolicy {
                rule,
                via,
                last_seen,
            } => {
                let via = via
                    .as_ref()
                    .map(|v| format!(" through {v}"))
                    .unwrap_or_default();
                let seen = last_seen
                    .as_ref()
                    .map(|t| format!(" (last seen {t})"))
                    .unwrap_or_default();
                write!(
                    f,
                    "the policy given allows it by {rule}{via}: the log{seen} is older than the rule, or the policy given is not the one in force"
                )
            }
            Explanation::FqdnTagNotCovering {
                rule,
                tag,
                destination,
                catalog,
                entry,
            } => match catalog {
                TagModel::Listed => write!(
                    f,
                    "{rule} allows FQDN tag {tag}, and fwlog's catalog (its model of the tag, from the AKS docs{}) lists \
                     {destination} in it, yet the firewall denied it: either the tag in force did not cover {destination} \
                     when this was logged (tag drift: Microsoft owns the tag's contents and does not publish them) or the \
                     policy given is not the one in force; an explicit rule for {destination} removes the doubt",
                    entry
                        .as_ref()
                        .map(|e| format!(", entry {e}"))
                        .unwrap_or_default()
                ),
                TagModel::Undocumented => write!(
                    f,
                    "{rule} allows FQDN tag {tag}, which would be the only rule to allow {destination}; fwlog's catalog \
                     does not document {destination} as part of the tag, and the deny shows the tag in force did not \
                     cover it (if the policy given is the one in force): allow {destination} with its own rule"
                ),
                TagModel::Excluded => write!(
                    f,
                    "{rule} allows FQDN tag {tag}, which does not cover {destination} (fwlog's catalog{}: not part of the tag)",
                    entry
                        .as_ref()
                        .map(|e| format!(", entry {e}"))
                        .unwrap_or_default()
                ),
            },
            Explanation::NoSni { nearest } => {
                write!(
                    f,
                    "no application rule can match: the TLS connection carried no SNI (the client called an IP address), \
                     and application rules match names; allow the address with a network rule"
                )?;
                if let Some(r) = nearest {
                    write!(f, " ({r} would otherwise match)")?;
                }
                Ok(())
            }
            Explanation::Unknown { rule, because } => {
                write!(f, "unknown because {because}: {rule} may decide this flow")
            }
        }
    }
}

impl Explained {
    /// One line: the flow and the explanation.
    pub fn line(&self) -> String {
        format!(
            "{} {} from {}: {}",
            proto_port(&self.flow),
            dest_text(&self.flow),
            net_text(self.flow.source),
            self.explanation
        )
    }
}

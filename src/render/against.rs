//! `recommend --against FILE`: the user's own policy export with the new rules inserted where the recommendation
//! placed them, shown as a unified diff of the pretty-printed JSON, original against updated.
//!
//! Both sides are read into [`Json`], which keeps object members in the file's order (serde_json's `Value` sorts
//! them), and printed by the same pretty-printer, so every line the change does not touch is the same on both
//! sides and only the inserted rules, collections or groups show as `+` lines. New rules go at the end of their
//! collection (processing order of the user's rules is unchanged), new collections at the end of their group's
//! collection list, a new group at the end of the file's list of resources or groups.

use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde::ser::{Serialize, SerializeMap, SerializeSeq, Serializer};
use similar::TextDiff;

use super::recommend::whole::{self, Fields, V};
use crate::policy::sites::{Shape, Site, Sites, Step};
use crate::policy::{Rule, RuleKind};
use crate::recommend::model::Recommendation;

/// A JSON value whose objects keep their members in document order.
#[derive(Debug, Clone, PartialEq)]
pub enum Json {
    Null,
    Bool(bool),
    Num(serde_json::Number),
    Str(String),
    Arr(Vec<Json>),
    Obj(Vec<(String, Json)>),
}

impl Json {
    /// The member `key`: exact, else ASCII case-insensitive (the loader reads keys that way).
    fn member_mut(&mut self, key: &str) -> Option<&mut Json> {
        let Json::Obj(m) = self else { return None };
        let i = m
            .iter()
            .position(|(k, _)| k == key)
            .or_else(|| m.iter().position(|(k, _)| k.eq_ignore_ascii_case(key)))?;
        Some(&mut m[i].1)
    }

    fn at_mut(&mut self, path: &[Step]) -> Option<&mut Json> {
        let mut cur = self;
        for s in path {
            cur = match (s, cur) {
                (Step::Key(k), c @ Json::Obj(_)) => c.member_mut(k)?,
                (Step::Index(i), Json::Arr(a)) => a.get_mut(*i)?,
                _ => return None,
            };
        }
        Some(cur)
    }

    /// The `name` member's text.
    fn name(&self) -> Option<&str> {
        let Json::Obj(m) = self else { return None };
        m.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("name"))
            .and_then(|(_, v)| v.str())
    }

    fn str(&self) -> Option<&str> {
        match self {
            Json::Str(s) => Some(s),
            _ => None,
        }
    }

    fn obj(members: Vec<(&str, Json)>) -> Json {
        Json::Obj(
            members
                .into_iter()
                .map(|(k, v)| (k.to_string(), v))
                .collect(),
        )
    }

    fn strs(v: &[String]) -> Json {
        Json::Arr(v.iter().map(|s| Json::Str(s.clone())).collect())
    }
}

impl Serialize for Json {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Json::Null => s.serialize_unit(),
            Json::Bool(b) => s.serialize_bool(*b),
            Json::Num(n) => n.serialize(s),
            Json::Str(v) => s.serialize_str(v),
            Json::Arr(a) => {
                let mut seq = s.serialize_seq(Some(a.len()))?;
                for x in a {
                    seq.serialize_element(x)?;
                }
                seq.end()
            }
            Json::Obj(m) => {
                let mut map = s.serialize_map(Some(m.len()))?;
                for (k, v) in m {
                    map.serialize_entry(k, v)?;
                }
                map.end()
            }
        }
    }
}

impl<'de> Deserialize<'de> for Json {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Json, D::Error> {
        struct Vis;
        impl<'de> Visitor<'de> for Vis {
            type Value = Json;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E: de::Error>(self) -> Result<Json, E> {
                Ok(Json::Null)
            }
            fn visit_bool<E: de::Error>(self, b: bool) -> Result<Json, E> {
                Ok(Json::Bool(b))
            }
            fn visit_i64<E: de::Error>(self, n: i64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_u64<E: de::Error>(self, n: u64) -> Result<Json, E> {
                Ok(Json::Num(n.into()))
            }
            fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json, E> {
                Ok(serde_json::Number::from_f64(n).map_or(Json::Null, Json::Num))
            }
            fn visit_str<E: de::Error>(self, s: &str) -> Result<Json, E> {
                Ok(Json::Str(s.to_string()))
            }
            fn visit_string<E: de::Error>(self, s: String) -> Result<Json, E> {
                Ok(Json::Str(s))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Json::Arr(v))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut a: A) -> Result<Json, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, Json>()? {
                    v.push((k, x));
                }
                Ok(Json::Obj(v))
            }
        }
        d.deserialize_any(Vis)
    }
}

/// Pretty-printed (two spaces, serde_json's printer) and inert (see [`crate::render::escape::json_text`]).
pub fn pretty(v: &Json) -> anyhow::Result<String> {
    let mut s = serde_json::to_string_pretty(v)?;
    s.push('\n');
    Ok(crate::render::escape::json_text(&s).into_owned())
}

/// The unified diff of `before` and `after` (3 lines of context), headed `a/NAME` and `b/NAME`; empty when they
/// are equal.
pub fn unified(before: &str, after: &str, name: &str) -> String {
    let shown = crate::render::escape::terminal(name);
    TextDiff::from_lines(before, after)
        .unified_diff()
        .context_radius(3)
        .header(&format!("a/{shown}"), &format!("b/{shown}"))
        .to_string()
}

/// The export `text` of `file` as it is and with the recommendation's new rules inserted, both pretty-printed.
pub fn update(
    file: &str,
    text: &str,
    sites: &Sites,
    r: &Recommendation,
) -> anyhow::Result<(String, String)> {
    let original: Json = serde_json::from_str(text)
        .map_err(|e| crate::error::user(format!("{file}: not valid JSON: {e}")))?;
    let mut updated = original.clone();
    let fail = |msg: String| crate::error::user(format!("{file}: {msg}"));
    for g in &r.groups {
        let site: Option<&Site> = sites.groups.iter().find(|s| {
            s.group.eq_ignore_ascii_case(&g.name)
                && (s.policy.is_empty() || s.policy.eq_ignore_ascii_case(&g.policy))
        });
        let Some(site) = site else {
            if !g.new_group {
                return Err(fail(format!(
                    "holds no rule collection group {} of policy {}: give the export the policy was read from",
                    g.name, g.policy
                )));
            }
            let Some(container) = &sites.container else {
                return Err(fail(format!(
                    "holds one group only; the new group {} needs an export that lists groups (`az network firewall \
                     policy rule-collection-group list`, an ARM template or `terraform show -json`)",
                    g.name
                )));
            };
            let Some(Json::Arr(list)) = updated.at_mut(container) else {
                return Err(fail("the list of groups moved while editing".into()));
            };
            list.push(new_group(sites.shape, g, r));
            continue;
        };
        let Some(node) = updated.at_mut(&site.path) else {
            return Err(fail(format!("cannot follow the path of group {}", g.name)));
        };
        for c in &g.collections {
            let added: Vec<&Rule> = c
                .rules
                .iter()
                .filter(|pr| pr.added.is_some())
                .map(|pr| &pr.rule)
                .collect();
            if added.is_empty() {
                continue;
            }
            let list = collections_mut(node, sites.shape, c.kind)
                .ok_or_else(|| fail(format!("group {} has no list of rule collections", g.name)))?;
            let existing = list
                .iter_mut()
                .find(|x| x.name().is_some_and(|n| n.eq_ignore_ascii_case(&c.name)));
            match existing {
                Some(col) if !c.new_collection => {
                    let rules_key = if sites.shape == Shape::Terraform {
                        "rule"
                    } else {
                        "rules"
                    };
                    if col.member_mut(rules_key).is_none()
                        && let Json::Obj(m) = col
                    {
                        m.push((rules_key.to_string(), Json::Arr(Vec::new())));
                    }
                    let Some(Json::Arr(rules)) = col.member_mut(rules_key) else {
                        return Err(fail(format!(
                            "collection {} of group {} has no list of rules",
                            c.name, g.name
                        )));
                    };
                    rules.extend(added.iter().map(|rule| rule_json(sites.shape, rule)));
                }
                Some(_) => {
                    return Err(fail(format!(
                        "group {} already has a collection named {}",
                        g.name, c.name
                    )));
                }
                None if c.new_collection => list.push(collection_json(sites.shape, c, &added)),
                None => {
                    return Err(fail(format!(
                        "group {} has no collection {} (a name written as a template expression is not followed)",
                        g.name, c.name
                    )));
                }
            }
        }
    }
    Ok((pretty(&original)?, pretty(&updated)?))
}

/// The list a collection of `kind` belongs to: `ruleCollections` (under `properties` in templates and REST,
/// flattened by the az CLI), or Terraform's `<kind>_rule_collection` block list (created when absent).
fn collections_mut(node: &mut Json, shape: Shape, kind: RuleKind) -> Option<&mut Vec<Json>> {
    let key = match (shape, kind) {
        (Shape::Terraform, RuleKind::Application) => "application_rule_collection",
        (Shape::Terraform, RuleKind::Network) => "network_rule_collection",
        (Shape::Terraform, RuleKind::Nat) => "nat_rule_collection",
        _ => "ruleCollections",
    };
    let holder: &mut Json = if shape != Shape::Terraform && node.member_mut("properties").is_some()
    {
        node.member_mut("properties")?
    } else {
        node
    };
    if holder.member_mut(key).is_none() {
        let Json::Obj(m) = holder else { return None };
        m.push((key.to_string(), Json::Arr(Vec::new())));
    }
    match holder.member_mut(key)? {
        Json::Arr(a) => Some(a),
        n @ Json::Null => {
            *n = Json::Arr(Vec::new());
            match n {
                Json::Arr(a) => Some(a),
                _ => None,
            }
        }
        _ => None,
    }
}

fn fields_json(f: &Fields, arm: bool) -> Json {
    let text = |s: &str| {
        Json::Str(if arm {
            crate::render::escape::arm_literal(s)
        } else {
            s.to_string()
        })
    };
    Json::Obj(
        f.iter()
            .map(|(k, v)| {
                let j = match v {
                    V::Str(s) => text(s),
                    V::Int(n) => Json::Num((*n).into()),
                    V::Bool(b) => Json::Bool(*b),
                    V::Strs(items) => Json::Arr(items.iter().map(|s| text(s)).collect()),
                    // A template refers to IP Groups by expression; other exports hold what was given.
                    V::IpGroups(items) if arm => Json::Arr(
                        items
                            .iter()
                            .map(|g| Json::Str(super::recommend::arm::scoped_ip_group(g)))
                            .collect(),
                    ),
                    V::IpGroups(items) => Json::Arr(items.iter().map(|s| text(s)).collect()),
                    V::Objs(objs) => Json::Arr(objs.iter().map(|o| fields_json(o, arm)).collect()),
                };
                ((*k).to_string(), j)
            })
            .collect(),
    )
}

/// A new rule in the export's shape. Terraform's state lists every attribute of a block (empty when unset), in
/// alphabetical order, so a new rule does too.
fn rule_json(shape: Shape, rule: &Rule) -> Json {
    if shape != Shape::Terraform {
        return fields_json(&whole::rule_fields(rule), shape == Shape::ArmTemplate);
    }
    let s = Json::Str;
    match rule {
        Rule::Application(a) => Json::obj(vec![
            ("description", s(a.description.clone().unwrap_or_default())),
            (
                "destination_addresses",
                Json::strs(&a.destination_addresses),
            ),
            ("destination_fqdn_tags", Json::strs(&a.fqdn_tags)),
            (
                "destination_fqdns",
                Json::strs(&crate::policy::texts_of(
                    &a.target_fqdns,
                    &a.written.destinations,
                )),
            ),
            ("destination_urls", Json::strs(&a.target_urls)),
            (
                "http_headers",
                Json::Arr(
                    a.http_headers
                        .iter()
                        .map(|h| {
                            Json::obj(vec![
                                ("name", s(h.name.clone())),
                                ("value", s(h.value.clone())),
                            ])
                        })
                        .collect(),
                ),
            ),
            ("name", s(a.name.clone())),
            (
                "protocols",
                Json::Arr(
                    a.protocols
                        .iter()
                        .map(|p| {
                            Json::obj(vec![
                                ("port", Json::Num(p.port.into())),
                                ("type", s(p.kind.as_str().into())),
                            ])
                        })
                        .collect(),
                ),
            ),
            (
                "source_addresses",
                Json::strs(&crate::policy::texts_of(
                    &a.source_addresses,
                    &a.written.source_addresses,
                )),
            ),
            ("source_ip_groups", Json::strs(&a.source_ip_groups)),
            ("terminate_tls", Json::Bool(a.terminate_tls)),
            ("web_categories", Json::strs(&a.web_categories)),
        ]),
        Rule::Network(n) => Json::obj(vec![
            ("description", s(n.description.clone().unwrap_or_default())),
            (
                "destination_addresses",
                Json::strs(&crate::policy::texts_of(
                    &n.destination_addresses,
                    &n.written.destinations,
                )),
            ),
            (
                "destination_fqdns",
                Json::strs(&crate::policy::texts_of(
                    &n.destination_fqdns,
                    &n.written.destination_fqdns,
                )),
            ),
            (
                "destination_ip_groups",
                Json::strs(&n.destination_ip_groups),
            ),
            (
                "destination_ports",
                Json::Arr(
                    n.destination_ports
                        .iter()
                        .map(|p| s(p.to_string()))
                        .collect(),
                ),
            ),
            ("name", s(n.name.clone())),
            (
                "protocols",
                Json::Arr(n.protocols.iter().map(|p| s(p.as_str().into())).collect()),
            ),
            (
                "source_addresses",
                Json::strs(&crate::policy::texts_of(
                    &n.source_addresses,
                    &n.written.source_addresses,
                )),
            ),
            ("source_ip_groups", Json::strs(&n.source_ip_groups)),
        ]),
        // fwlog never adds NAT rules.
        Rule::Nat(_) => Json::Null,
    }
}

fn collection_json(
    shape: Shape,
    c: &crate::recommend::model::CollectionChange,
    rules: &[&Rule],
) -> Json {
    let rules = Json::Arr(rules.iter().map(|r| rule_json(shape, r)).collect());
    let name = Json::Str(if shape == Shape::ArmTemplate {
        crate::render::escape::arm_literal(&c.name)
    } else {
        c.name.clone()
    });
    if shape == Shape::Terraform {
        return Json::obj(vec![
            ("action", Json::Str(whole::action(c.action).into())),
            ("name", name),
            ("priority", Json::Num(c.priority.into())),
            ("rule", rules),
        ]);
    }
    Json::obj(vec![
        (
            "ruleCollectionType",
            Json::Str(whole::collection_type(c).into()),
        ),
        ("name", name),
        ("priority", Json::Num(c.priority.into())),
        (
            "action",
            Json::obj(vec![("type", Json::Str(whole::action(c.action).into()))]),
        ),
        ("rules", rules),
    ])
}

/// A group the policy does not have yet, in the export's shape.
fn new_group(shape: Shape, g: &crate::recommend::model::GroupChange, _r: &Recommendation) -> Json {
    let cols = |kind: Option<RuleKind>| -> Json {
        Json::Arr(
            g.collections
                .iter()
                .filter(|c| kind.is_none_or(|k| c.kind == k))
                .map(|c| {
                    let rules: Vec<&Rule> = c.rules.iter().map(|p| &p.rule).collect();
                    collection_json(shape, c, &rules)
                })
                .collect(),
        )
    };
    match shape {
        Shape::ArmTemplate => Json::obj(vec![
            (
                "type",
                Json::Str("Microsoft.Network/firewallPolicies/ruleCollectionGroups".into()),
            ),
            (
                "apiVersion",
                Json::Str(super::recommend::API_VERSION.into()),
            ),
            (
                "name",
                Json::Str(crate::render::escape::arm_literal(&format!(
                    "{}/{}",
                    g.policy, g.name
                ))),
            ),
            (
                "properties",
                Json::obj(vec![
                    ("priority", Json::Num(g.priority.into())),
                    ("ruleCollections", cols(None)),
                ]),
            ),
        ]),
        Shape::Terraform => Json::obj(vec![
            (
                "address",
                Json::Str(format!(
                    "azurerm_firewall_policy_rule_collection_group.{}",
                    g.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")
                )),
            ),
            ("mode", Json::Str("managed".into())),
            (
                "type",
                Json::Str("azurerm_firewall_policy_rule_collection_group".into()),
            ),
            (
                "name",
                Json::Str(g.name.replace(|c: char| !c.is_ascii_alphanumeric(), "_")),
            ),
            (
                "provider_name",
                Json::Str("registry.terraform.io/hashicorp/azurerm".into()),
            ),
            ("schema_version", Json::Num(0.into())),
            (
                "values",
                Json::obj(vec![
                    (
                        "application_rule_collection",
                        cols(Some(RuleKind::Application)),
                    ),
                    ("firewall_policy_id", Json::Null),
                    ("name", Json::Str(g.name.clone())),
                    ("nat_rule_collection", cols(Some(RuleKind::Nat))),
                    ("network_rule_collection", cols(Some(RuleKind::Network))),
                    ("priority", Json::Num(g.priority.into())),
                ]),
            ),
            ("sensitive_values", Json::Obj(Vec::new())),
        ]),
        Shape::Rest => Json::obj(vec![
            ("name", Json::Str(g.name.clone())),
            ("priority", Json::Num(g.priority.into())),
            ("ruleCollections", cols(None)),
            (
                "type",
                Json::Str("Microsoft.Network/FirewallPolicies/RuleCollectionGroups".into()),
            ),
        ]),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn order_and_numbers_survive_a_round_trip() {
        let text = r#"{"z": 1, "a": [true, null, 1.5, -2], "m": {"y": "x", "b": "c"}}"#;
        let v: Json = serde_json::from_str(text).unwrap();
        assert_eq!(
            serde_json::to_string(&v).unwrap(),
            r#"{"z":1,"a":[true,null,1.5,-2],"m":{"y":"x","b":"c"}}"#
        );
    }

    #[test]
    fn the_diff_shows_only_what_changed() {
        let a = "{\n  \"a\": 1\n}\n";
        let b = "{\n  \"a\": 1,\n  \"b\": 2\n}\n";
        let d = unified(a, b, "x.json");
        assert!(d.starts_with("--- a/x.json\n+++ b/x.json\n@@"), "{d}");
        assert!(
            d.contains("-  \"a\": 1\n+  \"a\": 1,\n+  \"b\": 2\n"),
            "{d}"
        );
        assert_eq!(unified(a, a, "x.json"), "");
    }
}

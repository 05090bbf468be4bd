//! Reading policy exports, told apart by content (like log inputs), and assembling them into one [`Policy`].
//!
//! | content | export |
//! |---|---|
//! | `$schema` …`deploymentTemplate`…, or `resources` + `contentVersion` | ARM template (portal "Export template", `az group export`, `az bicep build`) |
//! | `$schema` …`deploymentParameters`… | its parameters file (values for parameters without a default) |
//! | `format_version` + `values` / `planned_values` | `terraform show -json` (state or plan) |
//! | `values[].properties.addressPrefixes` | Service Tags download or `az network list-service-tags` |
//! | an object, an array of objects, or `{"value": [...]}` (REST list) of: | |
//! | · `ruleCollections` (or `type` …`/ruleCollectionGroups`) | `az network firewall policy rule-collection-group list` / `show` |
//! | · `type` `Microsoft.Network/firewallPolicies` | `az network firewall policy show` |
//! | · `applicationRuleCollections` / `networkRuleCollections` / `natRuleCollections` | `az network firewall show` (classic rules) |
//! | · `ipAddresses` (or `type` …`/ipGroups`) | `az network ip-group list` / `show` |
//!
//! Any number of files may be given: a policy's groups, its base policy's, IP Groups and service tags. The policy
//! evaluated is the one no other given policy names as its base (the child); its base chain is attached from the
//! other files. A malformed or unsupported file is a user error naming the file and the JSON path.

use std::collections::BTreeMap;
use std::path::PathBuf;

use anyhow::Result;
use serde_json::Value;

use super::arm::{self, PolicyHead, TemplateParts};
use super::json::{J, PathError, Res};
use super::model::*;
use super::rest;
use super::terraform;
use crate::error::user;

/// A loaded policy with the IP Groups and service tags given alongside it.
#[derive(Debug, Clone, PartialEq)]
pub struct PolicyInputs {
    pub policy: Policy,
    pub ip_groups: IpGroups,
    pub service_tags: Option<ServiceTags>,
}

/// Read policy exports, IP Group lists and service tag files (any mix, detected by content) and assemble the
/// policy to evaluate. See [`load_named`] when the files hold several unrelated policies.
pub fn load(paths: &[PathBuf]) -> Result<PolicyInputs> {
    load_named(paths, None)
}

/// Like [`load`], evaluating the policy (or classic firewall) called `name`.
pub fn load_named(paths: &[PathBuf], name: Option<&str>) -> Result<PolicyInputs> {
    let mut texts = Vec::with_capacity(paths.len());
    for p in paths {
        let shown = p.display().to_string();
        let text =
            std::fs::read_to_string(p).map_err(|e| user(format!("{shown}: cannot read: {e}")))?;
        texts.push((shown, text));
    }
    load_texts(&texts, name)
}

/// [`load_named`] on texts already read: `(file name as shown in errors, content)`.
pub fn load_texts(files: &[(String, String)], name: Option<&str>) -> Result<PolicyInputs> {
    let mut parsed = Vec::with_capacity(files.len());
    for (file, text) in files {
        let v: Value =
            serde_json::from_str(text).map_err(|e| user(format!("{file}: not valid JSON: {e}")))?;
        parsed.push((file.as_str(), v));
    }
    let at = |file: &str, e: PathError| user(format!("{file}: {}: {}", e.path, e.msg));

    // Parameters files first: a template given with one reads its values from it.
    let mut overrides: BTreeMap<String, (Value, &str)> = BTreeMap::new();
    for (file, v) in &parsed {
        let j = J::root(v);
        if arm::is_parameters_file(&j) {
            for (k, val) in arm::parameters_file(&j).map_err(|e| at(file, e))? {
                if let Some((old, other)) = overrides.get(&k)
                    && *old != val
                {
                    return Err(user(format!(
                        "{file}: parameter {k:?} has a different value in {other}; give one parameters file per template"
                    )));
                }
                overrides.insert(k, (val, file));
            }
        }
    }
    let overrides: BTreeMap<String, Value> =
        overrides.into_iter().map(|(k, (v, _))| (k, v)).collect();

    let mut set = Assembly::default();
    for (file, v) in &parsed {
        let j = J::root(v);
        if arm::is_parameters_file(&j) {
            continue;
        }
        let before = set.contributions();
        read_one(&j, file, &overrides, &mut set).map_err(|e| at(file, e))?;
        // An empty list is a real export (a resource group without IP Groups, a policy without groups).
        let empty_list = match v {
            Value::Array(a) => a.is_empty(),
            Value::Object(_) => j
                .get("value")
                .is_some_and(|x| x.v.as_array().is_some_and(Vec::is_empty)),
            _ => false,
        };
        if set.contributions() == before && !empty_list {
            return Err(user(format!(
                "{file}: holds no firewall policy, rule collection group, classic firewall rules, IP Group or service tag"
            )));
        }
    }
    set.finish(name)
}

#[derive(Default)]
struct Assembly {
    /// Keyed by lower-case policy name.
    policies: BTreeMap<String, Parts>,
    /// Classic firewalls: lower-case name → (name, group, files).
    classic: BTreeMap<String, (String, RuleCollectionGroup, Vec<String>)>,
    ip_groups: IpGroups,
    service_tags: Option<ServiceTags>,
    count: usize,
}

#[derive(Default)]
struct Parts {
    name: String,
    head: Option<(PolicyHead, String)>,
    groups: Vec<(RuleCollectionGroup, String)>,
    origin: Vec<String>,
}

impl Assembly {
    fn contributions(&self) -> usize {
        self.count
    }

    fn parts(&mut self, name: &str, file: &str) -> &mut Parts {
        let p = self.policies.entry(name.to_ascii_lowercase()).or_default();
        if p.name.is_empty() {
            p.name = name.to_string();
        }
        if !p.origin.iter().any(|o| o == file) {
            p.origin.push(file.to_string());
        }
        p
    }

    fn add_head(&mut self, head: PolicyHead, file: &str, path: &str) -> Res<()> {
        self.count += 1;
        let p = self.parts(&head.name.clone(), file);
        if let Some((old, other)) = &p.head {
            let same = old.base == head.base
                && (old.dns_proxy == head.dns_proxy
                    || old.dns_proxy.is_none()
                    || head.dns_proxy.is_none());
            if !same {
                return Err(PathError {
                    path: path.to_string(),
                    msg: format!(
                        "policy {} is also given in {other} with another base policy or DNS proxy setting",
                        head.name
                    ),
                });
            }
            let merged = PolicyHead {
                dns_proxy: old.dns_proxy.or(head.dns_proxy),
                id: old.id.clone().or(head.id.clone()),
                listed_groups: if old.listed_groups.is_empty() {
                    head.listed_groups.clone()
                } else {
                    old.listed_groups.clone()
                },
                ..head
            };
            let other = other.clone();
            p.head = Some((merged, other));
        } else {
            p.head = Some((head, file.to_string()));
        }
        Ok(())
    }

    fn add_group(
        &mut self,
        policy: &str,
        g: RuleCollectionGroup,
        file: &str,
        path: &str,
    ) -> Res<()> {
        self.count += 1;
        let p = self.parts(policy, file);
        if let Some((old, other)) = p
            .groups
            .iter()
            .find(|(o, _)| o.name.eq_ignore_ascii_case(&g.name))
        {
            if *old == g {
                return Ok(());
            }
            return Err(PathError {
                path: path.to_string(),
                msg: format!(
                    "rule collection group {} of policy {policy} is also given in {other} with other rules; give each group once",
                    g.name
                ),
            });
        }
        p.groups.push((g, file.to_string()));
        Ok(())
    }

    fn add_parts(&mut self, parts: TemplateParts, file: &str, path: &str) -> Res<()> {
        for h in parts.policies {
            self.add_head(h, file, path)?;
        }
        for (p, g) in parts.groups {
            self.add_group(&p, g, file, path)?;
        }
        for g in parts.ip_groups {
            self.count += 1;
            self.ip_groups.add(g);
        }
        for (name, g) in parts.classic {
            self.count += 1;
            self.classic
                .insert(name.to_ascii_lowercase(), (name, g, vec![file.to_string()]));
        }
        Ok(())
    }

    fn finish(self, wanted: Option<&str>) -> Result<PolicyInputs> {
        let Assembly {
            policies,
            classic,
            ip_groups,
            service_tags,
            ..
        } = self;
        // Every group a policy export lists must have been given, or explanations would be wrong.
        for p in policies.values() {
            if let Some((head, file)) = &p.head {
                for listed in &head.listed_groups {
                    if !p
                        .groups
                        .iter()
                        .any(|(g, _)| g.name.eq_ignore_ascii_case(listed))
                    {
                        return Err(user(format!(
                            "{file}: policy {} has rule collection group {listed}, but no file given holds its rules: \
                             add the output of `az network firewall policy rule-collection-group list --policy-name {} -g <resource group>`",
                            p.name, p.name
                        )));
                    }
                }
            }
        }
        let bases: Vec<String> = policies
            .values()
            .filter_map(|p| p.head.as_ref().and_then(|(h, _)| h.base.clone()))
            .map(|b| b.to_ascii_lowercase())
            .collect();
        let mut names: Vec<String> = policies.values().map(|p| p.name.clone()).collect();
        names.extend(classic.values().map(|(n, _, _)| n.clone()));
        let chosen: String = match wanted {
            Some(w) => {
                let lw = w.to_ascii_lowercase();
                if policies.contains_key(&lw) || classic.contains_key(&lw) {
                    lw
                } else {
                    return Err(user(format!(
                        "no policy or firewall named {w:?} in the files given (found: {})",
                        if names.is_empty() {
                            "none".to_string()
                        } else {
                            names.join(", ")
                        }
                    )));
                }
            }
            None => {
                let mut leaves: Vec<String> = policies
                    .keys()
                    .filter(|k| !bases.contains(k))
                    .cloned()
                    .collect();
                leaves.extend(classic.keys().cloned());
                match leaves.len() {
                    1 => leaves.remove(0),
                    0 if names.is_empty() => {
                        return Err(user(
                            "the files given hold no firewall policy and no classic firewall rules \
                             (IP Groups and service tags alone cannot be evaluated)",
                        ));
                    }
                    0 => {
                        return Err(user(format!(
                            "the policies given name each other as base policy in a cycle ({})",
                            names.join(", ")
                        )));
                    }
                    _ => {
                        let shown: Vec<String> = leaves
                            .iter()
                            .map(|l| {
                                policies
                                    .get(l)
                                    .map(|p| p.name.clone())
                                    .or_else(|| classic.get(l).map(|c| c.0.clone()))
                                    .unwrap_or_default()
                            })
                            .collect();
                        return Err(user(format!(
                            "the files given hold {} unrelated policies or firewalls ({}): name the one to evaluate",
                            shown.len(),
                            shown.join(", ")
                        )));
                    }
                }
            }
        };
        let policy = match classic.get(&chosen) {
            Some((name, group, origin)) if !policies.contains_key(&chosen) => Policy {
                name: name.clone(),
                kind: PolicyKind::Classic,
                origin: origin.clone(),
                base: None,
                missing_base: None,
                dns_proxy: None,
                groups: vec![group.clone()],
            },
            _ => build(&policies, &chosen, &mut Vec::new())?,
        };
        Ok(PolicyInputs {
            policy,
            ip_groups,
            service_tags,
        })
    }
}

fn build(policies: &BTreeMap<String, Parts>, key: &str, seen: &mut Vec<String>) -> Result<Policy> {
    if seen.iter().any(|s| s == key) {
        seen.push(key.to_string());
        return Err(user(format!(
            "the policies given name each other as base policy in a cycle ({})",
            seen.join(" → ")
        )));
    }
    seen.push(key.to_string());
    let p = &policies[key];
    let head = p.head.as_ref().map(|(h, _)| h);
    let mut groups: Vec<RuleCollectionGroup> = p.groups.iter().map(|(g, _)| g.clone()).collect();
    groups.sort_by(|a, b| {
        a.priority
            .cmp(&b.priority)
            .then_with(|| a.name.cmp(&b.name))
    });
    let (base, missing_base) = match head.and_then(|h| h.base.as_deref()) {
        Some(b) if policies.contains_key(&b.to_ascii_lowercase()) => (
            Some(Box::new(build(policies, &b.to_ascii_lowercase(), seen)?)),
            None,
        ),
        Some(b) => (None, Some(b.to_string())),
        None => (None, None),
    };
    Ok(Policy {
        name: p.name.clone(),
        kind: PolicyKind::FirewallPolicy,
        origin: p.origin.clone(),
        base,
        missing_base,
        dns_proxy: head.and_then(|h| h.dns_proxy),
        groups,
    })
}

fn is_service_tags(j: &J<'_>) -> bool {
    j.get("values")
        .and_then(|v| v.v.as_array().cloned())
        .is_some_and(|a| {
            a.iter().any(|item| {
                item.get("properties")
                    .and_then(|p| p.get("addressPrefixes"))
                    .is_some()
            })
        })
}

fn read_one(
    j: &J<'_>,
    file: &str,
    overrides: &BTreeMap<String, Value>,
    set: &mut Assembly,
) -> Res<()> {
    if arm::is_template(j) {
        let parts = arm::template(j, overrides)?;
        return set.add_parts(parts, file, &j.path);
    }
    if terraform::is_terraform(j) {
        let parts = terraform::terraform(j)?;
        return set.add_parts(parts, file, &j.path);
    }
    if is_service_tags(j) {
        let tags = rest::service_tags(j, file)?;
        set.count += 1;
        match &mut set.service_tags {
            Some(existing) => {
                for (k, v) in tags.tags {
                    existing.tags.entry(k).or_insert(v);
                }
            }
            None => set.service_tags = Some(tags),
        }
        return Ok(());
    }
    let items = match j.v {
        Value::Array(_) => j.items()?,
        Value::Object(_) if j.get("value").is_some_and(|v| v.v.is_array()) => {
            j.req("value")?.items()?
        }
        Value::Object(_) => vec![j.clone()],
        _ => {
            return j.err(
                "expected a JSON object or array: an ARM template, `terraform show -json`, az CLI output or a service tags file",
            );
        }
    };
    let mut saw_ip_group_list = false;
    for item in items {
        read_item(&item, file, set, &mut saw_ip_group_list)?;
    }
    if saw_ip_group_list {
        set.ip_groups.mark_given();
    }
    Ok(())
}

fn type_is(j: &J<'_>, suffix: &str) -> bool {
    j.get("type")
        .and_then(|t| t.v.as_str())
        .is_some_and(|t| t.to_ascii_lowercase().ends_with(suffix))
}

/// `…/firewallPolicies/<name>/…` of a resource id.
fn policy_of(id: &str) -> Option<&str> {
    let parts: Vec<&str> = id.split('/').collect();
    let i = parts
        .iter()
        .position(|p| p.eq_ignore_ascii_case("firewallPolicies"))?;
    parts.get(i + 1).copied().filter(|s| !s.is_empty())
}

fn read_item(j: &J<'_>, file: &str, set: &mut Assembly, ip_list: &mut bool) -> Res<()> {
    if !j.v.is_object() {
        return j.err("expected an object (a policy, rule collection group, firewall or IP Group)");
    }
    let p = j.props();
    if type_is(j, "/rulecollectiongroups") || p.has("ruleCollections") {
        let id = j.opt_str("id")?;
        let Some(policy) = id.and_then(policy_of) else {
            return j.err(
                "this rule collection group has no id naming its policy (…/firewallPolicies/<name>/ruleCollectionGroups/…): \
                 use the unmodified output of `az network firewall policy rule-collection-group list`",
            );
        };
        let policy = policy.to_string();
        let g = rest::group(j, None)?;
        return set.add_group(&policy, g, file, &j.path);
    }
    if type_is(j, "/firewallpolicies") {
        let name = j.req_str("name")?.to_string();
        let base = match p.get("basePolicy") {
            Some(b) => b.opt_str("id")?.map(|id| resource_name(id).to_string()),
            None => None,
        };
        let dns_proxy = match p.get("dnsSettings") {
            Some(d) => Some(d.bool_or("enableProxy", false)?),
            None => Some(false),
        };
        let mut listed = Vec::new();
        for g in p.list("ruleCollectionGroups")? {
            if let Some(id) = g.opt_str("id")? {
                listed.push(resource_name(id).to_string());
            }
        }
        let head = PolicyHead {
            name,
            id: j.opt_str("id")?.map(str::to_string),
            base,
            dns_proxy,
            listed_groups: listed,
        };
        return set.add_head(head, file, &j.path);
    }
    if type_is(j, "/azurefirewalls") || rest::has_classic_rules(j) {
        let name = j.req_str("name")?.to_string();
        if !rest::has_classic_rules(j) {
            if let Some(fp) = p.get("firewallPolicy").and_then(|f| f.get("id")) {
                let policy = resource_name(fp.str()?).to_string();
                return fp.err(format!(
                    "firewall {name} uses firewall policy {policy}, not classic rules: give the policy's export \
                     (`az network firewall policy rule-collection-group list --policy-name {policy} -g <resource group>`)"
                ));
            }
        }
        let g = rest::classic_group(j)?;
        set.count += 1;
        set.classic
            .insert(name.to_ascii_lowercase(), (name, g, vec![file.to_string()]));
        return Ok(());
    }
    if type_is(j, "/ipgroups") || p.has("ipAddresses") {
        *ip_list = true;
        let g = rest::ip_group(j, None)?;
        set.count += 1;
        set.ip_groups.add(g);
        return Ok(());
    }
    j.err(
        "not a firewall policy, rule collection group, classic firewall or IP Group \
         (see docs/policy.md for the exports fwlog reads)",
    )
}

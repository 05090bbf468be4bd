//! Where each rule collection group sits in an export file, for `recommend --against`: the user's own file,
//! updated with the new rules, is shown as a diff. The groups are found exactly as [`super::load`] reads them
//! (ARM template expressions evaluated, Terraform modules walked, az CLI lists and REST `value` lists), and each
//! is located by its JSON path.

use serde_json::Value;

use super::arm;
use super::json::{J, PathError, Res};
use super::model::resource_name;
use super::terraform;
use crate::error::user;

/// One step of a JSON path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Step {
    Key(String),
    Index(usize),
}

/// The export's shape: which property names and nesting new rules take.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// An ARM template: REST names under `properties`, strings that start with `[` escaped.
    ArmTemplate,
    /// `terraform show -json`: azurerm attribute names, blocks as arrays.
    Terraform,
    /// az CLI output or a REST response: REST names, flattened (az) or under `properties` (REST).
    Rest,
}

/// A rule collection group in the file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Site {
    pub policy: String,
    pub group: String,
    /// The group's object: the template resource, the Terraform resource's `values`, the az/REST item.
    pub path: Vec<Step>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sites {
    pub shape: Shape,
    pub groups: Vec<Site>,
    /// The array a new group is appended to (template `resources`, Terraform root module `resources`, the list),
    /// when the file has one.
    pub container: Option<Vec<Step>>,
}

/// Parse a path as [`J`] writes it: `$`, then `.key`, `["key"]` or `[index]` steps.
pub(crate) fn parse_path(p: &str) -> Option<Vec<Step>> {
    let b = p.as_bytes();
    if b.first() != Some(&b'$') {
        return None;
    }
    let mut i = 1;
    let mut out = Vec::new();
    while i < b.len() {
        match b[i] {
            b'.' => {
                let start = i + 1;
                let mut j = start;
                while j < b.len() && b[j] != b'.' && b[j] != b'[' {
                    j += 1;
                }
                out.push(Step::Key(p[start..j].to_string()));
                i = j;
            }
            b'[' if b.get(i + 1) == Some(&b'"') => {
                // A JSON string up to its closing quote, then `]`.
                let mut de = serde_json::Deserializer::from_str(&p[i + 1..]).into_iter::<String>();
                let key = de.next()?.ok()?;
                let used = de.byte_offset();
                out.push(Step::Key(key));
                i = i + 1 + used;
                if b.get(i) != Some(&b']') {
                    return None;
                }
                i += 1;
            }
            b'[' => {
                let end = p[i..].find(']')? + i;
                out.push(Step::Index(p[i + 1..end].parse().ok()?));
                i = end + 1;
            }
            _ => return None,
        }
    }
    Some(out)
}

fn path_of(j: &str) -> Res<Vec<Step>> {
    parse_path(j).ok_or_else(|| PathError {
        path: j.to_string(),
        msg: "fwlog cannot follow this JSON path".into(),
    })
}

/// The groups of an export and where they are. A file fwlog cannot read as a policy export is a user error naming
/// the file and the JSON path, as with `--policy`.
pub fn sites(file: &str, text: &str) -> anyhow::Result<Sites> {
    let v: Value =
        serde_json::from_str(text).map_err(|e| user(format!("{file}: not valid JSON: {e}")))?;
    let at = |e: PathError| user(format!("{file}: {}: {}", e.path, e.msg));
    find(&J::root(&v)).map_err(at)
}

fn find(j: &J<'_>) -> Res<Sites> {
    if arm::is_template(j) {
        let parts = arm::template(j, &Default::default())?;
        let groups = parts
            .groups
            .iter()
            .zip(&parts.group_paths)
            .map(|((policy, g), p)| {
                Ok(Site {
                    policy: policy.clone(),
                    group: g.name.clone(),
                    path: path_of(p)?,
                })
            })
            .collect::<Res<Vec<_>>>()?;
        let container = j
            .get("resources")
            .filter(|r| r.v.is_array())
            .map(|r| path_of(&r.path))
            .transpose()?;
        return Ok(Sites {
            shape: Shape::ArmTemplate,
            groups,
            container,
        });
    }
    if terraform::is_terraform(j) {
        let parts = terraform::terraform(j)?;
        let groups = parts
            .groups
            .iter()
            .zip(&parts.group_paths)
            .map(|((policy, g), p)| {
                Ok(Site {
                    policy: policy.clone(),
                    group: g.name.clone(),
                    path: path_of(p)?,
                })
            })
            .collect::<Res<Vec<_>>>()?;
        let top = match j.get("planned_values") {
            Some(p) => p,
            None => j.req("values")?,
        };
        let container = top
            .get("root_module")
            .and_then(|m| m.get("resources"))
            .filter(|r| r.v.is_array())
            .map(|r| path_of(&r.path))
            .transpose()?;
        return Ok(Sites {
            shape: Shape::Terraform,
            groups,
            container,
        });
    }
    let (items, container) = match j.v {
        Value::Array(_) => (j.items()?, Some(Vec::new())),
        Value::Object(_) if j.get("value").is_some_and(|v| v.v.is_array()) => {
            let list = j.req("value")?;
            (list.items()?, Some(path_of(&list.path)?))
        }
        Value::Object(_) => (vec![j.clone()], None),
        _ => return j.err("expected a JSON object or array"),
    };
    let mut groups = Vec::new();
    for item in items {
        let p = item.props();
        let is_group = item
            .get("type")
            .and_then(|t| t.v.as_str())
            .is_some_and(|t| t.to_ascii_lowercase().ends_with("/rulecollectiongroups"))
            || p.has("ruleCollections");
        if !is_group {
            continue;
        }
        let id = item.opt_str("id")?.unwrap_or_default();
        let parts: Vec<&str> = id.split('/').collect();
        let policy = parts
            .iter()
            .position(|s| s.eq_ignore_ascii_case("firewallPolicies"))
            .and_then(|i| parts.get(i + 1))
            .map(|s| s.to_string())
            .unwrap_or_default();
        groups.push(Site {
            policy,
            group: resource_name(item.req_str("name")?).to_string(),
            path: path_of(&item.path)?,
        });
    }
    Ok(Sites {
        shape: Shape::Rest,
        groups,
        container,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_parse_back_into_steps() {
        assert_eq!(
            parse_path("$.resources[3].properties").unwrap(),
            vec![
                Step::Key("resources".into()),
                Step::Index(3),
                Step::Key("properties".into())
            ]
        );
        assert_eq!(
            parse_path("$.resources[\"odd key]\"][0]").unwrap(),
            vec![
                Step::Key("resources".into()),
                Step::Key("odd key]".into()),
                Step::Index(0)
            ]
        );
        assert_eq!(parse_path("$").unwrap(), Vec::<Step>::new());
        assert_eq!(parse_path("x"), None);
    }

    #[test]
    fn groups_are_found_in_every_export_shape() {
        let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/policy");
        for (f, shape, first) in [
            ("arm-template.json", Shape::ArmTemplate, "resources"),
            ("terraform-state.json", Shape::Terraform, "values"),
            ("az-rcg-list.json", Shape::Rest, ""),
        ] {
            let text = std::fs::read_to_string(root.join(f)).unwrap();
            let s = sites(f, &text).unwrap();
            assert_eq!(s.shape, shape, "{f}");
            assert!(
                s.groups.iter().any(|g| g.group == "aks-egress"),
                "{f}: {:?}",
                s.groups
            );
            let p = &s.groups[0].path;
            match first {
                "" => assert!(matches!(p[0], Step::Index(_)), "{f}"),
                k => assert_eq!(p[0], Step::Key(k.into()), "{f}"),
            }
            assert!(s.container.is_some(), "{f}");
        }
    }
}

//! ARM templates: the portal's "Export template" of a firewall policy, `az group export`, and Bicep compiled with
//! `az bicep build`.
//!
//! Exports name child resources with template expressions, e.g.
//! `"[concat(parameters('firewallPolicies_fwpol_hub_name'), '/DefaultApplicationRuleCollectionGroup')]"`, and refer
//! to IP Groups with `"[resourceId('Microsoft.Network/ipGroups', parameters('ipGroups_x_name'))]"`. fwlog evaluates
//! the small part of the template expression language such exports use
//! (<https://learn.microsoft.com/azure/azure-resource-manager/templates/template-expressions>):
//! `parameters` (the `defaultValue`, or the value from a deployment parameters file given alongside), `variables`,
//! `concat`, `format`, `resourceId`, `toLower`, `toUpper`, `string`, `replace`, `createArray`, `if`, `equals`,
//! `true`, `false`, and `.property` / `[index]` access. Anything else (`reference`, `resourceGroup()`,
//! `uniqueString`, copy loops) depends on a deployment and is reported as unsupported, with the JSON path, rather than
//! guessed. Only the values fwlog reads are evaluated, so `location: "[resourceGroup().location]"` is harmless.
//!
//! Templates list resources as an array, or (Bicep `languageVersion` 2.0) as an object keyed by symbolic name.

use std::collections::BTreeMap;

use serde_json::{Map, Value};

use super::json::{J, PathError, Res, kind, show};
use super::model::{IpGroup, RuleCollectionGroup, resource_name};
use super::rest;

/// What one template contributes.
#[derive(Debug, Default)]
pub(crate) struct TemplateParts {
    pub policies: Vec<PolicyHead>,
    pub groups: Vec<(String, RuleCollectionGroup)>,
    /// The JSON path of each group's resource (its object in a template, its `values` in Terraform), in the order
    /// of `groups`: where `recommend --against` inserts rules.
    pub group_paths: Vec<String>,
    pub ip_groups: Vec<IpGroup>,
    /// Classic rules: firewall name and its one group.
    pub classic: Vec<(String, RuleCollectionGroup)>,
}

/// The policy-level settings fwlog uses.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct PolicyHead {
    pub name: String,
    pub id: Option<String>,
    pub base: Option<String>,
    pub dns_proxy: Option<bool>,
    /// Group names the export says the policy has (az `policy show` lists their ids), to check all were given.
    pub listed_groups: Vec<String>,
}

pub(crate) fn is_template(j: &J<'_>) -> bool {
    let schema = j
        .get("$schema")
        .and_then(|s| s.v.as_str())
        .unwrap_or_default()
        .to_ascii_lowercase();
    schema.contains("deploymenttemplate")
        || (j.has("resources") && j.has("contentVersion") && !schema.contains("parameters"))
}

pub(crate) fn is_parameters_file(j: &J<'_>) -> bool {
    j.get("$schema")
        .and_then(|s| s.v.as_str())
        .is_some_and(|s| s.to_ascii_lowercase().contains("deploymentparameters"))
}

/// Values of a deployment parameters file (`parameters.<name>.value`).
pub(crate) fn parameters_file(j: &J<'_>) -> Res<BTreeMap<String, Value>> {
    let mut out = BTreeMap::new();
    if let Some(p) = j.get("parameters") {
        let Some(obj) = p.v.as_object() else {
            return p.err(format!("expected an object, found {}", kind(p.v)));
        };
        for k in obj.keys() {
            let entry = p.req(k)?;
            match entry.get("value") {
                Some(v) => {
                    out.insert(k.to_ascii_lowercase(), v.v.clone());
                }
                None if entry.has("reference") => {
                    return entry.req("reference")?.err(
                        "Key Vault parameter references cannot be read offline; put the value in the file",
                    );
                }
                None => return entry.err("expected an object with a value"),
            }
        }
    }
    Ok(out)
}

struct Ctx<'a> {
    params: Option<&'a Map<String, Value>>,
    params_path: String,
    vars: Option<&'a Map<String, Value>>,
    vars_path: String,
    overrides: &'a BTreeMap<String, Value>,
    depth: u32,
}

pub(crate) fn template(j: &J<'_>, overrides: &BTreeMap<String, Value>) -> Res<TemplateParts> {
    let params = j.get("parameters");
    let vars = j.get("variables");
    let mut cx = Ctx {
        params: params.as_ref().and_then(|p| p.v.as_object()),
        params_path: params.as_ref().map(|p| p.path.clone()).unwrap_or_default(),
        vars: vars.as_ref().and_then(|p| p.v.as_object()),
        vars_path: vars.as_ref().map(|p| p.path.clone()).unwrap_or_default(),
        overrides,
        depth: 0,
    };
    let resources = j.req("resources")?;
    let list: Vec<J<'_>> = match resources.v {
        Value::Array(_) => resources.items()?,
        Value::Object(o) => o
            .keys()
            .map(|k| resources.req(k))
            .collect::<Res<Vec<_>>>()?,
        other => {
            return resources.err(format!(
                "expected an array or object, found {}",
                kind(other)
            ));
        }
    };
    let mut out = TemplateParts::default();
    for r in list {
        resource(&r, None, &mut cx, &mut out)?;
    }
    Ok(out)
}

/// The type of a resource; for a nested child, the parent's type joined with the child's short type.
fn full_type(t: &str, parent: Option<&(String, String)>) -> String {
    match parent {
        Some((pt, _)) if !t.contains('/') => format!("{pt}/{t}"),
        _ => t.to_string(),
    }
}

fn resource(
    r: &J<'_>,
    parent: Option<&(String, String)>,
    cx: &mut Ctx<'_>,
    out: &mut TemplateParts,
) -> Res<()> {
    let t = eval_str(&r.req("type")?, cx)?;
    let ty = full_type(&t, parent).to_ascii_lowercase();
    let relevant = [
        "microsoft.network/firewallpolicies",
        "microsoft.network/firewallpolicies/rulecollectiongroups",
        "microsoft.network/ipgroups",
        "microsoft.network/azurefirewalls",
    ];
    if !relevant.contains(&ty.as_str()) {
        return Ok(());
    }
    if let Some(c) = r.get("copy") {
        return c.err(
            "ARM copy loops are not supported offline: export the deployed policy with `az network firewall policy rule-collection-group list` instead",
        );
    }
    if let Some(c) = r.get("condition") {
        let v = eval(&c, cx)?;
        match v {
            Value::Bool(false) => return Ok(()),
            Value::Bool(true) => {}
            other => {
                return c.err(format!(
                    "expected the condition to be true or false, found {}",
                    show(&other)
                ));
            }
        }
    }
    let name = eval_str(&r.req("name")?, cx)?;
    let props = r.get("properties");
    match ty.as_str() {
        "microsoft.network/firewallpolicies" => {
            let mut head = PolicyHead {
                name: name.clone(),
                dns_proxy: Some(false),
                ..PolicyHead::default()
            };
            if let Some(p) = &props {
                if let Some(b) = p.get("basePolicy") {
                    let v = resolve(&b, cx)?;
                    let id = J::at(&v, b.path.clone()).props();
                    if let Some(id) = id.opt_str("id")? {
                        head.base = Some(resource_name(id).to_string());
                    }
                }
                // A policy deployed without dnsSettings has the DNS proxy off.
                head.dns_proxy = Some(false);
                if let Some(d) = p.get("dnsSettings") {
                    let v = resolve(&d, cx)?;
                    head.dns_proxy = Some(J::at(&v, d.path.clone()).bool_or("enableProxy", false)?);
                }
            }
            out.policies.push(head);
            let me = (t.clone(), name.clone());
            for child in r.list("resources")? {
                resource(&child, Some(&me), cx, out)?;
            }
        }
        "microsoft.network/firewallpolicies/rulecollectiongroups" => {
            let (policy, group) = match (name.split_once('/'), parent) {
                (Some((p, g)), _) => (p.to_string(), g.to_string()),
                (None, Some((_, pname))) => (pname.clone(), name.clone()),
                (None, None) => {
                    return r.req("name")?.err(format!(
                        "expected policy/group, found {name:?}: a top-level rule collection group is named after its policy"
                    ));
                }
            };
            let resolved = resolve_resource(r, cx)?;
            let j = J::at(&resolved, r.path.clone());
            out.groups.push((policy, rest::group(&j, Some(group))?));
            out.group_paths.push(r.path.clone());
        }
        "microsoft.network/ipgroups" => {
            let resolved = resolve_resource(r, cx)?;
            let j = J::at(&resolved, r.path.clone());
            let mut g = rest::ip_group(&j, Some(name.clone()))?;
            g.id = None;
            out.ip_groups.push(g);
        }
        "microsoft.network/azurefirewalls" => {
            let resolved = resolve_resource(r, cx)?;
            let j = J::at(&resolved, r.path.clone());
            if rest::has_classic_rules(&j) {
                out.classic.push((name, rest::classic_group(&j)?));
            }
        }
        _ => {}
    }
    Ok(())
}

/// The resource with its `properties` evaluated (other members are left alone: `location` and `dependsOn`
/// commonly call functions fwlog has no value for).
fn resolve_resource(r: &J<'_>, cx: &mut Ctx<'_>) -> Res<Value> {
    let mut obj = Map::new();
    if let Some(p) = r.get("properties") {
        obj.insert("properties".into(), resolve(&p, cx)?);
    }
    Ok(Value::Object(obj))
}

fn resolve(j: &J<'_>, cx: &mut Ctx<'_>) -> Res<Value> {
    match j.v {
        Value::String(_) => eval(j, cx),
        Value::Array(_) => j
            .items()?
            .iter()
            .map(|i| resolve(i, cx))
            .collect::<Res<Vec<_>>>()
            .map(Value::Array),
        Value::Object(o) => {
            let mut out = Map::new();
            for k in o.keys() {
                let child = J::at(&o[k], format!("{}.{k}", j.path));
                out.insert(k.clone(), resolve(&child, cx)?);
            }
            Ok(Value::Object(out))
        }
        v => Ok(v.clone()),
    }
}

fn eval_str(j: &J<'_>, cx: &mut Ctx<'_>) -> Res<String> {
    match eval(j, cx)? {
        Value::String(s) => Ok(s),
        other => j.err(format!("expected a string, found {}", show(&other))),
    }
}

/// Evaluate a string that may be a template expression (`[...]`); `[[` escapes a literal `[`.
fn eval(j: &J<'_>, cx: &mut Ctx<'_>) -> Res<Value> {
    let Value::String(s) = j.v else {
        return resolve(j, cx);
    };
    let t = s.trim();
    if let Some(lit) = t.strip_prefix("[[") {
        return Ok(Value::String(format!("[{lit}")));
    }
    let Some(inner) = t.strip_prefix('[').and_then(|x| x.strip_suffix(']')) else {
        return Ok(j.v.clone());
    };
    cx.depth += 1;
    if cx.depth > 32 {
        cx.depth -= 1;
        return j.err(
            "template expressions nest too deeply (a parameter or variable refers to itself?)",
        );
    }
    let res = Parser {
        s: inner.as_bytes(),
        i: 0,
    }
    .expr_all()
    .map_err(|m| PathError {
        path: j.path.clone(),
        msg: format!("cannot read the template expression {s:?}: {m}"),
    })
    .and_then(|e| {
        apply(&e, cx).map_err(|m| PathError {
            path: j.path.clone(),
            msg: m,
        })
    });
    cx.depth -= 1;
    res
}

#[derive(Debug, Clone)]
enum Expr {
    Str(String),
    Num(i64),
    Call(String, Vec<Expr>),
    Member(Box<Expr>, String),
    Index(Box<Expr>, Box<Expr>),
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn ws(&mut self) {
        while self.i < self.s.len() && self.s[self.i].is_ascii_whitespace() {
            self.i += 1;
        }
    }

    fn expr_all(mut self) -> Result<Expr, String> {
        let e = self.expr()?;
        self.ws();
        if self.i != self.s.len() {
            return Err(format!("unexpected text at character {}", self.i + 1));
        }
        Ok(e)
    }

    fn expr(&mut self) -> Result<Expr, String> {
        self.ws();
        let mut e = match self.s.get(self.i) {
            Some(b'\'') => {
                self.i += 1;
                let mut out = Vec::new();
                loop {
                    match self.s.get(self.i) {
                        None => return Err("unterminated string".into()),
                        Some(b'\'') if self.s.get(self.i + 1) == Some(&b'\'') => {
                            out.push(b'\'');
                            self.i += 2;
                        }
                        Some(b'\'') => {
                            self.i += 1;
                            break;
                        }
                        Some(c) => {
                            out.push(*c);
                            self.i += 1;
                        }
                    }
                }
                Expr::Str(String::from_utf8_lossy(&out).into_owned())
            }
            Some(c) if c.is_ascii_digit() || *c == b'-' => {
                let start = self.i;
                self.i += 1;
                while self.s.get(self.i).is_some_and(u8::is_ascii_digit) {
                    self.i += 1;
                }
                let t = std::str::from_utf8(&self.s[start..self.i]).unwrap_or_default();
                Expr::Num(t.parse().map_err(|_| format!("bad number {t:?}"))?)
            }
            Some(c) if c.is_ascii_alphabetic() => {
                let name = self.ident();
                self.ws();
                if self.s.get(self.i) != Some(&b'(') {
                    return Err(format!("expected ( after {name}"));
                }
                self.i += 1;
                let mut args = Vec::new();
                self.ws();
                if self.s.get(self.i) == Some(&b')') {
                    self.i += 1;
                } else {
                    loop {
                        args.push(self.expr()?);
                        self.ws();
                        match self.s.get(self.i) {
                            Some(b',') => self.i += 1,
                            Some(b')') => {
                                self.i += 1;
                                break;
                            }
                            _ => return Err(format!("expected , or ) in the arguments of {name}")),
                        }
                    }
                }
                Expr::Call(name, args)
            }
            _ => return Err(format!("unexpected character at {}", self.i + 1)),
        };
        loop {
            self.ws();
            match self.s.get(self.i) {
                Some(b'.') => {
                    self.i += 1;
                    let m = self.ident();
                    if m.is_empty() {
                        return Err("expected a property name after .".into());
                    }
                    e = Expr::Member(Box::new(e), m);
                }
                Some(b'[') => {
                    self.i += 1;
                    let idx = self.expr()?;
                    self.ws();
                    if self.s.get(self.i) != Some(&b']') {
                        return Err("expected ]".into());
                    }
                    self.i += 1;
                    e = Expr::Index(Box::new(e), Box::new(idx));
                }
                _ => return Ok(e),
            }
        }
    }

    fn ident(&mut self) -> String {
        let start = self.i;
        while self
            .s
            .get(self.i)
            .is_some_and(|c| c.is_ascii_alphanumeric() || *c == b'_')
        {
            self.i += 1;
        }
        String::from_utf8_lossy(&self.s[start..self.i]).into_owned()
    }
}

fn text(v: &Value) -> Result<String, String> {
    match v {
        Value::String(s) => Ok(s.clone()),
        Value::Number(n) => Ok(n.to_string()),
        Value::Bool(b) => Ok(b.to_string()),
        other => Err(format!("expected text, found {}", kind(other))),
    }
}

fn apply(e: &Expr, cx: &mut Ctx<'_>) -> Result<Value, String> {
    match e {
        Expr::Str(s) => Ok(Value::String(s.clone())),
        Expr::Num(n) => Ok(Value::from(*n)),
        Expr::Member(inner, m) => {
            let v = apply(inner, cx)?;
            v.as_object()
                .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(m)))
                .map(|(_, v)| v.clone())
                .ok_or_else(|| format!("the value has no property {m:?}"))
        }
        Expr::Index(inner, idx) => {
            let v = apply(inner, cx)?;
            let i = apply(idx, cx)?;
            match (&v, &i) {
                (Value::Array(a), Value::Number(n)) => n
                    .as_u64()
                    .and_then(|n| a.get(n as usize))
                    .cloned()
                    .ok_or_else(|| format!("index {n} is out of range")),
                (Value::Object(o), Value::String(k)) => o
                    .iter()
                    .find(|(kk, _)| kk.eq_ignore_ascii_case(k))
                    .map(|(_, v)| v.clone())
                    .ok_or_else(|| format!("the value has no property {k:?}")),
                _ => Err("cannot index this value".into()),
            }
        }
        Expr::Call(name, args) => {
            let lname = name.to_ascii_lowercase();
            let mut vals = Vec::with_capacity(args.len());
            for a in args {
                vals.push(apply(a, cx)?);
            }
            let arity = |n: usize| {
                if vals.len() == n {
                    Ok(())
                } else {
                    Err(format!("{name}() takes {n} argument(s)"))
                }
            };
            match lname.as_str() {
                "parameters" => {
                    arity(1)?;
                    parameter(&text(&vals[0])?, cx)
                }
                "variables" => {
                    arity(1)?;
                    variable(&text(&vals[0])?, cx)
                }
                "concat" => {
                    if vals.iter().all(Value::is_array) {
                        Ok(Value::Array(
                            vals.into_iter()
                                .flat_map(|v| match v {
                                    Value::Array(a) => a,
                                    _ => Vec::new(),
                                })
                                .collect(),
                        ))
                    } else {
                        let mut s = String::new();
                        for v in &vals {
                            s.push_str(&text(v)?);
                        }
                        Ok(Value::String(s))
                    }
                }
                "format" => {
                    let Some((f, rest)) = vals.split_first() else {
                        return Err("format() needs a format string".into());
                    };
                    let f = text(f)?;
                    let mut out = String::new();
                    let mut chars = f.chars().peekable();
                    while let Some(c) = chars.next() {
                        match c {
                            '{' if chars.peek() == Some(&'{') => {
                                chars.next();
                                out.push('{');
                            }
                            '}' if chars.peek() == Some(&'}') => {
                                chars.next();
                                out.push('}');
                            }
                            '{' => {
                                let mut n = String::new();
                                for d in chars.by_ref() {
                                    if d == '}' {
                                        break;
                                    }
                                    n.push(d);
                                }
                                let i: usize = n.trim().parse().map_err(|_| {
                                    format!("format placeholder {{{n}}} is not supported")
                                })?;
                                out.push_str(&text(
                                    rest.get(i)
                                        .ok_or_else(|| format!("format() has no argument {i}"))?,
                                )?);
                            }
                            c => out.push(c),
                        }
                    }
                    Ok(Value::String(out))
                }
                "resourceid" => {
                    let parts: Vec<String> = vals.iter().map(text).collect::<Result<_, _>>()?;
                    let Some(ti) = parts.iter().position(|p| p.contains('/')) else {
                        return Err(
                            "resourceId() needs a resource type such as Microsoft.Network/ipGroups"
                                .into(),
                        );
                    };
                    let scope: String = match &parts[..ti] {
                        [] => String::new(),
                        [rg] => format!("/resourceGroups/{rg}"),
                        [sub, rg] => format!("/subscriptions/{sub}/resourceGroups/{rg}"),
                        _ => {
                            return Err(
                                "resourceId() has too many arguments before the type".into()
                            );
                        }
                    };
                    let (ns, types) = parts[ti]
                        .split_once('/')
                        .ok_or_else(|| "bad resource type".to_string())?;
                    let types: Vec<&str> = types.split('/').collect();
                    let names = &parts[ti + 1..];
                    if names.len() != types.len() {
                        return Err(format!(
                            "resourceId() for {} needs {} name(s)",
                            parts[ti],
                            types.len()
                        ));
                    }
                    let mut id = format!("{scope}/providers/{ns}");
                    for (t, n) in types.iter().zip(names) {
                        id.push_str(&format!("/{t}/{n}"));
                    }
                    Ok(Value::String(id))
                }
                "tolower" => {
                    arity(1)?;
                    Ok(Value::String(text(&vals[0])?.to_lowercase()))
                }
                "toupper" => {
                    arity(1)?;
                    Ok(Value::String(text(&vals[0])?.to_uppercase()))
                }
                "string" => {
                    arity(1)?;
                    Ok(Value::String(match &vals[0] {
                        Value::String(s) => s.clone(),
                        other => other.to_string(),
                    }))
                }
                "replace" => {
                    arity(3)?;
                    Ok(Value::String(
                        text(&vals[0])?.replace(&text(&vals[1])?, &text(&vals[2])?),
                    ))
                }
                "createarray" => Ok(Value::Array(vals)),
                "true" => Ok(Value::Bool(true)),
                "false" => Ok(Value::Bool(false)),
                "equals" => {
                    arity(2)?;
                    Ok(Value::Bool(vals[0] == vals[1]))
                }
                "if" => {
                    arity(3)?;
                    match vals[0] {
                        Value::Bool(true) => Ok(vals[1].clone()),
                        Value::Bool(false) => Ok(vals[2].clone()),
                        _ => Err("if() needs a boolean condition".into()),
                    }
                }
                _ => {
                    let deployment = [
                        "resourcegroup",
                        "subscription",
                        "tenant",
                        "managementgroup",
                        "deployment",
                        "environment",
                        "reference",
                        "uniquestring",
                        "newguid",
                        "utcnow",
                    ]
                    .contains(&lname.as_str())
                        || lname.starts_with("list");
                    let why = if deployment {
                        "it depends on a deployment".to_string()
                    } else {
                        format!("fwlog evaluates only {SUPPORTED}")
                    };
                    Err(format!(
                        "the template function {name}() is not supported offline ({why}); export the deployed \
                         policy with `az network firewall policy rule-collection-group list` instead"
                    ))
                }
            }
        }
    }
}

const SUPPORTED: &str = "parameters, variables, concat, format, resourceId, toLower, toUpper, string, replace, \
                         createArray, if, equals, true and false";

fn parameter(name: &str, cx: &mut Ctx<'_>) -> Result<Value, String> {
    if let Some(v) = cx.overrides.get(&name.to_ascii_lowercase()) {
        return Ok(v.clone());
    }
    let Some((key, p)) = cx
        .params
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
    else {
        return Err(format!("the template declares no parameter {name:?}"));
    };
    let path = format!("{}.{key}.defaultValue", cx.params_path);
    let Some(d) = p.as_object().and_then(|o| {
        o.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("defaultValue"))
            .map(|(_, v)| v)
    }) else {
        return Err(format!(
            "parameter {name:?} has no defaultValue: give a deployment parameters file with its value too"
        ));
    };
    let j = J::at(d, path);
    resolve(&j, cx).map_err(|e| format!("{}: {}", e.path, e.msg))
}

fn variable(name: &str, cx: &mut Ctx<'_>) -> Result<Value, String> {
    let Some((key, v)) = cx
        .vars
        .and_then(|o| o.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)))
    else {
        return Err(format!("the template declares no variable {name:?}"));
    };
    let j = J::at(v, format!("{}.{key}", cx.vars_path));
    resolve(&j, cx).map_err(|e| format!("{}: {}", e.path, e.msg))
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn run(expr: &str, params: Value, vars: Value) -> Result<Value, PathError> {
        let t = json!({"parameters": params, "variables": vars, "x": expr});
        let root = J::root(&t);
        let overrides = BTreeMap::new();
        let mut cx = Ctx {
            params: t["parameters"].as_object(),
            params_path: "$.parameters".into(),
            vars: t["variables"].as_object(),
            vars_path: "$.variables".into(),
            overrides: &overrides,
            depth: 0,
        };
        eval(&root.req("x").unwrap(), &mut cx)
    }

    #[test]
    fn export_style_names_evaluate() {
        let p = json!({"firewallPolicies_fwpol_hub_name": {"type": "String", "defaultValue": "fwpol-hub"}});
        assert_eq!(
            run(
                "[concat(parameters('firewallPolicies_fwpol_hub_name'), '/DefaultApplicationRuleCollectionGroup')]",
                p.clone(),
                json!({})
            )
            .unwrap(),
            json!("fwpol-hub/DefaultApplicationRuleCollectionGroup")
        );
        assert_eq!(
            run(
                "[format('{0}/{1}', parameters('firewallPolicies_fwpol_hub_name'), 'aks-egress')]",
                p.clone(),
                json!({})
            )
            .unwrap(),
            json!("fwpol-hub/aks-egress")
        );
        assert_eq!(
            run(
                "[resourceId('Microsoft.Network/ipGroups', 'ipg-aks')]",
                json!({}),
                json!({})
            )
            .unwrap(),
            json!("/providers/Microsoft.Network/ipGroups/ipg-aks")
        );
        assert_eq!(
            run(
                "[resourceId('rg-hub', 'Microsoft.Network/firewallPolicies/ruleCollectionGroups', 'p', 'g')]",
                json!({}),
                json!({})
            )
            .unwrap(),
            json!("/resourceGroups/rg-hub/providers/Microsoft.Network/firewallPolicies/p/ruleCollectionGroups/g")
        );
        assert_eq!(
            run("[[literal]", json!({}), json!({})).unwrap(),
            json!("[literal]")
        );
        assert_eq!(run("plain", json!({}), json!({})).unwrap(), json!("plain"));
        assert_eq!(
            run(
                "[variables('nodes')[1]]",
                json!({}),
                json!({"nodes": ["10.240.0.0/24", "[toLower('10.241.0.0/24')]"]})
            )
            .unwrap(),
            json!("10.241.0.0/24")
        );
        assert_eq!(
            run(
                "[if(equals(parameters('n'), 2), 'two', 'other')]",
                json!({"n": {"defaultValue": 2}}),
                json!({})
            )
            .unwrap(),
            json!("two")
        );
        assert_eq!(
            run(
                "[concat(createArray('a'), createArray('b', 'it''s'))]",
                json!({}),
                json!({})
            )
            .unwrap(),
            json!(["a", "b", "it's"])
        );
    }

    #[test]
    fn unsupported_expressions_say_why() {
        let e = run("[resourceGroup().location]", json!({}), json!({})).unwrap_err();
        assert_eq!(e.path, "$.x");
        assert!(
            e.msg
                .starts_with("the template function resourceGroup() is not supported offline"),
            "{}",
            e.msg
        );
        let e = run("[parameters('missing')]", json!({}), json!({})).unwrap_err();
        assert_eq!(e.msg, "the template declares no parameter \"missing\"");
        let e = run(
            "[parameters('p')]",
            json!({"p": {"type": "string"}}),
            json!({}),
        )
        .unwrap_err();
        assert_eq!(
            e.msg,
            "parameter \"p\" has no defaultValue: give a deployment parameters file with its value too"
        );
        let e = run("[concat('a',]", json!({}), json!({})).unwrap_err();
        assert!(
            e.msg.starts_with("cannot read the template expression"),
            "{}",
            e.msg
        );
        let e = run(
            "[variables('a')]",
            json!({}),
            json!({"a": "[variables('a')]"}),
        )
        .unwrap_err();
        assert!(e.msg.contains("nest too deeply"), "{}", e.msg);
    }
}

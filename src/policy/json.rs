//! A JSON value with its path (`$.resources[3].properties.priority`), so every loader error names the exact place.
//!
//! Keys are looked up ASCII case-insensitively: the same schema reaches fwlog as REST JSON (`terminateTLS`), as the
//! az CLI's Python-SDK output (`terminateTls`) and in ARM templates, where property names are case-insensitive.

use serde_json::Value;

use super::addr::Address;
use super::model::{Destination, PortRange};

/// A loader error before the file name is known.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct PathError {
    pub path: String,
    pub msg: String,
}

pub(crate) type Res<T> = Result<T, PathError>;

#[derive(Debug, Clone)]
pub(crate) struct J<'a> {
    pub v: &'a Value,
    pub path: String,
}

fn push_key(path: &str, key: &str) -> String {
    if !key.is_empty()
        && key
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'$')
    {
        format!("{path}.{key}")
    } else {
        format!("{path}[{}]", serde_json::to_string(key).unwrap_or_default())
    }
}

impl<'a> J<'a> {
    pub fn root(v: &'a Value) -> J<'a> {
        J {
            v,
            path: "$".to_string(),
        }
    }

    pub fn at(v: &'a Value, path: String) -> J<'a> {
        J { v, path }
    }

    pub fn err<T>(&self, msg: impl Into<String>) -> Res<T> {
        Err(PathError {
            path: self.path.clone(),
            msg: msg.into(),
        })
    }

    /// The member `key` (case-insensitive); `null` counts as absent.
    pub fn get(&self, key: &str) -> Option<J<'a>> {
        let obj = self.v.as_object()?;
        let (k, v) = match obj.get_key_value(key) {
            Some(kv) => kv,
            None => obj.iter().find(|(k, _)| k.eq_ignore_ascii_case(key))?,
        };
        if v.is_null() {
            return None;
        }
        Some(J {
            v,
            path: push_key(&self.path, k),
        })
    }

    pub fn has(&self, key: &str) -> bool {
        self.get(key).is_some()
    }

    pub fn req(&self, key: &str) -> Res<J<'a>> {
        match self.get(key) {
            Some(j) => Ok(j),
            None => Err(PathError {
                path: push_key(&self.path, key),
                msg: "missing".into(),
            }),
        }
    }

    /// The `properties` object of a REST/ARM resource, or the node itself when the shape is flattened (az CLI).
    pub fn props(&self) -> J<'a> {
        match self.get("properties") {
            Some(p) if p.v.is_object() => p,
            _ => self.clone(),
        }
    }

    pub fn items(&self) -> Res<Vec<J<'a>>> {
        match self.v.as_array() {
            Some(a) => Ok(a
                .iter()
                .enumerate()
                .map(|(i, v)| J {
                    v,
                    path: format!("{}[{i}]", self.path),
                })
                .collect()),
            None => self.err(format!("expected an array, found {}", kind(self.v))),
        }
    }

    /// Items of an optional array member (absent or null = empty).
    pub fn list(&self, key: &str) -> Res<Vec<J<'a>>> {
        match self.get(key) {
            Some(j) => j.items(),
            None => Ok(Vec::new()),
        }
    }

    pub fn str(&self) -> Res<&'a str> {
        match self.v.as_str() {
            Some(s) => Ok(s),
            None => self.err(format!("expected a string, found {}", kind(self.v))),
        }
    }

    pub fn req_str(&self, key: &str) -> Res<&'a str> {
        self.req(key)?.str()
    }

    pub fn opt_str(&self, key: &str) -> Res<Option<&'a str>> {
        self.get(key).map(|j| j.str()).transpose()
    }

    /// An optional string member that may also be written as a number (ports in NAT rules).
    pub fn opt_text(&self, key: &str) -> Res<Option<String>> {
        match self.get(key) {
            None => Ok(None),
            Some(j) => match j.v {
                Value::String(s) if s.trim().is_empty() => Ok(None),
                Value::String(s) => Ok(Some(s.clone())),
                Value::Number(n) => Ok(Some(n.to_string())),
                _ => j.err(format!("expected a string, found {}", kind(j.v))),
            },
        }
    }

    pub fn strings(&self, key: &str) -> Res<Vec<(String, J<'a>)>> {
        self.list(key)?
            .into_iter()
            .map(|j| j.str().map(|s| (s.to_string(), j.clone())))
            .collect()
    }

    /// Strings of an optional array, trimmed, blanks dropped.
    pub fn string_list(&self, key: &str) -> Res<Vec<String>> {
        Ok(self
            .strings(key)?
            .into_iter()
            .map(|(s, _)| s.trim().to_string())
            .filter(|s| !s.is_empty())
            .collect())
    }

    pub fn bool_or(&self, key: &str, default: bool) -> Res<bool> {
        match self.get(key) {
            None => Ok(default),
            Some(j) => match j.v {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s.eq_ignore_ascii_case("true") => Ok(true),
                Value::String(s) if s.eq_ignore_ascii_case("false") => Ok(false),
                _ => j.err(format!("expected true or false, found {}", kind(j.v))),
            },
        }
    }

    /// An integer (number or numeric string) within `lo..=hi`; `what` names it in the error.
    pub fn int_in(&self, lo: i64, hi: i64, what: &str) -> Res<i64> {
        let n = match self.v {
            Value::Number(n) => n.as_i64(),
            Value::String(s) => s.trim().parse::<i64>().ok(),
            _ => None,
        };
        match n {
            Some(n) if (lo..=hi).contains(&n) => Ok(n),
            _ => self.err(format!("expected {what} {lo}-{hi}, found {}", show(self.v))),
        }
    }

    pub fn priority(&self) -> Res<u32> {
        self.int_in(100, 65000, "a priority").map(|n| n as u32)
    }

    pub fn port(&self) -> Res<u16> {
        self.int_in(1, 65535, "a port number").map(|n| n as u16)
    }

    pub fn addresses(&self, key: &str) -> Res<Vec<Address>> {
        self.strings(key)?
            .into_iter()
            .filter(|(s, _)| !s.trim().is_empty())
            .map(|(s, j)| Address::parse(&s).or_else(|e| j.err(e)))
            .collect()
    }

    pub fn destinations(&self, key: &str) -> Res<Vec<Destination>> {
        self.strings(key)?
            .into_iter()
            .filter(|(s, _)| !s.trim().is_empty())
            .map(|(s, j)| Destination::parse(&s).or_else(|e| j.err(e)))
            .collect()
    }

    pub fn ports(&self, key: &str) -> Res<Vec<PortRange>> {
        self.list(key)?
            .into_iter()
            .map(|j| {
                let text = match j.v {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    _ => return j.err(format!("expected a port, found {}", kind(j.v))),
                };
                // Terraform and the az CLI accept comma lists in one string; Azure stores them split.
                text.split(',')
                    .map(|p| PortRange::parse(p).or_else(|e| j.err(e)))
                    .collect::<Res<Vec<_>>>()
            })
            .collect::<Res<Vec<Vec<_>>>>()
            .map(|v| v.into_iter().flatten().collect())
    }
}

/// A JSON type name for error messages.
pub(crate) fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// A short rendering of a value for error messages.
pub(crate) fn show(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(57).collect::<String>())
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn paths_name_the_place() {
        let v = json!({"resources": [{"properties": {"Priority": "x", "odd key": 1}}]});
        let r = J::root(&v);
        let res = r.req("resources").unwrap().items().unwrap();
        let p = res[0].props();
        assert_eq!(
            p.req("priority").unwrap().priority().unwrap_err(),
            PathError {
                path: "$.resources[0].properties.Priority".into(),
                msg: "expected a priority 100-65000, found \"x\"".into()
            }
        );
        assert_eq!(
            p.req("odd key").unwrap().path,
            "$.resources[0].properties[\"odd key\"]"
        );
        assert_eq!(
            p.req("name").unwrap_err().path,
            "$.resources[0].properties.name"
        );
        assert_eq!(p.list("rules").unwrap().len(), 0);
    }

    #[test]
    fn port_lists_split_commas_and_accept_numbers() {
        let v = json!({"destinationPorts": ["80,443", 8080, "1000-2000"]});
        let got = J::root(&v).ports("destinationPorts").unwrap();
        let text: Vec<String> = got.iter().map(ToString::to_string).collect();
        assert_eq!(text, ["80", "443", "8080", "1000-2000"]);
        let v = json!({"destinationPorts": ["80", "eighty"]});
        let e = J::root(&v).ports("destinationPorts").unwrap_err();
        assert_eq!(e.path, "$.destinationPorts[1]");
    }
}

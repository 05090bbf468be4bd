//! The options that shape rules, as values: where rules allow traffic from (`--source-scope`), and the names
//! rules and collections may take.

use std::fmt;
use std::str::FromStr;

use crate::query::Cidr;

/// One `--source-scope` value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScopeItem {
    Subnet,
    Ip,
    Any,
    Cidr(Cidr),
}

impl FromStr for ScopeItem {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "subnet" => Ok(ScopeItem::Subnet),
            "ip" => Ok(ScopeItem::Ip),
            "any" => Ok(ScopeItem::Any),
            _ => s.parse::<Cidr>().map(ScopeItem::Cidr).map_err(|_| {
                format!("invalid source scope {s:?}: expected subnet, ip, any, or CIDRs such as 10.240.0.0/16")
            }),
        }
    }
}

impl fmt::Display for ScopeItem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScopeItem::Subnet => f.write_str("subnet"),
            ScopeItem::Ip => f.write_str("ip"),
            ScopeItem::Any => f.write_str("any"),
            ScopeItem::Cidr(c) => write!(f, "{c}"),
        }
    }
}

/// Resource names: letters, digits, `-`, `_`, `.`; 1-80 characters, starting with a letter or digit.
pub fn parse_name(s: &str) -> Result<String, String> {
    let ok = !s.is_empty()
        && s.len() <= 80
        && s.as_bytes()[0].is_ascii_alphanumeric()
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.'));
    if ok {
        Ok(s.to_string())
    } else {
        Err(format!(
            "invalid name {s:?}: use 1-80 letters, digits, '-', '_' or '.', starting with a letter or digit"
        ))
    }
}

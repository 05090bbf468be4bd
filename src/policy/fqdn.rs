//! Target FQDN patterns of application rules, with the product's wildcard semantics.
//!
//! The Azure Firewall FAQ, "How do wildcards work in target URLs and target FQDNs in application rules?"
//! (<https://learn.microsoft.com/azure/firewall/firewall-faq#how-do-wildcards-work-in-target-urls-and-target-fqdns-in-application-rules>)
//! says an asterisk works only at the left-most side of a target FQDN, and that it means *anything* to its left:
//!
//! * `*.contoso.com` matches `any.contoso.com` and `sub1.any.contoso.com` (any depth), but not `contoso.com`: the
//!   apex must be listed on its own;
//! * `*contoso.com` (no dot) matches `contoso.com` itself, `example.anycontoso.com`, and look-alikes such as
//!   `th3re4lcontoso.com`: the FAQ warns about exactly that;
//! * `*` alone therefore matches every name;
//! * `www.contoso.*` and `*.contoso.*` are not supported (a `*` anywhere but the left-most position); fwlog keeps
//!   such a target as [`FqdnPattern::Rejected`]: it never matches, and the explanation names it.
//!
//! "Anything to the left" is plain suffix matching, which is what [`FqdnPattern::matches`] does. DNS names are
//! case-insensitive and a trailing dot names the same host, so both sides are lower-cased and lose one trailing dot.
//! FQDNs in *network* rules take no wildcard at all
//! (<https://learn.microsoft.com/azure/firewall/fqdn-filtering-network-rules>); those are compared as exact names.

use std::fmt;

use serde::Serialize;

/// A target FQDN of an application rule.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FqdnPattern {
    /// A plain name.
    Exact(String),
    /// A leading `*`: every name ending with this text (`.contoso.com`, `contoso.com`, or empty for `*`).
    Suffix(String),
    /// A pattern the product does not accept, with why.
    Rejected { text: String, why: &'static str },
}

/// Lower case, without surrounding blanks and one trailing dot.
pub fn canonical(name: &str) -> String {
    let t = name.trim();
    t.strip_suffix('.').unwrap_or(t).to_ascii_lowercase()
}

impl FqdnPattern {
    pub fn parse(raw: &str) -> FqdnPattern {
        let t = canonical(raw);
        match t.strip_prefix('*') {
            Some(rest) if !rest.contains('*') => FqdnPattern::Suffix(rest.to_string()),
            Some(_) => FqdnPattern::Rejected {
                text: t,
                why: "an asterisk is only supported as the left-most character",
            },
            None if t.contains('*') => FqdnPattern::Rejected {
                text: t,
                why: "an asterisk is only supported as the left-most character",
            },
            None => FqdnPattern::Exact(t),
        }
    }

    /// Whether a canonical name matches.
    pub fn matches(&self, name: &str) -> bool {
        match self {
            FqdnPattern::Exact(e) => e == name,
            FqdnPattern::Suffix(s) => name.ends_with(s.as_str()),
            FqdnPattern::Rejected { .. } => false,
        }
    }

    /// Whether every name matched by the pattern `*{suffix}` is matched by this one (for candidate rules whose
    /// target is itself a wildcard).
    pub fn covers_suffix(&self, suffix: &str) -> bool {
        match self {
            FqdnPattern::Suffix(s) => suffix.ends_with(s.as_str()),
            _ => false,
        }
    }

    /// `*.x` against `x`: the most common near miss (the apex is not covered).
    pub fn misses_only_apex(&self, name: &str) -> bool {
        matches!(self, FqdnPattern::Suffix(s) if s.strip_prefix('.') == Some(name))
    }

    /// For a rejected pattern: whether a naive reading (each `*` = any text) would match the name, i.e. the rule's
    /// author probably meant it for this destination.
    pub fn would_match_naively(&self, name: &str) -> bool {
        let FqdnPattern::Rejected { text, .. } = self else {
            return false;
        };
        glob(text.as_bytes(), name.as_bytes())
    }
}

fn glob(p: &[u8], s: &[u8]) -> bool {
    match p.split_first() {
        None => s.is_empty(),
        Some((b'*', rest)) => (0..=s.len()).any(|i| glob(rest, &s[i..])),
        Some((c, rest)) => s.first() == Some(c) && glob(rest, &s[1..]),
    }
}

impl fmt::Display for FqdnPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FqdnPattern::Exact(e) => f.write_str(e),
            FqdnPattern::Suffix(s) => write!(f, "*{s}"),
            FqdnPattern::Rejected { text, .. } => f.write_str(text),
        }
    }
}

impl Serialize for FqdnPattern {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// How many trailing labels two names share (`a.mcr.microsoft.com` and `mcr.microsoft.com` share 3).
pub fn shared_labels(a: &str, b: &str) -> usize {
    a.rsplit('.')
        .zip(b.rsplit('.'))
        .take_while(|(x, y)| x == y && !x.is_empty() && *x != "*")
        .count()
}

/// The name part of a pattern for comparing domains (`*.mcr.microsoft.com` → `mcr.microsoft.com`).
pub fn pattern_domain(p: &FqdnPattern) -> &str {
    match p {
        FqdnPattern::Exact(e) => e,
        FqdnPattern::Suffix(s) => s.trim_start_matches('.'),
        FqdnPattern::Rejected { text, .. } => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(p: &str, n: &str) -> bool {
        FqdnPattern::parse(p).matches(&canonical(n))
    }

    #[test]
    fn dot_wildcard_matches_any_depth_but_not_the_apex() {
        assert!(m(
            "*.mcr.microsoft.com",
            "westeurope.data.mcr.microsoft.com"
        ));
        assert!(m("*.mcr.microsoft.com", "a.mcr.microsoft.com"));
        assert!(!m("*.mcr.microsoft.com", "mcr.microsoft.com"));
        assert!(!m("*.mcr.microsoft.com", "xmcr.microsoft.com"));
        assert!(FqdnPattern::parse("*.mcr.microsoft.com").misses_only_apex("mcr.microsoft.com"));
        assert!(!FqdnPattern::parse("*.mcr.microsoft.com").misses_only_apex("microsoft.com"));
    }

    #[test]
    fn dotless_wildcard_matches_apex_and_look_alikes() {
        assert!(m("*microsoft.com", "microsoft.com"));
        assert!(m("*microsoft.com", "login.microsoft.com"));
        // The FAQ's warning: anything to the left matches, so a look-alike domain does too.
        assert!(m("*microsoft.com", "evilmicrosoft.com"));
        assert!(!m("*microsoft.com", "microsoft.com.evil.net"));
        assert!(m("*", "anything.example"));
    }

    #[test]
    fn case_and_trailing_dot_do_not_matter() {
        assert!(m("MCR.Microsoft.com", "mcr.microsoft.com."));
        assert!(m(
            "*.Data.MCR.microsoft.com.",
            "WestEurope.data.mcr.microsoft.com"
        ));
        assert!(!m("mcr.microsoft.com", "mcr.microsoft.com.evil"));
    }

    #[test]
    fn patterns_the_product_rejects_never_match() {
        for p in ["www.contoso.*", "*.contoso.*", "www.*contoso.com"] {
            let parsed = FqdnPattern::parse(p);
            assert!(matches!(parsed, FqdnPattern::Rejected { .. }), "{p}");
            assert!(!parsed.matches("www.contoso.com"));
        }
        assert!(FqdnPattern::parse("www.contoso.*").would_match_naively("www.contoso.com"));
        assert!(!FqdnPattern::parse("www.contoso.*").would_match_naively("www.fabrikam.com"));
        assert!(!FqdnPattern::parse("www.contoso.com").would_match_naively("www.contoso.com"));
    }

    #[test]
    fn wildcard_coverage_of_wildcards() {
        let p = FqdnPattern::parse("*.microsoft.com");
        assert!(p.covers_suffix(".data.mcr.microsoft.com"));
        assert!(!p.covers_suffix("microsoft.com"));
        assert!(FqdnPattern::parse("*microsoft.com").covers_suffix("microsoft.com"));
        assert!(!FqdnPattern::parse("mcr.microsoft.com").covers_suffix(".mcr.microsoft.com"));
    }

    #[test]
    fn shared_trailing_labels() {
        assert_eq!(shared_labels("a.mcr.microsoft.com", "mcr.microsoft.com"), 3);
        assert_eq!(
            shared_labels("login.microsoftonline.com", "mcr.microsoft.com"),
            1
        );
        assert_eq!(
            pattern_domain(&FqdnPattern::parse("*.data.mcr.microsoft.com")),
            "data.mcr.microsoft.com"
        );
    }
}

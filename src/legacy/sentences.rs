//! The sentence tail of a rule message: `". Action: Deny. Policy: p. Rule Collection: rc. Rule: r"`.
//!
//! Values contain `.`, `, ` and even `". "` (`Rule: Azure-to-AllowedServices, HTTP`,
//! `IDS: JA3 Hash - [Abuse.ch] Possible Tofsee`), so the tail is not split on `". "` alone: a new sentence
//! starts only where a known keyword follows the boundary. Keywords sharing a prefix are tried longest first
//! (`Rule Collection Group:` before `Rule Collection:` before `Rule:`).

use memchr::memchr_iter;

/// What a sentence is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Key {
    Url,
    Action,
    Policy,
    RuleCollectionGroup,
    RuleCollection,
    Rule,
    WebCategory,
    Reason,
    ThreatIntel,
    Signature,
    Ids,
    Priority,
    Classification,
    /// `No rule matched. Proceeding with default action`: the value is the whole text.
    NoRuleMatched,
    /// `Failed to resolve address …`: the value is the whole text.
    FailedToResolve,
    /// `Error …` / `Error: …` (resolve-failure messages): the value is the text after the word.
    Error,
    /// A sentence with no known keyword (only ever the first sentence of a tail, or after a one-word value).
    Unknown,
}

impl Key {
    /// One-word values end at the next boundary whatever follows it.
    fn is_word(self) -> bool {
        matches!(self, Key::Action | Key::Signature | Key::Priority)
    }
}

/// The keyword at the start of `s` and where its value starts.
#[inline]
fn keyword(s: &[u8]) -> Option<(Key, usize)> {
    #[inline(always)]
    fn kw(s: &[u8], k: &'static [u8], key: Key, whole: bool) -> Option<(Key, usize)> {
        s.starts_with(k)
            .then_some((key, if whole { 0 } else { k.len() }))
    }
    match *s.first()? {
        b'A' => kw(s, b"Action:", Key::Action, false),
        b'C' => kw(s, b"Classification:", Key::Classification, false),
        b'E' => kw(s, b"Error:", Key::Error, false).or_else(|| kw(s, b"Error ", Key::Error, false)),
        b'F' => kw(s, b"Failed to resolve address", Key::FailedToResolve, true),
        b'I' => kw(s, b"IDS:", Key::Ids, false),
        b'N' => kw(s, b"No rule matched", Key::NoRuleMatched, true),
        b'P' => kw(s, b"Policy:", Key::Policy, false)
            .or_else(|| kw(s, b"Priority:", Key::Priority, false)),
        b'R' => {
            if s.starts_with(b"Rule") {
                let r = &s[4..];
                if r.starts_with(b":") {
                    Some((Key::Rule, 5))
                } else if r.starts_with(b" Collection Group:") {
                    Some((Key::RuleCollectionGroup, 22))
                } else if r.starts_with(b" Collection:") {
                    Some((Key::RuleCollection, 16))
                } else {
                    None
                }
            } else {
                kw(s, b"Reason:", Key::Reason, false)
            }
        }
        b'S' => kw(s, b"Signature:", Key::Signature, false),
        b'T' => kw(s, b"ThreatIntel:", Key::ThreatIntel, false),
        b'U' => kw(s, b"Url:", Key::Url, false),
        b'W' => kw(s, b"Web Category:", Key::WebCategory, false),
        _ => None,
    }
}

/// Iterator over `(key, raw value)` of a tail; values still need [`super::value`] trimming.
pub struct Sentences<'a> {
    s: &'a str,
    pos: usize,
}

impl<'a> Sentences<'a> {
    pub fn new(tail: &'a str) -> Self {
        let start = tail.bytes().take_while(|&c| c == b'.' || c == b' ').count();
        Sentences {
            s: tail,
            pos: start,
        }
    }
}

impl<'a> Iterator for Sentences<'a> {
    type Item = (Key, &'a str);

    fn next(&mut self) -> Option<(Key, &'a str)> {
        let b = self.s.as_bytes();
        if self.pos >= b.len() {
            return None;
        }
        let (key, off) = keyword(&b[self.pos..]).unwrap_or((Key::Unknown, 0));
        let vstart = self.pos + off;
        let word = key.is_word();
        // Find the end: the first ". " boundary followed by a keyword (or any, for one-word values).
        let mut end = b.len();
        let mut next = b.len();
        for i in memchr_iter(b'.', &b[vstart..]) {
            let i = vstart + i;
            // Skip runs of dots/spaces after the boundary: `".. "`, `". ."`.
            let mut j = i + 1;
            if j >= b.len() || b[j] != b' ' {
                continue;
            }
            while j < b.len() && (b[j] == b' ' || b[j] == b'.') {
                j += 1;
            }
            if j >= b.len() {
                // Only punctuation left: the value ends here, nothing follows.
                end = i;
                next = b.len();
                break;
            }
            if word || keyword(&b[j..]).is_some() {
                end = i;
                next = j;
                break;
            }
        }
        self.pos = next;
        // `vstart <= end` since `end` is a '.' position at or after `vstart`, or the length.
        Some((key, &self.s[vstart..end]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn all(t: &str) -> Vec<(Key, &str)> {
        Sentences::new(t)
            .map(|(k, v)| (k, crate::legacy::value(v).unwrap_or("")))
            .collect()
    }

    #[test]
    fn splits_only_before_keywords() {
        assert_eq!(
            all(". Action: Allow. Rule Collection: c. Rule: Azure-to-AllowedServices, HTTP. x. y"),
            vec![
                (Key::Action, "Allow"),
                (Key::RuleCollection, "c"),
                (Key::Rule, "Azure-to-AllowedServices, HTTP. x. y"),
            ]
        );
        assert_eq!(all(". Action: Deny.. "), vec![(Key::Action, "Deny")]);
        assert_eq!(all(""), vec![]);
        assert_eq!(all(". . .."), vec![]);
        assert_eq!(
            all(". Action: Deny. No rule matched. Proceeding with default action"),
            vec![
                (Key::Action, "Deny"),
                (
                    Key::NoRuleMatched,
                    "No rule matched. Proceeding with default action"
                )
            ]
        );
        assert_eq!(
            all(" Action: Allow.. Rule Collection Group: g. Rule Collection: c. Rule: r"),
            vec![
                (Key::Action, "Allow"),
                (Key::RuleCollectionGroup, "g"),
                (Key::RuleCollection, "c"),
                (Key::Rule, "r")
            ]
        );
    }
}

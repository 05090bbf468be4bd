//! Lookup index: a trie over reversed literal DNS labels (`io` → `azmk8s` → …), so one lookup costs one hash
//! probe per label of the destination plus a handful of pattern checks at the nodes it passes.
//!
//! A pattern is inserted along its trailing literal labels. Where it ends it is an *exact* pattern (all labels
//! literal), a *wild* pattern (`*.` + literal labels), or a *complex* one whose remaining left-hand labels
//! (placeholders, globs, literals left of a placeholder) are checked by [`super::pattern::match_labels`].

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

use super::Entry;
use super::pattern::{Label, Pattern, match_labels};

/// FNV-1a: labels are short, so a simple hash beats SipHash here.
#[derive(Default)]
pub(crate) struct Fnv(u64);

impl Hasher for Fnv {
    #[inline]
    fn finish(&self) -> u64 {
        self.0
    }
    #[inline]
    fn write(&mut self, bytes: &[u8]) {
        let mut h = if self.0 == 0 {
            0xcbf2_9ce4_8422_2325
        } else {
            self.0
        };
        for b in bytes {
            h ^= *b as u64;
            h = h.wrapping_mul(0x0100_0000_01b3);
        }
        self.0 = h;
    }
}

type FnvMap<K, V> = HashMap<K, V, BuildHasherDefault<Fnv>>;

#[derive(Default, Clone, Debug)]
struct Node {
    children: FnvMap<Box<str>, u32>,
    exact: Vec<u32>,
    wild: Vec<u32>,
    /// (entry, number of left-hand labels still to check)
    complex: Vec<(u32, u32)>,
}

#[derive(Default, Clone, Debug)]
pub(crate) struct Index {
    nodes: Vec<Node>,
    /// Entries whose destination is an address, range, service tag or address placeholder.
    pub network: Vec<u32>,
    /// Entries that explain a deny without destination (`explains = ["sni-missing"]`).
    pub sni_missing: Vec<u32>,
}

/// A candidate found by the trie walk: the entry and the captured placeholder values.
pub(crate) type Hit<'a> = (u32, Vec<(&'a str, String)>);

impl Index {
    pub fn build(entries: &[Entry]) -> Index {
        let mut ix = Index {
            nodes: vec![Node::default()],
            ..Default::default()
        };
        for (i, e) in entries.iter().enumerate() {
            let i = i as u32;
            if e.explains.iter().any(|x| x == "sni-missing") {
                ix.sni_missing.push(i);
            }
            let Pattern::Fqdn { wildcard, labels } = &e.parsed else {
                ix.network.push(i);
                continue;
            };
            let mut node = 0usize;
            let mut consumed = 0usize;
            for label in labels.iter().rev() {
                let Label::Literal(l) = label else { break };
                let next = match ix.nodes[node].children.get(l.as_str()) {
                    Some(&n) => n as usize,
                    None => {
                        let n = ix.nodes.len();
                        ix.nodes.push(Node::default());
                        ix.nodes[node].children.insert(l.as_str().into(), n as u32);
                        n
                    }
                };
                node = next;
                consumed += 1;
            }
            let left = labels.len() - consumed;
            let n = &mut ix.nodes[node];
            if left > 0 {
                n.complex.push((i, left as u32));
            } else if *wildcard {
                n.wild.push(i);
            } else {
                n.exact.push(i);
            }
        }
        ix
    }

    /// Every FQDN entry whose pattern matches `host` (lower case, no trailing dot), ignoring protocol and cloud.
    #[inline]
    pub fn fqdn_hits<'a>(&self, entries: &'a [Entry], host: &str, out: &mut Vec<Hit<'a>>) {
        let mut node = &self.nodes[0];
        let mut rest = host;
        loop {
            let (head, last) = match rest.rfind('.') {
                Some(dot) => (Some(&rest[..dot]), &rest[dot + 1..]),
                None => (None, rest),
            };
            let Some(&child) = node.children.get(last) else {
                return;
            };
            node = &self.nodes[child as usize];
            match head {
                None => {
                    for &e in &node.exact {
                        out.push((e, Vec::new()));
                    }
                    return;
                }
                Some(h) => {
                    if h.is_empty() {
                        return;
                    }
                    for &e in &node.wild {
                        out.push((e, Vec::new()));
                    }
                    for &(e, left) in &node.complex {
                        let entry = &entries[e as usize];
                        if let Pattern::Fqdn { wildcard, labels } = &entry.parsed {
                            let mut caps = Vec::new();
                            if match_labels(&labels[..left as usize], *wildcard, h, &mut caps) {
                                out.push((e, caps));
                            }
                        }
                    }
                    rest = h;
                }
            }
        }
    }
}

//! Which groups are new or grew since the last look (`deny-report --follow`).

use std::collections::HashMap;

use crate::engine::Group;

/// A group that appeared, or whose hits grew from `previous_hits`.
#[derive(Debug, Clone, PartialEq)]
pub struct Change {
    pub group: Group,
    pub previous_hits: Option<u64>,
}

use std::sync::Arc;

type GroupKey = (
    Arc<str>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<Arc<str>>,
    Option<u32>,
);

fn key_of(g: &Group) -> GroupKey {
    (
        g.kind.clone(),
        g.source_subnet.clone(),
        g.protocol.clone(),
        g.destination.clone(),
        g.destination_port,
    )
}

/// The hits of every group seen so far.
#[derive(Debug, Default)]
pub struct ChangeTracker {
    seen: HashMap<GroupKey, u64>,
}

impl ChangeTracker {
    /// Groups that are new or grew since the last call, in the given order; remembers their hits.
    pub fn update(&mut self, groups: &[Group]) -> Vec<Change> {
        let mut out = Vec::new();
        for g in groups {
            let k = key_of(g);
            match self.seen.get(&k) {
                Some(&h) if h >= g.hits => {}
                prev => {
                    out.push(Change {
                        group: g.clone(),
                        previous_hits: prev.copied(),
                    });
                    self.seen.insert(k, g.hits);
                }
            }
        }
        out
    }
}

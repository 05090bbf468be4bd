//! Per-feature counts for `fwlog catalog features`.

use serde::Serialize;

use super::{Catalog, Cloud, Origin, Requirement};

/// One feature with how many entries it has and in which clouds.
#[derive(Debug, Clone, Serialize)]
pub struct FeatureSummary<'a> {
    pub name: &'a str,
    pub description: &'a str,
    pub entries: usize,
    pub conditional: usize,
    pub clouds: Vec<&'static str>,
    pub origin: &'a Origin,
}

impl Catalog {
    /// Every feature, in catalog order, with its entry counts and clouds.
    pub fn feature_summaries(&self) -> Vec<FeatureSummary<'_>> {
        self.features()
            .iter()
            .map(|f| {
                let es: Vec<_> = self
                    .entries()
                    .iter()
                    .filter(|e| e.feature == f.name)
                    .collect();
                let mut clouds: Vec<&'static str> = Cloud::ALL
                    .into_iter()
                    .filter(|c| es.iter().any(|e| e.clouds.contains(c)))
                    .map(|c| c.as_str())
                    .collect();
                clouds.dedup();
                FeatureSummary {
                    name: &f.name,
                    description: &f.description,
                    entries: es.len(),
                    conditional: es
                        .iter()
                        .filter(|e| e.requirement == Requirement::Conditional)
                        .count(),
                    clouds,
                    origin: &f.origin,
                }
            })
            .collect()
    }
}

//! Reading a catalog file: TOML → raw tables (with spans) → validated [`Entry`] values.
//!
//! Every problem is a [`crate::error::UserError`] naming the file, the line and the field.

use std::collections::HashMap;
use std::path::Path;

use serde::Deserialize;
use toml::Spanned;

use super::pattern::{Pattern, ProtocolSpec};
use super::{CONDITIONS, Cloud, Entry, Feature, Kind, Meta, Origin, Requirement, Source, Status};

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFile {
    catalog: Option<RawMeta>,
    #[serde(default)]
    source: Vec<Source>,
    #[serde(default)]
    feature: Vec<Spanned<RawFeature>>,
    #[serde(default)]
    entry: Vec<Spanned<RawEntry>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawMeta {
    name: String,
    version: String,
    as_of: Option<String>,
    description: Option<String>,
    document: Option<toml::Table>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawFeature {
    name: String,
    #[serde(default)]
    description: String,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawEntry {
    id: Option<Spanned<String>>,
    pattern: Spanned<String>,
    doc_pattern: Option<String>,
    protocols: Spanned<Vec<String>>,
    clouds: Spanned<Vec<String>>,
    feature: Spanned<String>,
    requirement: Spanned<String>,
    status: Spanned<String>,
    source: Spanned<String>,
    #[serde(default)]
    refs: Vec<String>,
    evidence: Option<String>,
    in_fqdn_tag: Option<String>,
    not_needed_when: Option<Spanned<Vec<String>>>,
    explains: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    alternatives: Vec<String>,
    log_examples: Option<Spanned<Vec<String>>>,
    category: Option<String>,
    added: Option<String>,
    removed: Option<String>,
    replaces: Option<String>,
    replaced_by: Option<String>,
    section: Option<String>,
    note: Option<String>,
    signals_feature: Option<Spanned<bool>>,
}

/// What one file contributes.
pub(crate) struct Parsed {
    pub meta: Option<Meta>,
    pub sources: Vec<Source>,
    pub features: Vec<Feature>,
    pub entries: Vec<Entry>,
}

/// 1-based line of a byte offset.
pub(crate) fn line_of(text: &str, offset: usize) -> usize {
    Lines::new(text).line_of(offset)
}

/// Where the lines of a text start, to number the lines of many offsets: the built-in catalog asks for the
/// line of every entry and field, and counting line breaks from the start for each was a third of the CPU of
/// a short report (the catalog is 155 KB).
struct Lines {
    breaks: Vec<usize>,
    len: usize,
}

impl Lines {
    fn new(text: &str) -> Lines {
        Lines {
            breaks: memchr::memchr_iter(b'\n', text.as_bytes()).collect(),
            len: text.len(),
        }
    }

    /// The 1-based line of byte `offset` (the last line for an offset past the end).
    fn line_of(&self, offset: usize) -> usize {
        let end = offset.min(self.len);
        self.breaks.partition_point(|&b| b < end) + 1
    }
}

pub(crate) const EXPLANATIONS: &[&str] = &["sni-missing"];

/// Parse and validate one catalog file. `strict` (the built-in catalog) also requires explicit ids, declared
/// features and https source URLs.
pub(crate) fn parse(text: &str, origin: &Origin, strict: bool) -> anyhow::Result<Parsed> {
    let file = origin.to_string();
    let raw: RawFile = toml::from_str(text).map_err(|e| {
        let (line, col) = match e.span() {
            Some(s) => {
                let line = line_of(text, s.start);
                let line_start = text[..s.start.min(text.len())]
                    .rfind('\n')
                    .map_or(0, |i| i + 1);
                (line, s.start.saturating_sub(line_start) + 1)
            }
            None => (0, 0),
        };
        let msg = e.message().trim().replace('\n', " ");
        crate::error::user(format!(
            "catalog file {file}:{line}:{col}: {msg} (see docs/catalog.md for the format)"
        ))
    })?;

    let lines = Lines::new(text);
    let at = |span: std::ops::Range<usize>| lines.line_of(span.start);
    let err = |line: usize, what: &str, field: &str, msg: String| {
        crate::error::user(format!(
            "catalog file {file}:{line}: {what}: field `{field}`: {msg}"
        ))
    };

    let mut features = Vec::new();
    for f in &raw.feature {
        let line = at(f.span());
        let name = f.get_ref().name.trim();
        if !is_name(name) {
            return Err(err(
                line,
                "feature",
                "name",
                format!("invalid feature name {name:?}: lower-case letters, digits and '-'"),
            ));
        }
        if features.iter().any(|x: &Feature| x.name == name) {
            return Err(err(
                line,
                "feature",
                "name",
                format!("feature {name:?} is declared twice"),
            ));
        }
        features.push(Feature {
            name: name.to_string(),
            description: f.get_ref().description.clone(),
            origin: origin.clone(),
        });
    }
    let source_ids: Vec<&str> = raw.source.iter().map(|s| s.id.as_str()).collect();

    let mut entries: Vec<Entry> = Vec::with_capacity(raw.entry.len());
    let mut seen: HashMap<(String, ProtocolSpec, Cloud, String), usize> = HashMap::new();
    for (n, spanned) in raw.entry.iter().enumerate() {
        let line = at(spanned.span());
        let r = spanned.get_ref();
        let what_owned = match &r.id {
            Some(id) => format!("entry {:?}", id.get_ref()),
            None => format!("entry #{} ({:?})", n + 1, r.pattern.get_ref()),
        };
        let what = what_owned.as_str();
        let fl = |s: &Spanned<String>| at(s.span());
        let fv = |s: &Spanned<Vec<String>>| at(s.span());
        let lst = |s: &Option<Spanned<Vec<String>>>| s.as_ref().map_or(line, |s| at(s.span()));

        let pattern_text = r.pattern.get_ref().as_str();
        let pattern = Pattern::parse(pattern_text).map_err(|m| {
            err(
                fl(&r.pattern),
                what,
                "pattern",
                format!("malformed pattern: {m}"),
            )
        })?;

        if r.protocols.get_ref().is_empty() {
            return Err(err(
                fv(&r.protocols),
                what,
                "protocols",
                "must list at least one protocol:port".into(),
            ));
        }
        let mut protocols = Vec::new();
        for p in r.protocols.get_ref() {
            let spec =
                ProtocolSpec::parse(p).map_err(|m| err(fv(&r.protocols), what, "protocols", m))?;
            if !protocols.contains(&spec) {
                protocols.push(spec);
            }
        }

        if r.clouds.get_ref().is_empty() {
            return Err(err(
                fv(&r.clouds),
                what,
                "clouds",
                "must list at least one of public, china, usgov".into(),
            ));
        }
        let mut clouds = Vec::new();
        for c in r.clouds.get_ref() {
            let cloud = Cloud::parse(c).ok_or_else(|| {
                err(
                    fv(&r.clouds),
                    what,
                    "clouds",
                    format!("unknown cloud {c:?}: expected public, china or usgov"),
                )
            })?;
            if !clouds.contains(&cloud) {
                clouds.push(cloud);
            }
        }

        let feature = r.feature.get_ref().trim().to_string();
        if !is_name(&feature) {
            return Err(err(
                fl(&r.feature),
                what,
                "feature",
                format!("invalid feature name {feature:?}: lower-case letters, digits and '-'"),
            ));
        }
        if strict && !features.iter().any(|f| f.name == feature) {
            return Err(err(
                fl(&r.feature),
                what,
                "feature",
                format!("feature {feature:?} is not declared in [[feature]]"),
            ));
        }

        let requirement = Requirement::parse_declared(r.requirement.get_ref()).ok_or_else(|| {
            err(
                fl(&r.requirement),
                what,
                "requirement",
                format!(
                    "unknown requirement {:?}: expected required, conditional, recommended, informational or non-aks",
                    r.requirement.get_ref()
                ),
            )
        })?;
        let status = Status::parse(r.status.get_ref()).ok_or_else(|| {
            err(
                fl(&r.status),
                what,
                "status",
                format!(
                    "unknown status {:?}: expected current, retiring, retired, observed or inferred",
                    r.status.get_ref()
                ),
            )
        })?;

        let source = r.source.get_ref().trim().to_string();
        if source.is_empty() {
            return Err(err(
                fl(&r.source),
                what,
                "source",
                "must name where the entry comes from (a URL)".into(),
            ));
        }
        if strict && !source.starts_with("https://") {
            return Err(err(
                fl(&r.source),
                what,
                "source",
                format!("{source:?} is not an https:// URL"),
            ));
        }
        for id in &r.refs {
            if strict && !source_ids.contains(&id.as_str()) {
                return Err(err(line, what, "refs", format!("unknown source id {id:?}")));
            }
        }

        for c in list(&r.not_needed_when) {
            if !CONDITIONS.iter().any(|(k, _)| k == c) {
                let all: Vec<&str> = CONDITIONS.iter().map(|(k, _)| *k).collect();
                return Err(err(
                    lst(&r.not_needed_when),
                    what,
                    "not_needed_when",
                    format!(
                        "unknown condition {c:?}: expected one of {}",
                        all.join(", ")
                    ),
                ));
            }
        }
        for x in list(&r.explains) {
            if !EXPLANATIONS.contains(&x.as_str()) {
                return Err(err(
                    lst(&r.explains),
                    what,
                    "explains",
                    format!(
                        "unknown situation {x:?}: expected one of {}",
                        EXPLANATIONS.join(", ")
                    ),
                ));
            }
        }

        // Placeholders in log examples must be well-formed too (they are instantiated by the tests).
        for ex in list(&r.log_examples) {
            if !pattern.is_fqdn() {
                return Err(err(
                    lst(&r.log_examples),
                    what,
                    "log_examples",
                    "only FQDN entries can have log examples".into(),
                ));
            }
            if let Err(m) = check_example(ex) {
                return Err(err(lst(&r.log_examples), what, "log_examples", m));
            }
        }

        let signals_feature = match &r.signals_feature {
            Some(flag) if *flag.get_ref() => {
                let why = if requirement != Requirement::Conditional {
                    Some(format!(
                        "only conditional entries can signal their feature, and this entry is {requirement}"
                    ))
                } else if status == Status::Retired {
                    Some("a retired entry cannot signal that its feature is in use".to_string())
                } else if matches!(pattern, Pattern::ServiceTag(_) | Pattern::IpPlaceholder(_)) {
                    Some(format!(
                        "{pattern_text:?} matches any address on its ports, so a deny to it says nothing about the feature"
                    ))
                } else {
                    None
                };
                if let Some(m) = why {
                    return Err(err(at(flag.span()), what, "signals_feature", m));
                }
                true
            }
            _ => false,
        };

        let kind = if pattern.is_fqdn() {
            Kind::Fqdn
        } else {
            Kind::Network
        };
        let wildcard_fqdn = matches!(&pattern, Pattern::Fqdn { wildcard: true, .. });
        let has_app = protocols.iter().any(|p| p.proto.is_application());
        // Globs are not valid firewall targets; wildcards only work in application rules.
        let expressible_as_rule = !pattern.has_glob() && (!wildcard_fqdn || has_app);

        let id = match &r.id {
            Some(id) => {
                let v = id.get_ref().trim().to_string();
                if v.is_empty() || v.chars().any(|c| c.is_whitespace()) {
                    return Err(err(
                        fl(id),
                        what,
                        "id",
                        format!("invalid id {v:?}: non-empty, no spaces"),
                    ));
                }
                v
            }
            None if strict => {
                return Err(err(
                    line,
                    what,
                    "id",
                    "built-in entries need an explicit id".into(),
                ));
            }
            None => derived_id(&feature, pattern_text, &protocols, &clouds),
        };
        if let Some(other) = entries.iter().find(|e| e.id == id) {
            return Err(err(
                line,
                what,
                "id",
                format!("duplicate id {id:?} (also on line {})", other.line),
            ));
        }

        for p in &protocols {
            for c in &clouds {
                let key = (pattern_text.to_ascii_lowercase(), *p, *c, feature.clone());
                if let Some(prev) = seen.insert(key, line) {
                    return Err(err(
                        line,
                        what,
                        "pattern",
                        format!(
                            "duplicate of the entry on line {prev}: same pattern {pattern_text:?}, protocol {p}, cloud {c} and feature {feature:?}"
                        ),
                    ));
                }
            }
        }

        entries.push(Entry {
            id,
            pattern: pattern_text.to_string(),
            doc_pattern: r.doc_pattern.clone(),
            kind,
            protocols,
            clouds,
            feature,
            requirement,
            status,
            source,
            refs: r.refs.clone(),
            evidence: r.evidence.clone(),
            in_fqdn_tag: r.in_fqdn_tag.clone(),
            not_needed_when: r
                .not_needed_when
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            explains: r
                .explains
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            alternatives: r.alternatives.clone(),
            log_examples: r
                .log_examples
                .as_ref()
                .map(|s| s.get_ref().clone())
                .unwrap_or_default(),
            category: r.category.clone(),
            added: r.added.clone(),
            removed: r.removed.clone(),
            replaces: r.replaces.clone(),
            replaced_by: r.replaced_by.clone(),
            section: r.section.clone(),
            note: r.note.clone(),
            expressible_as_rule,
            origin: origin.clone(),
            line,
            signals_feature,
            parsed: pattern,
        });
    }

    let meta = raw.catalog.map(|m| Meta {
        name: m.name,
        version: m.version,
        as_of: m.as_of,
        description: m.description,
        document: m
            .document
            .map(|t| {
                t.into_iter()
                    .map(|(k, v)| {
                        (
                            k,
                            v.as_str()
                                .map(str::to_string)
                                .unwrap_or_else(|| v.to_string()),
                        )
                    })
                    .collect()
            })
            .unwrap_or_default(),
    });
    if strict && meta.is_none() {
        return Err(crate::error::user(format!(
            "catalog file {file}: missing [catalog] table"
        )));
    }
    Ok(Parsed {
        meta,
        sources: raw.source,
        features,
        entries,
    })
}

fn list(o: &Option<Spanned<Vec<String>>>) -> &[String] {
    o.as_ref().map_or(&[], |s| s.get_ref().as_slice())
}

fn is_name(s: &str) -> bool {
    !s.is_empty()
        && s.bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

fn derived_id(
    feature: &str,
    pattern: &str,
    protocols: &[ProtocolSpec],
    clouds: &[Cloud],
) -> String {
    let protos: Vec<String> = protocols.iter().map(|p| p.to_string()).collect();
    let clouds: Vec<&str> = clouds.iter().map(|c| c.as_str()).collect();
    format!(
        "{feature}:{pattern}@{}/{}",
        protos.join("+"),
        clouds.join("+")
    )
}

/// A log example is a host name, possibly with `<placeholder>` parts.
fn check_example(ex: &str) -> Result<(), String> {
    let mut depth = 0;
    for c in ex.chars() {
        match c {
            '<' if depth == 0 => depth = 1,
            '>' if depth == 1 => depth = 0,
            '<' | '>' => return Err(format!("unbalanced placeholder in log example {ex:?}")),
            _ => {}
        }
    }
    if depth != 0 {
        return Err(format!("unclosed placeholder in log example {ex:?}"));
    }
    if ex.is_empty() || ex.contains(' ') {
        return Err(format!("invalid log example {ex:?}"));
    }
    Ok(())
}

/// Read a user catalog file.
pub(crate) fn read_user_file(path: &Path) -> anyhow::Result<Parsed> {
    let text = std::fs::read_to_string(path).map_err(|e| {
        crate::error::user(format!("cannot read catalog file {}: {e}", path.display()))
    })?;
    parse(&text, &Origin::File(path.to_path_buf()), false)
}

#[cfg(test)]
mod line_tests {
    use super::Lines;

    /// Every offset, also past the end, gets the line counting its line breaks from the start gives.
    #[test]
    fn lines_number_offsets_as_counting_breaks_does() {
        for text in ["", "\n", "a", "a\nb", "a\r\nb\n\nc\n", "\n\nx\u{e9}\ny\n"] {
            let lines = Lines::new(text);
            for offset in 0..text.len() + 3 {
                let end = offset.min(text.len());
                let counted = text.as_bytes()[..end]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count()
                    + 1;
                assert_eq!(lines.line_of(offset), counted, "{text:?} at {offset}");
            }
        }
    }
}

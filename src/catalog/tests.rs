//! Matcher and catalog tests. Every `log_examples` host of the built-in data must match its own entry.

use std::collections::HashSet;
use std::io::Write;

use super::*;

fn ctx() -> Context {
    Context::default()
}

fn ids(v: &[CatalogMatch<'_>]) -> Vec<String> {
    v.iter().map(|m| m.entry.id.clone()).collect()
}

fn look<'a>(
    c: &'a Catalog,
    d: &str,
    port: u32,
    proto: &str,
    ctx: &Context,
) -> Vec<CatalogMatch<'a>> {
    c.lookup(Some(d), Some(port), Some(proto), ctx)
}

/// Replace `<placeholder>` parts of a log example with plausible values.
fn instantiate(example: &str) -> String {
    let mut out = String::new();
    let mut rest = example;
    while let Some(start) = rest.find('<') {
        out.push_str(&rest[..start]);
        let end = rest[start..].find('>').unwrap() + start;
        let name = &rest[start + 1..end];
        out.push_str(if pattern::is_region_placeholder(name) {
            "eastus"
        } else if name.ends_with("guid") {
            "38c1758a-197e-44fc-83f8-31bb7619a8bc"
        } else if name == "8hex" {
            "0a1b2c3d"
        } else {
            "x1"
        });
        rest = &rest[end + 1..];
    }
    out.push_str(rest);
    out
}

#[test]
fn builtin_is_valid_and_complete() {
    let c = Catalog::builtin();
    assert_eq!(c.entries().len(), 208);
    let mut seen = HashSet::new();
    for e in c.entries() {
        assert!(seen.insert(&e.id), "duplicate id {}", e.id);
        assert!(!e.pattern.is_empty());
        assert!(!e.protocols.is_empty(), "{}", e.id);
        assert!(!e.clouds.is_empty(), "{}", e.id);
        assert!(e.source.starts_with("https://"), "{}", e.id);
        assert!(c.features().iter().any(|f| f.name == e.feature), "{}", e.id);
        assert_ne!(e.requirement, Requirement::NotNeeded);
        assert_eq!(e.origin, Origin::Builtin);
        for r in &e.refs {
            assert!(c.sources().iter().any(|s| &s.id == r), "{} ref {r}", e.id);
        }
        // Patterns survive a reparse (placeholders well-formed).
        assert_eq!(Pattern::parse(&e.pattern).unwrap(), e.parsed);
    }
    for level in [
        "required",
        "conditional",
        "recommended",
        "informational",
        "non-aks",
    ] {
        assert!(
            c.entries().iter().any(|e| e.requirement.as_str() == level),
            "{level}"
        );
    }
    assert_eq!(c.meta().as_of.as_deref(), Some("2026-11-30"));
    assert_eq!(c.meta().version, "2026.11.30-1");
    assert_eq!(
        c.meta().document.get("ms_date").map(String::as_str),
        Some("2026-06-18")
    );
}

#[test]
fn version_is_cheap_and_consistent() {
    let c = Catalog::builtin();
    assert_eq!(builtin_version(), c.version());
    assert!(crate::version_line().contains(&c.version()));
}

#[test]
fn every_log_example_matches_its_own_entry() {
    let c = Catalog::builtin();
    let mut n = 0;
    for e in c.entries() {
        for ex in &e.log_examples {
            let host = instantiate(ex);
            let p = e.protocols[0];
            let proto = p.proto.as_str().to_ascii_uppercase();
            let cx = Context {
                cloud: e.clouds[0],
                ..ctx()
            };
            let got = look(c, &host, p.port() as u32, &proto, &cx);
            assert!(
                got.iter().any(|m| m.entry.id == e.id),
                "{host} ({ex}) did not match {}: {:?}",
                e.id,
                ids(&got)
            );
            n += 1;
        }
    }
    assert!(n >= 30, "only {n} examples");
}

#[test]
fn wildcard_depth_and_apex() {
    let c = Catalog::builtin();
    let one = look(c, "eastus.data.mcr.microsoft.com", 443, "HTTPS", &ctx());
    assert_eq!(
        one[0].entry.id,
        "core.any-data-mcr-microsoft-com.https443.public"
    );
    let two = look(c, "a.eastus.data.mcr.microsoft.com", 443, "HTTPS", &ctx());
    assert_eq!(
        two[0].entry.id,
        "core.any-data-mcr-microsoft-com.https443.public"
    );
    let apex = look(c, "data.mcr.microsoft.com", 443, "HTTPS", &ctx());
    assert!(
        !ids(&apex).iter().any(|i| i.contains("any-data-mcr")),
        "{:?}",
        ids(&apex)
    );
    // `*.quay.io` does not match the apex, `quay.io` does not match a subdomain.
    assert_eq!(
        ids(&look(c, "quay.io", 443, "HTTPS", &ctx())),
        ["non-aks.quay-io"]
    );
    assert_eq!(
        ids(&look(c, "cdn01.quay.io", 443, "HTTPS", &ctx())),
        ["non-aks.any-quay-io"]
    );
}

#[test]
fn placeholders_capture_and_fill() {
    let c = Catalog::builtin();
    let m = look(
        c,
        "myaks-0a1b2c3d.hcp.westeurope.azmk8s.io",
        443,
        "HTTPS",
        &ctx(),
    );
    assert_eq!(m[0].entry.id, "core.any-hcp-location-azmk8s-io");
    assert_eq!(m[0].capture("location"), Some("westeurope"));
    assert_eq!(m[0].filled_pattern, "*.hcp.westeurope.azmk8s.io");
    assert_eq!(m[0].requirement, Requirement::Required);
    // Deeper wildcards come first; `*.azmk8s.io` (backup extension) is shallower.
    assert_eq!(m.last().unwrap().entry.id, "azure-backup.any-azmk8s-io");
    // A placeholder is exactly one label.
    let bad = look(c, "x.hcp.west.europe.azmk8s.io", 443, "HTTPS", &ctx());
    assert!(!ids(&bad).contains(&"core.any-hcp-location-azmk8s-io".to_string()));
    // A region other than --region is noted.
    let cx = Context {
        region: Some("eastus".into()),
        ..ctx()
    };
    let m = look(c, "a.hcp.westeurope.azmk8s.io", 443, "HTTPS", &cx);
    assert!(m[0].context_notes[0].contains("westeurope"));
    let s = serde_json::to_value(&m[0]).unwrap();
    assert_eq!(s["captures"]["location"], "westeurope");
    for key in ["pattern", "feature", "requirement", "status", "source"] {
        assert!(s.get(key).is_some(), "{key}");
    }
}

#[test]
fn case_and_trailing_dot() {
    let c = Catalog::builtin();
    let a = ids(&look(c, "MCR.Microsoft.COM.", 443, "HTTPS", &ctx()));
    let b = ids(&look(c, "mcr.microsoft.com", 443, "HTTPS", &ctx()));
    assert_eq!(a, b);
    assert_eq!(b[0], "core.mcr-microsoft-com.https443.public");
}

#[test]
fn ports_and_protocols() {
    let c = Catalog::builtin();
    assert!(look(c, "mcr.microsoft.com", 443, "UDP", &ctx()).is_empty());
    assert!(look(c, "mcr.microsoft.com", 8443, "HTTPS", &ctx()).is_empty());
    // A network-rule deny TCP/443 to the FQDN still matches the https:443 entry.
    assert_eq!(
        look(c, "mcr.microsoft.com", 443, "TCP", &ctx())[0].entry.id,
        "core.mcr-microsoft-com.https443.public"
    );
    // TLS-inspected requests are logged as HTTP.
    assert!(!look(c, "mcr.microsoft.com", 443, "HTTP", &ctx()).is_empty());
    // http:80 entries.
    assert_eq!(
        ids(&look(c, "security.ubuntu.com", 80, "HTTP", &ctx())),
        [
            "azure-ml.security-ubuntu-com",
            "ubuntu-updates.security-ubuntu-com"
        ]
    );
    assert!(look(c, "security.ubuntu.com", 443, "HTTPS", &ctx()).is_empty());
    // Unknown protocol/port do not filter.
    assert!(
        !c.lookup(Some("mcr.microsoft.com"), None, None, &ctx())
            .is_empty()
    );
    // ntp.ubuntu.com is udp:123 only.
    assert_eq!(
        ids(&look(c, "ntp.ubuntu.com", 123, "UDP", &ctx())),
        ["legacy-ntp.ntp-ubuntu-com.udp123.public"]
    );
    assert!(look(c, "ntp.ubuntu.com", 123, "TCP", &ctx()).is_empty());
}

#[test]
fn clouds_are_respected() {
    let c = Catalog::builtin();
    assert!(look(c, "mcr.azure.cn", 443, "HTTPS", &ctx()).is_empty());
    let china = Context {
        cloud: Cloud::China,
        ..ctx()
    };
    assert_eq!(
        ids(&look(c, "mcr.azure.cn", 443, "HTTPS", &china)),
        ["core.mcr-azure-cn"]
    );
    let gov = Context {
        cloud: Cloud::Usgov,
        ..ctx()
    };
    assert_eq!(
        look(c, "login.microsoftonline.us", 443, "HTTPS", &gov)[0]
            .entry
            .id,
        "core.login-microsoftonline-us"
    );
    assert!(look(c, "login.microsoftonline.us", 443, "HTTPS", &ctx()).is_empty());
    // Merged multi-cloud entries.
    assert!(!look(c, "nvidia.github.io", 443, "HTTPS", &gov).is_empty());
}

#[test]
fn multiple_matches_ordering_and_features() {
    let c = Catalog::builtin();
    let m = look(c, "login.microsoftonline.com", 443, "HTTPS", &ctx());
    assert_eq!(
        ids(&m),
        [
            "core.login-microsoftonline-com",
            "cost-analysis.login-microsoftonline-com",
            "defender.login-microsoftonline-com",
            "monitoring.login-microsoftonline-com",
            "workload-identity.login-microsoftonline-com",
            "monitoring.any-microsoftonline-com",
        ]
    );
    assert_eq!(m[1].requirement, Requirement::Conditional);
    assert!(m[5].retired());
    // A feature in use turns its conditional entries into required ones, and they sort before conditional ones.
    let cx = Context {
        features: ["monitoring".to_string()].into(),
        ..ctx()
    };
    let m = look(c, "login.microsoftonline.com", 443, "HTTPS", &cx);
    assert_eq!(m[1].entry.id, "monitoring.login-microsoftonline-com");
    assert_eq!(m[1].requirement, Requirement::Required);
    assert_eq!(m[1].entry.requirement, Requirement::Conditional);
    // Exact names before wildcards.
    let m = look(c, "mcr.microsoft.com", 443, "HTTPS", &ctx());
    assert_eq!(m[0].entry.id, "core.mcr-microsoft-com.https443.public");
    assert_eq!(m.last().unwrap().entry.id, "azure-backup.any-microsoft-com");
    // Deterministic.
    assert_eq!(
        ids(&m),
        ids(&look(c, "mcr.microsoft.com", 443, "HTTPS", &ctx()))
    );
}

#[test]
fn non_aks_retired_and_labelling_only() {
    let c = Catalog::builtin();
    let m = look(c, "registry-1.docker.io", 443, "HTTPS", &ctx());
    assert_eq!(m[0].requirement, Requirement::NonAks);
    let m = look(c, "aksrepos.azurecr.io", 443, "HTTPS", &ctx());
    assert_eq!(m[0].entry.status, Status::Retired);
    assert_eq!(m[0].requirement, Requirement::Informational);
    let m = look(
        c,
        "umsah0wq3xfzjmklf2nk.blob.core.windows.net",
        443,
        "HTTPS",
        &ctx(),
    );
    assert_eq!(
        m[0].entry.id,
        "platform-vm-agent.umsaany-blob-core-windows-net"
    );
    assert!(!m[0].entry.expressible_as_rule);
    assert_eq!(m[0].requirement, Requirement::Informational);
    let m = look(
        c,
        "md-hdd-b4rzwnpfspxt.z38.blob.storage.azure.net",
        443,
        "HTTPS",
        &ctx(),
    );
    assert_eq!(
        m[0].entry.id,
        "platform-managed-disks.md-any-blob-storage-azure-net"
    );
    assert!(!m[0].entry.expressible_as_rule);
    let m = look(c, "0.ubuntu.pool.ntp.org", 123, "UDP", &ctx());
    assert!(
        !m[0].entry.expressible_as_rule,
        "wildcard FQDN in a network rule"
    );
    assert!(
        c.entry("core.mcr-microsoft-com.https443.public")
            .unwrap()
            .expressible_as_rule
    );
    let acs = look(c, "acs-mirror.azureedge.net", 443, "HTTPS", &ctx());
    assert_eq!(acs[0].entry.status, Status::Retiring);
    assert_eq!(
        acs[0].entry.replaced_by.as_deref(),
        Some("packages.aks.azure.com")
    );
}

#[test]
fn not_needed_for_private_and_konnectivity_clusters() {
    let c = Catalog::builtin();
    let private = Context {
        private_cluster: true,
        ..ctx()
    };
    let m = look(c, "a.hcp.eastus.azmk8s.io", 443, "HTTPS", &private);
    assert_eq!(m[0].requirement, Requirement::NotNeeded);
    assert!(m[0].not_needed.unwrap().contains("Private Link"));
    let m = look(c, "20.1.2.3", 1194, "UDP", &ctx());
    assert_eq!(ids(&m), ["core.azurecloud-region.udp1194.public"]);
    assert_eq!(m[0].requirement, Requirement::Required);
    let k = Context {
        konnectivity: true,
        region: Some("westeurope".into()),
        ..ctx()
    };
    let m = look(c, "20.1.2.3", 1194, "UDP", &k);
    assert_eq!(m[0].requirement, Requirement::NotNeeded);
    assert_eq!(m[0].filled_pattern, "AzureCloud.westeurope");
    let s = serde_json::to_value(&m[0]).unwrap();
    assert_eq!(s["requirement"], "not-needed");
    assert_eq!(s["declared_requirement"], "required");
}

#[test]
fn network_entries_and_sni_missing() {
    let c = Catalog::builtin();
    let m = look(c, "168.63.129.16", 53, "UDP", &ctx());
    assert_eq!(
        ids(&m),
        [
            "platform-dns.168-63-129-16",
            "custom-dns.custom-dns-server-ip.udp53.public"
        ]
    );
    let m = look(c, "::ffff:168.63.129.16", 53, "TCP", &ctx());
    assert_eq!(ids(&m), ["platform-dns.168-63-129-16"]);
    // Names never match address entries.
    assert!(look(c, "example.com", 1194, "UDP", &ctx()).is_empty());
    let m = c.lookup(None, Some(443), Some("HTTPS"), &ctx());
    assert_eq!(
        ids(&m),
        ["apiserver-ip-access.api-server-public-ip.tcp443.public"]
    );
    assert_eq!(ids(&c.explain_sni_missing(&ctx())), ids(&m));
    assert!(c.lookup(None, Some(53), Some("UDP"), &ctx()).is_empty());
    let private = Context {
        private_cluster: true,
        ..ctx()
    };
    assert_eq!(
        c.explain_sni_missing(&private)[0].requirement,
        Requirement::NotNeeded
    );
}

#[test]
fn misses() {
    let c = Catalog::builtin();
    for d in [
        "www.google.com",
        "example.org",
        "com",
        "io",
        "",
        ".",
        "10.0.0.1",
        "a..b.com",
    ] {
        assert!(look(c, d, 8443, "HTTPS", &ctx()).is_empty(), "{d}");
        assert!(
            look(c, d, 443, "HTTPS", &ctx())
                .iter()
                .all(|m| m.entry.kind == Kind::Network),
            "{d}"
        );
    }
}

fn write(dir: &tempfile::TempDir, name: &str, text: &str) -> PathBuf {
    let p = dir.path().join(name);
    std::fs::File::create(&p)
        .unwrap()
        .write_all(text.as_bytes())
        .unwrap();
    p
}

const TEAM: &str = r#"
[[feature]]
name = "team-registry"
description = "Our registries"

[[entry]]
pattern = "*.azurecr.example.com"
protocols = ["https:443"]
clouds = ["public"]
feature = "team-registry"
requirement = "required"
status = "current"
source = "https://wiki.example.com/egress"
"#;

#[test]
fn user_catalogs_merge() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "team.toml", TEAM);
    let c = Catalog::load(std::slice::from_ref(&p)).unwrap();
    assert_eq!(c.entries().len(), 209);
    assert!(c.version().ends_with("+ team.toml"));
    let m = look(&c, "myreg.azurecr.example.com", 443, "HTTPS", &ctx());
    assert_eq!(m[0].entry.feature, "team-registry");
    assert_eq!(m[0].entry.origin, Origin::File(p.clone()));
    let cx = ClusterSpec {
        features: vec!["team-registry".into()],
        catalogs: vec![p.clone()],
        ..Default::default()
    };
    assert!(cx.resolve().is_ok());
    // An identical entry in a second file is not a conflict.
    let p2 = write(
        &dir,
        "team2.toml",
        TEAM.replace(
            "[[feature]]\nname = \"team-registry\"\ndescription = \"Our registries\"\n",
            "",
        )
        .as_str(),
    );
    assert_eq!(
        Catalog::load(&[p.clone(), p2]).unwrap().entries().len(),
        209
    );
}

fn load_err(text: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    let p = write(&dir, "bad.toml", text);
    let e = Catalog::load(&[p]).unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2);
    e.to_string()
}

#[test]
fn user_catalog_errors_name_file_line_field() {
    let e = load_err("[[entry]]\npattern = \"a.example.com\"\nprotocols = [\"https:443\"\n");
    assert!(e.contains("bad.toml:3") || e.contains("bad.toml:4"), "{e}");
    let e = load_err(&TEAM.replace(
        "status = \"current\"",
        "status = \"current\"\ncolour = \"red\"",
    ));
    assert!(e.contains("bad.toml:") && e.contains("colour"), "{e}");
    let e = load_err(&TEAM.replace("*.azurecr.example.com", "a.*.example.com"));
    assert!(
        e.contains("bad.toml:7") && e.contains("`pattern`") && e.contains("malformed"),
        "{e}"
    );
    let e = load_err(&TEAM.replace("source = \"https://wiki.example.com/egress\"", ""));
    assert!(e.contains("bad.toml:") && e.contains("source"), "{e}");
    let e = load_err(&TEAM.replace("\"required\"", "\"mandatory\""));
    assert!(
        e.contains("bad.toml:11") && e.contains("`requirement`"),
        "{e}"
    );
    let e = load_err(&TEAM.replace("https:443", "https:99999"));
    assert!(e.contains("`protocols`"), "{e}");
    let e = load_err(&TEAM.replace("*.azurecr.example.com", "<bad"));
    assert!(e.contains("`pattern`"), "{e}");
}

#[test]
fn user_catalog_conflicts() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(
        &dir,
        "mine.toml",
        &TEAM.replace("*.azurecr.example.com", "mcr.microsoft.com"),
    );
    let e = Catalog::load(&[p]).unwrap_err();
    let s = e.to_string();
    assert!(
        s.contains("conflict") && s.contains("mine.toml:6") && s.contains("builtin:aks.toml:"),
        "{s}"
    );
    assert_eq!(crate::error::exit_code(&e), 2);
    let a = write(&dir, "a.toml", TEAM);
    let b = write(
        &dir,
        "b.toml",
        &TEAM.replace("\"required\"", "\"recommended\""),
    );
    let s = Catalog::load(&[a, b]).unwrap_err().to_string();
    assert!(s.contains("a.toml") && s.contains("b.toml"), "{s}");
}

#[test]
fn context_validation() {
    let bad = ClusterSpec {
        features: vec!["monitorin".into()],
        ..Default::default()
    };
    let e = bad.resolve().unwrap_err();
    assert_eq!(crate::error::exit_code(&e), 2);
    assert!(e.to_string().contains("monitoring"));
    let ok = ClusterSpec {
        features: vec!["monitoring".into(), "gpu".into()],
        region: Some("West Europe".into()),
        ..Default::default()
    };
    let (_, cx) = ok.resolve().unwrap();
    assert_eq!(cx.region.as_deref(), Some("westeurope"));
    assert!(cx.features.contains("gpu"));
}

#[test]
fn list_and_match_targets() {
    let c = Catalog::builtin();
    assert!(
        c.list(&ctx())
            .iter()
            .all(|m| m.entry.clouds.contains(&Cloud::Public))
    );
}

#[test]
fn signals_feature_is_validated() {
    // Defaults to false; a conditional entry with a name may carry it.
    let dir = tempfile::tempdir().unwrap();
    let plain = write(&dir, "plain.toml", TEAM);
    let c = Catalog::load(std::slice::from_ref(&plain)).unwrap();
    let m = look(&c, "myreg.azurecr.example.com", 443, "HTTPS", &ctx());
    assert!(!m[0].entry.signals_feature);
    let conditional = TEAM.replace("\"required\"", "\"conditional\"").replace(
        "status = \"current\"",
        "status = \"current\"\nsignals_feature = true",
    );
    let p = write(&dir, "signal.toml", &conditional);
    let c = Catalog::load(&[p]).unwrap();
    let m = look(&c, "myreg.azurecr.example.com", 443, "HTTPS", &ctx());
    assert!(m[0].entry.signals_feature);

    // Not on a required entry: the error names file, line and field.
    let e = load_err(&TEAM.replace(
        "status = \"current\"",
        "status = \"current\"\nsignals_feature = true",
    ));
    assert!(
        e.contains("bad.toml:13") && e.contains("`signals_feature`") && e.contains("required"),
        "{e}"
    );
    // Not on a service tag or an address placeholder (they match any address on the port).
    for pattern in ["AzureCloud.<region>", "<team-proxy-IP>"] {
        let e = load_err(
            &conditional
                .replace("*.azurecr.example.com", pattern)
                .replace("https:443", "tcp:443"),
        );
        assert!(
            e.contains("`signals_feature`") && e.contains("any address"),
            "{e}"
        );
    }
    // Not on a retired entry.
    let e = load_err(&conditional.replace("\"current\"", "\"retired\""));
    assert!(
        e.contains("`signals_feature`") && e.contains("retired"),
        "{e}"
    );
    // A value that is not a boolean.
    let e = load_err(&conditional.replace("signals_feature = true", "signals_feature = \"yes\""));
    assert!(e.contains("bad.toml:13"), "{e}");
}

#[test]
fn match_json_keeps_its_keys_and_adds_signals_feature_last() {
    let c = Catalog::builtin();
    let m = look(c, "mcr.microsoft.com", 443, "HTTPS", &ctx());
    let text = serde_json::to_string(&m[0]).unwrap();
    let v: serde_json::Value = serde_json::from_str(&text).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    let mut in_order = keys.clone();
    // serde_json's map sorts keys; read the order from the text instead.
    in_order.sort_by_key(|k| text.find(&format!("\"{k}\":")).unwrap());
    assert_eq!(
        in_order,
        [
            "id",
            "pattern",
            "filled_pattern",
            "kind",
            "feature",
            "requirement",
            "declared_requirement",
            "not_needed",
            "status",
            "retired",
            "source",
            "refs",
            "captures",
            "protocols",
            "clouds",
            "expressible_as_rule",
            "note",
            "context_notes",
            "replaced_by",
            "evidence",
            "origin",
            "signals_feature",
        ]
    );
    assert_eq!(v["signals_feature"], false);
}

/// Every text of the built-in catalog that users read next to a verdict: entry notes and sections, feature
/// descriptions, the catalog description.
fn user_facing_texts(c: &Catalog) -> Vec<(String, &str)> {
    let mut out = Vec::new();
    for e in c.entries() {
        if let Some(n) = &e.note {
            out.push((format!("{} note", e.id), n.as_str()));
        }
        if let Some(s) = &e.section {
            out.push((format!("{} section", e.id), s.as_str()));
        }
    }
    for f in c.features() {
        out.push((
            format!("feature {} description", f.name),
            f.description.as_str(),
        ));
    }
    if let Some(d) = &c.meta().description {
        out.push(("catalog description".into(), d.as_str()));
    }
    out
}

#[test]
fn user_facing_text_has_no_reference_ids_or_research_shorthand() {
    let c = Catalog::builtin();
    let ids: Vec<String> = c.sources().iter().map(|s| regex::escape(&s.id)).collect();
    assert!(ids.len() > 30);
    // The ids of the catalog's own [[source]] tables, any other S-number, and bracketed citations.
    let reference =
        regex::Regex::new(&format!(r"\b(?:{})\b|\bS\d+[a-z]?\b|\[S\d", ids.join("|"))).unwrap();
    let shorthand = regex::Regex::new(concat!(
        r"(?i:caveat:|\bper (?:the )?s\d|\(inference\)|\(derived from|undocumented in|observed:",
        r"|\bthe doc\b|\bdoc prints\b|\bsee (?:the )?(?:global|above|below)\b|\bbelow\b|\babove\b)",
        // Capitalised emphasis and unexplained abbreviations of the research notes.
        r"|\b(?:NOT|IS|MAR|CSE|DCE|ARM|Gov)\b",
        // Research row tags and issue shorthand (owner/repo#123): the URL belongs in `refs`/`source`.
        r"|\[(?:OBSERVED|INFERRED|NON-AKS|RETIRING)|\w/[\w.-]+#\d+",
    ))
    .unwrap();
    let mut bad = Vec::new();
    for (what, text) in user_facing_texts(c) {
        for re in [&reference, &shorthand] {
            if let Some(m) = re.find(text) {
                bad.push(format!("{what}: {:?} in {text:?}", m.as_str()));
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
    // The check itself catches what it is meant to catch.
    for sample in [
        "Caveat: this IS listed by S1 for the add-on.",
        "Derived from S19.",
        "per S9",
        "see [S3]",
        "Undocumented in S1H.",
        "announced in Azure/AKS#1476",
    ] {
        assert!(
            reference.is_match(sample) || shorthand.is_match(sample),
            "{sample}"
        );
    }
}

#[test]
fn notes_agree_with_their_requirement() {
    let c = Catalog::builtin();
    let claims_needed = regex::Regex::new(
        r"(?i)\b(?:is|are) (?:required|needed) by\b|\bmust be allowed\b|\bIS listed\b",
    )
    .unwrap();
    let claims_harmless = regex::Regex::new(
        r"(?i)safe to (?:deny|leave denied)|harmless when denied|no rule (?:is )?needed",
    )
    .unwrap();
    let mut bad = Vec::new();
    for e in c.entries() {
        let Some(note) = e.note.as_deref() else {
            continue;
        };
        let harmless_level = matches!(
            e.requirement,
            Requirement::NonAks | Requirement::Informational
        );
        if harmless_level && claims_needed.is_match(note) {
            bad.push(format!(
                "{} ({}) says it is needed: {note}",
                e.id, e.requirement
            ));
        }
        if !harmless_level && claims_harmless.is_match(note) {
            bad.push(format!(
                "{} ({}) says it is harmless: {note}",
                e.id, e.requirement
            ));
        }
        // A non-AKS entry for a host that a feature also needs points at that feature's entry by name.
        if e.requirement == Requirement::NonAks {
            for x in c.entries() {
                let overlaps = x.requirement == Requirement::Conditional
                    && x.pattern.eq_ignore_ascii_case(&e.pattern)
                    && x.protocols.iter().any(|p| e.protocols.contains(p))
                    && x.clouds.iter().any(|cl| e.clouds.contains(cl));
                if overlaps && !note.contains(x.feature.as_str()) {
                    bad.push(format!(
                        "{} is non-aks but {} needs the same host; the note does not name {:?}: {note}",
                        e.id, x.id, x.feature
                    ));
                }
            }
        }
    }
    assert!(bad.is_empty(), "{}", bad.join("\n"));
}

/// The built-in entries whose deny is evidence that their feature is in use, by feature.
const SIGNALLING: &[(&str, &[&str])] = &[
    (
        "legacy-ntp",
        &[
            "legacy-ntp.ntp-ubuntu-com.udp123.public",
            "legacy-ntp.ntp-ubuntu-com.udp123.china",
            "legacy-ntp.ntp-ubuntu-com.udp123.usgov",
        ],
    ),
    (
        "gpu",
        &["gpu.nvidia-github-io", "gpu.us-download-nvidia-com"],
    ),
    (
        "windows",
        &[
            "windows.onegetcdn-azureedge-net",
            "windows.any-mp-microsoft-com",
            "windows.www-msftconnecttest-com",
            "windows.ctldl-windowsupdate-com",
        ],
    ),
    ("defender", &["defender.any-cloud-defender-microsoft-com"]),
    (
        "monitoring",
        &[
            "monitoring.any-monitoring-azure-com",
            "monitoring.global-handler-control-monitor-azure-com",
            "monitoring.any-ingest-monitor-azure-com",
            "monitoring.any-metrics-ingest-monitor-azure-com",
            "monitoring.cluster-region-name-handler-control-monitor-azure-com",
            "monitoring.any-handler-control-monitor-azure-com",
            "monitoring.global-handler-control-monitor-azure-cn",
            "monitoring.cluster-region-name-handler-control-monitor-azure-cn",
            "monitoring.any-ingest-monitor-azure-cn",
            "monitoring.any-metrics-ingest-monitor-azure-cn",
            "monitoring.global-handler-control-monitor-azure-us",
            "monitoring.cluster-region-name-handler-control-monitor-azure-us",
            "monitoring.any-ingest-monitor-azure-us",
            "monitoring.any-metrics-ingest-monitor-azure-us",
        ],
    ),
    (
        "azure-policy",
        &[
            "azure-policy.data-policy-core-windows-net",
            "azure-policy.store-policy-core-windows-net",
            "azure-policy.data-policy-azure-cn",
            "azure-policy.store-policy-azure-cn",
            "azure-policy.data-policy-azure-us",
            "azure-policy.store-policy-azure-us",
        ],
    ),
    (
        "cluster-extensions",
        &[
            "cluster-extensions.region-dp-kubernetesconfiguration-azure-com",
            "cluster-extensions.region-dp-kubernetesconfiguration-azure-us",
            "cluster-extensions.arcmktplaceprod-azurecr-io",
            "cluster-extensions.arcmktplaceprod-centralindia-data-azurecr-io",
            "cluster-extensions.arcmktplaceprod-japaneast-data-azurecr-io",
            "cluster-extensions.arcmktplaceprod-westus2-data-azurecr-io",
            "cluster-extensions.arcmktplaceprod-westeurope-data-azurecr-io",
            "cluster-extensions.arcmktplaceprod-eastus-data-azurecr-io",
        ],
    ),
];

#[test]
fn builtin_signals_feature_entries() {
    let c = Catalog::builtin();
    let mut expected: Vec<(&str, &str)> = SIGNALLING
        .iter()
        .flat_map(|(f, ids)| ids.iter().map(move |id| (*id, *f)))
        .collect();
    expected.sort();
    let mut got: Vec<(&str, &str)> = c
        .entries()
        .iter()
        .filter(|e| e.signals_feature)
        .map(|e| (e.id.as_str(), e.feature.as_str()))
        .collect();
    got.sort();
    assert_eq!(got, expected);

    for e in c.entries().iter().filter(|e| e.signals_feature) {
        assert_eq!(e.requirement, Requirement::Conditional, "{}", e.id);
        assert!(!e.retired(), "{}", e.id);
        // Placeholders only stand for a region: "any storage account" or "any registry" is no evidence.
        assert!(
            e.pattern()
                .placeholders()
                .iter()
                .all(|p| pattern::is_region_placeholder(p)),
            "{}",
            e.id
        );
        // No other feature lists the same host (a host several features call is no evidence of one of them).
        // Exception: Flux is itself a cluster extension, so a deny to the extensions data plane proves that
        // cluster extensions are in use whichever extension calls it.
        for x in c.entries() {
            let umbrella = e.feature == "cluster-extensions" && x.feature == "flux-gitops";
            let shared = !umbrella
                && x.feature != e.feature
                && x.pattern.eq_ignore_ascii_case(&e.pattern)
                && x.protocols.iter().any(|p| e.protocols.contains(p))
                && x.clouds.iter().any(|cl| e.clouds.contains(cl));
            assert!(!shared, "{} shares its host with {}", e.id, x.id);
        }
        // Every name the entry matches in its logs signals only its own feature.
        for ex in &e.log_examples {
            let host = instantiate(ex);
            let p = e.protocols[0];
            let cx = Context {
                cloud: e.clouds[0],
                ..ctx()
            };
            let m = look(c, &host, p.port() as u32, p.proto.as_str(), &cx);
            for other in m.iter().filter(|m| m.entry.signals_feature) {
                assert_eq!(other.entry.feature, e.feature, "{host}");
            }
        }
    }
}

#[test]
fn denies_that_signal_a_feature() {
    let c = Catalog::builtin();
    let signalled = |host: &str, port: u32, proto: &str| -> Vec<String> {
        let mut f: Vec<String> = look(c, host, port, proto, &ctx())
            .iter()
            .filter(|m| m.entry.signals_feature)
            .map(|m| m.entry.feature.clone())
            .collect();
        f.dedup();
        f
    };
    assert_eq!(
        signalled("eastus.handler.control.monitor.azure.com", 443, "HTTPS"),
        ["monitoring"]
    );
    assert_eq!(
        signalled("westeurope.monitoring.azure.com", 443, "HTTPS"),
        ["monitoring"]
    );
    assert_eq!(
        signalled(
            "mydce-a1b2.eastus-1.metrics.ingest.monitor.azure.com",
            443,
            "HTTPS"
        ),
        ["monitoring"]
    );
    assert_eq!(
        signalled("data.policy.core.windows.net", 443, "HTTPS"),
        ["azure-policy"]
    );
    assert_eq!(
        signalled("store.policy.core.windows.net", 443, "HTTPS"),
        ["azure-policy"]
    );
    assert_eq!(
        signalled("x1.sensor.cloud.defender.microsoft.com", 443, "HTTPS"),
        ["defender"]
    );
    assert_eq!(signalled("nvidia.github.io", 443, "HTTPS"), ["gpu"]);
    assert_eq!(
        signalled("eastus.dp.kubernetesconfiguration.azure.com", 443, "HTTPS"),
        ["cluster-extensions"]
    );
    // Shared or broad: no signal.
    for (host, port, proto) in [
        (
            "38c1758a-197e-44fc-83f8-31bb7619a8bc.ods.opinsights.azure.com",
            443,
            "HTTPS",
        ),
        (
            "38c1758a-197e-44fc-83f8-31bb7619a8bc.oms.opinsights.azure.com",
            443,
            "HTTPS",
        ),
        ("dc.services.visualstudio.com", 443, "HTTPS"),
        (
            "westeurope-5.in.applicationinsights.azure.com",
            443,
            "HTTPS",
        ),
        ("login.microsoftonline.com", 443, "HTTPS"),
        ("management.azure.com", 443, "HTTPS"),
        ("mcr.microsoft.com", 443, "HTTPS"),
        ("myvault.vault.azure.net", 443, "HTTPS"),
        ("developer.download.nvidia.com", 443, "HTTPS"),
        ("download.docker.com", 443, "HTTPS"),
        ("go.microsoft.com", 443, "HTTPS"),
        ("mystorage.blob.core.windows.net", 443, "HTTPS"),
        ("pypi.org", 443, "HTTPS"),
        ("esm.ubuntu.com", 443, "HTTPS"),
        ("20.1.2.3", 443, "TCP"),
    ] {
        assert!(signalled(host, port, proto).is_empty(), "{host}");
    }
}

/// The first sentence of a note, as `recommend` quotes it.
fn first_sentence(note: &str) -> &str {
    note.find(". ").map_or(note, |i| &note[..i])
}

#[test]
fn refresh_2026_11_30() {
    let c = Catalog::builtin();
    for id in ["S38", "S39", "S40", "S41", "S42"] {
        assert!(c.sources().iter().any(|s| s.id == id), "{id}");
    }
    // changelogs.ubuntu.com: recommended on 80 as documented; on 443 only the release-upgrade check (Azure/AKS#2216).
    let m = look(c, "changelogs.ubuntu.com", 443, "HTTPS", &ctx());
    assert_eq!(ids(&m), ["ubuntu-updates.changelogs-ubuntu-com.https443"]);
    assert_eq!(m[0].requirement, Requirement::Informational);
    assert!(m[0].entry.refs.contains(&"S38".to_string()));
    let m = look(c, "changelogs.ubuntu.com", 80, "HTTP", &ctx());
    assert_eq!(ids(&m), ["ubuntu-updates.changelogs-ubuntu-com"]);
    assert_eq!(m[0].requirement, Requirement::Recommended);
    // esm.ubuntu.com and developer.download.nvidia.com: node image 202510.19.1 (Azure/AKS#5419). The sentence
    // that reports quote carries the caveat, and nothing calls the host safe to deny before it.
    let esm = c.entry("non-aks.esm-ubuntu-com").unwrap();
    let note = esm.note.as_deref().unwrap();
    assert!(first_sentence(note).contains("202510.19.1"), "{note}");
    let caveat = note.find("202510.19.1").unwrap();
    assert!(note.find("safe").is_none_or(|i| i > caveat), "{note}");
    assert!(esm.refs.contains(&"S39".to_string()));
    let nvidia = c.entry("gpu.developer-download-nvidia-com").unwrap();
    assert!(nvidia.note.as_deref().unwrap().contains("202510.19.1"));
    assert!(!nvidia.signals_feature);
    // mcrprod.azurecr.io: explained by the MCR outage of 2026-06-15, still recommended.
    let mcrprod = c.entry("core.mcrprod-azurecr-io").unwrap();
    assert_eq!(mcrprod.requirement, Requirement::Recommended);
    assert!(mcrprod.note.as_deref().unwrap().contains("2026-06-15"));
    for r in ["S26", "S40", "S41"] {
        assert!(mcrprod.refs.contains(&r.to_string()), "{r}");
    }
    // azure.archive.ubuntu.com: blocking it broke an upgrade to 1.34 (Azure/AgentBaker#7331).
    let archive = c.entry("ubuntu-updates.azure-archive-ubuntu-com").unwrap();
    assert!(archive.refs.contains(&"S42".to_string()));
}

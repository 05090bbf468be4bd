//! End-to-end tests of `fwlog recommend`: the exact rule set for the provisioning-failure fixture, every IaC
//! format parsed or validated structurally, snapshots, determinism and the guardrails.

use crate::util::{MAIN, fwlog, root, stdout_of};
use serde_json::Value;

const FIXTURE: &str = MAIN;

fn run(args: &[&str]) -> String {
    stdout_of(&[&["recommend"], args].concat())
}

fn json(args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["--format", "json"]);
    serde_json::from_str(&run(&a)).unwrap()
}

fn strs(v: &Value) -> Vec<String> {
    v.as_array()
        .unwrap()
        .iter()
        .map(|s| s.as_str().unwrap().to_string())
        .collect()
}

/// (collection, priority, name, kind, protocols, destinations, ports, sources) of every rule.
fn rule_set(v: &Value) -> Vec<String> {
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            let dest = [strs(&r["target_fqdns"]), strs(&r["destination_addresses"])].concat();
            format!(
                "{} {} {} {} {} {} {} {}",
                r["collection"].as_str().unwrap(),
                r["priority"],
                r["name"].as_str().unwrap(),
                r["kind"].as_str().unwrap(),
                strs(&r["protocols"]).join(","),
                dest.join(","),
                strs(&r["destination_ports"]).join(","),
                strs(&r["source_addresses"]).join(","),
            )
        })
        .collect()
}

/// A JSON-lines archive of application-rule denies `(fqdn, port, source, count)` in a temp folder.
fn app_denies(rows: &[(&str, u32, &str, u32)]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let mut lines = Vec::new();
    let mut n = 0;
    for (fqdn, port, src, count) in rows {
        for _ in 0..*count {
            n += 1;
            lines.push(serde_json::json!({
                "time": format!("2026-09-07T10:{:02}:{:02}.000000+00:00", n / 60, n % 60),
                "resourceId": "/SUBSCRIPTIONS/X/RESOURCEGROUPS/RG/PROVIDERS/MICROSOFT.NETWORK/AZUREFIREWALLS/FW",
                "category": "AZFWApplicationRule",
                "properties": {"Protocol": "HTTPS", "SourceIp": src, "SourcePort": 40000 + n, "DestinationPort": port,
                               "Fqdn": fqdn, "TargetUrl": "", "Action": "Deny", "Policy": "", "RuleCollectionGroup": "",
                               "RuleCollection": "", "Rule": "", "ActionReason": "Default Action",
                               "IsTlsInspected": false, "WebCategory": "", "IsExplicitProxyRequest": false}
            }).to_string());
        }
    }
    std::fs::write(dir.path().join("PT1H.json"), lines.join("\n") + "\n").unwrap();
    dir
}

#[test]
fn fixture_rules_fix_every_catalog_known_deny_and_nothing_else() {
    let v = json(&["-i", FIXTURE]);
    let s = "10.240.0.0/24";
    let expected: Vec<String> = [
        "aks-core 200 acs-mirror-azureedge-net application Https:443 acs-mirror.azureedge.net  S",
        "aks-core 200 login-microsoftonline-com application Https:443 login.microsoftonline.com  S",
        "aks-core 200 management-azure-com application Https:443 management.azure.com  S",
        "aks-core 200 mcr-microsoft-com application Https:443 mcr.microsoft.com  S",
        "aks-core 200 packages-aks-azure-com application Https:443 packages.aks.azure.com  S",
        "aks-core 200 packages-microsoft-com application Https:443 packages.microsoft.com  S",
        "aks-core 200 wildcard-data-mcr-microsoft-com application Https:443 *.data.mcr.microsoft.com  S",
        "aks-core 200 wildcard-hcp-westeurope-azmk8s-io application Https:443 *.hcp.westeurope.azmk8s.io  S",
        "aks-core-network 210 azurecloud-westeurope-tcp-9000 network TCP AzureCloud.westeurope 9000 S",
        "aks-core-network 210 azurecloud-westeurope-udp-1194 network UDP AzureCloud.westeurope 1194 S",
        "aks-ubuntu-updates 220 security-ubuntu-com application Http:80 security.ubuntu.com  S",
    ]
    .iter()
    .map(|l| l.replace(" S", &format!(" {s}")))
    .collect();
    assert_eq!(rule_set(&v), expected);

    // Every rule carries its evidence; wildcards list the hosts they cover.
    for r in v["rules"].as_array().unwrap() {
        assert!(r["evidence"]["hits"].as_u64().unwrap() > 0);
        assert!(!strs(&r["evidence"]["destinations"]).is_empty());
        assert!(r["source"].as_str().unwrap().starts_with("https://"));
        assert!(r["description"].as_str().unwrap().contains("covers "));
    }
    let hcp = &v["rules"][7];
    assert_eq!(
        strs(&hcp["evidence"]["destinations"]),
        ["aks-weu-dns-4f2a9c1e.hcp.westeurope.azmk8s.io"]
    );
    assert_eq!(hcp["evidence"]["hits"], 8);
    assert_eq!(hcp["evidence"]["distinct_sources"], 3);

    // Known, no rule: Docker Hub (non-AKS), managed disks (informational), the SNI-less API server calls.
    let known: Vec<(String, String)> = v["known"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| {
            (
                k["destination"].as_str().unwrap_or("(none)").to_string(),
                k["verdict"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        known,
        [
            ("registry-1.docker.io".to_string(), "non-aks".to_string()),
            ("(none)".into(), "needs-input".into()),
            (
                "md-hdd-xk2lz0q1vw3p.z12.blob.storage.azure.net".into(),
                "informational".into()
            ),
        ]
    );
    assert!(
        v["known"][0]["summary"]
            .as_str()
            .unwrap()
            .starts_with("non-AKS: Docker Hub")
    );

    // Unmatched: listed with hits, sources and a hint; never turned into rules.
    let un = v["unmatched"].as_array().unwrap();
    assert_eq!(un.len(), 2);
    let blob = un
        .iter()
        .find(|u| u["destination"] == "stfwlogdemo01.blob.core.windows.net")
        .unwrap();
    assert_eq!(blob["hits"], 2);
    assert_eq!(strs(&blob["source_subnets"]), ["10.244.1.0/24"]);
    let hint = blob["hint"].as_str().unwrap();
    assert!(
        hint.contains("allow exactly stfwlogdemo01.blob.core.windows.net"),
        "{hint}"
    );
    assert!(hint.contains("never *.blob.core.windows.net"), "{hint}");
    let ntp = un
        .iter()
        .find(|u| u["destination"] == "91.189.91.157")
        .unwrap();
    assert!(ntp["hint"].as_str().unwrap().starts_with("NTP"));
    assert_eq!(v["denies"], 73);
    assert_eq!(v["denies_covered"], 60);
}

#[test]
fn api_server_ip_turns_sni_missing_denies_into_a_network_rule() {
    let v = json(&["-i", FIXTURE, "--api-server-ip", "20.61.0.10"]);
    let rules = rule_set(&v);
    assert!(
        rules.contains(
            &"aks-apiserver-ip-access-network 220 20-61-0-10-tcp-443 network TCP 20.61.0.10 443 10.244.1.0/24"
                .to_string()
        ),
        "{rules:#?}"
    );
    assert!(
        v["known"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["verdict"] != "needs-input")
    );
}

#[test]
fn region_unknown_without_hcp_falls_back_to_observed_addresses() {
    // Only the tunnel denies: no *.hcp.<region> host to learn the region from.
    let v = json(&["-i", FIXTURE, "--protocol", "UDP", "--port", "1194"]);
    assert_eq!(
        v["rules"][0]["destination_addresses"],
        serde_json::json!(["20.50.1.2"])
    );
    assert!(
        v["rules"][0]["notes"][0]
            .as_str()
            .unwrap()
            .contains("--region")
    );
    let v = json(&[
        "-i",
        FIXTURE,
        "--protocol",
        "UDP",
        "--port",
        "1194",
        "--region",
        "northeurope",
    ]);
    assert_eq!(
        v["rules"][0]["destination_addresses"],
        serde_json::json!(["AzureCloud.northeurope"])
    );
}

#[test]
fn include_unmatched_adds_exact_rules_in_a_separate_collection() {
    let v = json(&["-i", FIXTURE, "--include-unmatched"]);
    let rules = rule_set(&v);
    assert!(rules.contains(&"unmatched-exact-fqdns 230 stfwlogdemo01-blob-core-windows-net application Https:443 stfwlogdemo01.blob.core.windows.net  10.244.1.0/24".to_string()), "{rules:#?}");
    assert!(rules.contains(&"unmatched-exact-network 240 91-189-91-157-udp-123 network UDP 91.189.91.157 123 10.240.0.0/24".to_string()), "{rules:#?}");
}

#[test]
fn source_scopes_and_ip_groups() {
    let v = json(&[
        "-i",
        FIXTURE,
        "--source-scope",
        "ip",
        "--destination",
        "mcr.microsoft.com",
    ]);
    assert_eq!(
        v["rules"][0]["source_addresses"],
        serde_json::json!(["10.240.0.4", "10.240.0.5", "10.240.0.6"])
    );
    let v = json(&[
        "-i",
        FIXTURE,
        "--source-scope",
        "10.240.0.0/16,10.250.0.0/16",
        "--destination",
        "mcr.microsoft.com",
    ]);
    assert_eq!(
        v["rules"][0]["source_addresses"],
        serde_json::json!(["10.240.0.0/16", "10.250.0.0/16"])
    );
    let v = json(&[
        "-i",
        FIXTURE,
        "--source-ip-group",
        "ipg-aks-nodes",
        "--destination",
        "mcr.microsoft.com",
    ]);
    assert_eq!(v["rules"][0]["source_addresses"], serde_json::json!([]));
    assert_eq!(
        v["rules"][0]["source_ip_groups"],
        serde_json::json!(["ipg-aks-nodes"])
    );
    let bicep = run(&[
        "-i",
        FIXTURE,
        "--source-ip-group",
        "ipg-aks-nodes",
        "--format",
        "bicep",
    ]);
    assert!(bicep.contains("resourceId('Microsoft.Network/ipGroups', 'ipg-aks-nodes')"));
}

#[test]
fn names_and_priorities_follow_the_flags() {
    let v = json(&[
        "-i",
        FIXTURE,
        "--priority-base",
        "1000",
        "--collection-group",
        "rcg-aks",
    ]);
    assert_eq!(v["collection_group"], "rcg-aks");
    let prios: Vec<u64> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["priority"].as_u64().unwrap())
        .collect();
    assert_eq!(prios.first(), Some(&1000));
    assert_eq!(prios.last(), Some(&1020));
    fwlog()
        .args([
            "recommend",
            "-i",
            FIXTURE,
            "--collection-group",
            "bad name;",
        ])
        .assert()
        .code(2);
}

#[test]
fn terraform_parses_and_has_the_azurerm_structure() {
    let tf = run(&["-i", FIXTURE, "--format", "terraform"]);
    let body: hcl::Body = hcl::parse(&tf).expect("valid HCL");
    let rcg = body
        .blocks()
        .find(|b| b.identifier() == "resource")
        .expect("resource block");
    assert_eq!(
        rcg.labels()[0].as_str(),
        "azurerm_firewall_policy_rule_collection_group"
    );
    let attrs: Vec<&str> = rcg.body().attributes().map(|a| a.key()).collect();
    assert_eq!(attrs, ["name", "firewall_policy_id", "priority"]);
    let cols: Vec<(&str, String)> = rcg
        .body()
        .blocks()
        .map(|b| {
            let name = b.body().attributes().find(|a| a.key() == "name").unwrap();
            (b.identifier(), hcl::format::to_string(name.expr()).unwrap())
        })
        .collect();
    assert_eq!(
        cols,
        [
            ("application_rule_collection", "\"aks-core\"".to_string()),
            (
                "network_rule_collection",
                "\"aks-core-network\"".to_string()
            ),
            (
                "application_rule_collection",
                "\"aks-ubuntu-updates\"".to_string()
            ),
        ]
    );
    for col in rcg.body().blocks() {
        let keys: Vec<&str> = col.body().attributes().map(|a| a.key()).collect();
        assert_eq!(keys, ["name", "priority", "action"]);
        for rule in col.body().blocks() {
            assert_eq!(rule.identifier(), "rule");
            let keys: Vec<&str> = rule.body().attributes().map(|a| a.key()).collect();
            if col.identifier() == "application_rule_collection" {
                assert_eq!(
                    keys,
                    [
                        "name",
                        "description",
                        "source_addresses",
                        "destination_fqdns"
                    ]
                );
                assert_eq!(
                    rule.body().blocks().next().unwrap().identifier(),
                    "protocols"
                );
            } else {
                assert_eq!(
                    keys,
                    [
                        "name",
                        "description",
                        "source_addresses",
                        "protocols",
                        "destination_addresses",
                        "destination_ports"
                    ]
                );
            }
        }
    }
    insta::assert_snapshot!("terraform", tf);
}

pub fn schema(name: &str) -> jsonschema::Validator {
    let text = std::fs::read_to_string(root().join("tests/schemas").join(name)).unwrap();
    jsonschema::validator_for(&serde_json::from_str(&text).unwrap()).unwrap()
}

pub fn assert_valid(v: &jsonschema::Validator, instance: &Value) {
    let errors: Vec<String> = v
        .iter_errors(instance)
        .map(|e| format!("{} at {}", e, e.instance_path()))
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn arm_template_validates_against_both_schemas() {
    let template = schema("deployment-template.schema.json");
    let resource = schema("rule-collection-group.schema.json");
    for extra in [
        &[][..],
        &["--include-unmatched", "--api-server-ip", "20.61.0.10"][..],
        &["--source-ip-group", "ipg-aks"][..],
    ] {
        let mut args = vec!["-i", FIXTURE, "--format", "arm"];
        args.extend_from_slice(extra);
        let arm: Value = serde_json::from_str(&run(&args)).unwrap();
        assert_valid(&template, &arm);
        for r in arm["resources"].as_array().unwrap() {
            assert_valid(&resource, r);
        }
    }
    // The schemas do reject wrong shapes.
    let bad = serde_json::json!({"type": "Microsoft.Network/firewallPolicies/ruleCollectionGroups", "apiVersion": "2024-05-01",
        "name": "x", "properties": {"priority": 500, "ruleCollections": [{"ruleCollectionType": "FirewallPolicyFilterRuleCollection",
        "name": "c", "priority": 100, "action": {"type": "Allow"}, "rules": [{"ruleType": "ApplicationRule", "name": "r",
        "sourceAddresses": ["10.0.0.0/24"], "protocols": [{"protocolType": "Https", "port": 443}], "targetFqdns": ["*"]}]}]}});
    assert!(!resource.is_valid(&bad));
    assert!(!template.is_valid(&serde_json::json!({"resources": []})));
}

#[test]
fn bicep_snapshot_and_structure() {
    let b = run(&["-i", FIXTURE, "--format", "bicep"]);
    assert!(b.contains("param firewallPolicyName string"));
    assert!(b.contains("'Microsoft.Network/firewallPolicies/ruleCollectionGroups@"));
    assert_eq!(
        b.matches("ruleCollectionType: 'FirewallPolicyFilterRuleCollection'")
            .count(),
        3
    );
    assert_eq!(b.matches("ruleType: 'ApplicationRule'").count(), 9);
    assert_eq!(b.matches("ruleType: 'NetworkRule'").count(), 2);
    assert_eq!(b.matches('{').count(), b.matches('}').count());
    assert_eq!(b.matches('[').count(), b.matches(']').count());
    insta::assert_snapshot!("bicep", b);
}

#[test]
fn azcli_snapshot_and_structure() {
    let s = run(&["-i", FIXTURE, "--format", "azcli"]);
    assert!(s.starts_with("#!/usr/bin/env bash\n"));
    assert_eq!(s.matches("collection add-filter-collection").count(), 3);
    assert_eq!(s.matches("collection rule add").count(), 11 - 3);
    assert_eq!(s.matches("--rule-type ApplicationRule").count(), 9);
    assert!(s.contains("--protocols Https=443"));
    assert!(s.contains("--ip-protocols UDP"));
    // Every command line ends in a continuation or is the last flag: no dangling backslash before a blank line.
    assert!(!s.contains("\\\n\n"));
    insta::assert_snapshot!("azcli", s);
}

#[test]
fn output_is_deterministic_and_written_atomically() {
    let dir = tempfile::tempdir().unwrap();
    for format in [
        "json",
        "table",
        "markdown",
        "bicep",
        "terraform",
        "arm",
        "azcli",
    ] {
        let a = run(&["-i", FIXTURE, "--format", format]);
        let b = run(&["-i", FIXTURE, "--format", format]);
        assert_eq!(a, b, "{format}");
        let path = dir.path().join(format!("out.{format}"));
        run(&[
            "-i",
            FIXTURE,
            "--format",
            format,
            "--output",
            path.to_str().unwrap(),
        ]);
        assert_eq!(std::fs::read_to_string(&path).unwrap(), a, "{format}");
    }
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 7);
}

#[test]
fn guardrail_storage_account_never_becomes_a_blob_wildcard() {
    let dir = app_denies(&[("x.blob.core.windows.net", 443, "10.240.0.4", 3)]);
    let input = dir.path().to_str().unwrap();
    for extra in [
        &[][..],
        &["--features", "flux-gitops"][..],
        &["--features", "azure-ml,flux-gitops,azure-backup"][..],
        &["--include-unmatched"][..],
    ] {
        // JSON names the catalog pattern in `pattern` / `notes`; its targets are checked below.
        for format in ["bicep", "terraform", "arm", "azcli", "table"] {
            let mut args = vec!["recommend", "-i", input, "--format", format];
            args.extend_from_slice(extra);
            // No rule at all is exit 3 with nothing written for the IaC formats.
            let res = fwlog().args(&args).output().unwrap();
            assert!(matches!(res.status.code(), Some(0 | 3)), "{args:?}");
            let out = String::from_utf8(res.stdout).unwrap();
            assert!(
                !out.contains("*.blob.core.windows.net\"")
                    && !out.contains("'*.blob.core.windows.net'"),
                "{extra:?} {format}: {out}"
            );
            assert!(
                !out.contains("*.core.windows.net\"") && !out.contains("'*.core.windows.net'"),
                "{extra:?} {format}"
            );
        }
        let mut args = vec!["-i", input];
        args.extend_from_slice(extra);
        let v = json(&args);
        for r in v["rules"].as_array().unwrap() {
            assert_eq!(
                strs(&r["target_fqdns"]),
                ["x.blob.core.windows.net"],
                "{extra:?}"
            );
        }
    }
    // With the feature declared the deny is allowed, but only as the exact host.
    let v = json(&["-i", input, "--features", "flux-gitops"]);
    assert_eq!(v["rules"].as_array().unwrap().len(), 1);
}

#[test]
fn guardrail_no_star_anywhere() {
    let dir = app_denies(&[
        ("x.blob.core.windows.net", 443, "10.240.0.4", 1),
        ("foo.microsoft.com", 443, "10.240.0.4", 1),
        ("bar.azure.com", 443, "10.240.0.5", 1),
        ("umsa0123.blob.core.windows.net", 443, "10.240.0.5", 1),
        ("example.org", 443, "10.240.0.6", 1),
    ]);
    let input = dir.path().to_str().unwrap();
    for features in ["", "azure-backup,flux-gitops,azure-ml"] {
        let mut args = vec!["-i", input, "--include-unmatched"];
        if !features.is_empty() {
            args.extend(["--features", features]);
        }
        for r in json(&args)["rules"].as_array().unwrap() {
            for t in [strs(&r["target_fqdns"]), strs(&r["destination_addresses"])].concat() {
                assert!(
                    !t.contains('*') || t.starts_with("*.") && !t[2..].contains('*'),
                    "{t}"
                );
                assert!(
                    !["*.com", "*.microsoft.com", "*.azure.com"].contains(&t.as_str()),
                    "{t}"
                );
            }
        }
        // The IaC formats (comments name catalog patterns, e.g. `umsa*`, only as `catalog:` lines of rules).
        for format in ["bicep", "terraform", "arm", "azcli"] {
            let mut args = vec!["-i", input, "--format", format, "--include-unmatched"];
            if !features.is_empty() {
                args.extend(["--features", features]);
            }
            let out = run(&args);
            for bad in [
                "\"*\"",
                "'*'",
                " * ",
                "\"*.com\"",
                "'*.microsoft.com'",
                "\"*.microsoft.com\"",
                "\"*.azure.com\"",
                "umsa*",
            ] {
                assert!(!out.contains(bad), "{features} {format}: {bad} in\n{out}");
            }
        }
    }
    // The same checks on the fixture's own output.
    for format in ["json", "bicep", "terraform", "arm", "azcli"] {
        let out = run(&["-i", FIXTURE, "--format", format, "--include-unmatched"]);
        assert!(!out.contains("\"*\"") && !out.contains("'*'"), "{format}");
    }
}

/// A cluster with the monitoring and Azure Policy add-ons, no --features: the features are inferred from
/// denies to their own endpoints, every catalog-known deny of theirs gets a rule, and a storage account (a
/// broad entry) switches nothing on.
#[test]
fn features_are_inferred_from_their_own_endpoints() {
    let v = json(&["-i", "fixtures/monitoring-policy"]);
    let features: Vec<(String, String)> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| {
            (
                f["name"].as_str().unwrap().to_string(),
                f["source"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(
        features,
        [
            ("azure-policy".to_string(), "inferred".to_string()),
            ("monitoring".to_string(), "inferred".to_string())
        ]
    );
    assert_eq!(
        v["features"][1]["evidence"][0]["destination"],
        "northeurope.monitoring.azure.com"
    );
    assert_eq!(
        (v["denies"].as_u64(), v["denies_covered"].as_u64()),
        (Some(75), Some(72))
    );
    let unmatched: Vec<&str> = v["unmatched"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["destination"].as_str().unwrap())
        .collect();
    assert_eq!(unmatched, ["stmlartifacts01.blob.core.windows.net"]);
    // The workspace hosts are exact, never the multi-tenant wildcard.
    let targets: Vec<String> = v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|r| strs(&r["target_fqdns"]))
        .collect();
    assert!(
        targets
            .contains(&"5b7f2c1e-0000-4000-8000-00000000c0de.ods.opinsights.azure.com".to_string())
    );
    assert!(
        !targets
            .iter()
            .any(|t| t.starts_with("*.ods") || t.starts_with("*.oms"))
    );
    // The table says so first.
    let table = run(&["-i", "fixtures/monitoring-policy", "--width", "300"]);
    assert!(
        table.starts_with(
            "features inferred from the denies: azure-policy (2 denies to data.policy.core.windows.net), \
             monitoring (5 denies to northeurope.monitoring.azure.com)"
        ),
        "{table}"
    );
    // Given features replace inference; none turns it off.
    let given = json(&[
        "-i",
        "fixtures/monitoring-policy",
        "--features",
        "monitoring",
    ]);
    assert_eq!(given["features"][0]["source"], "given");
    assert_eq!(given["features"].as_array().unwrap().len(), 1);
    let none = json(&["-i", "fixtures/monitoring-policy", "--features", "none"]);
    assert!(none["features"].as_array().unwrap().is_empty());
    assert_eq!(none["denies_covered"], 4);
}

/// Text from the catalog reads as plain English: no research reference ids reach any rendered output.
#[test]
fn rendered_labels_carry_no_catalog_reference_ids() {
    let ids = regex::Regex::new(r"\bS\d{1,3}\b").unwrap();
    for input in [MAIN, "fixtures/monitoring-policy"] {
        for args in [
            vec!["recommend", "-i", input, "--format", "json"],
            vec!["recommend", "-i", input, "--format", "markdown"],
            vec![
                "recommend",
                "-i",
                input,
                "--format",
                "bicep",
                "--include-unmatched",
            ],
            vec!["deny-report", "-i", input, "--format", "markdown"],
            vec!["deny-report", "-i", input, "--format", "json"],
        ] {
            let out = stdout_of(&args);
            let hit = ids.find(&out).map(|m| m.as_str().to_string());
            assert!(hit.is_none(), "{args:?}: {hit:?}");
        }
    }
}

//! The user's firewall policy: denies explained against it in every deny-report format, `fwlog why`, and
//! `recommend --policy` writing only what the policy lacks, in the user's own collections.

use serde_json::Value;

use crate::util::{MAIN, fwlog, json_of, root, stdout_of};

const POLICY: [&str; 5] = [
    "fixtures/policy/az-policy-show.json",
    "fixtures/policy/az-rcg-list.json",
    "fixtures/policy/az-ip-group-list.json",
    "fixtures/policy/az-base-policy-show.json",
    "fixtures/policy/rest-base-rcg-list.json",
];

fn with_policy<'a>(args: &[&'a str]) -> Vec<&'a str> {
    let mut v = args.to_vec();
    v.push("--policy");
    v.extend(POLICY);
    v
}

#[test]
fn deny_report_explains_each_group_in_every_format() {
    let v: Value = serde_json::from_str(&stdout_of(&with_policy(&[
        "deny-report",
        "-i",
        MAIN,
        "--format",
        "json",
    ])))
    .unwrap();
    assert_eq!(v["policy"], "fwpol-hub-weu");
    let verdict = |dest: &str| -> String {
        let g = v["groups"]
            .as_array()
            .unwrap()
            .iter()
            .find(|g| g["destination"] == dest)
            .unwrap_or_else(|| panic!("no group {dest}"));
        g["policy"]["explanation"]["verdict"]
            .as_str()
            .unwrap()
            .to_string()
    };
    assert_eq!(verdict("mcr.microsoft.com"), "fqdn_tag_not_covering");
    assert_eq!(
        verdict("stfwlogdemo01.blob.core.windows.net"),
        "default_deny"
    );
    let sni = v["groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["destination"].is_null())
        .unwrap();
    assert_eq!(sni["policy"]["explanation"]["verdict"], "no_sni");
    // Without --policy the JSON has no policy keys at all (the contract is unchanged).
    let plain: Value =
        serde_json::from_str(&stdout_of(&["deny-report", "-i", MAIN, "--format", "json"])).unwrap();
    assert!(plain.get("policy").is_none());
    assert!(plain["groups"][0].get("policy").is_none());
    let table = stdout_of(&with_policy(&["deny-report", "-i", MAIN, "--width", "120"]));
    assert!(
        table.contains("Why policy fwpol-hub-weu denied them:"),
        "{table}"
    );
    assert!(
        table.contains("no rule of policy fwpol-hub-weu matches"),
        "{table}"
    );
    let csv = stdout_of(&with_policy(&[
        "deny-report",
        "-i",
        MAIN,
        "--format",
        "csv",
    ]));
    assert!(csv.lines().next().unwrap().ends_with(",catalog,policy"));
    let md = stdout_of(&with_policy(&[
        "deny-report",
        "-i",
        MAIN,
        "--format",
        "markdown",
    ]));
    assert!(md.contains("| Why (policy) |"), "{md}");
}

#[test]
fn why_explains_one_flow_with_its_last_logged_decision_and_the_smallest_change() {
    let out = stdout_of(&with_policy(&[
        "why",
        "10.240.0.4",
        "mcr.microsoft.com:443",
        "-i",
        MAIN,
        "--format",
        "json",
    ]));
    let v = json_of(out.as_bytes());
    assert_eq!(v["flow"], "HTTPS mcr.microsoft.com:443 from 10.240.0.4");
    assert_eq!(v["logged"]["action"], "deny");
    assert_eq!(v["logged"]["decided_by"], "Default Action");
    assert_eq!(v["logged"]["events"], 4);
    assert_eq!(v["explanation"]["verdict"], "fqdn_tag_not_covering");
    assert_eq!(v["change"]["change"], "add_rule");
    assert_eq!(v["change"]["placement"]["group"], "aks-egress");
    let text = stdout_of(&with_policy(&[
        "why",
        "10.240.0.0/24",
        "https://westeurope.data.mcr.microsoft.com/v2/",
    ]));
    assert!(
        text.starts_with("Flow: HTTPS westeurope.data.mcr.microsoft.com:443 from 10.240.0.0/24"),
        "{text}"
    );
    assert!(text.contains("Last logged: not in the inputs"), "{text}");
    assert!(text.contains("Smallest change: "), "{text}");
    // Without a policy: the logged decision only.
    let text = stdout_of(&[
        "why",
        "10.240.0.4",
        "20.50.1.2:1194",
        "--protocol",
        "udp",
        "-i",
        MAIN,
    ]);
    assert!(text.contains("deny by Default Action"), "{text}");
    assert!(text.contains("Policy: not given"), "{text}");
}

#[test]
fn recommend_with_the_policy_adds_only_what_it_lacks_in_its_own_collections() {
    let v =
        json_of(stdout_of(&with_policy(&["recommend", "-i", MAIN, "--format", "json"])).as_bytes());
    let plain = json_of(stdout_of(&["recommend", "-i", MAIN, "--format", "json"]).as_bytes());
    let rules = v["rules"].as_array().unwrap();
    assert!(rules.len() < plain["rules"].as_array().unwrap().len());
    // The tunnel to AzureCloud.westeurope and *.data.mcr.microsoft.com are allowed by the policy already.
    let targets: Vec<String> = rules
        .iter()
        .flat_map(|r| {
            r["target_fqdns"]
                .as_array()
                .unwrap()
                .iter()
                .chain(r["destination_addresses"].as_array().unwrap())
                .map(|t| t.as_str().unwrap().to_string())
                .collect::<Vec<_>>()
        })
        .collect();
    assert!(
        !targets.contains(&"AzureCloud.westeurope".to_string()),
        "{targets:?}"
    );
    assert!(
        !targets.contains(&"*.data.mcr.microsoft.com".to_string()),
        "{targets:?}"
    );
    assert!(
        targets.contains(&"mcr.microsoft.com".to_string()),
        "{targets:?}"
    );
    let allowed: Vec<&Value> = v["known"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|k| k["verdict"] == "allowed-by-policy")
        .collect();
    assert!(!allowed.is_empty());
    // Rules go to the user's own group and its existing application collection.
    assert_eq!(v["collection_group"], "aks-egress");
    assert_eq!(v["group_priority"], 200);
    assert!(
        rules.iter().all(|r| r["collection"] == "aks-app"),
        "{rules:#?}"
    );
}

#[test]
fn a_malformed_policy_is_exit_2_with_the_json_path_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("rules.bicep");
    let out = fwlog()
        .args(["recommend", "-i", MAIN, "--format", "bicep", "-o"])
        .arg(&out_file)
        .args(["--policy", "fixtures/policy/bad/bad-port.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("fixtures/policy/bad/bad-port.json"), "{err}");
    assert!(err.contains("$."), "the JSON path of the problem: {err}");
    assert!(!out_file.exists());
}

/// The group the fixture's new rules go into, as the policy files have it.
fn loaded_group(name: &str) -> fwlog::policy::RuleCollectionGroup {
    let paths: Vec<std::path::PathBuf> = POLICY.iter().map(|p| root().join(p)).collect();
    let inputs = fwlog::policy::load(&paths).unwrap();
    inputs
        .policy
        .groups
        .into_iter()
        .find(|g| g.name == name)
        .unwrap()
}

/// The new rules of `recommend --policy --format json`: (collection, name, targets).
fn new_rules() -> Vec<(String, String, Vec<String>)> {
    let v =
        json_of(stdout_of(&with_policy(&["recommend", "-i", MAIN, "--format", "json"])).as_bytes());
    v["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["collection"].as_str().unwrap().to_string(),
                r["name"].as_str().unwrap().to_string(),
                r["target_fqdns"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .map(|t| t.as_str().unwrap().to_string())
                    .collect(),
            )
        })
        .collect()
}

/// Every collection of `had` is in `got` with the user's rules first, unchanged, and the new rules after them.
fn assert_whole(
    had: &fwlog::policy::RuleCollectionGroup,
    got: &fwlog::policy::RuleCollectionGroup,
) {
    assert_eq!(got.priority, had.priority);
    let added = new_rules();
    assert!(!added.is_empty());
    for c in &had.collections {
        let g = got
            .collections
            .iter()
            .find(|x| x.name == c.name)
            .unwrap_or_else(|| panic!("collection {} lost", c.name));
        assert_eq!(
            (g.priority, g.action, g.kind),
            (c.priority, c.action, c.kind)
        );
        assert_eq!(
            &g.rules[..c.rules.len()],
            &c.rules[..],
            "collection {}",
            c.name
        );
        let new: Vec<&str> = g.rules[c.rules.len()..].iter().map(|r| r.name()).collect();
        let want: Vec<&str> = added
            .iter()
            .filter(|(col, _, _)| *col == c.name)
            .map(|(_, n, _)| n.as_str())
            .collect();
        assert_eq!(new, want, "new rules of {}", c.name);
    }
    let total: usize = got.collections.iter().map(|c| c.rules.len()).sum();
    assert_eq!(total, had.rule_count_in() + added.len());
}

trait Count {
    fn rule_count_in(&self) -> usize;
}

impl Count for fwlog::policy::RuleCollectionGroup {
    fn rule_count_in(&self) -> usize {
        self.collections.iter().map(|c| c.rules.len()).sum()
    }
}

#[test]
fn recommend_with_the_policy_writes_the_changed_group_whole_in_arm() {
    let arm = stdout_of(&with_policy(&["recommend", "-i", MAIN, "--format", "arm"]));
    let v = json_of(arm.as_bytes());
    let template = crate::recommend::schema("deployment-template.schema.json");
    let resource = crate::recommend::schema("rule-collection-group.schema.json");
    crate::recommend::assert_valid(&template, &v);
    let resources = v["resources"].as_array().unwrap();
    assert_eq!(resources.len(), 1);
    crate::recommend::assert_valid(&resource, &resources[0]);
    // fwlog's own loader reads the template back (parameters with defaults, format()): the group as deployed.
    let back = fwlog::policy::load_texts(&[("rendered.json".into(), arm)], None).unwrap();
    assert_eq!(back.policy.name, "fwpol-hub-weu");
    assert_eq!(back.policy.groups.len(), 1);
    assert_whole(&loaded_group("aks-egress"), &back.policy.groups[0]);
}

#[test]
fn recommend_with_the_policy_writes_the_changed_group_whole_in_terraform() {
    let tf = stdout_of(&with_policy(&[
        "recommend",
        "-i",
        MAIN,
        "--format",
        "terraform",
    ]));
    let body: hcl::Body = hcl::parse(&tf).expect("valid HCL");
    let groups: Vec<&hcl::Block> = body
        .blocks()
        .filter(|b| b.identifier() == "resource")
        .collect();
    assert_eq!(groups.len(), 1);
    let attr = |b: &hcl::Body, k: &str| -> String {
        b.attributes()
            .find(|a| a.key() == k)
            .map(|a| hcl::format::to_string(a.expr()).unwrap())
            .unwrap_or_default()
    };
    assert_eq!(attr(groups[0].body(), "name"), "\"aks-egress\"");
    assert_eq!(attr(groups[0].body(), "priority"), "200");
    let had = loaded_group("aks-egress");
    let added = new_rules();
    for c in &had.collections {
        let block = groups[0]
            .body()
            .blocks()
            .find(|b| attr(b.body(), "name") == format!("{:?}", c.name))
            .unwrap_or_else(|| panic!("collection {} lost", c.name));
        let want_block = match c.kind {
            fwlog::policy::RuleKind::Application => "application_rule_collection",
            fwlog::policy::RuleKind::Network => "network_rule_collection",
            fwlog::policy::RuleKind::Nat => "nat_rule_collection",
        };
        assert_eq!(block.identifier(), want_block);
        assert_eq!(attr(block.body(), "priority"), c.priority.to_string());
        let rules: Vec<&hcl::Block> = block
            .body()
            .blocks()
            .filter(|b| b.identifier() == "rule")
            .collect();
        let mut want: Vec<String> = c.rules.iter().map(|r| format!("{:?}", r.name())).collect();
        want.extend(
            added
                .iter()
                .filter(|(col, _, _)| *col == c.name)
                .map(|(_, n, _)| format!("{n:?}")),
        );
        let got: Vec<String> = rules.iter().map(|r| attr(r.body(), "name")).collect();
        assert_eq!(got, want, "rules of {}", c.name);
        // Key fields of the user's rules, as written.
        for (r, b) in c.rules.iter().zip(&rules) {
            if let fwlog::policy::Rule::Application(a) = r {
                let fqdns: Vec<String> = a
                    .target_fqdns
                    .iter()
                    .map(|f| format!("{:?}", f.to_string()))
                    .collect();
                if !fqdns.is_empty() {
                    let got: String = attr(b.body(), "destination_fqdns")
                        .chars()
                        .filter(|c| !c.is_whitespace())
                        .collect();
                    assert_eq!(got, format!("[{}]", fqdns.join(",")));
                }
                assert_eq!(attr(b.body(), "terminate_tls").is_empty(), !a.terminate_tls);
            }
            if !r.source_ip_groups().is_empty() {
                assert!(attr(b.body(), "source_ip_groups").contains(&r.source_ip_groups()[0]));
            }
        }
    }
    for (_, name, targets) in &added {
        assert!(tf.contains(&format!("name = {name:?}")), "{name}");
        assert!(
            tf.contains(&format!("destination_fqdns = [{:?}]", targets[0])),
            "{name}"
        );
    }
}

#[test]
fn recommend_with_the_policy_writes_the_changed_group_whole_in_bicep() {
    let bicep = stdout_of(&with_policy(&[
        "recommend",
        "-i",
        MAIN,
        "--format",
        "bicep",
    ]));
    assert_eq!(
        bicep
            .matches("'Microsoft.Network/firewallPolicies/ruleCollectionGroups@")
            .count(),
        1
    );
    assert!(bicep.contains("param firewallPolicyName string = 'fwpol-hub-weu'"));
    // Collection and rule names in order: the user's rules, then the new ones of each collection.
    let names: Vec<&str> = bicep
        .lines()
        .filter_map(|l| l.trim().strip_prefix("name: '"))
        .map(|n| n.trim_end_matches('\''))
        .collect();
    let mut want = vec!["aks-egress".to_string()];
    let added = new_rules();
    for c in &loaded_group("aks-egress").collections {
        want.push(c.name.clone());
        want.extend(c.rules.iter().map(|r| r.name().to_string()));
        want.extend(
            added
                .iter()
                .filter(|(col, _, _)| *col == c.name)
                .map(|(_, n, _)| n.clone()),
        );
    }
    assert_eq!(names, want);
    assert!(bicep.contains("fqdnTags: [\n              'AzureKubernetesService'\n            ]"));
    assert!(bicep.contains("targetUrls: [\n              'github.com/kubernetes-sigs/*'\n            ]\n            terminateTLS: true"));
    // Evidence comments are on the new rules only.
    assert_eq!(bicep.matches("          // denied: ").count(), added.len());
}

/// A fake `az` in `dir/bin`: records each call in `calls.log` (in the working directory); for `rest --method put`
/// keeps the body as `body-N.json` (N: the call's line); answers `account show` and the state poll.
fn fake_az(dir: &std::path::Path) -> std::path::PathBuf {
    let bin = dir.join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let az = bin.join("az");
    std::fs::write(
        &az,
        "#!/bin/bash\nprintf '%s\\x1f' \"$@\" >> calls.log\nprintf '\\n' >> calls.log\n\
         case \"$1 $2 $3\" in\n  'account show '*) echo 00000000-0000-4000-8000-000000000001 ;;\n\
         'rest --method put') for a in \"$@\"; do case \"$a\" in @*) cp \"${a#@}\" \"body-$(wc -l < calls.log).json\" ;; esac; done ;;\n\
         'rest --method get') echo Succeeded ;;\nesac\n",
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&az, std::fs::Permissions::from_mode(0o755)).unwrap();
    bin
}

#[test]
fn recommend_with_the_policy_writes_an_az_script_that_puts_the_group_whole() {
    let dir = tempfile::tempdir().unwrap();
    let script = dir.path().join("rules.sh");
    let out = fwlog()
        .args(
            with_policy(&["recommend", "-i", MAIN, "--format", "azcli", "-o"])
                .iter()
                .take(6),
        )
        .arg(&script)
        .args(&with_policy(&[])[..])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let check = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .output()
        .unwrap();
    assert!(
        check.status.success(),
        "bash -n: {}",
        String::from_utf8_lossy(&check.stderr)
    );
    let bin = fake_az(dir.path());
    let run = std::process::Command::new("bash")
        .arg(&script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("RG", "rg-hub-weu")
        .env("POLICY", "fwpol-hub-weu")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let calls = std::fs::read_to_string(dir.path().join("calls.log")).unwrap();
    let calls: Vec<Vec<&str>> = calls
        .lines()
        .map(|l| l.split('\x1f').filter(|a| !a.is_empty()).collect())
        .collect();
    assert_eq!(calls[0][..2], ["account", "show"]);
    let put = &calls[1];
    assert_eq!(put[..3], ["rest", "--method", "put"]);
    assert_eq!(
        put[4],
        "/subscriptions/00000000-0000-4000-8000-000000000001/resourceGroups/rg-hub-weu/providers/Microsoft.Network/\
         firewallPolicies/fwpol-hub-weu/ruleCollectionGroups/aks-egress?api-version=2024-05-01"
    );
    assert_eq!(calls[2][..3], ["rest", "--method", "get"]);
    assert_eq!(calls.len(), 3);
    // The body is the group whole: read back with the id the REST API would add.
    let mut body: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("body-2.json")).unwrap())
            .unwrap();
    body["name"] = "aks-egress".into();
    body["id"] = "/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/firewallPolicies/fwpol-hub-weu/ruleCollectionGroups/aks-egress".into();
    let back = fwlog::policy::load_texts(&[("body.json".into(), body.to_string())], None).unwrap();
    assert_whole(&loaded_group("aks-egress"), &back.policy.groups[0]);
}

/// Apply a unified diff (as `recommend --against` prints it) to `text`.
fn apply_diff(text: &str, diff: &str) -> String {
    let old: Vec<&str> = text.lines().collect();
    let mut out: Vec<String> = Vec::new();
    let mut at = 0;
    for line in diff.lines().skip(2) {
        if let Some(h) = line.strip_prefix("@@ -") {
            let start: usize = h.split([',', ' ']).next().unwrap().parse().unwrap();
            while at < start.saturating_sub(1) {
                out.push(old[at].to_string());
                at += 1;
            }
        } else if let Some(l) = line.strip_prefix('+') {
            out.push(l.to_string());
        } else if let Some(l) = line.strip_prefix('-') {
            assert_eq!(old[at], l, "the diff removes a line that is not there");
            at += 1;
        } else {
            let l = line.strip_prefix(' ').unwrap_or(line);
            assert_eq!(old[at], l, "context line differs");
            out.push(l.to_string());
            at += 1;
        }
    }
    out.extend(old[at..].iter().map(|l| l.to_string()));
    out.join("\n") + "\n"
}

/// `recommend --policy FILE --against FILE`: the diff only adds lines, applied it gives JSON the loader reads, and
/// the group holds every rule it had plus exactly the new ones; every other group is unchanged.
fn against_round_trip(file: &str) {
    let diff = stdout_of(&["recommend", "-i", MAIN, "--policy", file, "--against", file]);
    assert!(
        diff.starts_with(&format!("--- a/{file}\n+++ b/{file}\n@@ ")),
        "{diff}"
    );
    let removed = diff.lines().skip(2).filter(|l| l.starts_with('-')).count();
    assert_eq!(removed, 0, "untouched lines stay: {diff}");
    let text = std::fs::read_to_string(root().join(file)).unwrap();
    let original: fwlog::render::against::Json = serde_json::from_str(&text).unwrap();
    let before = fwlog::render::against::pretty(&original).unwrap();
    let after = apply_diff(&before, &diff);
    let had = fwlog::policy::load_texts(&[(file.into(), text)], None).unwrap();
    let got = fwlog::policy::load_texts(&[(file.into(), after)], None).unwrap();
    assert_eq!(got.policy.groups.len(), had.policy.groups.len());
    let rec = json_of(
        stdout_of(&[
            "recommend",
            "-i",
            MAIN,
            "--policy",
            file,
            "--format",
            "json",
        ])
        .as_bytes(),
    );
    let new: Vec<&str> = rec["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert!(!new.is_empty());
    for (h, g) in had.policy.groups.iter().zip(&got.policy.groups) {
        if h.name != "aks-egress" {
            assert_eq!(h, g, "group {} changed", h.name);
            continue;
        }
        for (hc, gc) in h.collections.iter().zip(&g.collections) {
            assert_eq!(&gc.rules[..hc.rules.len()], &hc.rules[..], "{}", hc.name);
            let added: Vec<&str> = gc.rules[hc.rules.len()..]
                .iter()
                .map(|r| r.name())
                .collect();
            if hc.name == "aks-app" {
                assert_eq!(added, new);
            } else {
                assert!(added.is_empty(), "{}: {added:?}", hc.name);
            }
        }
    }
}

#[test]
fn recommend_against_an_arm_template_export_is_a_diff_that_only_adds_the_new_rules() {
    against_round_trip("fixtures/policy/arm-template.json");
}

#[test]
fn recommend_against_a_terraform_state_is_a_diff_that_only_adds_the_new_rules() {
    against_round_trip("fixtures/policy/terraform-state.json");
}

#[test]
fn recommend_against_an_az_cli_group_list_is_a_diff_that_only_adds_the_new_rules() {
    let diff = stdout_of(&with_policy(&[
        "recommend",
        "-i",
        MAIN,
        "--against",
        "fixtures/policy/az-rcg-list.json",
    ]));
    assert!(
        diff.contains("+            \"name\": \"mcr-microsoft-com\",\n"),
        "{diff}"
    );
    assert!(!diff.lines().skip(2).any(|l| l.starts_with('-')));
}

#[test]
fn against_without_policy_or_with_another_policys_export_is_exit_2() {
    let out = fwlog()
        .args([
            "recommend",
            "-i",
            MAIN,
            "--against",
            "fixtures/policy/az-rcg-list.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("--against needs --policy or --policy-id")
    );
    // The base policy's groups are not the evaluated policy's.
    let out = fwlog()
        .args(with_policy(&[
            "recommend",
            "-i",
            MAIN,
            "--against",
            "fixtures/policy/rest-base-rcg-list.json",
        ]))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "fixtures/policy/rest-base-rcg-list.json: holds no rule collection group aks-egress"
        ),
        "{err}"
    );
}

/// fwlog with no Azure or fwlog variables from the caller, signing in through the fake's managed identity and
/// reading Resource Manager from the fake.
fn live_fwlog(fake: &crate::fake_arm::FakeArm) -> assert_cmd::Command {
    let mut c = fwlog();
    for (k, _) in std::env::vars() {
        if k.starts_with("AZURE_")
            || k.starts_with("FWLOG_")
            || k.starts_with("IDENTITY_")
            || k.starts_with("MSI_")
            || k == "IMDS_ENDPOINT"
        {
            c.env_remove(k);
        }
    }
    let home = std::env::temp_dir().join("fwlog-policy-live-home");
    c.env("XDG_CONFIG_HOME", &home)
        .env("HOME", &home)
        .env("FWLOG_RETRY_BASE_MS", "20")
        .env("IDENTITY_ENDPOINT", fake.identity_endpoint())
        .env("IDENTITY_HEADER", crate::fake_la::IDENTITY_SECRET)
        .env("FWLOG_ARM_ENDPOINT", fake.url())
        .timeout(std::time::Duration::from_secs(60));
    c
}

fn live_recommend(fake: &crate::fake_arm::FakeArm) -> std::process::Output {
    live_fwlog(fake)
        .args([
            "recommend",
            "-i",
            MAIN,
            "--format",
            "json",
            "--auth",
            "msi",
            "--policy-id",
        ])
        .arg(crate::fake_arm::POLICY_ID)
        .output()
        .unwrap()
}

#[test]
fn policy_id_reads_the_policy_from_resource_manager_like_the_files() {
    let fake = crate::fake_arm::FakeArm::start();
    let out = live_recommend(&fake);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let live = json_of(&out.stdout);
    let files =
        json_of(stdout_of(&with_policy(&["recommend", "-i", MAIN, "--format", "json"])).as_bytes());
    assert_eq!(live, files);
    // The token was asked for Resource Manager's audience, and every request carried it.
    let aud = fake.audiences();
    assert!(!aud.is_empty());
    assert!(
        aud.iter().all(|a| a == "https://management.azure.com"),
        "{aud:?}"
    );
    let log = fake.log();
    assert!(
        log.iter().all(|l| l.authorized && l.status == 200),
        "{log:#?}"
    );
    let lists: Vec<&str> = log
        .iter()
        .filter(|l| l.target.contains("fwpol-hub-weu/ruleCollectionGroups"))
        .map(|l| l.target.as_str())
        .collect();
    // Four groups, two per page: the second page comes from the first page's nextLink.
    assert_eq!(lists.len(), 2, "{lists:?}");
    assert!(lists[1].contains("$skipToken=2"), "{lists:?}");
    assert!(
        log.iter()
            .any(|l| l.target.contains("firewallPolicies/fwpol-org-base?"))
    );
    assert!(
        log.iter()
            .any(|l| l.target.contains("fwpol-org-base/ruleCollectionGroups"))
    );
    assert!(
        log.iter()
            .any(|l| l.target.contains("ipGroups/ipg-aks-nodes?"))
    );
    // The deny report's explanations agree too (the base policy and IP Groups take part in them).
    let report = |args: &[&str]| -> Value {
        let out = live_fwlog(&fake)
            .args(["deny-report", "-i", MAIN, "--format", "json"])
            .args(args)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let mut v = json_of(&out.stdout);
        v["policy_origin"] = Value::Null;
        v
    };
    let live = report(&["--policy-id", crate::fake_arm::POLICY_ID, "--auth", "msi"]);
    let files = report(&with_policy(&[]));
    assert_eq!(live["groups"], files["groups"]);
}

#[test]
fn policy_id_retries_429_honouring_retry_after() {
    let fake = crate::fake_arm::FakeArm::start();
    fake.script(
        "firewallPolicies/fwpol-hub-weu/ruleCollectionGroups",
        crate::fake_arm::Scripted::TooMany { retry_after: 1 },
    );
    fake.script("ipGroups/", crate::fake_arm::Scripted::Unavailable);
    let start = std::time::Instant::now();
    let out = live_recommend(&fake);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(start.elapsed() >= std::time::Duration::from_secs(1));
    let statuses: Vec<u16> = fake.log().iter().map(|l| l.status).collect();
    assert!(
        statuses.contains(&429) && statuses.contains(&503),
        "{statuses:?}"
    );
}

#[test]
fn policy_id_forbidden_names_the_role_and_writes_nothing() {
    let fake = crate::fake_arm::FakeArm::start();
    fake.script(
        "firewallPolicies/fwpol-hub-weu",
        crate::fake_arm::Scripted::Forbidden,
    );
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("rules.tf");
    let out = live_fwlog(&fake)
        .args([
            "recommend",
            "-i",
            MAIN,
            "--format",
            "terraform",
            "--auth",
            "msi",
            "--policy-id",
        ])
        .arg(crate::fake_arm::POLICY_ID)
        .arg("-o")
        .arg(&out_file)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("HTTP 403"), "{err}");
    assert!(err.contains("Reader role on /subscriptions/"), "{err}");
    assert!(!err.contains(crate::fake_la::TOKEN), "{err}");
    assert!(!out_file.exists());
}

#[test]
fn policy_id_is_validated_and_excludes_policy_files() {
    for (args, want) in [
        (
            vec!["--policy-id", "fwpol-hub-weu"],
            "expected its resource ID",
        ),
        (
            vec![
                "--policy-id",
                crate::fake_arm::POLICY_ID,
                "--policy",
                "fixtures/policy/az-rcg-list.json",
            ],
            "cannot be used with",
        ),
        (
            vec![
                "--policy-id",
                crate::fake_arm::POLICY_ID,
                "--arm-endpoint",
                "http://example.com",
            ],
            "invalid Resource Manager endpoint",
        ),
    ] {
        let out = fwlog()
            .args(["recommend", "-i", MAIN, "--format", "json"])
            .args(&args)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(want), "{args:?}: {err}");
    }
}

#[test]
fn a_malformed_against_file_is_exit_2_with_the_json_path_and_nothing_written() {
    let dir = tempfile::tempdir().unwrap();
    let out_file = dir.path().join("change.diff");
    let out = fwlog()
        .args(["recommend", "-i", MAIN, "-o"])
        .arg(&out_file)
        .args(["--against", "fixtures/policy/bad/bad-port.json"])
        .args(&with_policy(&[])[..])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("fixtures/policy/bad/bad-port.json: $."),
        "{err}"
    );
    assert!(!out_file.exists());
}

#[test]
fn classic_rules_get_no_rule_collection_group() {
    let out = fwlog()
        .args([
            "recommend",
            "-i",
            MAIN,
            "--format",
            "terraform",
            "--policy",
            "fixtures/policy/az-firewall-show-classic.json",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("uses classic rules"), "{err}");
}

/// The user's own texts reach every whole-group format inert: a description with a bidi override, quotes,
/// template and shell syntax, and a line break.
#[test]
fn the_users_own_texts_stay_inert_in_every_whole_group_format() {
    const EVIL: &str =
        "team's \u{202e}rule ${var.x} %{if} $(touch /tmp/fwlog-pwned-policy) `id` \"q\"\nnext";
    let dir = tempfile::tempdir().unwrap();
    let mut groups: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("fixtures/policy/az-rcg-list.json")).unwrap(),
    )
    .unwrap();
    let app = groups
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|g| g["name"] == "aks-egress")
        .unwrap()["ruleCollections"]
        .as_array_mut()
        .unwrap()
        .iter_mut()
        .find(|c| c["name"] == "aks-app")
        .unwrap();
    app["rules"][0]["description"] = EVIL.into();
    let edited = dir.path().join("az-rcg-list.json");
    std::fs::write(&edited, groups.to_string()).unwrap();
    let mut policy: Vec<String> = POLICY
        .iter()
        .map(|p| root().join(p).display().to_string())
        .collect();
    policy[1] = edited.display().to_string();
    let render = |format: &str| -> String {
        let out = fwlog()
            .args(["recommend", "-i", MAIN, "--format", format, "--policy"])
            .args(&policy)
            .output()
            .unwrap();
        assert!(
            out.status.success(),
            "{format}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    };
    for format in ["bicep", "terraform", "arm", "azcli", "json"] {
        let text = render(format);
        assert!(
            !text.chars().any(|c| c == '\u{202e}'),
            "{format} carries the bidi override raw"
        );
    }
    let tf = render("terraform");
    hcl::parse(&tf).expect("valid HCL");
    assert!(tf.contains("$${var.x} %%{if}"), "{tf}");
    let arm = render("arm");
    let back = fwlog::policy::load_texts(&[("t.json".into(), arm)], None).unwrap();
    let rule = &back.policy.groups[0]
        .collections
        .iter()
        .find(|c| c.name == "aks-app")
        .unwrap()
        .rules[0];
    match rule {
        fwlog::policy::Rule::Application(a) => assert_eq!(a.description.as_deref(), Some(EVIL)),
        other => panic!("{other:?}"),
    }
    let script = dir.path().join("rules.sh");
    std::fs::write(&script, render("azcli")).unwrap();
    let bin = fake_az(dir.path());
    let canary = std::path::Path::new("/tmp/fwlog-pwned-policy");
    let _ = std::fs::remove_file(canary);
    let run = std::process::Command::new("bash")
        .arg(&script)
        .env(
            "PATH",
            format!("{}:{}", bin.display(), std::env::var("PATH").unwrap()),
        )
        .env("RG", "rg-hub-weu")
        .env("POLICY", "fwpol-hub-weu")
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert!(
        run.status.success(),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    assert!(
        !canary.exists(),
        "the script ran a command from a description"
    );
    let body: Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("body-2.json")).unwrap())
            .unwrap();
    let put = body["properties"]["ruleCollections"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "aks-app")
        .unwrap();
    assert_eq!(put["rules"][0]["description"], EVIL);
}

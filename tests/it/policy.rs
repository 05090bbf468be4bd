//! The user's firewall policy: denies explained against it in every deny-report format, `fwlog why`, and
//! `recommend --policy` writing only what the policy lacks, in the user's own collections.

use serde_json::Value;

use crate::util::{MAIN, fwlog, json_of, stdout_of};

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

//! Issue 25 item 4: no silent clean. On a complete fleet, a consumer that selects no instance is
//! an error (`selects-nothing`) unless it says `mayBeEmpty` or a waiver accepts it; a read of an
//! output no provider promises and no instance carries is a warning naming the likely typo.

use crate::support::*;
use serde_json::{Value, json};

/// A provisioner that tags its instances `ManagedBy=fleetd` and promises it.
fn managed_provider() -> Value {
    let mut p = provider();
    p["outputs"]["tag:ManagedBy"] = json!({"template": "fleetd"});
    p["outputs"]
        .as_object_mut()
        .expect("outputs")
        .remove("userData.securityToken");
    p
}

fn managed_instance(id: &str, wt: &str) -> Value {
    let mut i = instance(
        id,
        &format!("managed:{wt}:0123456"),
        wt,
        Some(&json!({"workerType": wt})),
    );
    i["Tags"]
        .as_array_mut()
        .expect("tags")
        .push(json!({"Key": "ManagedBy", "Value": "fleetd"}));
    i
}

/// A culling consumer whose selector reads `selector_output`.
fn culler(selector_output: &str, extra: Value) -> Value {
    let mut c = json!({
        "kind": "consumer", "name": "culler", "owner": "relops", "description": "culls",
        "selector": {"conditions": [{"output": selector_output, "equals": "fleetd"}]},
        "clauses": [{"id": "culler-wt", "kind": "derives", "fact": "workerType",
                     "from": {"output": "tag:Name"}, "why": "groups by tag:Name"}]
    });
    if let (Some(c), Some(e)) = (c.as_object_mut(), extra.as_object()) {
        c.extend(e.clone());
    }
    c
}

/// Checks `consumers` (with the managed provider and, if given, waivers) on a two-instance fleet.
fn check(consumers: &[Value], waivers: Option<Value>, fleet_instances: Vec<Value>) -> Run {
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &managed_provider());
    for (k, c) in consumers.iter().enumerate() {
        write_json(dir.path(), &format!("c/cons{k}.json"), c);
    }
    if let Some(w) = waivers {
        write_json(dir.path(), "c/waivers.json", &w);
    }
    let f = write_json(dir.path(), "fleet.json", &fleet(fleet_instances));
    let c = dir.path().join("c");
    checker(&[
        "check",
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f.to_str().expect("utf8"),
        "--format",
        "json",
        "--now",
        NOW,
    ])
}

fn two() -> Vec<Value> {
    vec![
        managed_instance("i-1", "wt-a"),
        managed_instance("i-2", "wt-b"),
    ]
}

fn codes(v: &Value) -> Vec<(String, String, String)> {
    v["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .map(|f| {
            (
                f["code"].as_str().unwrap_or("").to_string(),
                f["consumer"].as_str().unwrap_or("").to_string(),
                f["outcome"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

#[test]
fn a_selector_typo_is_an_error_naming_the_output_it_meant() {
    let r = check(
        &[consumer(), culler("tag:ManagedBy", json!({}))],
        None,
        two(),
    );
    assert_eq!(r.code, 0, "spelled right, all is well: {}", r.stdout);
    let r = check(
        &[consumer(), culler("tag:ManagdBy", json!({}))],
        None,
        two(),
    );
    assert_eq!(r.code, 1, "selecting nothing is not clean: {}", r.stdout);
    assert_eq!(r.json()["summary"]["errors"], 1, "{}", r.stdout);
    let v = r.json();
    let f = v["findings"]
        .as_array()
        .expect("f")
        .iter()
        .find(|f| f["code"] == "selects-nothing")
        .unwrap_or_else(|| panic!("{v}"));
    assert_eq!(f["consumer"], "culler");
    assert_eq!(f["outcome"], "violation");
    assert_eq!(f["severity"], "error");
    let msg = f["message"].as_str().expect("message");
    assert!(
        msg.contains("did you mean tag:ManagedBy?") && msg.contains("none of the 2 instance(s)"),
        "{msg}"
    );
    assert!(f["location"]["line"].as_u64().is_some(), "{f}");
    // The load-time warning: located at the condition, with the name that exists.
    assert!(
        r.stderr.contains("cons1.json:")
            && r.stderr.contains("at /selector/conditions/0: the selector of culler reads tag:ManagdBy, which no provider promises and no instance of the fleet carries")
            && r.stderr.contains("hint: did you mean tag:ManagedBy?"),
        "{}",
        r.stderr
    );
    // The consumer that selects both instances has no such finding.
    assert!(
        !codes(&v)
            .iter()
            .any(|(c, who, _)| c == "selects-nothing" && who == "cons")
    );
}

#[test]
fn a_clause_reading_a_typo_warns_with_did_you_mean() {
    let mut c = consumer();
    c["clauses"].as_array_mut().expect("clauses").push(json!({
        "id": "cons-reads-wt", "kind": "present", "output": "userData.wokerType",
        "severity": "warning", "why": "reads the worker type"
    }));
    let r = check(&[c], None, two());
    assert!(
        r.stderr
            .contains("at /clauses/2: cons reads userData.wokerType")
            && r.stderr.contains("did you mean userData.workerType?"),
        "{}",
        r.stderr
    );
    // Spelled right, nothing to warn of.
    let r = check(&[consumer()], None, two());
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    // Without a fleet, validate warns of the reads one typo away from a promised output.
    let dir = tempfile::tempdir().expect("tmp");
    write_json(dir.path(), "c/prov.json", &managed_provider());
    write_json(
        dir.path(),
        "c/cons.json",
        &culler("tag:ManagdBy", json!({})),
    );
    let v = checker(&[
        "validate",
        "--contracts",
        dir.path().join("c").to_str().expect("utf8"),
    ]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert!(
        v.stderr.contains("did you mean tag:ManagedBy?"),
        "{}",
        v.stderr
    );
}

#[test]
fn may_be_empty_or_a_waiver_of_the_whole_consumer_accepts_an_idle_consumer() {
    let idle = culler("tag:ManagedBy", json!({"mayBeEmpty": true}));
    let mut idle = idle;
    idle["selector"]["conditions"][0]["equals"] = json!("someone-else");
    let r = check(&[consumer(), idle.clone()], None, two());
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(
        !codes(&r.json())
            .iter()
            .any(|(c, _, _)| c == "selects-nothing")
    );

    idle.as_object_mut().expect("obj").remove("mayBeEmpty");
    let r = check(&[consumer(), idle.clone()], None, two());
    assert_eq!(r.code, 1, "{}", r.stdout);

    let waiver = |expires: &str| {
        json!({"kind": "waivers", "waivers": [{
            "consumer": "culler", "owner": "relops",
            "reason": "the pool is scaled to zero until March", "expires": expires
        }]})
    };
    let r = check(
        &[consumer(), idle.clone()],
        Some(waiver("2018-03-01")),
        two(),
    );
    assert_eq!(r.code, 0, "{}", r.stdout);
    let found = codes(&r.json());
    assert!(
        found.contains(&("selects-nothing".into(), "culler".into(), "waived".into())),
        "{found:?}"
    );
    assert!(
        !found.iter().any(|(c, _, _)| c == "waiver-unused"),
        "{found:?}"
    );
    // An expired waiver accepts nothing.
    let r = check(&[consumer(), idle], Some(waiver("2018-02-01")), two());
    assert_eq!(r.code, 1, "{}", r.stdout);
}

#[test]
fn where_selecting_nothing_means_nothing_no_finding_is_made() {
    // An empty fleet: source-empty says it (exit 3), not one finding per consumer.
    let r = check(&[consumer()], None, vec![]);
    assert_eq!(r.code, 3, "{}", r.stdout);
    assert!(
        !codes(&r.json())
            .iter()
            .any(|(c, _, _)| c == "selects-nothing")
    );
    // The gate renders only what is proposed: a consumer of another pool selects none of it.
    let dir = tempfile::tempdir().expect("tmp");
    for f in ["occ.json", "culling.json"] {
        std::fs::copy(
            root().join(format!("{R}/consumers-prefix/{f}")),
            dir.path().join(f),
        )
        .expect("copy");
    }
    write_json(
        dir.path(),
        "other-pool.json",
        &json!({
            "kind": "consumer", "name": "other-pool", "owner": "relops", "description": "another pool's job",
            "selector": {"conditions": [{"output": "tag:Name", "equals": "gecko-t-linux-large"}]},
            "clauses": [{"id": "other-pool-key", "kind": "present", "output": "KeyName", "why": "w"}]
        }),
    );
    let g = checker(&[
        "gate",
        "--contracts",
        dir.path().to_str().expect("utf8"),
        "--proposed",
        &format!("{R}/provider-before/ec2-manager.json"),
        "--format",
        "json",
    ]);
    assert_eq!(g.code, 0, "{}\n{}", g.stdout, g.stderr);
    let v = g.json();
    assert!(
        !codes(&v).iter().any(|(c, _, _)| c == "selects-nothing"),
        "{v}"
    );
    assert_eq!(verdict(&v, "other-pool")["deployable"], "yes");
    assert_eq!(verdict(&v, "other-pool")["affected"], false);
}

/// `cull` on its own (no `check` beside it to report `selects-nothing`): a cull contract whose
/// selector matches nothing refuses, exit 1, even with nothing impaired; spelled right, or
/// declared `mayBeEmpty`, it plans as usual.
#[test]
fn a_standalone_cull_whose_selector_matches_nothing_refuses() {
    let cull = |selector: &str, extra: Value| {
        let dir = tempfile::tempdir().expect("tmp");
        write_json(dir.path(), "c/prov.json", &managed_provider());
        let mut c = culler(selector, extra);
        c["role"] = json!("cull");
        write_json(dir.path(), "c/cull.json", &c);
        let f = write_json(dir.path(), "fleet.json", &fleet(two()));
        let s = write_json(dir.path(), "status.json", &json!({"InstanceStatuses": []}));
        let c = dir.path().join("c");
        checker(&[
            "cull",
            "--contracts",
            c.to_str().expect("utf8"),
            "--fleet",
            f.to_str().expect("utf8"),
            "--status",
            s.to_str().expect("utf8"),
            "--now",
            NOW,
        ])
    };
    let r = cull("tag:ManagedBy", json!({}));
    assert_eq!(
        r.code, 0,
        "spelled right, all is well: {}{}",
        r.stdout, r.stderr
    );
    let r = cull("tag:ManagdBy", json!({}));
    assert_eq!(
        r.code, 1,
        "a cull that selects nothing is not clean: {}{}",
        r.stdout, r.stderr
    );
    let out = format!("{}{}", r.stdout, r.stderr);
    assert!(
        out.contains("selects none of the 2 instance(s) read"),
        "{out}"
    );
    let r = cull("tag:ManagdBy", json!({"mayBeEmpty": true}));
    assert_eq!(r.code, 0, "declared idle: {}{}", r.stdout, r.stderr);
}

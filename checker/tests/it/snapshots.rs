//! Snapshots and `checker diff`.

use crate::support::*;
use serde_json::Value;

fn contracts() -> Vec<String> {
    vec![
        "--contracts".into(),
        format!("{R}/provider-before"),
        "--contracts".into(),
        format!("{R}/consumers-prefix"),
    ]
}

fn snapshot(fleet: &str, out: &std::path::Path) -> Run {
    let mut a: Vec<String> = vec!["snapshot".into()];
    a.extend(contracts());
    a.extend([
        "--fleet".into(),
        fleet.into(),
        "--out".into(),
        out.to_str().expect("utf8").into(),
    ]);
    checker(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

fn diff(snap: &std::path::Path, fleet: &str, extra: &[&str]) -> Run {
    let mut a: Vec<String> = vec![
        "diff".into(),
        "--snapshot".into(),
        snap.to_str().expect("utf8").into(),
    ];
    a.extend(contracts());
    a.extend(["--fleet".into(), fleet.into(), "--now".into(), NOW.into()]);
    a.extend(extra.iter().map(|s| s.to_string()));
    checker(&a.iter().map(String::as_str).collect::<Vec<_>>())
}

#[test]
fn the_2018_change_names_occ_and_the_culling_job_as_broken_and_generic_worker_as_unaffected() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("fleet.json");
    assert_eq!(
        snapshot(&format!("{R}/fleet-2018-02-12.json"), &snap).code,
        0
    );
    let r = diff(
        &snap,
        &format!("{R}/fleet-2018-02-14.json"),
        &["--format", "json"],
    );
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["format"], "checker-diff");
    let changes = v["changes"].as_array().expect("arr");
    let windows: Vec<&Value> = changes
        .iter()
        .filter(|c| {
            c["group"]
                .as_str()
                .unwrap_or("")
                .starts_with("ec2-manager/gecko")
        })
        .collect();
    for wt in [
        "gecko-t-win10-64",
        "gecko-t-win10-64-gpu",
        "gecko-t-win7-32",
        "gecko-t-win7-32-gpu",
        "gecko-1-b-win2012",
        "gecko-2-b-win2012",
        "gecko-3-b-win2012",
    ] {
        let group = format!("ec2-manager/{wt}");
        let key = windows
            .iter()
            .find(|c| c["group"] == group.as_str() && c["output"] == "KeyName")
            .unwrap_or_else(|| panic!("KeyName change for {wt}"));
        assert_eq!(key["kind"], "changed");
        let impact: Vec<(String, String)> = key["consumers"]
            .as_array()
            .expect("arr")
            .iter()
            .map(|i| {
                (
                    i["consumer"].as_str().unwrap_or("").into(),
                    i["holds"].as_str().unwrap_or("").into(),
                )
            })
            .collect();
        assert!(
            impact.contains(&("occ".into(), "no".into()))
                && impact.contains(&("impaired-instance-culling".into(), "no".into())),
            "{impact:?}"
        );
        assert!(
            impact.contains(&("ec2-manager-housekeeping".into(), "yes".into())),
            "{impact:?}"
        );
        let owner = windows
            .iter()
            .find(|c| c["group"] == group.as_str() && c["output"] == "tag:Owner")
            .unwrap_or_else(|| panic!("tag:Owner change for {wt}"));
        assert_eq!(owner["uncontracted"], true);
    }
    assert!(
        v["unaffected"]
            .as_array()
            .expect("arr")
            .iter()
            .any(|c| c == "generic-worker"),
        "{}",
        v["unaffected"]
    );
    assert!(
        !changes
            .iter()
            .any(|c| c["consumers"].to_string().contains("generic-worker"))
    );
    assert_eq!(v["breaking"], true);
}

/// The human form shows a unified diff of the snapshot, then the impact; Markdown a table.
#[test]
fn the_2018_diff_reads_as_a_unified_diff_and_a_table() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("fleet.json");
    assert_eq!(
        snapshot(&format!("{R}/fleet-2018-02-12.json"), &snap).code,
        0
    );
    let h = diff(&snap, &format!("{R}/fleet-2018-02-14.json"), &[]);
    assert!(
        h.stdout
            .contains("-            \"aws-provisioner-v1-managed:gecko-t-win10-64:052415f\"")
            && h.stdout
                .contains("+            \"aws-provisioner-v1-managed:ffe27db\""),
        "{}",
        h.stdout
    );
    assert!(
        h.stdout.contains("impact:") && h.stdout.contains("occ BREAKS"),
        "{}",
        h.stdout
    );
    let md = diff(
        &snap,
        &format!("{R}/fleet-2018-02-14.json"),
        &["--format", "markdown"],
    );
    assert!(
        md.stdout.contains(
            "| <code>ec2-manager/gecko-t-win10-64</code> | <code>KeyName</code> | changed |"
        ) && md.stdout.contains("```diff"),
        "{}",
        md.stdout
    );
}

#[test]
fn no_change_is_exit_0_and_fail_on_drift_fails_any_change() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("s.json");
    snapshot(&format!("{R}/fleet-2018-02-14.json"), &snap);
    let same = diff(&snap, &format!("{R}/fleet-2018-02-14.json"), &[]);
    assert_eq!(same.code, 0, "{}", same.stdout);
    assert!(same.stdout.contains("no change since"));
    // Postfix consumers hold on the new fleet: changes, but none breaking.
    let snap12 = dir.path().join("s12.json");
    snapshot(&format!("{R}/fleet-2018-02-12.json"), &snap12);
    let mut a = vec![
        "diff",
        "--snapshot",
        snap12.to_str().expect("utf8"),
        "--contracts",
        "examples/taskcluster-2018/provider-after",
        "--contracts",
        "examples/taskcluster-2018/consumers-postfix",
    ];
    a.extend(["--fleet", "examples/taskcluster-2018/fleet-2018-02-14.json"]);
    let r = checker(&a);
    assert_eq!(r.code, 0, "{}", r.stdout);
    a.push("--fail-on-drift");
    assert_eq!(checker(&a).code, 1);
}

#[test]
fn shuffled_or_grown_fleets_with_the_same_outputs_give_a_byte_identical_snapshot() {
    let dir = tempfile::tempdir().expect("tmp");
    let original =
        std::fs::read_to_string(root().join(R).join("fleet-2018-02-12.json")).expect("fleet");
    let mut v: Value = serde_json::from_str(&original).expect("json");
    let res = v["Reservations"].as_array_mut().expect("arr");
    res.reverse();
    // A new instance identical in its outputs to an existing one (other id, same everything else).
    // (from a group of 10, so its coarse count bucket stays 10-99)
    let mut twin = res
        .iter()
        .find(|r| {
            r["Instances"][0]["Tags"]
                .to_string()
                .contains("\"gecko-t-win10-64\"")
        })
        .expect("a win10 worker")
        .clone();
    twin["Instances"][0]["InstanceId"] = Value::String("i-0ffffffffffffffff".into());
    res.push(twin);
    let shuffled = write_json(dir.path(), "shuffled.json", &v);
    let (a, b) = (dir.path().join("a.json"), dir.path().join("b.json"));
    assert_eq!(snapshot(&format!("{R}/fleet-2018-02-12.json"), &a).code, 0);
    assert_eq!(snapshot(shuffled.to_str().expect("utf8"), &b).code, 0);
    let (ta, tb) = (
        std::fs::read_to_string(&a).expect("a"),
        std::fs::read_to_string(&b).expect("b"),
    );
    assert!(
        ta == tb,
        "snapshots differ:\n{}",
        similar::TextDiff::from_lines(&ta, &tb).unified_diff()
    );
}

#[test]
fn corrupt_newer_or_missing_snapshots_are_bad_input_and_never_overwritten() {
    let dir = tempfile::tempdir().expect("tmp");
    let fleet = format!("{R}/fleet-2018-02-14.json");
    let corrupt = write(
        dir.path(),
        "corrupt.json",
        "{\"format\": \"checker-snapshot\", \"version\": 1, \"groups\": {",
    );
    let r = diff(&corrupt, &fleet, &["--update"]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("corrupt.json:") && r.stderr.contains("snapshot is corrupt"),
        "{}",
        r.stderr
    );
    assert_eq!(
        std::fs::read_to_string(&corrupt).expect("kept"),
        "{\"format\": \"checker-snapshot\", \"version\": 1, \"groups\": {"
    );
    let newer = write(
        dir.path(),
        "newer.json",
        "{\"format\": \"checker-snapshot\", \"version\": 2, \"groups\": {}}",
    );
    let r = diff(&newer, &fleet, &["--update"]);
    assert_eq!(r.code, 2);
    assert!(
        unlocated(&r.stderr).contains("newer.json at /version")
            && r.stderr.contains("newer checker (format version 2"),
        "{}",
        r.stderr
    );
    assert!(
        std::fs::read_to_string(&newer)
            .expect("kept")
            .contains("\"version\": 2")
    );
    let r = diff(&dir.path().join("missing.json"), &fleet, &[]);
    assert_eq!(r.code, 2);
    assert!(
        r.stderr.contains("missing.json") && r.stderr.contains("checker snapshot --out"),
        "{}",
        r.stderr
    );
    let other = write(
        dir.path(),
        "report.json",
        "{\"format\": \"checker-report\", \"version\": 1}",
    );
    assert_eq!(diff(&other, &fleet, &[]).code, 2);
}

#[test]
fn update_writes_the_new_baseline_after_showing_the_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("s.json");
    snapshot(&format!("{R}/fleet-2018-02-12.json"), &snap);
    let r = diff(&snap, &format!("{R}/fleet-2018-02-14.json"), &["--update"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("updated"), "{}", r.stdout);
    let again = diff(&snap, &format!("{R}/fleet-2018-02-14.json"), &[]);
    assert_eq!(
        again.code, 0,
        "the reviewed change is the new baseline: {}",
        again.stdout
    );
}

#[test]
fn secrets_never_reach_snapshots_or_diffs() {
    let dir = tempfile::tempdir().expect("tmp");
    let snap = dir.path().join("s.json");
    snapshot(&format!("{R}/fleet-2018-02-12.json"), &snap);
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(!text.contains("tok-"), "a token leaked into the snapshot");
    let v: Value = serde_json::from_str(&text).expect("json");
    assert_eq!(
        v["groups"]["ec2-manager/gecko-t-win7-32"]["outputs"]["userData.securityToken"]["secret"],
        true
    );
    for format in ["human", "json", "markdown", "junit"] {
        let r = diff(
            &snap,
            &format!("{R}/fleet-2018-02-14.json"),
            &["--format", format],
        );
        assert!(
            !r.stdout.contains("tok-") && !r.stderr.contains("tok-"),
            "{format}"
        );
    }
}

/// A run that read no instance is not clean (exit 3, `source-empty`); a diff against a snapshot
/// whose consumers had instances, of a fleet where they select none, names each consumer as
/// having lost its input and breaks (exit 1): the hook exited 0 while every group vanished.
#[test]
fn an_empty_fleet_is_not_clean_and_consumers_that_lost_their_input_break_the_diff() {
    let dir = tempfile::tempdir().expect("tmp");
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, r#"{"Reservations": []}"#).expect("write");
    let e = empty.to_str().expect("utf8");
    let c = [
        "--contracts",
        "examples/taskcluster-2018/provider-before",
        "--contracts",
        "examples/taskcluster-2018/consumers-prefix",
    ];
    let mut a = vec!["check", "--fleet", e, "--format", "json"];
    a.extend(c);
    let r = checker(&a);
    assert_eq!(r.code, 3, "{}\n{}", r.stdout, r.stderr);
    let v = r.json();
    assert_eq!(v["summary"]["status"], "incomplete");
    assert_eq!(v["findings"][0]["code"], "source-empty");
    let mut a = vec![
        "diff",
        "--snapshot",
        "snapshots/taskcluster-2018-02-12.json",
        "--fleet",
        e,
        "--format",
        "json",
    ];
    a.extend(c);
    let d = checker(&a);
    assert_eq!(d.code, 1, "{}\n{}", d.stdout, d.stderr);
    let v = d.json();
    let lost: Vec<&str> = v["lostInputs"]
        .as_array()
        .expect("arr")
        .iter()
        .filter_map(|x| x.as_str())
        .collect();
    assert!(
        lost.contains(&"occ") && lost.contains(&"impaired-instance-culling"),
        "{lost:?}"
    );
    assert_eq!(v["breaking"], true);
}

/// Issue 25 item 10: a group's instances replaced (new ids, public IPv4 addresses, launch times,
/// a per-instance tag the manifest marks `perInstance`) is normal churn: the snapshot records
/// whether instances carry those outputs, never their values, and `--fail-on-drift` holds.
#[test]
fn per_instance_outputs_are_summarised_so_churn_is_no_drift() {
    let dir = tempfile::tempdir().expect("tmp");
    let mut p = provider();
    p["outputs"]["tag:Hostname"] = serde_json::json!({"perInstance": true});
    write_json(dir.path(), "c/prov.json", &p);
    write_json(dir.path(), "c/cons.json", &consumer());
    let generation = |n: u8| -> Value {
        let instances = (0..3u8)
            .map(|k| {
                let id = format!("i-0{n}{k}");
                let mut i = instance(&id, "managed:wt-a:0123456", "wt-a", None);
                i["PublicIpAddress"] = Value::from(format!("54.{n}.{k}.{}", 10 + k));
                i["LaunchTime"] = Value::from(format!("2018-02-1{n}T0{k}:00:00.000Z"));
                i["Tags"]
                    .as_array_mut()
                    .expect("tags")
                    .push(serde_json::json!({"Key": "Hostname", "Value": format!("worker-{id}")}));
                i
            })
            .collect();
        fleet(instances)
    };
    let f1 = write_json(dir.path(), "f1.json", &generation(1));
    let f2 = write_json(dir.path(), "f2.json", &generation(2));
    let c = dir.path().join("c");
    let snap = dir.path().join("s.json");
    let s = checker(&[
        "snapshot",
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f1.to_str().expect("utf8"),
        "--out",
        snap.to_str().expect("utf8"),
    ]);
    assert_eq!(s.code, 0, "{}", s.stderr);
    let text = std::fs::read_to_string(&snap).expect("snapshot");
    assert!(
        !text.contains("54.1."),
        "no address in the snapshot: {text}"
    );
    assert!(
        !text.contains("worker-i-"),
        "no per-instance tag value: {text}"
    );
    let v: Value = serde_json::from_str(&text).expect("json");
    let group = &v["groups"]["prov/wt-a"]["outputs"];
    for o in ["PublicIpAddress", "tag:Hostname"] {
        assert_eq!(group[o]["perInstance"], true, "{o}: {group}");
        assert_eq!(group[o]["present"], "all", "{o}: {group}");
        assert!(group[o].get("values").is_none() && group[o].get("shapes").is_none());
    }
    let d = checker(&[
        "diff",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f2.to_str().expect("utf8"),
        "--fail-on-drift",
    ]);
    assert_eq!(d.code, 0, "replacing instances is no drift: {}", d.stdout);
    assert!(d.stdout.contains("no change since"), "{}", d.stdout);
    // Losing the address on some instances is a change in shape, and is reported.
    let mut fewer = generation(2);
    fewer["Reservations"][0]["Instances"][0]
        .as_object_mut()
        .expect("obj")
        .remove("PublicIpAddress");
    let f3 = write_json(dir.path(), "f3.json", &fewer);
    let d = checker(&[
        "diff",
        "--snapshot",
        snap.to_str().expect("utf8"),
        "--contracts",
        c.to_str().expect("utf8"),
        "--fleet",
        f3.to_str().expect("utf8"),
        "--fail-on-drift",
    ]);
    assert_eq!(d.code, 1, "{}", d.stdout);
    assert!(d.stdout.contains("PublicIpAddress"), "{}", d.stdout);
}

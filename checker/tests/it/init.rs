//! `checker init`: validated draft contracts from a recorded fleet, deterministic, clean on the
//! fleet they came from, and strong enough to catch the 2018 key rename.

use crate::support::*;
use serde_json::Value;

fn init(fleet: &str, out: &std::path::Path, extra: &[&str]) -> Run {
    let mut a = vec![
        "init",
        "--fleet",
        fleet,
        "--out",
        out.to_str().expect("utf8"),
    ];
    a.extend_from_slice(extra);
    checker(&a)
}

fn read_tree(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut v: Vec<(String, String)> = walk(dir);
    v.sort();
    v
}

fn walk(dir: &std::path::Path) -> Vec<(String, String)> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).expect("dir") {
        let p = e.expect("e").path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push((
                p.display().to_string(),
                std::fs::read_to_string(&p).expect("read"),
            ));
        }
    }
    out
}

#[test]
fn a_manifest_inferred_from_the_12th_flags_the_14ths_key_name_as_the_provider_breaking_it() {
    let dir = tempfile::tempdir().expect("tmp");
    let out = dir.path().join("drafts");
    let r = init("examples/taskcluster-2018/fleet-2018-02-12.json", &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("providers/aws-provisioner-v1-managed.json"))
            .expect("manifest"),
    )
    .expect("json");
    assert_eq!(
        m["outputs"]["KeyName"]["template"],
        "aws-provisioner-v1-managed:{name}:{keyHash}"
    );
    assert_eq!(m["outputs"]["tag:Name"]["template"], "{name}");
    assert_eq!(m["outputs"]["userData.workerType"]["template"], "{name}");
    assert_eq!(m["outputs"]["userData.securityToken"]["secret"], true);
    assert_eq!(m["groupBy"], "name");
    let drafts = out.to_str().expect("utf8");
    let same = checker(&[
        "check",
        "--contracts",
        drafts,
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-12.json",
    ]);
    assert_eq!(
        same.code, 0,
        "the drafts hold on the fleet they came from: {}",
        same.stdout
    );
    let next = checker(&[
        "check",
        "--contracts",
        drafts,
        "--fleet",
        "examples/taskcluster-2018/fleet-2018-02-14.json",
        "--format",
        "json",
    ]);
    assert_eq!(next.code, 1, "{}", next.stdout);
    let v = next.json();
    assert!(
        v["findings"]
            .as_array()
            .expect("f")
            .iter()
            .any(|f| f["code"] == "manifest-violated" && f["output"] == "KeyName"),
        "{v}"
    );
    // Secrets are promised by presence only: no token value reaches the drafts.
    for (path, text) in read_tree(&out) {
        assert!(!text.contains("tok-"), "a secret value in the drafts");
        // The drafts say they are drafts; the schemas beside them are checker's own.
        assert!(
            text.contains("DRAFT") || path.contains("/schema/"),
            "{path}"
        );
    }
}

#[test]
fn drafts_are_deterministic_validated_and_never_overwritten_silently() {
    let dir = tempfile::tempdir().expect("tmp");
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    assert_eq!(init("examples/firefox-ci-2021/fleet.json", &a, &[]).code, 0);
    assert_eq!(init("examples/firefox-ci-2021/fleet.json", &b, &[]).code, 0);
    let strip = |t: Vec<(String, String)>, d: &std::path::Path| -> Vec<(String, String)> {
        t.into_iter()
            .map(|(p, s)| (p.replace(d.to_str().expect("utf8"), ""), s))
            .collect()
    };
    assert_eq!(strip(read_tree(&a), &a), strip(read_tree(&b), &b));
    let v = checker(&["validate", "--contracts", a.to_str().expect("utf8")]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    let c = checker(&[
        "check",
        "--contracts",
        a.to_str().expect("utf8"),
        "--fleet",
        "examples/firefox-ci-2021/fleet.json",
    ]);
    assert_eq!(c.code, 0, "{}", c.stdout);
    let again = init("examples/firefox-ci-2021/fleet.json", &a, &[]);
    assert_eq!(again.code, 2, "{}", again.stderr);
    assert!(again.stderr.contains("--force"));
    assert_eq!(
        init("examples/firefox-ci-2021/fleet.json", &a, &["--force"]).code,
        0
    );
}

/// A fleet whose provisioner (tag:ManagedBy) puts the pool in a tag and in user-data, and whose
/// instance profile ARN names the owning account (the reservation's OwnerId).
fn pool_fleet(pools: &[(&str, &str, &str)], user_data: bool) -> Value {
    let reservations: Vec<Value> = pools
        .iter()
        .map(|(id, tag_pool, ud_pool)| {
            let mut i = serde_json::json!({
                "InstanceId": id,
                "ImageId": "ami-12345678",
                "InstanceType": "m5.large",
                "Placement": {"AvailabilityZone": "us-east-1a"},
                "State": {"Name": "running"},
                "IamInstanceProfile": {"Arn": "arn:aws:iam::210987654321:instance-profile/runner"},
                "Tags": [
                    {"Key": "ManagedBy", "Value": "fleetd"},
                    {"Key": "Name", "Value": format!("ci-{tag_pool}")},
                    {"Key": "Pool", "Value": tag_pool}
                ]
            });
            if user_data {
                use base64::Engine;
                let ud = serde_json::json!({"pool": ud_pool, "role": "ci"}).to_string();
                i["UserData"] = serde_json::json!({"Value": base64::engine::general_purpose::STANDARD.encode(ud)});
            }
            serde_json::json!({"OwnerId": "210987654321", "Instances": [i]})
        })
        .collect();
    serde_json::json!({ "Reservations": reservations })
}

const POOLS: &[(&str, &str, &str)] = &[
    ("i-01", "linux", "linux"),
    ("i-02", "linux", "linux"),
    ("i-03", "gpu", "gpu"),
    ("i-04", "gpu", "gpu"),
];

/// Issue 25 item 9: outputs equal on every instance share one variable (a disagreement between
/// them then breaks the manifest); a 12-digit segment equal to the record's account is the
/// `account` builtin, not a hash; the group variable is named from the data; the drafts'
/// `$schema` resolves where they are written; a contract test is drafted and passes.
#[test]
fn drafts_bind_equal_outputs_to_one_variable_and_read_the_account_as_an_account() {
    let dir = tempfile::tempdir().expect("tmp");
    let healthy = write_json(dir.path(), "fleet.json", &pool_fleet(POOLS, true));
    let out = dir.path().join("drafts");
    let r = init(healthy.to_str().expect("utf8"), &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(!r.stderr.contains("warning"), "{}", r.stderr);
    let m: Value = serde_json::from_str(
        &std::fs::read_to_string(out.join("providers/fleetd.json")).expect("manifest"),
    )
    .expect("json");
    let (pool_tag, pool_ud) = (
        &m["outputs"]["tag:Pool"]["template"],
        &m["outputs"]["userData.pool"]["template"],
    );
    assert!(pool_tag.is_string(), "{m}");
    assert_eq!(
        pool_tag, pool_ud,
        "tag:Pool and userData.pool share one variable: {m}"
    );
    assert_eq!(
        m["outputs"]["IamInstanceProfile"]["template"],
        "arn:aws:iam::{account}:instance-profile/runner"
    );
    assert_eq!(m["variables"]["account"]["builtin"], "account");
    assert!(m["variables"].get("keyHash").is_none(), "{m}");
    assert_eq!(m["groupBy"], "name", "named from the data (tag:Name): {m}");
    // $schema resolves beside the drafts, wherever they are.
    for (file, schema) in [
        ("providers/fleetd.json", "provider"),
        ("consumers/fleetd-draft.json", "consumer"),
        ("tests/fleetd-draft.test.json", "test"),
    ] {
        let doc: Value =
            serde_json::from_str(&std::fs::read_to_string(out.join(file)).expect(file))
                .expect("json");
        let rel = doc["$schema"].as_str().expect("$schema");
        let target = out.join(file).parent().expect("dir").join(rel);
        assert!(target.is_file(), "{file}: $schema {rel} does not resolve");
        assert!(rel.ends_with(&format!("{schema}.schema.json")), "{rel}");
    }
    assert!(r.stderr.contains("test case(s)"), "{}", r.stderr);
    let drafts = out.to_str().expect("utf8");
    let t = checker(&["test", "--contracts", drafts]);
    assert_eq!(
        t.code, 0,
        "the drafted contract tests pass: {}{}",
        t.stdout, t.stderr
    );
    let c = checker(&[
        "check",
        "--contracts",
        drafts,
        "--fleet",
        healthy.to_str().expect("utf8"),
    ]);
    assert_eq!(c.code, 0, "{}", c.stdout);
    // One instance whose user-data names another pool than its tag: the shared variable makes
    // that a broken promise (with two variables it passed).
    let mut split = POOLS.to_vec();
    split[0] = ("i-01", "linux", "gpu");
    let bad = write_json(dir.path(), "split.json", &pool_fleet(&split, true));
    let c = checker(&[
        "check",
        "--contracts",
        drafts,
        "--fleet",
        bad.to_str().expect("utf8"),
        "--format",
        "json",
    ]);
    assert_eq!(c.code, 1, "{}", c.stdout);
    let v = c.json();
    assert!(
        v["findings"]
            .as_array()
            .expect("f")
            .iter()
            .any(|f| f["code"] == "manifest-violated"
                && f["samples"]
                    .as_array()
                    .is_some_and(|s| s.iter().any(|x| x == "i-01"))),
        "{v}"
    );
}

/// Issue 25 item 9: a fleet as `aws ec2 describe-instances` prints it has no user-data; the
/// drafts then promise nothing of it, and init says so.
#[test]
fn a_fleet_without_user_data_drafts_with_a_warning() {
    let dir = tempfile::tempdir().expect("tmp");
    let plain = write_json(dir.path(), "fleet.json", &pool_fleet(POOLS, false));
    let out = dir.path().join("drafts");
    let r = init(plain.to_str().expect("utf8"), &out, &[]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stderr
            .contains("warning: none of the 4 instance(s) carries user-data")
            && r.stderr.contains("checker fleet record"),
        "{}",
        r.stderr
    );
}

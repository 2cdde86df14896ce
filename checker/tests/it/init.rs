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
        "aws-provisioner-v1-managed:{workerType}:{keyHash}"
    );
    assert_eq!(m["outputs"]["tag:Name"]["template"], "{workerType}");
    assert_eq!(m["outputs"]["userData.securityToken"]["secret"], true);
    assert_eq!(m["groupBy"], "workerType");
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
    for (_, text) in read_tree(&out) {
        assert!(!text.contains("tok-"), "a secret value in the drafts");
        assert!(text.contains("DRAFT"));
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

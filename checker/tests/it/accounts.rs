//! Many accounts, end to end against moto: each account through its own assumed role, findings
//! per account, a role that cannot be assumed named (exit 1 when the readable accounts hold violations, else 3); `--org` discovery by OU.

use crate::moto::{Moto, python};
use crate::support::*;
use serde_json::Value;
use std::process::Command;

fn seed(moto: &Moto, py: &std::path::Path, prefix: &std::path::Path, mode: &str) -> Value {
    let out = Command::new(py)
        .arg(root().join("tests/moto/seed_accounts.py"))
        .arg(&moto.endpoint)
        .arg(root().join(format!("{R}/fleet-2018-02-14.json")))
        .arg(prefix)
        .arg(mode)
        .output()
        .expect("seed");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("seed output")
}

/// Findings without the instance ids (moto assigns its own).
fn comparable(v: &Value) -> Vec<Value> {
    let mut f: Vec<Value> = v["findings"].as_array().expect("findings").clone();
    for x in &mut f {
        x.as_object_mut().expect("obj").remove("samples");
    }
    f
}

#[test]
#[ignore = "needs moto (python3 -m venv .venv && .venv/bin/pip install 'moto[server]'): run with -- --include-ignored"]
fn two_accounts_give_per_account_findings_and_a_role_that_cannot_be_assumed_is_named() {
    let py = python();
    let moto = Moto::start(&py);
    let dir = tempfile::tempdir().expect("tmp");
    let prefix = dir.path().join("fleet");
    let hub = seed(&moto, &py, &prefix, "iam");
    let accounts = dir.path().join("accounts.yml");
    // c7n-org's own shape: a templated role ARN and a bare role name.
    std::fs::write(
        &accounts,
        "accounts:\n  - name: workers\n    account_id: '111111111111'\n    role: 'arn:aws:iam::{account_id}:role/checker-audit'\n    tags: [type:prod]\n  - name: builders\n    account_id: '222222222222'\n    role: checker-audit\n    tags: [type:prod]\n",
    )
    .expect("write");
    let (p, c) = (
        format!("{R}/provider-after"),
        format!("{R}/consumers-prefix"),
    );
    let key = hub["key"].as_str().expect("key");
    let secret = hub["secret"].as_str().expect("secret");
    let env = [
        ("AWS_ACCESS_KEY_ID", key),
        ("AWS_SECRET_ACCESS_KEY", secret),
    ];
    let live = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--contracts",
            &p,
            "--contracts",
            &c,
            "--accounts",
            accounts.to_str().expect("utf8"),
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1",
            "--user-data-sample",
            "all",
            "--format",
            "json",
            "--now",
            NOW,
            "--retry-initial-backoff-ms",
            "50",
            "--role-session-name",
            "checker-test",
        ];
        args.extend_from_slice(extra);
        checker_env(&args, &env)
    };
    let both = live(&[]);
    // The readable account's violations decide (1, a violation found beats an incomplete
    // read); the account that could not be read is still named and reported.
    assert_eq!(both.code, 1, "{}\n{}", both.stdout, both.stderr);
    assert!(
        both.stderr.contains("warning: account builders (222222222222) could not be read: could not get into account builders (222222222222) through role arn:aws:iam::222222222222:role/checker-audit: could not get AWS credentials"),
        "{}",
        both.stderr
    );
    let r = both.json();
    assert_eq!(r["summary"]["status"], "violations");
    let parts = r["source"]["parts"].as_array().expect("parts");
    let failed: Vec<&Value> = parts.iter().filter(|p| p["status"] == "failed").collect();
    assert_eq!(failed.len(), 1, "{parts:?}");
    assert_eq!(failed[0]["account"], "222222222222");
    assert_eq!(
        (&failed[0]["scope"], &failed[0]["scopeKind"]),
        (&Value::from("222222222222"), &Value::from("account"))
    );
    assert!(parts.iter().any(|p| p["status"] == "ok"
        && p["account"] == "111111111111"
        && p["scope"] == "111111111111"
        && p["scopeKind"] == "account"
        && p["name"] == "us-east-1"));
    assert_per_account(
        &r,
        &prefix.with_file_name("fleet-111111111111.json"),
        &p,
        &c,
    );
    // Choosing only the account that can be read: complete, and the break is found (exit 1).
    let one = live(&["--account", "workers"]);
    assert_eq!(one.code, 1, "{}", one.stderr);
    // Secrets of the hub never reach the output.
    for run in [&both, &one] {
        assert!(!run.stdout.contains(secret) && !run.stderr.contains(secret));
    }
    // A typo in --account is refused before any call.
    let typo = live(&["--account", "wrokers"]);
    assert_eq!(typo.code, 2, "{}", typo.stderr);
    assert!(
        typo.stderr.contains("no account is named `wrokers`"),
        "{}",
        typo.stderr
    );
}

/// The account that answered is evaluated, every finding keyed by it, and its findings are
/// what the offline check of that account's fleet finds; the failed account is a finding of
/// its own, keyed by that account.
fn assert_per_account(r: &Value, fleet_of_a: &std::path::Path, p: &str, c: &str) {
    // The account that answered is evaluated, every finding keyed by it, and its findings are
    // what the offline check of that account's fleet finds.
    let (lost, findings): (Vec<Value>, Vec<Value>) = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .cloned()
        .partition(|f| f["code"] == "region-failed");
    // The failed account is a finding of its own, keyed by that account.
    assert_eq!(lost.len(), 1, "{lost:?}");
    assert_eq!(lost[0]["account"], "222222222222");
    assert_eq!(lost[0]["scope"], "222222222222");
    assert_eq!(lost[0]["scopeKind"], "account");
    assert!(!findings.is_empty());
    assert!(
        findings.iter().all(|f| f["account"] == "111111111111"),
        "{findings:?}"
    );
    let offline = checker(&[
        "check",
        "--contracts",
        p,
        "--contracts",
        c,
        "--fleet",
        fleet_of_a.to_str().expect("utf8"),
        "--format",
        "json",
        "--now",
        NOW,
    ]);
    assert_eq!(offline.code, 1, "{}", offline.stderr);
    let mut kept = r.clone();
    kept["findings"] = Value::Array(findings);
    assert_eq!(comparable(&kept), comparable(&offline.json()));
}

#[test]
#[ignore = "needs moto (python3 -m venv .venv && .venv/bin/pip install 'moto[server]'): run with -- --include-ignored"]
fn org_discovery_scans_the_active_accounts_under_the_chosen_ou() {
    let py = python();
    let moto = Moto::start(&py);
    let dir = tempfile::tempdir().expect("tmp");
    let prefix = dir.path().join("fleet");
    let ids = seed(&moto, &py, &prefix, "org");
    let (workers, root_acct) = (
        ids["workers"].as_str().expect("id"),
        ids["root"].as_str().expect("id"),
    );
    let (p, c) = (
        format!("{R}/provider-after"),
        format!("{R}/consumers-prefix"),
    );
    let run = |extra: &[&str]| {
        let mut args = vec![
            "check",
            "--contracts",
            &p,
            "--contracts",
            &c,
            "--org",
            "--org-role",
            "checker-audit",
            "--endpoint-url",
            &moto.endpoint,
            "--region",
            "us-east-1",
            "--format",
            "json",
            "--now",
            NOW,
            "--user-data-sample",
            "all",
        ];
        args.extend_from_slice(extra);
        checker_env(&args, &[])
    };
    let workers_only = run(&["--org-ou", "/Workers"]);
    assert_eq!(workers_only.code, 1, "{}", workers_only.stderr);
    let accounts: std::collections::BTreeSet<String> = workers_only.json()["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter_map(|f| f["account"].as_str().map(str::to_string))
        .collect();
    assert_eq!(accounts, [workers.to_string()].into());
    // The whole organization (the management account included, with no instances), minus the
    // Workers OU.
    let rest = run(&["--org-exclude-ou", "/Workers"]);
    let r = rest.json();
    let scanned: std::collections::BTreeSet<&str> = r["source"]["parts"]
        .as_array()
        .expect("parts")
        .iter()
        .filter_map(|p| p["account"].as_str())
        .collect();
    assert!(
        scanned.contains(root_acct) && !scanned.contains(workers),
        "{scanned:?}"
    );
    // An OU that does not exist is an error, not an empty clean scan.
    let typo = run(&["--org-ou", "/Wrokers"]);
    assert_eq!(typo.code, 3, "{}", typo.stderr);
    assert!(typo.stderr.contains("no OU /Wrokers"), "{}", typo.stderr);
}

/// The firefox-ci example fleet, as two accounts would record it: the same pools in both.
fn two_account_fleet(dir: &std::path::Path) -> std::path::PathBuf {
    let text =
        std::fs::read_to_string(root().join("examples/firefox-ci-2021/fleet.json")).expect("fleet");
    let fleet: Value = serde_json::from_str(&text).expect("json");
    let mut reservations = Vec::new();
    for (account, prefix) in [("111111111111", "i-a"), ("222222222222", "i-b")] {
        for r in fleet["Reservations"].as_array().expect("reservations") {
            let mut r = r.clone();
            r["OwnerId"] = Value::from(account);
            for i in r["Instances"].as_array_mut().expect("instances") {
                let id = i["InstanceId"]
                    .as_str()
                    .expect("id")
                    .replacen("i-", prefix, 1);
                i["InstanceId"] = Value::from(id);
            }
            reservations.push(r);
        }
    }
    let p = dir.join("two-accounts.json");
    std::fs::write(
        &p,
        serde_json::json!({ "Reservations": reservations }).to_string(),
    )
    .expect("write");
    p
}

#[test]
fn recorded_owner_ids_key_findings_and_snapshot_groups_by_account() {
    let dir = tempfile::tempdir().expect("tmp");
    let fleet = two_account_fleet(dir.path());
    let f = fleet.to_str().expect("utf8");
    let snap = checker(&["snapshot", "--fleet", f]);
    assert_eq!(snap.code, 0, "{}", snap.stderr);
    let groups: Vec<String> = snap.json()["groups"]
        .as_object()
        .expect("groups")
        .keys()
        .cloned()
        .collect();
    // Every group is one account's: the same pool in two accounts is two groups.
    let a: Vec<&String> = groups
        .iter()
        .filter(|g| g.starts_with("111111111111/"))
        .collect();
    let b: Vec<&String> = groups
        .iter()
        .filter(|g| g.starts_with("222222222222/"))
        .collect();
    assert_eq!(a.len() + b.len(), groups.len(), "{groups:?}");
    assert_eq!(a.len(), b.len());
    assert!(!a.is_empty());
    // Break one account's instance: the finding is that account's alone.
    let text = std::fs::read_to_string(&fleet).expect("read");
    let mut v: Value = serde_json::from_str(&text).expect("json");
    let broken = v["Reservations"]
        .as_array_mut()
        .expect("reservations")
        .iter_mut()
        .find(|r| {
            r["OwnerId"] == "222222222222"
                && r["Instances"][0]["MetadataOptions"]["HttpTokens"] == "optional"
        })
        .expect("a worker in account 2");
    // IMDSv2 only: OCC and worker-runner (IMDSv1 clients) break on it.
    broken["Instances"][0]["MetadataOptions"]["HttpTokens"] = Value::from("required");
    std::fs::write(&fleet, v.to_string()).expect("write");
    let check = checker(&["check", "--fleet", f, "--format", "json"]);
    let r = check.json();
    let violated: Vec<&Value> = r["findings"]
        .as_array()
        .expect("findings")
        .iter()
        .filter(|f| f["outcome"] == "violation")
        .collect();
    assert!(!violated.is_empty(), "{}", check.stdout);
    assert!(
        violated.iter().all(|f| f["account"] == "222222222222"),
        "{violated:?}"
    );
    // Report 1.6: the finding names its scope and the scope's kind (EC2's: an account), and
    // keeps 1.4's `account` beside them (1.7 added regions).
    assert_eq!(r["minorVersion"], 7);
    assert!(
        violated
            .iter()
            .all(|f| f["scope"] == "222222222222" && f["scopeKind"] == "account"),
        "{violated:?}"
    );
    // (Findings about no scope carry none of the three: the goldens of the 2018 fleet, which
    // has no OwnerId, hold violations without them.)
    // Human output says the scope by its kind's word.
    let human = checker(&["check", "--fleet", f]);
    assert!(
        human.stdout.contains("          account: 222222222222"),
        "{}",
        human.stdout
    );
}

#[test]
fn culling_refuses_several_accounts_and_accounts_flags_need_a_source() {
    let dir = tempfile::tempdir().expect("tmp");
    let accounts = dir.path().join("accounts.json");
    std::fs::write(
        &accounts,
        r#"{"accounts": [{"account_id": "111111111111", "name": "a", "role": "r-a"}, {"account_id": "222222222222", "name": "b", "role": "r-b"}]}"#,
    )
    .expect("write");
    let a = accounts.to_str().expect("utf8");
    let cull = checker(&[
        "cull",
        "--accounts",
        a,
        "--endpoint-url",
        "http://127.0.0.1:9",
        "--region",
        "us-east-1",
    ]);
    assert_eq!(cull.code, 2, "{}", cull.stderr);
    assert!(
        cull.stderr.contains("one account per run")
            && cull.stderr.contains("a (111111111111), b (222222222222)"),
        "{}",
        cull.stderr
    );
    let bare = checker(&["check", "--account", "a", "--region", "us-east-1"]);
    assert_eq!(bare.code, 2, "{}", bare.stderr);
    assert!(
        bare.stderr.contains("--accounts FILE or --org"),
        "{}",
        bare.stderr
    );
}

/// The member-account policies beside hooks/iam-policy.json are IAM documents, read-only where
/// they say so, and the trust policy accepts checker's own session names only.
#[test]
fn member_account_policies_are_least_privilege_and_match_the_session_names() {
    let read = |f: &str| -> Value {
        serde_json::from_str(&std::fs::read_to_string(root().join("hooks").join(f)).expect(f))
            .expect("json")
    };
    let actions = |v: &Value| -> Vec<String> {
        v["Statement"]
            .as_array()
            .expect("statements")
            .iter()
            .flat_map(|s| match &s["Action"] {
                Value::String(a) => vec![a.clone()],
                Value::Array(a) => a
                    .iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect(),
                _ => vec![],
            })
            .collect()
    };
    let member = read("iam-member-read-policy.json");
    assert!(
        actions(&member)
            .iter()
            .all(|a| a.starts_with("ec2:Describe"))
    );
    let hub = actions(&read("iam-hub-policy.json"));
    for a in [
        "sts:AssumeRole",
        "organizations:ListRoots",
        "organizations:ListOrganizationalUnitsForParent",
        "organizations:ListAccountsForParent",
    ] {
        assert!(hub.iter().any(|h| h == a), "{a}");
    }
    let trust = read("iam-member-trust-policy.json");
    let pattern = trust["Statement"][0]["Condition"]["StringLike"]["sts:RoleSessionName"]
        .as_str()
        .expect("session condition");
    let glob = globset::Glob::new(pattern).expect("glob").compile_matcher();
    assert!(glob.is_match(checker::accounts::default_session_name(chrono::Utc::now())));
}

/// The accounts file is read once a run and each cloud takes its part: a file that cannot be
/// read or parsed is one error naming it (exit 2), whichever cloud would have read it; its
/// `projects:`, `subscriptions:` and `accounts:` each ask for their cloud, and two clouds in one
/// run are refused before any call. (A guard for reading the file once in `FleetArgs::choose`
/// and `fleet record`: it passes on the old code too, which read it up to four times but said
/// a broken file once.)
#[test]
fn a_broken_accounts_file_is_one_error_naming_it_and_each_section_asks_for_its_cloud() {
    let dir = tempfile::tempdir().expect("tmp");
    let broken = write(dir.path(), "broken.yml", "accounts: [\n  - {");
    let b = broken.to_str().expect("utf8");
    let c = contracts();
    let sub = "00000000-0000-0000-0000-000000000001";
    for args in [
        vec!["check", "--contracts", &c, "--accounts", b],
        vec![
            "check",
            "--contracts",
            &c,
            "--accounts",
            b,
            "--project",
            "p",
        ],
        vec![
            "check",
            "--contracts",
            &c,
            "--accounts",
            b,
            "--subscription",
            sub,
        ],
        vec!["fleet", "record", "--contracts", &c, "--accounts", b],
    ] {
        let r = checker(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert_eq!(
            r.stderr.matches("error:").count(),
            1,
            "{args:?}: {}",
            r.stderr
        );
        assert!(
            r.stderr.contains("broken.yml:2:")
                && r.stderr.contains("this is not valid YAML or JSON"),
            "{args:?}: {}",
            r.stderr
        );
    }
    let project = r#"{"project_id": "fxci-level1-gcp", "name": "level1"}"#;
    let subscription = format!(r#"{{"subscription_id": "{sub}", "name": "ci"}}"#);
    let account = r#"{"account_id": "111111111111", "name": "a", "role": "r-a"}"#;
    let region: &[&str] = &["--region", "us-east-1"];
    for (sections, extra, needle) in [
        (
            format!(r#""projects": [{project}], "subscriptions": [{subscription}]"#),
            &[][..],
            "scanning two clouds in one run is not supported yet",
        ),
        (
            format!(r#""projects": [{project}], "accounts": [{account}]"#),
            &[][..],
            "one live cloud per run for now",
        ),
        (
            format!(r#""subscriptions": [{subscription}], "accounts": [{account}]"#),
            &[][..],
            "both live AWS accounts (--accounts accounts:, --org) and Azure subscriptions",
        ),
        (
            format!(r#""projects": [{project}]"#),
            region,
            "one live cloud per run for now",
        ),
    ] {
        let f = write(dir.path(), "clouds.json", &format!("{{{sections}}}"));
        let mut args = vec!["check", "--contracts", &c, "--accounts"];
        args.push(f.to_str().expect("utf8"));
        args.extend(extra);
        let r = checker(&args);
        assert_eq!(r.code, 2, "{args:?}: {}", r.stderr);
        assert!(r.stderr.contains(needle), "{args:?}: {}", r.stderr);
    }
}

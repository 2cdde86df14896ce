use super::*;

fn write(text: &str, ext: &str) -> (tempfile::TempDir, std::path::PathBuf) {
    let d = tempfile::tempdir().expect("tempdir");
    let p = d.path().join(format!("accounts.{ext}"));
    std::fs::write(&p, text).expect("write");
    (d, p)
}

/// c7n-org's own shapes read as c7n-org reads them: a templated ARN, a bare role name, a
/// chain, a profile; vars and unknown keys accepted.
#[test]
fn c7n_org_files_read_as_c7n_org_reads_them() {
    let (_d, p) = write(
        "vars:\n  charge_code: xyz\naccounts:\n  - name: dev\n    account_id: '112233445566'\n    tags: [red, black]\n    role: 'arn:aws:iam::{account_id}:role/CloudCustodian'\n  - name: prod\n    account_id: '998877665544'\n    role: Audit\n    regions: [us-east-1]\n    vars: {a: 1}\n    email: x@example.com\n  - name: hop\n    account_id: '111111111111'\n    role: ['arn:aws:iam::222222222222:role/Hub', 'arn:aws:iam::{account_id}:role/Leaf']\n    external_id: ext\n  - account_id: '333333333333'\n    profile: member\n",
        "yml",
    );
    let a = read(&p).expect("reads");
    assert_eq!(
        a[0].roles,
        ["arn:aws:iam::112233445566:role/CloudCustodian"]
    );
    assert_eq!(a[1].roles, ["arn:aws:iam::998877665544:role/Audit"]);
    assert_eq!(a[1].regions, Regions::Listed(vec!["us-east-1".into()]));
    assert_eq!(
        a[2].roles,
        [
            "arn:aws:iam::222222222222:role/Hub",
            "arn:aws:iam::111111111111:role/Leaf"
        ]
    );
    assert_eq!(a[2].external_id.as_deref(), Some("ext"));
    assert_eq!(
        (a[3].name.as_str(), a[3].profile.as_deref()),
        ("333333333333", Some("member"))
    );
    assert_eq!(a[0].label(), "dev (112233445566)");
}

/// Every problem is reported with the place: pointer, line and column, in YAML and JSON.
/// c7n-org's `projects:` and `subscriptions:` (its schema's shapes) are read beside
/// `accounts:`; their mistakes are located, and a file with no AWS account is no account
/// list for the AWS source.
#[test]
fn projects_and_subscriptions_are_read_as_c7n_org_writes_them() {
    let (_d, p) = write(
        "projects:\n  - project_id: fxci-level1-gcp\n    name: level1\n    tags: [level:1]\n  - project_id: fxci-level3-gcp\nsubscriptions:\n  - subscription_id: 8a205152-b25a-417f-a676-80465535a6c9\n    name: azure2\n    region: eastus\n",
        "yml",
    );
    let file = read_file(&p).expect("valid");
    assert!(file.accounts.is_empty());
    assert_eq!(
        file.projects,
        vec![
            Project {
                id: "fxci-level1-gcp".into(),
                name: "level1".into(),
                tags: vec!["level:1".into()]
            },
            Project {
                id: "fxci-level3-gcp".into(),
                name: "fxci-level3-gcp".into(),
                tags: vec![]
            },
        ]
    );
    assert_eq!(file.subscriptions[0].name, "azure2");
    assert_eq!(file.subscriptions[0].region.as_deref(), Some("eastus"));
    let picked = select_as(file.projects, &["level1".into()], &[], &[], "project").expect("picked");
    assert_eq!(picked.len(), 1);
    let no_aws = read(&p).expect_err("no AWS account").to_string();
    assert!(
        no_aws
            .contains("lists no AWS account (it has 2 GCP project(s) and 1 Azure subscription(s))"),
        "{no_aws}"
    );

    let (_d, p) = write(
        "projects:\n  - project_id: Bad_Project\n  - project_id: fxci-level1-gcp\n    role: x\n  - project_id: fxci-level1-gcp\nsubscriptions:\n  - subscription_id: azure2\n",
        "yml",
    );
    let e = read_file(&p).expect_err("invalid").to_string();
    for want in [
        "/projects/0/project_id",
        "/projects/1",
        "/subscriptions/0/subscription_id",
        "accounts.yml:2:17",
    ] {
        assert!(e.contains(want), "{want} missing from {e}");
    }
}

#[test]
fn bad_files_name_the_place_of_every_problem() {
    let (_d, p) = write(
        "accounts:\n  - name: dev\n    account_id: '1234'\n    role: Audit\n  - name: dev\n    account_id: '123456789012'\n    role: 'arn:aws:iam::{acct}:role/X'\n  - name: none\n    account_id: '123456789013'\n",
        "yaml",
    );
    let e = read(&p).expect_err("invalid").to_string();
    assert!(e.contains(":3:17 at /accounts/0/account_id"), "{e}");
    assert!(
        e.contains("at /accounts/2") && e.contains("neither `role` nor `profile`"),
        "{e}"
    );
    let (_d, p) = write("accounts:\n  - account_id: 12\n    role: Audit\n", "yml");
    let e = read(&p).expect_err("invalid").to_string();
    assert!(
        e.contains(":2:17 at /accounts/0/account_id: account_id is 12") && e.contains("quote it"),
        "{e}"
    );
    let (_d, p) = write(
        "accounts:\n  - name: dev\n    account_id: '123456789012'\n    role: 'arn:aws:iam::{acct}:role/X'\n  - name: dev\n    account_id: '123456789013'\n    role: Audit\n",
        "yaml",
    );
    let e = read(&p).expect_err("invalid").to_string();
    assert!(
        e.contains(":4:11 at /accounts/0/role") && e.contains("{acct}"),
        "{e}"
    );
    assert!(
        e.contains(":5:11 at /accounts/1/name") && e.contains("already used"),
        "{e}"
    );
    let (_d, p) = write(
        "{\"accounts\": [{\"account_id\": \"123456789012\", \"role\": 7}]}",
        "json",
    );
    let e = read(&p).expect_err("invalid").to_string();
    assert!(e.contains(":1:46 at /accounts/0/role"), "{e}");
    let (_d, p) = write("accounts: [\n  - x\n", "yml");
    let e = read(&p).expect_err("invalid").to_string();
    assert!(
        e.contains("accounts.yml:") && e.contains("not valid YAML"),
        "{e}"
    );
}

/// A key written twice (a second `accounts:` list, an account's second `role:`) is an error
/// at its line and column, in YAML and JSON: the parser kept the last and an account was
/// dropped without a word.
#[test]
fn a_duplicate_key_is_an_error_at_its_place_not_a_dropped_account() {
    let (_d, p) = write(
        "accounts:\n  - name: dev\n    account_id: '112233445566'\n    role: Audit\naccounts:\n  - name: prod\n    account_id: '998877665544'\n    role: Audit\n",
        "yml",
    );
    let e = read(&p).expect_err("a duplicate key").to_string();
    assert!(
        e.contains("accounts.yml:5:1: the key `accounts` is written twice")
            && e.contains("first at line 1, column 1")
            && e.contains("hint: merge"),
        "{e}"
    );
    let (_d, p) = write(
        "{\"accounts\": [{\"name\": \"dev\", \"account_id\": \"112233445566\", \"role\": \"A\", \"role\": \"B\"}]}",
        "json",
    );
    let e = read(&p).expect_err("a duplicate key").to_string();
    assert!(
        e.contains("accounts.json:1:") && e.contains("the key `role` is written twice"),
        "{e}"
    );
}

/// Choosing accounts by name, id and tag; a name that is no account is refused.
#[test]
fn accounts_are_chosen_by_name_id_and_tag() {
    let acc = |id: &str, name: &str, tags: &[&str]| Account {
        id: id.into(),
        name: name.into(),
        roles: vec![],
        external_id: None,
        profile: None,
        regions: Regions::Default,
        tags: tags.iter().map(|t| t.to_string()).collect(),
    };
    let all = vec![
        acc("111111111111", "a", &["prod"]),
        acc("222222222222", "b", &["prod", "eu"]),
        acc("333333333333", "c", &[]),
    ];
    let names = |v: Vec<Account>| v.into_iter().map(|a| a.name).collect::<Vec<_>>();
    assert_eq!(
        names(select(all.clone(), &[], &["prod".into()], &[]).expect("ok")),
        ["a", "b"]
    );
    assert_eq!(
        names(select(all.clone(), &["333333333333".into()], &[], &[]).expect("ok")),
        ["c"]
    );
    assert_eq!(
        names(select(all.clone(), &[], &[], &["b".into()]).expect("ok")),
        ["a", "c"]
    );
    assert!(
        select(all, &["typo".into()], &[], &[])
            .expect_err("typo")
            .contains("typo")
    );
}

/// Organization accounts: suspended ones left out, the role filled in, OU path tags.
#[test]
fn org_accounts_become_accounts_like_orgaccounts_writes_them() {
    let org = vec![
        checker_ec2::OrgAccount {
            id: "111111111111".into(),
            name: "w".into(),
            path: "/Prod/Workers".into(),
            active: true,
        },
        checker_ec2::OrgAccount {
            id: "222222222222".into(),
            name: "s".into(),
            path: "/".into(),
            active: false,
        },
    ];
    let a = from_org(
        org.clone(),
        "checker-audit",
        &Regions::parse(&["us-west-2"]),
    )
    .expect("ok");
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].roles, ["arn:aws:iam::111111111111:role/checker-audit"]);
    let t = from_org(
        org,
        "arn:aws:iam::{Id}:role/OrganizationAccountAccessRole",
        &Regions::Default,
    )
    .expect("ok");
    assert_eq!(
        t[0].roles,
        ["arn:aws:iam::111111111111:role/OrganizationAccountAccessRole"]
    );
    assert_eq!(a[0].tags, ["path:/Prod", "path:/Prod/Workers"]);
    assert!(default_session_name(chrono::Utc::now()).starts_with("checker-"));
}

//! Helpers: run the binary from the workspace root, make temporary contract and fleet files.

use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

pub fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("workspace root")
        .to_path_buf()
}

/// The Firefox CI 2026 example's GCE fleet (`gcloud compute instances list --format=json`).
pub const GCE: &str = "examples/firefox-ci-2026/fleet-gce.json";
/// The Firefox CI 2026 example's Azure fleet (`az vm list -d -o json`).
pub const AZURE: &str = "examples/firefox-ci-2026/fleet-azure.json";

/// An example fleet file (`rel` from the workspace root), parsed.
pub fn example_fleet(rel: &str) -> Value {
    serde_json::from_str(&std::fs::read_to_string(root().join(rel)).expect("example"))
        .expect("json")
}

/// The shipped contracts, as a `--contracts` argument.
pub fn contracts() -> String {
    root()
        .join("contracts")
        .to_str()
        .expect("utf-8")
        .to_string()
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }
}

pub fn checker(args: &[&str]) -> Run {
    checker_env(args, &[])
}

/// Runs checker with extra environment, isolated from the developer's AWS settings.
pub fn checker_env(args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_checker"));
    cmd.args(args);
    isolate(&mut cmd);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("run checker");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

/// The environment every test run of checker gets: the project root as working directory, no
/// colour, no logging, and AWS settings that can never reach a real account (fake static
/// credentials, no shared config, no instance metadata).
pub fn isolate(cmd: &mut Command) {
    cmd.current_dir(root())
        .env_remove("RUST_LOG")
        .env_remove("TASKCLUSTER_ROOT_URL")
        .env_remove("TASKCLUSTER_PROXY_URL")
        .env_remove("COLUMNS")
        .env("NO_COLOR", "1");
    // The project's checkout keeps Taskcluster's schemas beside it; a user's machine has none
    // (tests of that case remove this).
    let schemas = root().join("../shared/taskcluster-schemas");
    if schemas.is_dir() {
        cmd.env("CHECKER_TASKCLUSTER_SCHEMAS", schemas);
    } else {
        cmd.env_remove("CHECKER_TASKCLUSTER_SCHEMAS");
    }
    // Azure: no developer's service principal or CLI login can reach a test.
    for k in [
        "AZURE_TENANT_ID",
        "AZURE_CLIENT_ID",
        "AZURE_CLIENT_SECRET",
        "AZURE_CLIENT_CERTIFICATE_PATH",
        "AZURE_CLIENT_CERTIFICATE_PASSWORD",
        "AZURE_FEDERATED_TOKEN_FILE",
        "AZURE_AUTHORITY_HOST",
        "IDENTITY_ENDPOINT",
        "IDENTITY_HEADER",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("AZURE_CONFIG_DIR", "/nonexistent/checker-test-azure");
    for k in [
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_DEFAULT_REGION",
        "AWS_SESSION_TOKEN",
    ] {
        cmd.env_remove(k);
    }
    cmd.env("AWS_CONFIG_FILE", "/nonexistent/checker-test-config")
        .env(
            "AWS_SHARED_CREDENTIALS_FILE",
            "/nonexistent/checker-test-credentials",
        )
        .env("AWS_EC2_METADATA_DISABLED", "true")
        .env("AWS_ACCESS_KEY_ID", "AKIDTEST")
        .env("AWS_SECRET_ACCESS_KEY", "test-secret")
        .env("AWS_REGION", "us-east-1");
}

pub const R: &str = "examples/taskcluster-2018";
pub const NOW: &str = "2018-02-14T12:00:00Z";

/// `check` of a 2018 fleet with a provider folder and a consumer folder.
pub fn replay(provider: &str, consumers: &str, day: &str, extra: &[&str]) -> Run {
    let p = format!("{R}/provider-{provider}");
    let c = format!("{R}/consumers-{consumers}");
    let f = format!("{R}/fleet-2018-02-{day}.json");
    let mut args = vec![
        "check",
        "--contracts",
        &p,
        "--contracts",
        &c,
        "--fleet",
        &f,
        "--now",
        NOW,
    ];
    args.extend_from_slice(extra);
    checker(&args)
}

pub fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let p = dir.join(name);
    if let Some(parent) = p.parent() {
        std::fs::create_dir_all(parent).expect("mkdir");
    }
    std::fs::write(&p, text).expect("write");
    p
}

pub fn write_json(dir: &Path, name: &str, v: &Value) -> PathBuf {
    write(dir, name, &serde_json::to_string_pretty(v).expect("json"))
}

/// A small valid provider manifest with a workerTypes set.
pub fn provider() -> Value {
    json!({
        "kind": "provider",
        "name": "prov",
        "description": "test provider",
        "selector": {"conditions": [{"output": "tag:Name", "member-of": "workerTypes"}]},
        "groupBy": "workerType",
        "variables": {"workerType": {"set": "workerTypes", "pattern": "[-a-z0-9]+"}, "keyHash": {"pattern": "[0-9a-f]{7}"}},
        "sets": {"workerTypes": ["wt-a", "wt-b"]},
        "outputs": {
            "KeyName": {"template": "managed:{workerType}:{keyHash}"},
            "tag:Name": {"template": "{workerType}"},
            "userData.workerType": {"template": "{workerType}"},
            "userData.securityToken": {"secret": true}
        }
    })
}

/// A small valid consumer.
pub fn consumer() -> Value {
    json!({
        "kind": "consumer",
        "name": "cons",
        "owner": "me",
        "description": "test consumer",
        "selector": {"provider": "prov"},
        "clauses": [
            {"id": "cons-wt", "kind": "derives", "fact": "workerType", "from": {"output": "KeyName"}, "split": {"separator": ":", "index": 1}, "why": "w"},
            {"id": "cons-wt-known", "kind": "member-of", "fact": "workerType", "set": "workerTypes", "why": "w"}
        ]
    })
}

/// One describe-instances instance.
pub fn instance(id: &str, key: &str, name: &str, user_data: Option<&Value>) -> Value {
    use base64::Engine;
    let mut i = json!({
        "InstanceId": id,
        "ImageId": "ami-12345678",
        "InstanceType": "c4.2xlarge",
        "KeyName": key,
        "Placement": {"AvailabilityZone": "us-east-1a"},
        "State": {"Name": "running"},
        "Tags": [{"Key": "Name", "Value": name}]
    });
    if let Some(ud) = user_data {
        i["UserData"] =
            json!({"Value": base64::engine::general_purpose::STANDARD.encode(ud.to_string())});
    }
    i
}

pub fn fleet(instances: Vec<Value>) -> Value {
    json!({"Reservations": instances.into_iter().map(|i| json!({"Instances": [i]})).collect::<Vec<_>>()})
}

/// Taskcluster's schemas, beside the project as `../shared/taskcluster-schemas` (CI's layout). A
/// user's own clone has none: the tests that need them are `#[ignore = "needs Taskcluster's
/// schemas ..."]`, so `cargo test --workspace` counts them as ignored, and when they are run
/// anyway (`-- --include-ignored`, as `.ci/run` does) a missing directory fails them, naming it.
pub fn tc_schemas() -> PathBuf {
    let p = root().join("../shared/taskcluster-schemas");
    assert!(
        p.join("queue/v1/task.json").exists(),
        "this test needs Taskcluster's schemas in {} (CI's checkout has them beside the project); \
         without them, leave it ignored: cargo test --workspace",
        p.display()
    );
    p
}

/// Whether this test binary was asked to run the ignored tests too.
pub fn including_ignored() -> bool {
    std::env::args().any(|a| a == "--include-ignored" || a == "--ignored")
}

#[test]
fn ci_runs_the_ignored_tests_too() {
    // The tests that need moto, docker or Taskcluster's schemas are ignored by default (cargo
    // counts them and prints why); in CI nothing may be left out.
    if std::env::var("CI").as_deref() == Ok("true") {
        assert!(
            including_ignored(),
            "CI=true: run every test, the ignored ones included: cargo test --workspace -- --include-ignored (.ci/run)"
        );
    }
}

/// Diagnostics without their `:line:column` (tests that match on `file at /pointer`).
pub fn unlocated(s: &str) -> String {
    regex::Regex::new(r":\d+:\d+ at /")
        .expect("regex")
        .replace_all(s, " at /")
        .into_owned()
}

/// The gate's verdict for `consumer` in a JSON gate report.
pub fn verdict<'a>(v: &'a Value, consumer: &str) -> &'a Value {
    v["gate"]["verdicts"]
        .as_array()
        .expect("verdicts")
        .iter()
        .find(|x| x["consumer"] == consumer)
        .unwrap_or_else(|| panic!("no verdict for {consumer}: {v}"))
}

//! The project's Taskcluster files against Taskcluster's own schemas: `.taskcluster.yml` (and each
//! task it renders for pushes and pull requests) and, when present, the hooks in `hooks/`.

use crate::support::*;
use serde_json::{Value, json};
use std::path::Path;

/// The same loader the gate uses to validate pools against Taskcluster's schemas.
fn validator(dir: &Path, rel: &str) -> checker::tcschema::TcSchema {
    checker::tcschema::TcSchema::load(
        &checker::tcschema::SchemaSource::Dir(dir.to_path_buf()),
        rel,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn errors(v: &checker::tcschema::TcSchema, x: &Value) -> Vec<String> {
    v.check(Path::new(&v.name), "", x)
        .iter()
        .map(|d| d.to_string())
        .collect()
}

/// json-e cannot host context functions from Rust: replace `{$eval: as_slugid("x")}` first.
fn substitute_slugids(v: &mut Value) {
    match v {
        Value::Object(o) => {
            if let Some(Value::String(e)) = o.get("$eval")
                && let Some(name) = e
                    .strip_prefix("as_slugid(\"")
                    .and_then(|r| r.strip_suffix("\")"))
            {
                *v = json!(format!("slug-{name}-AAAAAAAAAAAA"));
                return;
            }
            o.values_mut().for_each(substitute_slugids);
        }
        Value::Array(a) => a.iter_mut().for_each(substitute_slugids),
        _ => {}
    }
}

fn event(kind: &str) -> Value {
    let repo = json!({"clone_url": "https://github.com/example/checker.git", "html_url": "https://github.com/example/checker"});
    match kind {
        "github-push" => {
            json!({"after": "b".repeat(40), "before": "a".repeat(40), "ref": "refs/heads/main", "repository": repo, "pusher": {"name": "dev", "email": "dev@example.com"}})
        }
        _ => {
            json!({"action": "opened", "number": 7, "pull_request": {"head": {"sha": "c".repeat(40), "repo": repo}, "base": {"sha": "a".repeat(40)}, "user": {"login": "dev"}}, "repository": repo})
        }
    }
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn taskcluster_yml_is_valid_and_renders_valid_tasks() {
    let dir = tc_schemas();
    let text = std::fs::read_to_string(root().join(".taskcluster.yml")).expect(".taskcluster.yml");
    let mut tc: Value = serde_yaml_ng::from_str(&text).expect("yaml");
    let cfg = validator(&dir, "github/v1/taskcluster-github-config.v1.json");
    assert_eq!(errors(&cfg, &tc), Vec::<String>::new());
    assert_eq!(tc["version"], 1);
    let task_schema = validator(&dir, "queue/v1/create-task-request.json");
    substitute_slugids(&mut tc["tasks"]);
    for kind in ["github-push", "github-pull-request"] {
        let ctx = json!({"tasks_for": kind, "event": event(kind), "now": "2026-11-21T12:00:00.000Z", "taskcluster_root_url": "https://tc.example.com"});
        let tasks = json_e::render(&tc["tasks"], &ctx).unwrap_or_else(|e| panic!("{kind}: {e}"));
        let tasks = tasks.as_array().expect("a list of tasks");
        assert_eq!(tasks.len(), 2, "{kind}");
        for t in tasks {
            let mut t = t.clone();
            assert!(t.get("taskId").is_some(), "every task has a taskId");
            t.as_object_mut().expect("obj").remove("taskId");
            assert_eq!(
                errors(&task_schema, &t),
                Vec::<String>::new(),
                "{kind}: {t}"
            );
            let cmd = t["payload"]["command"].to_string();
            assert!(!cmd.contains("${"), "unrendered: {cmd}");
        }
        let gate_cmd = tasks[1]["payload"]["command"].to_string();
        assert!(
            gate_cmd.contains("checker") || gate_cmd.contains("cargo run"),
            "{gate_cmd}"
        );
        assert!(
            gate_cmd.contains("-- validate")
                && gate_cmd.contains("-- gate --pools")
                && gate_cmd.contains(&"a".repeat(40)),
            "{gate_cmd}"
        );
        // Schemas from the deployment (never ../shared), the GitHub check where checks-v1 reads it.
        assert!(
            gate_cmd.contains("--root-url https://tc.example.com") && !gate_cmd.contains("shared"),
            "{gate_cmd}"
        );
        assert!(
            gate_cmd.contains("--github-check /builds/artifacts/github"),
            "{gate_cmd}"
        );
        assert_eq!(
            tasks[1]["payload"]["artifacts"]["public/github"]["path"],
            "/builds/artifacts/github"
        );
    }
    let other = json_e::render(
        &tc["tasks"],
        &json!({"tasks_for": "github-release", "event": {}, "now": "2026-11-21T12:00:00.000Z"}),
    )
    .expect("render");
    assert_eq!(other, json!([]));
}

/// Each hook definition in `hooks/`, by file name.
fn hooks() -> Vec<(String, Value)> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(root().join("hooks")).expect("hooks/") {
        let path = entry.expect("entry").path();
        if path.extension().is_none_or(|e| e != "json")
            || path.file_name().is_some_and(|f| f == "iam-policy.json")
        {
            continue;
        }
        let hook: Value =
            serde_json::from_str(&std::fs::read_to_string(&path).expect("read")).expect("json");
        out.push((
            path.file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned(),
            hook,
        ));
    }
    out.sort_by(|a, b| a.0.cmp(&b.0));
    out
}

/// What every rendered hook task must be: valid, no shell glue, owners notified on failure.
fn check_rendered(task: &Value, task_schema: &checker::tcschema::TcSchema, what: &str) {
    assert_eq!(
        errors(task_schema, task),
        Vec::<String>::new(),
        "{what}: {task}"
    );
    let cmd: Vec<&str> = task["payload"]["command"]
        .as_array()
        .expect("command")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    assert!(
        !cmd.iter()
            .any(|c| c.contains("bash") || c.contains("curl") || c.contains("jq")),
        "{what}: no shell glue: {cmd:?}"
    );
    assert!(
        !task.to_string().contains("${"),
        "{what}: unrendered: {task}"
    );
    let image = task["payload"]["image"].as_str().expect("image");
    assert!(
        !image.ends_with(":latest") && image.contains(':'),
        "{what}: pin the image: {image}"
    );
    let routes: Vec<&str> = task["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter_map(Value::as_str)
        .collect();
    for on in ["on-failed", "on-exception"] {
        assert!(
            routes
                .iter()
                .any(|r| r.starts_with("notify.email.") && r.ends_with(on)),
            "{what}: {routes:?}"
        );
    }
    assert!(
        task["scopes"].as_array().expect("scopes").iter().any(|s| s
            .as_str()
            .is_some_and(|s| s.starts_with("queue:route:notify.email."))),
        "{what}: the notify routes need their scope"
    );
    let link = task["extra"]["notify"]["email"]["link"]["href"]
        .as_str()
        .expect("notify link");
    assert!(
        link.contains("fXAJ3ylpRfaBh0bONbLCuw") && link.contains("/artifacts/public/checker/"),
        "{what}: {link}"
    );
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn the_scheduled_hook_is_valid_and_renders_a_valid_task() {
    let dir = tc_schemas();
    let hook_schema = validator(&dir, "hooks/v1/create-hook-request.json");
    let task_schema = validator(&dir, "queue/v1/create-task-request.json");
    let (_, hook) = hooks()
        .into_iter()
        .find(|(n, _)| n == "fleet-checker.json")
        .expect("fleet-checker.json");
    assert_eq!(errors(&hook_schema, &hook), Vec::<String>::new());
    let schedule = hook["schedule"].as_array().expect("schedule");
    for s in schedule {
        assert_eq!(
            s.as_str().expect("cron").split_whitespace().count(),
            6,
            "6-field cron, seconds first: {s}"
        );
    }
    assert!(
        schedule.iter().any(|s| s == "0 */10 * * * *"),
        "every 10 minutes"
    );
    let task = json_e::render(
        &hook["task"],
        &json!({"firedBy": "schedule", "taskId": "fXAJ3ylpRfaBh0bONbLCuw"}),
    )
    .expect("render");
    check_rendered(&task, &task_schema, "fleet-checker");
    assert!(task["taskQueueId"].is_string() && task["payload"]["maxRunTime"].is_number());
    let cmd = task["payload"]["command"].to_string();
    assert!(
        cmd.starts_with(
            r#"["hook","--aws-credentials-secret","project/releng/checker/aws-fleet-culler""#
        ) && cmd.contains(r#""--artifacts","/builds/worker/artifacts""#),
        "{cmd}"
    );
    assert_eq!(task["payload"]["features"]["taskclusterProxy"], true);
    // Retried only when incomplete (a region or the secret unreadable; nothing was culled).
    assert_eq!(task["payload"]["onExitStatus"]["retry"], json!([3]));
    // The history is carried from the hook's own previous fire (docs/deploying.md creates it as
    // releng/checker-fleet).
    assert!(
        cmd.contains(r#""--history-hook","releng/checker-fleet""#),
        "{cmd}"
    );
    // Minimal scopes: the secret with the AWS credentials, the hook's last fires (the previous
    // history), and the notify routes.
    assert_eq!(
        task["scopes"],
        json!([
            "secrets:get:project/releng/checker/aws-fleet-culler",
            "hooks:list-last-fires:releng/checker-fleet",
            "queue:route:notify.email.relops@mozilla.com.*"
        ])
    );
    assert_eq!(task["metadata"]["name"], "checker hook (schedule)");
}

#[test]
#[ignore = "needs Taskcluster's schemas (../shared/taskcluster-schemas, as in CI): run with -- --include-ignored"]
fn the_pulse_hook_binds_worker_manager_exchanges_and_gates_the_changed_pool() {
    let dir = tc_schemas();
    let hook_schema = validator(&dir, "hooks/v1/create-hook-request.json");
    let task_schema = validator(&dir, "queue/v1/create-task-request.json");
    let (_, hook) = hooks()
        .into_iter()
        .find(|(n, _)| n == "pool-gate.json")
        .expect("pool-gate.json");
    assert_eq!(errors(&hook_schema, &hook), Vec::<String>::new());
    let exchanges: Vec<&str> = hook["bindings"]
        .as_array()
        .expect("bindings")
        .iter()
        .filter_map(|b| b["exchange"].as_str())
        .collect();
    assert_eq!(
        exchanges,
        [
            "exchange/taskcluster-worker-manager/v1/worker-pool-created",
            "exchange/taskcluster-worker-manager/v1/worker-pool-updated",
            "exchange/taskcluster-worker-manager/v1/launch-config-created"
        ]
    );
    // The trigger schema accepts what those exchanges carry (pulse-worker-pool-message,
    // pulse-launch-config-message) and nothing else.
    let trigger =
        jsonschema::validator_for(&hook["triggerSchema"]).expect("triggerSchema compiles");
    let created = json!({"workerPoolId": "gecko-t/t-win10-64", "providerId": "aws"});
    let updated = json!({"workerPoolId": "gecko-t/t-win10-64", "providerId": "aws", "previousProviderId": "aws-old"});
    let lc = json!({"workerPoolId": "gecko-t/t-win10-64", "providerId": "aws", "launchConfigId": "lc-0123456789abcdef0123"});
    for ok in [&created, &updated, &lc] {
        assert!(trigger.is_valid(ok), "{ok}");
    }
    for bad in [
        json!({"providerId": "aws"}),
        json!({"workerPoolId": "nope", "providerId": "aws"}),
        json!({"workerPoolId": "a/b", "providerId": "aws", "extra": 1}),
    ] {
        assert!(!trigger.is_valid(&bad), "{bad}");
    }
    for payload in [created, lc] {
        let task = json_e::render(&hook["task"], &json!({"firedBy": "pulseMessage", "payload": payload, "taskId": "fXAJ3ylpRfaBh0bONbLCuw"})).expect("render");
        check_rendered(&task, &task_schema, "pool-gate");
        let cmd: Vec<&str> = task["payload"]["command"]
            .as_array()
            .expect("c")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert_eq!(cmd[0], "gate");
        let at = cmd
            .iter()
            .position(|c| *c == "--pool-id")
            .expect("--pool-id");
        assert_eq!(cmd[at + 1], "gecko-t/t-win10-64");
        assert!(cmd.contains(&"--root-url"));
        assert_eq!(
            task["metadata"]["name"],
            "checker gate gecko-t/t-win10-64 (pulseMessage)"
        );
    }
}

#[test]
fn the_iam_policy_is_least_privilege() {
    let p: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("hooks/iam-policy.json")).expect("policy"),
    )
    .expect("json");
    let statements = p["Statement"].as_array().expect("statements");
    for s in statements {
        let actions: Vec<&str> = s["Action"]
            .as_array()
            .expect("actions")
            .iter()
            .filter_map(Value::as_str)
            .collect();
        assert!(
            !actions.iter().any(|a| a.contains('*')),
            "no wildcard actions: {actions:?}"
        );
        if actions.iter().any(|a| a.ends_with("Tags")) {
            // Claims: only checker's own tag keys, only on the fleet's instances.
            assert!(
                s["Condition"]["ForAllValues:StringLike"]["aws:TagKeys"]
                    .as_array()
                    .is_some_and(|k| k
                        .iter()
                        .all(|k| k.as_str().is_some_and(|k| k.starts_with("checker:")))),
                "tagging is limited to checker's keys: {s}"
            );
        }
        if actions.iter().any(|a| {
            a.starts_with("ec2:Terminate") || a.starts_with("ec2:Reboot") || a.ends_with("Tags")
        }) {
            assert!(
                s["Condition"]["StringEquals"]["aws:ResourceTag/ManagedBy"].is_string(),
                "termination is conditioned on the fleet's tags: {s}"
            );
            assert_ne!(s["Resource"], "*");
        } else {
            assert!(
                actions.iter().all(|a| a.starts_with("ec2:Describe")),
                "{actions:?}"
            );
        }
    }
}

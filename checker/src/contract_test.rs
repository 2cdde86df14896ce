//! `checker test`: contract tests. Test files (`"kind": "test"`) live beside the contracts; each
//! case is a few instances (in any recorded shape: describe-instances, gcloud, az) and what each named consumer or clause
//! must make of them. A contract's owner proves with them that it catches what it should and
//! passes what it should before it gates anything (as conftest's `verify`, Pact's provider
//! verification).

use crate::contract::ContractSet;
use crate::diag::{Diagnostic, Diagnostics};
use crate::eval::Judgement;
use crate::fleet::{Instance, SecretPolicy};
use crate::report::{ConsumerTally, Report, TallyRole};
use base64::Engine;
use chrono::{DateTime, Utc};
use serde_json::Value;
use std::path::{Path, PathBuf};

/// One expectation's result.
#[derive(Debug, Clone)]
pub struct Check {
    /// A consumer name or a clause id.
    pub target: String,
    /// What the test expects.
    pub expected: String,
    /// What happened.
    pub actual: String,
    /// The findings behind it, in words (for a failed expectation).
    pub detail: Vec<String>,
}

impl Check {
    /// Whether it held.
    pub fn ok(&self) -> bool {
        self.expected == self.actual
    }
}

/// One case's results.
#[derive(Debug, Clone)]
pub struct CaseResult {
    /// The test file.
    pub file: PathBuf,
    /// The case's name.
    pub name: String,
    /// Its pointer in the file.
    pub pointer: String,
    /// Each expectation.
    pub checks: Vec<Check>,
}

impl CaseResult {
    /// Whether every expectation held.
    pub fn ok(&self) -> bool {
        self.checks.iter().all(Check::ok)
    }
}

/// The instances of a case: `instances` (with `UserDataJson` turned into `UserData.Value`) and
/// the `fleet` file.
fn case_instances(
    file: &Path,
    ptr: &str,
    case: &Value,
    secrets: &SecretPolicy,
    diags: &mut Vec<Diagnostic>,
) -> Vec<Instance> {
    let mut out = Vec::new();
    for (i, raw) in case
        .get("instances")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        let mut inst = raw.clone();
        if let Some(o) = inst.as_object_mut()
            && let Some(ud) = o.remove("UserDataJson")
        {
            let b64 = base64::engine::general_purpose::STANDARD.encode(ud.to_string());
            o.insert("UserData".into(), serde_json::json!({ "Value": b64 }));
        }
        match crate::fleet::parse_any(file, &format!("{ptr}/instances/{i}"), &inst, secrets) {
            Ok(x) => out.push(x),
            Err(d) => diags.push(d),
        }
    }
    if let Some(rel) = case.get("fleet").and_then(Value::as_str) {
        let path = file.parent().unwrap_or(Path::new(".")).join(rel);
        match crate::fleet::read_recorded(&path, secrets) {
            Ok(mut v) => out.append(&mut v),
            Err(d) => diags.extend(d.0),
        }
    }
    out
}

/// What a consumer made of the case.
fn consumer_outcome(report: &Report, t: &ConsumerTally) -> String {
    if t.selected == 0 {
        return "not-selected".into();
    }
    let mine = |code: crate::code::Code| {
        report
            .findings
            .iter()
            .any(|f| f.consumer == t.name && f.code == code)
    };
    if t.clauses.iter().any(|c| c.failed > 0) || mine(crate::code::Code::InputLost) {
        "fail".into()
    } else if t.clauses.iter().any(|c| c.unknown > 0) {
        "unknown".into()
    } else {
        "pass".into()
    }
}

/// What a clause made of the case.
fn clause_outcome(c: &crate::report::ClauseTally) -> String {
    if c.failed > 0 {
        "fail"
    } else if c.unknown > 0 {
        "unknown"
    } else if c.waived > 0 {
        "waived"
    } else if c.passed > 0 {
        "pass"
    } else {
        "not-applicable"
    }
    .into()
}

/// The findings of `target` (a consumer or a clause), in words.
fn details(report: &Report, target: &str) -> Vec<String> {
    report
        .findings
        .iter()
        .filter(|f| f.consumer == target || f.clause.as_deref() == Some(target))
        .map(|f| {
            format!(
                "{} {}: {}",
                f.code,
                f.clause.as_deref().unwrap_or(""),
                f.message
            )
        })
        .collect()
}

/// Runs one case against the contracts.
fn run_case(
    set: &ContractSet,
    file: &Path,
    ptr: &str,
    case: &Value,
    now: DateTime<Utc>,
    diags: &mut Vec<Diagnostic>,
) -> Option<CaseResult> {
    let before = diags.len();
    let instances = case_instances(file, ptr, case, &set.secret_policy(), diags);
    let expect = case.get("expect").and_then(Value::as_object)?;
    for k in expect.keys() {
        let known = set.consumer(k).is_some()
            || set
                .consumers
                .iter()
                .any(|c| c.clauses.iter().any(|cl| &cl.id == k));
        if !known {
            diags.push(
                Diagnostic::at(file, format!("{ptr}/expect/{k}"), format!("\"{k}\" is neither a consumer nor a clause id of the loaded contracts"))
                    .hint("name a consumer (its `name`) or a clause (its `id`); `checker rules` and `checker validate` list what is loaded"),
            );
        }
    }
    if diags.len() > before {
        return None;
    }
    let source = crate::report::SourceInfo {
        kind: crate::report::SourceKind::Recorded,
        instances: instances.len(),
        user_data_sampled: instances.len(),
        parts: vec![],
    };
    let mut report = crate::eval::build("test", set, &instances, source, Judgement::default(), now);
    // A case is a few instances, not a fleet: a consumer they do not concern is `not-selected`,
    // not a consumer that selects nothing.
    report
        .findings
        .retain(|f| f.code != crate::code::Code::SelectsNothing);
    let tally = |name: &str| {
        report
            .consumers
            .iter()
            .find(|t| t.role == TallyRole::Consumer && t.name == name)
    };
    let checks = expect
        .iter()
        .map(|(target, want)| {
            let actual = match tally(target) {
                Some(t) => consumer_outcome(&report, t),
                None => report
                    .consumers
                    .iter()
                    .flat_map(|t| t.clauses.iter())
                    .find(|c| &c.id == target)
                    .map(clause_outcome)
                    .unwrap_or_else(|| "not-selected".into()),
            };
            Check {
                target: target.clone(),
                expected: want.as_str().unwrap_or_default().to_string(),
                detail: details(&report, target),
                actual,
            }
        })
        .collect();
    Some(CaseResult {
        file: file.to_path_buf(),
        name: case
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or("")
            .into(),
        pointer: ptr.to_string(),
        checks,
    })
}

/// Runs every case of every test file against `set`.
pub fn run(
    set: &ContractSet,
    files: &[PathBuf],
    now: DateTime<Utc>,
) -> crate::Result<Vec<CaseResult>> {
    let mut diags = Vec::new();
    let mut out = Vec::new();
    for f in files {
        let v: Value = match std::fs::read(f).map(|b| crate::diag::parse_json(f, &b)) {
            Ok(Ok(v)) => v,
            Ok(Err(d)) => {
                diags.push(d);
                continue;
            }
            Err(e) => {
                diags.push(Diagnostic::file(f, format!("cannot read: {e}")));
                continue;
            }
        };
        let bad = crate::load::validate_test(f, &v);
        if !bad.is_empty() {
            diags.extend(bad);
            continue;
        }
        for (i, case) in v["cases"].as_array().into_iter().flatten().enumerate() {
            if let Some(r) = run_case(set, f, &format!("/cases/{i}"), case, now, &mut diags) {
                out.push(r);
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags).located().into())
    }
}

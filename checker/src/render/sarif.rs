//! SARIF 2.1.0 (OASIS): one result per grouped finding, located at the clause (or promise, or
//! launch configuration) that fails, for code-scanning UIs and editors. Message text goes
//! through `escape::sarif` (one line, no embedded link); properties are data, JSON-escaped.

use super::escape::sarif;
use crate::code::Code;
use crate::contract::Severity;
use crate::error::Result;
use crate::report::{Finding, Outcome, Report};
use serde_json::{Value, json};
use std::collections::BTreeSet;

/// SARIF's level for a finding.
fn level(f: &Finding) -> &'static str {
    match (f.outcome, f.severity) {
        (Outcome::Violation, Severity::Error) => "error",
        (Outcome::Violation, Severity::Warning) | (Outcome::Unknown, _) => "warning",
        (Outcome::Waived, _) | (Outcome::Notice, _) => "note",
    }
}

fn result(f: &Finding) -> Value {
    let mut r = json!({
        "ruleId": f.code.name(),
        "level": level(f),
        "message": {"text": match &f.why {
            Some(why) => format!("{} Why it matters: {}", sarif(&f.message), sarif(why)),
            None => sarif(&f.message),
        }},
        "properties": {
            "consumer": f.consumer,
            "clause": f.clause,
            "instances": f.count,
            "samples": f.samples,
        },
    });
    if let Some(l) = &f.location {
        r["locations"] = json!([{
            "physicalLocation": {
                "artifactLocation": {"uri": l.file.replace('\\', "/")},
                "region": {"startLine": l.line, "startColumn": l.column}
            }
        }]);
    }
    if let Some(w) = &f.waiver
        && f.outcome == Outcome::Waived
    {
        r["suppressions"] = json!([{
            "kind": "external",
            "justification": format!("{} (owner {}, until {})", sarif(&w.reason), sarif(&w.owner), sarif(&w.expires)),
        }]);
    }
    r
}

/// A check or gate report as a SARIF log.
pub(super) fn report(r: &Report) -> Result<String> {
    let codes: BTreeSet<Code> = r.findings.iter().map(|f| f.code).collect();
    let rules: Vec<Value> = codes
        .iter()
        .map(|c| {
            json!({
                "id": c.name(),
                "shortDescription": {"text": c.description()},
                "helpUri": "https://github.com/mozilla-releng/checker/blob/main/docs/report-format.md",
            })
        })
        .collect();
    let log = json!({
        "$schema": "https://json.schemastore.org/sarif-2.1.0.json",
        "version": "2.1.0",
        "runs": [{
            "tool": {"driver": {
                "name": "checker",
                "version": r.build.version,
                "informationUri": "https://github.com/mozilla-releng/checker",
                "rules": rules,
                "properties": {"commit": r.build.commit, "dirty": r.build.dirty},
            }},
            "invocations": [{
                "executionSuccessful": r.summary.exit_code != crate::exit::ExitStatus::Incomplete,
                "exitCode": r.summary.exit_code.code(),
            }],
            "results": r.findings.iter().map(result).collect::<Vec<_>>(),
            "properties": {"command": r.command, "generatedAt": r.generated_at},
        }],
    });
    super::json(&log)
}

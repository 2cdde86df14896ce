//! Contract test results (`checker test`) in every format: human, JSON, JUnit (one suite per
//! test file, one case per test case), Markdown. SARIF has no place for them.

use super::escape::{T, md_code, md_text};
use crate::contract_test::CaseResult;
use crate::error::Result;
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use serde_json::json;
use std::collections::BTreeMap;
use std::fmt::Write;

fn failures(c: &CaseResult) -> String {
    let mut s = String::new();
    for k in c.checks.iter().filter(|k| !k.ok()) {
        let _ = writeln!(
            s,
            "{}: expected {}, got {}",
            T(&k.target),
            T(&k.expected),
            T(&k.actual)
        );
        for d in &k.detail {
            let _ = writeln!(s, "    {}", T(d));
        }
    }
    s
}

pub(super) fn human(results: &[CaseResult]) -> String {
    let mut s = String::new();
    for c in results {
        let mark = if c.ok() { "ok  " } else { "FAIL" };
        let _ = writeln!(
            s,
            "{mark} {} ({} at {})",
            T(&c.name),
            T(&c.file.display().to_string()),
            T(&c.pointer)
        );
        if !c.ok() {
            for line in failures(c).lines() {
                let _ = writeln!(s, "       {line}");
            }
        }
    }
    let failed = results.iter().filter(|c| !c.ok()).count();
    let checks: usize = results.iter().map(|c| c.checks.len()).sum();
    let _ = writeln!(
        s,
        "\n{} case(s), {checks} expectation(s): {} passed, {failed} failed",
        results.len(),
        results.len() - failed
    );
    s
}

pub(super) fn json(results: &[CaseResult]) -> Result<String> {
    let cases: Vec<_> = results
        .iter()
        .map(|c| {
            json!({
                "file": c.file.display().to_string(),
                "pointer": c.pointer,
                "name": c.name,
                "ok": c.ok(),
                "checks": c.checks.iter().map(|k| json!({
                    "target": k.target, "expected": k.expected, "actual": k.actual,
                    "ok": k.ok(), "findings": k.detail,
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    super::json(&json!({
        "format": "checker-tests",
        "version": 1,
        "minorVersion": 0,
        "build": crate::build::info(),
        "cases": cases,
    }))
}

pub(super) fn junit(results: &[CaseResult]) -> Result<String> {
    let mut by_file: BTreeMap<String, Vec<&CaseResult>> = BTreeMap::new();
    for c in results {
        by_file
            .entry(c.file.display().to_string())
            .or_default()
            .push(c);
    }
    let mut report = quick_junit::Report::new("checker test");
    for (file, cases) in by_file {
        let mut suite = TestSuite::new(T(&file).to_string());
        for c in cases {
            let status = if c.ok() {
                TestCaseStatus::success()
            } else {
                let mut st = TestCaseStatus::non_success(NonSuccessKind::Failure);
                st.set_message(format!(
                    "{} expectation(s) do not hold",
                    c.checks.iter().filter(|k| !k.ok()).count()
                ));
                st.set_description(failures(c));
                st
            };
            suite.add_test_case(TestCase::new(T(&c.name).to_string(), status));
        }
        report.add_test_suite(suite);
    }
    report
        .to_string()
        .map_err(|e| crate::error::Error::Incomplete(format!("cannot render JUnit: {e}")))
}

pub(super) fn markdown(results: &[CaseResult]) -> String {
    let mut s = String::from("| | case | file | failed expectations |\n|---|---|---|---|\n");
    for c in results {
        let failed: Vec<String> = c
            .checks
            .iter()
            .filter(|k| !k.ok())
            .map(|k| {
                format!(
                    "{}: expected {}, got {}",
                    md_code(&k.target),
                    md_text(&k.expected),
                    md_text(&k.actual)
                )
            })
            .collect();
        let _ = writeln!(
            s,
            "| {} | {} | {} | {} |",
            if c.ok() { "✅" } else { "❌" },
            md_text(&c.name),
            md_code(&format!("{}{}", c.file.display(), c.pointer)),
            failed.join("<br>")
        );
    }
    s
}

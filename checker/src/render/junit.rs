//! The JUnit form: one test suite per consumer (one case per clause), one for the source (one
//! case per region or file), one for the gate's verdicts. A case fails exactly when what it
//! stands for fails the run: warnings fail only under `--fail-on-warn`. Every value goes through
//! `escape::term` (XML 1.0 cannot hold most control characters; quick-junit escapes the rest).

use super::escape::T;
use crate::contract::Severity;
use crate::cull::Plan;
use crate::error::{Error, Result};
use crate::report::*;
use crate::snapshot::{DiffReport, Holds};
use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
use std::fmt::Write as _;

fn to_xml(r: &quick_junit::Report) -> Result<String> {
    r.to_string()
        .map_err(|e| Error::Incomplete(format!("cannot render JUnit: {e}")))
}

fn failure(kind: NonSuccessKind, message: String) -> TestCaseStatus {
    let mut st = TestCaseStatus::non_success(kind);
    st.set_message(message);
    st
}

/// A check or gate report.
pub fn report(r: &Report) -> Result<String> {
    let mut report = quick_junit::Report::new(format!("checker {}", T(&r.command)));
    report.add_test_suite(source(&r.source));
    for c in &r.consumers {
        let mut suite = TestSuite::new(format!("{} {}", c.role, T(&c.name)));
        for cl in &c.clauses {
            let mut tc = TestCase::new(T(&cl.id).to_string(), clause_status(r, c, cl));
            tc.set_classname(format!("{}.{}", T(&c.name), T(&cl.kind)));
            tc.set_assertions(cl.passed + cl.failed + cl.waived + cl.unknown);
            if let Some(note) = warning_note(r, c, cl) {
                tc.set_system_out(note);
            }
            suite.add_test_case(tc);
        }
        report.add_test_suite(suite);
    }
    if let Some(g) = &r.gate {
        report.add_test_suite(gate(g));
    }
    to_xml(&report)
}

/// One case per region or file: a part that could not be read fails (the run is incomplete).
fn source(src: &SourceInfo) -> TestSuite {
    let mut suite = TestSuite::new(format!("source ({})", src.kind));
    for p in &src.parts {
        let status = match p.status {
            PartStatus::Ok => TestCaseStatus::success(),
            PartStatus::Failed => failure(
                NonSuccessKind::Error,
                format!(
                    "{} could not be read: {}",
                    T(&p.scope()),
                    T(p.error.as_deref().unwrap_or("error"))
                ),
            ),
        };
        let mut tc = TestCase::new(format!("read {}", T(&p.scope())), status);
        tc.set_classname("source");
        tc.set_assertions(p.instances);
        suite.add_test_case(tc);
    }
    suite
}

fn clause_status(r: &Report, c: &ConsumerTally, cl: &ClauseTally) -> TestCaseStatus {
    let findings: Vec<&Finding> = r
        .findings
        .iter()
        .filter(|f| {
            (f.consumer == c.name && f.clause.as_deref() == Some(cl.id.as_str()))
                || f.also
                    .iter()
                    .any(|a| a.consumer == c.name && a.clause == cl.id)
        })
        .collect();
    let fails = |f: &&&Finding| {
        f.outcome == Outcome::Violation && (f.severity == Severity::Error || r.summary.fail_on_warn)
    };
    if let Some(f) = findings.iter().find(fails) {
        let mut st = failure(NonSuccessKind::Failure, T(&f.message).to_string());
        st.set_type(if f.severity == Severity::Error {
            "error"
        } else {
            "warning"
        });
        st.set_description(finding_text(f));
        return st;
    }
    if let Some(f) = findings.iter().find(|f| f.outcome == Outcome::Unknown) {
        let mut st = failure(NonSuccessKind::Error, T(&f.message).to_string());
        st.set_type("unknown");
        return st;
    }
    if c.selected == 0 || cl.passed + cl.waived + cl.failed == 0 {
        let mut st = TestCaseStatus::skipped();
        st.set_message(if c.selected == 0 {
            "the selector matched no instance".to_string()
        } else {
            "not evaluated on any instance".to_string()
        });
        return st;
    }
    TestCaseStatus::success()
}

/// A warning that does not fail the run: its case passes and says so on its output.
fn warning_note(r: &Report, c: &ConsumerTally, cl: &ClauseTally) -> Option<String> {
    if r.summary.fail_on_warn {
        return None;
    }
    r.findings
        .iter()
        .find(|f| {
            f.consumer == c.name
                && f.clause.as_deref() == Some(cl.id.as_str())
                && f.outcome == Outcome::Violation
                && f.severity == Severity::Warning
        })
        .map(|f| format!("warning: {}\n{}", T(&f.message), finding_text(f)))
}

fn gate(g: &GateSection) -> TestSuite {
    let mut suite = TestSuite::new(format!("gate {}", T(&g.proposal)));
    for v in &g.verdicts {
        let status = match (v.deployable, &v.ignored) {
            (_, Some(reason)) => {
                let mut st = TestCaseStatus::skipped();
                st.set_message(format!("ignored: {}", T(reason)));
                st
            }
            (Deployable::Yes, None) => TestCaseStatus::success(),
            (d, None) => {
                let kind = if d == Deployable::No {
                    NonSuccessKind::Failure
                } else {
                    NonSuccessKind::Error
                };
                let mut st = failure(kind, format!("{} says {d}", T(&v.consumer)));
                st.set_description(
                    v.reasons
                        .iter()
                        .map(|r| format!("{}: {}", T(&r.clause), T(&r.message)))
                        .collect::<Vec<_>>()
                        .join("\n"),
                );
                st
            }
        };
        let mut tc = TestCase::new(format!("can-i-deploy {}", T(&v.consumer)), status);
        tc.set_classname("gate");
        suite.add_test_case(tc);
    }
    if g.dry_run {
        suite.add_property(quick_junit::Property::new("dry-run", "true"));
    }
    suite
}

fn finding_text(f: &Finding) -> String {
    let mut s = String::new();
    for v in &f.actual {
        let _ = writeln!(s, "{} x {}", v.count, T(&v.value));
    }
    if !f.samples.is_empty() {
        let samples: Vec<String> = f.samples.iter().map(|x| T(x).to_string()).collect();
        let _ = writeln!(s, "e.g. {}", samples.join(", "));
    }
    if let Some(w) = &f.why {
        let _ = writeln!(s, "why: {}", T(w));
    }
    if let Some(rb) = &f.runbook {
        let _ = writeln!(s, "runbook: {}", T(rb));
    }
    s
}

/// A diff report: one case per changed output; a breaking change fails.
pub fn diff(r: &DiffReport) -> Result<String> {
    let mut rep = quick_junit::Report::new("checker diff");
    rep.add_test_suite(source(&r.source));
    let mut suite = TestSuite::new(format!("drift against {}", T(&r.snapshot)));
    for c in &r.diff.changes {
        let breaking = c.consumers.iter().any(|i| i.holds == Holds::No);
        let st = if breaking {
            failure(
                NonSuccessKind::Failure,
                T(&super::human::holds(c)).to_string(),
            )
        } else {
            TestCaseStatus::success()
        };
        suite.add_test_case(TestCase::new(
            format!("{} {} {}", T(&c.group), T(&c.output), c.kind),
            st,
        ));
    }
    for c in &r.diff.lost_inputs {
        suite.add_test_case(TestCase::new(
            format!("{} keeps its input", T(c)),
            failure(
                NonSuccessKind::Failure,
                format!(
                    "{} selected instances in the snapshot and selects none now",
                    T(c)
                ),
            ),
        ));
    }
    rep.add_test_suite(suite);
    to_xml(&rep)
}

/// A cull plan: the contract-and-data case fails when the run refused.
pub fn plan(p: &Plan) -> Result<String> {
    let mut report = quick_junit::Report::new("checker cull");
    let mut suite = TestSuite::new(format!("cull contract {}", T(&p.contract)));
    let contract = match &p.refused {
        Some(r) => failure(NonSuccessKind::Failure, T(r).to_string()),
        None => TestCaseStatus::success(),
    };
    suite.add_test_case(TestCase::new(
        "cull contract holds and the data is complete",
        contract,
    ));
    for g in &p.groups {
        let mut tc = TestCase::new(format!("group {}", T(&g.group)), TestCaseStatus::success());
        tc.set_system_out(format!(
            "{} instances, {} impaired, budget {}, acting on {}, deferred {}",
            g.size, g.impaired, g.allowed, g.acting, g.deferred
        ));
        suite.add_test_case(tc);
    }
    if p.dry_run {
        suite.add_property(quick_junit::Property::new("dry-run", "true"));
    }
    report.add_test_suite(suite);
    to_xml(&report)
}

/// The rules list: one case per clause kind and finding code, each documented.
pub fn rules() -> Result<String> {
    let mut report = quick_junit::Report::new("checker rules");
    let mut kinds = TestSuite::new("clause kinds");
    for r in crate::rules::rules() {
        let mut tc = TestCase::new(r.kind, TestCaseStatus::success());
        tc.set_system_out(r.summary);
        kinds.add_test_case(tc);
    }
    let mut codes = TestSuite::new("finding codes");
    for c in Code::all() {
        let mut tc = TestCase::new(c.name(), TestCaseStatus::success());
        tc.set_system_out(c.description());
        codes.add_test_case(tc);
    }
    report.add_test_suite(kinds);
    report.add_test_suite(codes);
    to_xml(&report)
}

#[cfg(test)]
mod tests {
    use crate::report::{
        PartKind, PartStatus, Scope, ScopeKind, SourceInfo, SourceKind, SourcePart,
    };

    fn part(account: &str, status: PartStatus) -> SourcePart {
        let part = match status {
            PartStatus::Ok => SourcePart::read("us-west-1", PartKind::RegionOfAccount, 0),
            _ => SourcePart::failed(
                "us-west-1",
                PartKind::RegionOfAccount,
                "could not reach EC2",
            ),
        };
        SourcePart {
            scope: Some(Scope::new(ScopeKind::Account, account)),
            ..part
        }
    }

    /// Two accounts' us-west-1, one failed: Markdown and JUnit say which account's region
    /// failed (they said "us-west-1, **us-west-1 FAILED**" and had two cases of one name).
    #[test]
    fn a_failed_region_of_one_of_two_accounts_is_named_with_its_account() {
        let source = SourceInfo {
            kind: SourceKind::Live,
            parts: vec![
                part("111111111111", PartStatus::Ok),
                part("222222222222", PartStatus::Failed),
            ],
            instances: 1,
            user_data_sampled: 0,
        };
        let r = crate::eval::build(
            "check",
            &crate::contract::ContractSet::default(),
            &[],
            source,
            crate::eval::Judgement::default(),
            chrono::Utc::now(),
        );
        let md = super::super::markdown::report(&r);
        assert!(
            md.contains(
                "us-west-1 (account 111111111111), us-west-1 (account 222222222222) **FAILED**"
            ),
            "{md}"
        );
        let xml = super::report(&r).expect("junit");
        let names: Vec<&str> = xml
            .match_indices("<testcase name=\"")
            .map(|(i, m)| {
                let rest = &xml[i + m.len()..];
                &rest[..rest.find('"').unwrap_or(0)]
            })
            .collect();
        assert_eq!(
            names,
            [
                "read us-west-1 (account 111111111111)",
                "read us-west-1 (account 222222222222)"
            ],
            "{xml}"
        );
        assert!(
            xml.contains("us-west-1 (account 222222222222) could not be read"),
            "{xml}"
        );
    }
}

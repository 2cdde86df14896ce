//! Findings from aggregates, coverage, and the summary the exit status is computed from.

use super::{Agg, Owner};
use crate::contract::*;
use crate::fleet::Instance;
use crate::output::OutputPath;
use crate::report::*;
use std::collections::BTreeSet;

pub(super) fn waiver_target(w: &Waiver) -> String {
    match &w.clause {
        Some(c) => format!("{} clause {c}", w.consumer),
        None => format!("consumer {}", w.consumer),
    }
}

pub(super) fn waiver_ref(w: &Waiver) -> WaiverRef {
    WaiverRef {
        owner: w.owner.clone(),
        reason: w.reason.clone(),
        expires: w.expires.to_string(),
        file: format!("{} {}", w.file.display(), w.pointer),
    }
}

pub(super) fn find_waiver(
    set: &ContractSet,
    c: &Consumer,
    cl: &Clause,
    i: &Instance,
) -> Option<usize> {
    set.waivers.iter().position(|w| {
        w.consumer == c.name
            && w.clause.as_ref().is_none_or(|id| *id == cl.id)
            && w.selector.as_ref().is_none_or(|s| set.selects(s, i))
    })
}

pub(super) fn make_finding(
    set: &ContractSet,
    owner: &Owner,
    outcome: Outcome,
    waiver: Option<usize>,
    agg: &Agg,
) -> Finding {
    let actual = agg.values();
    let samples: Vec<String> = agg.samples.iter().cloned().collect();
    match owner {
        Owner::Provider(pi, oi) => provider_finding(set, *pi, *oi, outcome, agg, actual, samples),
        Owner::Consumer(ci, k) => {
            consumer_finding(set, *ci, *k, outcome, waiver, agg, (actual, samples))
        }
    }
}

fn provider_finding(
    set: &ContractSet,
    pi: usize,
    oi: usize,
    outcome: Outcome,
    agg: &Agg,
    actual: Vec<ValueCount>,
    samples: Vec<String>,
) -> Finding {
    let first = actual.first().map(|v| v.value.clone()).unwrap_or_default();

    let p = &set.providers[pi];
    let o = &p.outputs[oi];
    let expected = match &o.template {
        Some(t) => format!("\"{}\"", t.source),
        None => "present".into(),
    };
    let (code, message) = match outcome {
        Outcome::Unknown => (
            Code::ManifestUnknown,
            format!(
                "provider {} promises {}, but it could not be read on {} instance(s): {first}",
                p.name, o.path, agg.count
            ),
        ),
        _ => (
            Code::ManifestViolated,
            format!(
                "provider {} promises {} = {expected}, but {} instance(s) it launched break that promise, e.g. {first}",
                p.name, o.path, agg.count
            ),
        ),
    };
    Finding {
        code,
        outcome,
        severity: Severity::Error,
        consumer: p.name.clone(),
        clause: Some(super::manifest_clause_id(p, &o.path)),
        kind: Some("manifest".into()),
        output: Some(o.path.to_string()),
        expected: Some(expected),
        actual,
        count: agg.count,
        samples,
        message,
        why: Some(format!(
            "every consumer that relies on {}'s published outputs is exposed; fix the provider or publish the new manifest",
            p.name
        )),
        runbook: None,
        waiver: None,
        location: o.location.clone(),
        scope: None,
        also: Vec::new(),
        regions: agg.regions.iter().cloned().collect(),
    }
}

fn consumer_finding(
    set: &ContractSet,
    ci: usize,
    k: usize,
    outcome: Outcome,
    waiver: Option<usize>,
    agg: &Agg,
    (actual, samples): (Vec<ValueCount>, Vec<String>),
) -> Finding {
    let first = actual.first().map(|v| v.value.clone()).unwrap_or_default();

    let c = &set.consumers[ci];
    let cl = &c.clauses[k];
    let expected = cl.check.expected(&c.facts);
    let target = super::clause_target(c, &cl.check);
    let (code, message) = match outcome {
        Outcome::Unknown => (
            Code::ClauseUnknown,
            format!(
                "{}: {} could not be evaluated on {} instance(s): {first}",
                c.name, cl.id, agg.count
            ),
        ),
        Outcome::Waived => (
            Code::ClauseWaived,
            format!(
                "{}: {} fails on {} instance(s), accepted by a waiver",
                c.name, cl.id, agg.count
            ),
        ),
        _ => (
            Code::ClauseViolated,
            format!(
                "{} expects {target} {expected}; {} instance(s) fail: {first}",
                c.name, agg.count
            ),
        ),
    };
    let output = Some(target.clone()).filter(|t| !t.is_empty());
    Finding {
        code,
        outcome,
        severity: cl.severity,
        consumer: c.name.clone(),
        clause: Some(cl.id.clone()),
        kind: Some(cl.check.kind().into()),
        output,
        expected: Some(expected),
        actual,
        count: agg.count,
        samples,
        message,
        why: Some(cl.why.clone()),
        runbook: c.runbook.clone(),
        waiver: waiver.map(|w| waiver_ref(&set.waivers[w])),
        location: cl.location.clone(),
        scope: None,
        also: Vec::new(),
        regions: agg.regions.iter().cloned().collect(),
    }
}

pub(super) fn coverage(set: &ContractSet, tallies: &[ConsumerTally]) -> Coverage {
    let reads = set.consumer_reads();
    let mut uncovered = Vec::new();
    let mut total = 0usize;
    let mut covered = 0usize;
    let mut promised: BTreeSet<&OutputPath> = BTreeSet::new();
    for p in &set.providers {
        for o in &p.outputs {
            total += 1;
            promised.insert(&o.path);
            if reads.contains_key(&o.path) {
                covered += 1;
            } else {
                uncovered.push(Uncovered {
                    provider: p.name.clone(),
                    output: o.path.to_string(),
                });
            }
        }
    }
    let unpromised = if set.providers.is_empty() {
        Vec::new()
    } else {
        reads
            .iter()
            .filter(|(p, _)| p.provider_dependent() && !promised.contains(p))
            .map(|(p, who)| Unpromised {
                output: p.to_string(),
                consumers: who.iter().cloned().collect(),
            })
            .collect()
    };
    let unmatched = tallies
        .iter()
        .filter(|t| t.selected == 0)
        .map(|t| {
            if t.role == TallyRole::Provider {
                format!("provider {}", t.name)
            } else {
                t.name.clone()
            }
        })
        .collect();
    Coverage {
        uncovered_outputs: uncovered,
        unpromised_reads: unpromised,
        unmatched_contracts: unmatched,
        covered_percent: (covered * 100).checked_div(total).map_or(100, |p| p as u32),
    }
}

/// How findings and evaluation counts turn into a status and exit code.
#[derive(Debug, Clone, Copy, Default)]
pub struct Policy {
    /// Warnings fail too.
    pub fail_on_warn: bool,
    /// Unknown evaluations tolerated before the result is `incomplete` (exit 3).
    pub max_unknown: usize,
    /// Some part of the source (a region) could not be read.
    pub source_incomplete: bool,
}

/// Computes the summary: exit 1 on failures, else 3 when incomplete, else 0. A violation that was
/// found is real whatever else could not be read, and scripts branch on 1 ("fix the fleet")
/// apart from 3 ("retry or fix the access"); the unknowns and failed parts stay in the report.
pub fn summarize(
    findings: &[Finding],
    evaluations: usize,
    unknown_evaluations: usize,
    policy: Policy,
) -> Summary {
    let errors = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Violation && f.severity == Severity::Error)
        .count();
    let warnings = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Violation && f.severity == Severity::Warning)
        .count();
    let unknown = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Unknown)
        .count();
    let waived = findings
        .iter()
        .filter(|f| f.outcome == Outcome::Waived)
        .count();
    let incomplete = policy.source_incomplete || unknown_evaluations > policy.max_unknown;
    let failing = errors > 0 || (policy.fail_on_warn && warnings > 0);
    use crate::exit::ExitStatus;
    let (status, exit_code) = if failing {
        (Status::Violations, ExitStatus::Violations)
    } else if incomplete {
        (Status::Incomplete, ExitStatus::Incomplete)
    } else if warnings > 0 {
        (Status::Warnings, ExitStatus::Clean)
    } else {
        (Status::Clean, ExitStatus::Clean)
    };
    Summary {
        status,
        errors,
        warnings,
        unknown,
        unknown_evaluations,
        waived,
        evaluations,
        exit_code,
        fail_on_warn: policy.fail_on_warn,
    }
}

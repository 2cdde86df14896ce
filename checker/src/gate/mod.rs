//! `checker gate`: can-i-deploy for a provisioner change. Renders what a proposed provider
//! configuration would put on new instances, evaluates every consumer contract against it, and
//! gives each consumer a verdict with typed reasons, like Pact's can-i-deploy.

use crate::contract::{Check, Consumer, ContractSet, Derivation, Severity, Subject};
use crate::eval::{FactValue, eval_clause};
use crate::exit::ExitStatus;
use crate::fleet::{Instance, Read};
use crate::report::*;
use std::collections::{BTreeMap, BTreeSet};

mod changes;
mod git;
mod run;
pub use changes::manifest_changes;
pub use run::{GateRequest, run};

/// Consumer verdicts from a report of the proposal (and optionally of the base).
pub fn verdicts(
    set: &ContractSet,
    records: &[Instance],
    proposed: &Report,
    base: Option<&Report>,
    changes: &[Change],
    ignore: &BTreeMap<String, String>,
    fail_on_warn: bool,
) -> Vec<Verdict> {
    let changed: BTreeSet<&str> = changes.iter().map(|c| c.output.as_str()).collect();
    set.consumers
        .iter()
        .map(|c| {
            let failing = |r: &Report| -> Vec<Reason> {
                r.findings
                    .iter()
                    .filter(|f| {
                        f.consumer == c.name
                            && f.outcome == Outcome::Violation
                            && (f.severity == Severity::Error || fail_on_warn)
                    })
                    .map(|f| Reason {
                        clause: f.clause.clone().unwrap_or_default(),
                        kind: f.kind.clone().unwrap_or_default(),
                        message: reason_text(c, f, records),
                    })
                    .collect()
            };
            let unknown: Vec<Reason> = proposed
                .findings
                .iter()
                .filter(|f| f.consumer == c.name && f.outcome == Outcome::Unknown)
                .map(|f| Reason {
                    clause: f.clause.clone().unwrap_or_default(),
                    kind: f.kind.clone().unwrap_or_default(),
                    message: f.message.clone(),
                })
                .collect();
            let reasons = failing(proposed);
            let deployable = if !reasons.is_empty() {
                Deployable::No
            } else if !unknown.is_empty() {
                Deployable::Unknown
            } else {
                Deployable::Yes
            };
            let selected = proposed
                .consumers
                .iter()
                .find(|t| t.role == TallyRole::Consumer && t.name == c.name)
                .map(|t| t.selected)
                .unwrap_or(0);
            let reads: BTreeSet<String> = c.reads(set).iter().map(|p| p.to_string()).collect();
            let reads_set_change = changed.iter().any(|o| {
                o.strip_prefix("set:").is_some_and(|s| {
                    c.clauses
                        .iter()
                        .any(|cl| matches!(&cl.check, Check::MemberOf(_, r) if r.name == s))
                })
            });
            let affected = if base.is_some() {
                reads.iter().any(|r| changed.contains(r.as_str()))
                    || reads_set_change
                    || !reasons.is_empty()
            } else {
                selected > 0
            };
            let regression = base.map(|b| failing(b).is_empty() && !reasons.is_empty());
            Verdict {
                consumer: c.name.clone(),
                owner: c.owner.clone(),
                deployable,
                affected,
                regression,
                reasons: if deployable == Deployable::Unknown {
                    unknown
                } else {
                    reasons
                },
                ignored: ignore.get(&c.name).cloned(),
            }
        })
        .collect()
}

/// "occ derives workerType from KeyName by `split(':')[1]`; proposed KeyName `P:ffe27db` yields
/// `ffe27db`, which is not in workerTypes (7 known values)". Re-evaluates the contract on the
/// first failing proposed instance to name the values involved.
fn reason_text(c: &Consumer, f: &Finding, records: &[Instance]) -> String {
    let fallback = || format!("{} (on {} proposed instance(s))", f.message, f.count);
    let Some(inst) = f
        .samples
        .first()
        .and_then(|id| records.iter().find(|i| &i.id == id))
    else {
        return fallback();
    };
    let Some(k) = c
        .clauses
        .iter()
        .position(|cl| f.clause.as_deref() == Some(cl.id.as_str()))
    else {
        return fallback();
    };
    let mut facts: Vec<Option<FactValue>> = vec![None; c.facts.len()];
    for cl in &c.clauses[..k] {
        eval_clause(c, cl, inst, &mut facts);
    }
    let cl = &c.clauses[k];
    let derivation = |fact: usize| -> Option<(String, String)> {
        c.clauses.iter().find_map(|d| match &d.check {
            Check::Derives { fact: x, from, how } if *x == fact => {
                let how = match how {
                    Derivation::Identity => String::new(),
                    Derivation::Split(sep, idx) => format!(" by `split('{sep}')[{idx}]`"),
                    Derivation::Capture(re, cap) => {
                        format!(" by the group {cap} of `/{}/`", re.as_str())
                    }
                };
                Some((crate::eval::subject_name(c, from), how))
            }
            _ => None,
        })
    };
    let read = |s: &Subject, facts: &[Option<FactValue>]| -> (String, Option<String>) {
        match s {
            Subject::Fact(x) => {
                let fv = facts[*x].as_ref();
                match (derivation(*x), fv) {
                    (Some((src, how)), Some(fv)) => (
                        format!(
                            "{} derives {} from {src}{how}; proposed {src} \"{}\" yields \"{}\"",
                            c.name, c.facts[*x], fv.source, fv.value
                        ),
                        Some(fv.value.clone()),
                    ),
                    _ => (format!("fact {}", c.facts[*x]), fv.map(|f| f.value.clone())),
                }
            }
            Subject::Output(p) => match inst.read(p) {
                Read::Value(v) => (format!("proposed {p} is \"{v}\""), Some(v.into_owned())),
                _ => (format!("proposed instances have no {p}"), None),
            },
        }
    };
    let n = format!("{} proposed instance(s)", f.count);
    match &cl.check {
        Check::Present(p) => format!(
            "{} needs {p}, which the proposal does not set ({n})",
            c.name
        ),
        Check::Absent(p) => format!(
            "{} needs {p} absent, but the proposal sets it ({n})",
            c.name
        ),
        Check::Derives { fact, from, how } => {
            let (src, _) = read(from, &facts);
            let why = match how {
                Derivation::Split(sep, idx) => {
                    format!("which has no field {idx} when split on '{sep}'")
                }
                Derivation::Capture(re, _) => format!("which does not match `/{}/`", re.as_str()),
                Derivation::Identity => "which is absent".into(),
            };
            format!(
                "{} derives {} from it: {src}, {why} ({n})",
                c.name, c.facts[*fact]
            )
        }
        Check::MemberOf(s, set_ref) => {
            let (who, _) = read(s, &facts);
            format!(
                "{who}, which is not in {} ({} known values) ({n})",
                set_ref.name,
                set_ref.values.len()
            )
        }
        Check::AgreesWith(s, other) => {
            let (who, _) = read(s, &facts);
            let other_val = match other {
                crate::contract::Other::Output(p) => format!(
                    "{p} \"{}\"",
                    match inst.read(p) {
                        Read::Value(v) => v.into_owned(),
                        _ => "(absent)".into(),
                    }
                ),
                crate::contract::Other::Fact(x) => format!(
                    "{} \"{}\"",
                    c.facts[*x],
                    facts[*x].as_ref().map(|f| f.value.as_str()).unwrap_or("?")
                ),
                crate::contract::Other::Template(t, _) => format!("\"{}\"", t.source),
            };
            format!("{who}, which differs from {other_val} ({n})")
        }
        Check::Equals(s, want) => format!("{}, not \"{want}\" ({n})", read(s, &facts).0),
        Check::OneOf(s, vals) => format!(
            "{}, not one of [{}] ({n})",
            read(s, &facts).0,
            vals.join(", ")
        ),
        Check::Matches(s, re) => format!(
            "{}, which does not match `/{}/` ({n})",
            read(s, &facts).0,
            re.as_str()
        ),
        Check::Uniform(..) => fallback(),
    }
}

/// The gate's exit code: 1 if any consumer (not ignored) says no, else 3 if any is unknown, else 0.
pub fn exit_status(v: &[Verdict]) -> ExitStatus {
    let counted = v.iter().filter(|v| v.ignored.is_none());
    let mut status = ExitStatus::Clean;
    for x in counted {
        match x.deployable {
            Deployable::No => return ExitStatus::Violations,
            Deployable::Unknown => status = ExitStatus::Incomplete,
            Deployable::Yes => {}
        }
    }
    status
}

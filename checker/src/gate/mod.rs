//! `checker gate`: can-i-deploy for a provisioner change. Renders what a proposed provider
//! configuration would put on new instances, evaluates every consumer contract against it, and
//! gives each consumer a verdict with typed reasons, like Pact's can-i-deploy.

use crate::clause::{Detail, FactValue, ReasonCtx};
use crate::code::Code;
use crate::contract::{Check, Consumer, ContractSet, Severity};
use crate::eval::eval_clause;
use crate::exit::ExitStatus;
use crate::fleet::Instance;
use crate::report::*;
use std::collections::{BTreeMap, BTreeSet};

mod changes;
mod git;
mod pools;
mod run;
pub use changes::manifest_changes;
pub use run::{GateRequest, fetch_pool_file, fetch_pools, run};

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
                        message: if f.code == Code::InputLost {
                            f.message.clone()
                        } else {
                            reason_text(c, f, records)
                        },
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
                o.strip_prefix("set:")
                    .is_some_and(|s| c.clauses.iter().any(|cl| cl.check.set_name() == Some(s)))
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
        .chain(launch_verdict(set, proposed))
        .collect()
}

/// The provider's own verdict when it would refuse to launch part of the proposal.
fn launch_verdict(set: &ContractSet, proposed: &Report) -> Option<Verdict> {
    let refused: Vec<&Finding> = proposed
        .findings
        .iter()
        .filter(|f| f.code == Code::LaunchRefused)
        .collect();
    let first = refused.first()?;
    Some(Verdict {
        consumer: first.consumer.clone(),
        owner: set
            .providers
            .iter()
            .find(|p| p.name == first.consumer)
            .and_then(|p| p.owner.clone())
            .unwrap_or_else(|| "taskcluster".into()),
        deployable: Deployable::No,
        affected: true,
        regression: None,
        reasons: refused
            .iter()
            .map(|f| Reason {
                clause: f.clause.clone().unwrap_or_default(),
                kind: f.kind.clone().unwrap_or_default(),
                message: format!("{} ({})", f.message, f.samples.join(", ")),
            })
            .collect(),
        ignored: None,
    })
}

/// Consumers that selected some of the base's instances and select none of the proposal's:
/// they lost their input, the 2018 culling script's silent failure. Each is an error finding.
pub fn lost_inputs(
    set: &ContractSet,
    records: &[Instance],
    base_set: &ContractSet,
    base_records: &[Instance],
    changes: &[Change],
) -> Vec<Finding> {
    set.consumers
        .iter()
        .filter_map(|c| {
            let bc = base_set.consumer(&c.name)?;
            let had = base_records
                .iter()
                .filter(|i| base_set.selects(&bc.selector, i))
                .count();
            if had == 0 || records.iter().any(|i| set.selects(&c.selector, i)) {
                return None;
            }
            let reads: BTreeSet<String> = c.reads(set).iter().map(|p| p.to_string()).collect();
            let mut changed: Vec<&str> = changes
                .iter()
                .filter(|ch| reads.contains(&ch.output))
                .map(|ch| ch.output.as_str())
                .collect();
            if changed.is_empty() {
                changed = changes.iter().map(|ch| ch.output.as_str()).collect();
            }
            let what = if changed.is_empty() {
                "no output it reads changed: its selector no longer matches".to_string()
            } else {
                format!("the proposal changes {}", changed.join(", "))
            };
            Some(Finding::input_lost(
                c,
                format!(
                    "{} selects nothing: it lost its input ({had} base instance(s) matched {}; {what})",
                    c.name,
                    set.describe_selector(&c.selector)
                ),
                format!("to select instances, as it did on the base ({had})"),
            ))
        })
        .collect()
}

/// "occ derives workerType from KeyName by `split(':')[1]`; proposed KeyName `P:ffe27db` yields
/// `ffe27db`, which is not in workerTypes (7 known values)". Re-evaluates the contract on the
/// first failing proposed instance to name the values involved; the words are the clause
/// kind's ([`Check::reason`]).
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
        eval_clause(c, cl, inst, &mut facts, Detail::All);
    }
    let mut derivations: Vec<Option<(String, String)>> = vec![None; c.facts.len()];
    for cl in &c.clauses {
        if let Check::Derives(d) = &cl.check {
            derivations[d.fact] = Some(d.how_words(&c.facts));
        }
    }
    let cx = ReasonCtx {
        consumer: &c.name,
        names: &c.facts,
        derivations: &derivations,
        instance: inst,
        facts: &facts,
        count: format!("{} proposed instance(s)", f.count),
    };
    c.clauses[k].check.reason(&cx).unwrap_or_else(fallback)
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

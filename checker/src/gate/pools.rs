//! A verdict per proposed worker pool: its own launches and records judged alone, so a bundle
//! of hundreds of pools says which pool breaks which consumer, and a pool whose provider checker
//! does not model is "unknown".

use crate::contract::ContractSet;
use crate::eval::Judgement;
use crate::fleet::Instance;
use crate::proposal::{LaunchRefusal, ProposedPool, Unmodelled};
use crate::report::{Deployable, Location, PoolVerdict, Reason, Verdict};
use chrono::{DateTime, Utc};
use std::collections::BTreeMap;

/// What the pool verdicts are drawn from.
pub(super) struct PoolInputs<'a> {
    pub(super) set: &'a ContractSet,
    pub(super) records: &'a [Instance],
    pub(super) pools: &'a [ProposedPool],
    pub(super) refusals: &'a [LaunchRefusal],
    pub(super) unmodelled: &'a [Unmodelled],
    pub(super) ignore: &'a BTreeMap<String, String>,
    pub(super) judgement: Judgement,
    pub(super) now: DateTime<Utc>,
}

/// One verdict per pool, in the order read.
pub(super) fn pool_verdicts(x: &PoolInputs<'_>) -> Vec<PoolVerdict> {
    x.pools.iter().map(|p| one(x, p)).collect()
}

fn one(x: &PoolInputs<'_>, p: &ProposedPool) -> PoolVerdict {
    let mut reasons: Vec<Reason> = Vec::new();
    let mut deployable = Deployable::Yes;
    if let Some(u) = x.unmodelled.iter().find(|u| u.pool == p.pool) {
        deployable = Deployable::Unknown;
        reasons.push(Reason {
            clause: "provider".into(),
            kind: "unmodelled-provider".into(),
            message: u.why.clone(),
        });
    }
    for r in x.refusals.iter().filter(|r| r.pool == p.pool) {
        deployable = Deployable::No;
        reasons.push(Reason {
            clause: format!("launch:{}", r.launch_config_id),
            kind: r.kind.name().into(),
            message: r.message.clone(),
        });
    }
    let records = &x.records[p.records.clone()];
    if !records.is_empty() {
        let report = crate::eval::report_of(
            "gate",
            x.set,
            crate::eval::evaluate_part(x.set, records, x.now),
            super::run::proposal_source(records),
            Vec::new(),
            x.judgement,
            x.now,
        );
        let verdicts = super::verdicts(
            x.set,
            records,
            &report,
            None,
            &[],
            x.ignore,
            x.judgement.fail_on_warn,
        );
        for v in verdicts.iter().filter(|v| v.ignored.is_none()) {
            fold(&mut deployable, &mut reasons, v);
        }
    }
    PoolVerdict {
        pool: p.pool.clone(),
        provider_id: p.provider_id.clone(),
        implementation: p.kind.as_ref().map(|k| k.name().to_string()),
        launch_configs: p.launch_configs,
        deployable,
        reasons,
        location: Location::of(&p.file, &p.pointer),
    }
}

/// Folds a consumer's verdict on the pool's records into the pool's.
fn fold(deployable: &mut Deployable, reasons: &mut Vec<Reason>, v: &Verdict) {
    match v.deployable {
        Deployable::Yes => return,
        Deployable::No => *deployable = Deployable::No,
        Deployable::Unknown if *deployable == Deployable::Yes => *deployable = Deployable::Unknown,
        Deployable::Unknown => {}
    }
    reasons.extend(v.reasons.iter().map(|r| Reason {
        clause: format!("{}/{}", v.consumer, r.clause),
        kind: r.kind.clone(),
        message: r.message.clone(),
    }));
}

/// The verdict of the pools checker cannot render: unknown, one reason each.
pub(super) fn unmodelled_verdict(unmodelled: &[Unmodelled]) -> Option<Verdict> {
    (!unmodelled.is_empty()).then(|| Verdict {
        consumer: "worker-manager (providers not modelled)".into(),
        owner: "taskcluster".into(),
        deployable: Deployable::Unknown,
        affected: true,
        regression: None,
        reasons: unmodelled
            .iter()
            .map(|u| Reason {
                clause: format!("pool:{}", u.pool),
                kind: "unmodelled-provider".into(),
                message: format!("pool {}: {}", u.pool, u.why),
            })
            .collect(),
        ignored: None,
    })
}

/// Points each consumer finding of a pools gate at the first pool whose verdict it decides:
/// annotations and SARIF then land in the provisioner's repository (the pool's file and line),
/// not in a contract file it does not have; the message names the consumer's clause and where
/// that is written.
pub(super) fn relocate(findings: &mut [crate::report::Finding], pools: &[PoolVerdict]) {
    use crate::report::Outcome;
    for f in findings
        .iter_mut()
        .filter(|f| matches!(f.outcome, Outcome::Violation | Outcome::Unknown))
    {
        let Some(clause) = &f.clause else { continue };
        let key = format!("{}/{clause}", f.consumer);
        let Some(p) = pools
            .iter()
            .find(|p| p.reasons.iter().any(|r| r.clause == key))
        else {
            continue;
        };
        let Some(at) = p.location.clone() else {
            continue;
        };
        let written = f
            .location
            .as_ref()
            .map(|l| format!(" ({}:{})", l.file, l.line))
            .unwrap_or_default();
        f.message = format!("pool {}: {key}{written}: {}", p.pool, f.message);
        f.location = Some(at);
    }
}

//! Evaluation: contracts + records + an injected `now` in, grouped findings out. Pure: no I/O,
//! no clock, no randomness, so the same inputs always give the same report. Each clause kind's
//! own evaluation lives with the kind ([`crate::clause`]); this module runs them over a fleet
//! and aggregates.

use crate::clause::{ClauseOutcome, Detail, FactValue};
use crate::contract::*;
use crate::fleet::Instance;
use crate::report::*;
use chrono::{DateTime, NaiveDate, Utc};
use std::collections::{BTreeMap, BTreeSet, HashMap};

mod finding;
mod idle;
mod manifest;
mod merge;
mod report;
mod stream;
mod unseen;

pub use finding::{Policy, summarize};
pub use manifest::{check_manifest, check_manifest_with, manifest_clause_id};
pub use report::{Judgement, build, build_with, report_of, tool};
pub use stream::{EvalSink, read_evaluated};
pub use unseen::{Suspect, UnseenRead, suspects, typo_reads};

/// How many instance ids a finding keeps as samples.
pub const SAMPLES: usize = 5;
/// How many distinct values a finding lists.
pub const MAX_VALUES: usize = 20;
/// How many distinct regions (or zones, or locations) a finding names.
pub const MAX_REGIONS: usize = 20;

/// What a clause reads, in words: its output (`present`/`absent`) or its subject (`fact NAME`).
pub fn clause_target(c: &Consumer, check: &Check) -> String {
    match check {
        Check::Present(p) => p.output.to_string(),
        Check::Absent(p) => p.output.to_string(),
        other => other
            .subject()
            .map(|s| crate::clause::subject_name(&c.facts, s))
            .unwrap_or_default(),
    }
}

/// Evaluates one clause (its `when`, then its check) on one instance. `facts` carries what
/// earlier clauses derived.
pub fn eval_clause(
    c: &Consumer,
    cl: &Clause,
    i: &Instance,
    facts: &mut [Option<FactValue>],
    detail: Detail,
) -> ClauseOutcome {
    if let Some(w) = &cl.when
        && !w.holds(i)
    {
        return ClauseOutcome::NotApplicable;
    }
    cl.check.eval(
        &crate::clause::Ctx {
            names: &c.facts,
            instance: i,
            detail,
        },
        facts,
    )
}

/// Per uniform clause: group key -> value -> (instances, the lowest instance id, its region).
type UniformGroups = BTreeMap<(ScopeKey, Vec<String>), BTreeMap<String, (usize, String, String)>>;

/// One finding's aggregate: how many instances, which values, a few sample ids, where they are.
#[derive(Clone, Default)]
pub(crate) struct Agg {
    pub(crate) count: usize,
    values: HashMap<String, usize, foldhash::fast::RandomState>,
    pub(crate) samples: BTreeSet<String>,
    /// The distinct regions of the instances, the lowest [`MAX_REGIONS`] kept. Only failing
    /// instances reach an aggregate, so a passing one costs nothing here.
    pub(crate) regions: BTreeSet<String>,
}

impl Agg {
    fn add(&mut self, (id, region): (&str, &str), value: &str) {
        self.add_region(region);
        self.count += 1;
        if let Some(n) = self.values.get_mut(value) {
            *n += 1;
        } else if self.values.len() < 1000 {
            self.values.insert(value.to_string(), 1);
        }
        if self.samples.len() < SAMPLES || self.samples.last().is_some_and(|l| id < l.as_str()) {
            self.samples.insert(id.to_string());
            if self.samples.len() > SAMPLES {
                self.samples.pop_last();
            }
        }
    }

    /// Notes a region, unless it is already there or above the lowest [`MAX_REGIONS`].
    fn add_region(&mut self, region: &str) {
        if region.is_empty() || self.regions.contains(region) {
            return;
        }
        if self.regions.len() < MAX_REGIONS
            || self.regions.last().is_some_and(|l| region < l.as_str())
        {
            self.regions.insert(region.to_string());
            if self.regions.len() > MAX_REGIONS {
                self.regions.pop_last();
            }
        }
    }

    /// Adds another aggregate: counts add, values merge (at most 1000 distinct), the lowest
    /// sample ids and regions are kept.
    fn merge(&mut self, other: Agg) {
        self.count += other.count;
        for (v, n) in other.values {
            if let Some(m) = self.values.get_mut(&v) {
                *m += n;
            } else if self.values.len() < 1000 {
                self.values.insert(v, n);
            }
        }
        self.samples.extend(other.samples);
        while self.samples.len() > SAMPLES {
            self.samples.pop_last();
        }
        self.regions.extend(other.regions);
        while self.regions.len() > MAX_REGIONS {
            self.regions.pop_last();
        }
    }

    pub(crate) fn values(&self) -> Vec<ValueCount> {
        let mut v: Vec<ValueCount> = self
            .values
            .iter()
            .map(|(value, count)| ValueCount {
                value: value.clone(),
                count: *count,
            })
            .collect();
        v.sort_by(|a, b| b.count.cmp(&a.count).then_with(|| a.value.cmp(&b.value)));
        v.truncate(MAX_VALUES);
        v
    }
}

/// Where a finding's aggregate belongs: a provider's output or a consumer's clause.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Owner {
    Provider(usize, usize),
    Consumer(usize, usize),
}

/// The result of evaluating a fleet.
#[derive(Debug, Clone, Default)]
pub struct Evaluation {
    /// Grouped findings, sorted.
    pub findings: Vec<Finding>,
    /// Per consumer/provider tallies.
    pub consumers: Vec<ConsumerTally>,
    /// Coverage.
    pub coverage: Coverage,
    /// Instance-clause evaluations.
    pub evaluations: usize,
    /// Unknown instance-clause evaluations.
    pub unknown_evaluations: usize,
    /// Reads of outputs that no provider promises and no instance carries (likely typos).
    pub unseen: Vec<UnseenRead>,
    /// The clouds whose instances were evaluated (a bit per [`crate::output::Cloud`]).
    pub clouds: u8,
}

impl Evaluation {
    /// Whether instances of `cloud` were evaluated.
    pub fn saw(&self, cloud: crate::output::Cloud) -> bool {
        self.clouds & (1 << cloud as u8) != 0
    }
}

/// What an evaluation accumulates as it goes.
#[derive(Clone, Default)]
struct Acc {
    aggs: BTreeMap<(Owner, Outcome, Option<usize>, ScopeKey), Agg>,
    tallies: Vec<ConsumerTally>,
    evaluations: usize,
    unknown_evaluations: usize,
    waiver_used: Vec<bool>,
    uniform: HashMap<(usize, usize), UniformGroups>,
    /// A bit per cloud whose instances were added.
    clouds: u8,
}

/// The scope a finding is about, with its kind (its cloud's): findings never mix scopes.
type ScopeKey = Option<(crate::output::ScopeKind, std::sync::Arc<str>)>;

/// The scope of `i`, with its cloud's kind of scope.
fn scope_key(i: &Instance) -> ScopeKey {
    i.scope
        .as_ref()
        .map(|s| (i.cloud().scope_kind(), s.clone()))
}

impl Acc {
    fn add(
        &mut self,
        owner: Owner,
        outcome: Outcome,
        waiver: Option<usize>,
        i: (&str, &str, ScopeKey),
        v: &str,
    ) -> &mut Agg {
        let (id, region, scope) = i;
        let agg = self
            .aggs
            .entry((owner, outcome, waiver, scope))
            .or_default();
        agg.add((id, region), v);
        agg
    }
}

/// Evaluates every provider manifest and consumer contract against the fleet.
pub fn evaluate(set: &ContractSet, fleet: &[Instance], now: DateTime<Utc>) -> Evaluation {
    let mut ev = Evaluator::new(set, now);
    ev.add(set, fleet);
    ev.finish(set)
}

/// [`evaluate`] without the search for reads no instance carries: for a part of a fleet whose
/// whole was evaluated already (the gate's verdict per pool).
pub fn evaluate_part(set: &ContractSet, fleet: &[Instance], now: DateTime<Utc>) -> Evaluation {
    let mut ev = Evaluator::new(set, now);
    ev.unseen = unseen::Tracker::default();
    ev.add(set, fleet);
    ev.finish(set)
}

/// An evaluation fed a fleet a part at a time (a page, a region), in any order and on any
/// thread, with only aggregates kept: the same [`Evaluation`] as [`evaluate`] of all the parts.
/// Evaluators of parts merge ([`Evaluator::merge`]).
#[derive(Clone)]
pub struct Evaluator {
    today: NaiveDate,
    acc: Acc,
    unseen: unseen::Tracker,
}

impl std::fmt::Debug for Evaluator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Evaluator({} evaluations)", self.acc.evaluations)
    }
}

impl Evaluator {
    /// An evaluation of nothing yet, as of `now` (waiver expiry).
    pub fn new(set: &ContractSet, now: DateTime<Utc>) -> Evaluator {
        let tallies = set
            .providers
            .iter()
            .map(|p| provider_tally(set, p))
            .chain(set.consumers.iter().map(|c| consumer_tally(set, c)))
            .collect();
        Evaluator {
            today: now.date_naive(),
            acc: Acc {
                waiver_used: vec![false; set.waivers.len()],
                tallies,
                ..Default::default()
            },
            unseen: unseen::Tracker::new(set),
        }
    }

    /// Evaluates `fleet` (more of the fleet) into the aggregates.
    pub fn add(&mut self, set: &ContractSet, fleet: &[Instance]) {
        self.add_each(set, fleet.iter());
    }

    /// [`Evaluator::add`] of records held elsewhere (a page's records of one group).
    pub fn add_refs(&mut self, set: &ContractSet, fleet: &[&Instance]) {
        self.add_each(set, fleet.iter().copied());
    }

    fn add_each<'a>(
        &mut self,
        set: &ContractSet,
        fleet: impl Iterator<Item = &'a Instance> + Clone,
    ) {
        let mut tallies = std::mem::take(&mut self.acc.tallies);
        let (prov, cons) = tallies.split_at_mut(set.providers.len());
        for ((pi, p), t) in set.providers.iter().enumerate().zip(prov) {
            provider_pass(set, pi, p, fleet.clone(), (&mut self.acc, t));
        }
        for ((ci, c), t) in set.consumers.iter().enumerate().zip(cons) {
            consumer_pass(set, ci, c, fleet.clone(), self.today, (&mut self.acc, t));
        }
        self.acc.tallies = tallies;
        for i in fleet.clone() {
            self.acc.clouds |= 1 << i.cloud() as u8;
        }
        self.unseen.add(fleet);
    }

    /// Takes in another evaluator's aggregates (of other instances of the same contracts).
    pub fn merge(&mut self, other: Evaluator) {
        self.acc.merge(other.acc);
        self.unseen.merge(other.unseen);
    }

    /// [`Evaluator::finish`] without the search for reads no instance carries: for a part of a
    /// fleet whose whole is evaluated too (a group's instances).
    pub fn finish_part(mut self, set: &ContractSet) -> Evaluation {
        self.unseen = unseen::Tracker::default();
        self.finish(set)
    }

    /// The findings, tallies and coverage of everything added.
    pub fn finish(mut self, set: &ContractSet) -> Evaluation {
        let acc = &mut self.acc;
        let today = self.today;
        uniform_findings(set, acc);
        let mut findings: Vec<Finding> = std::mem::take(&mut acc.aggs)
            .into_iter()
            .map(|((owner, outcome, wi, scope), agg)| {
                let mut f = finding::make_finding(set, &owner, outcome, wi, &agg);
                f.scope = scope.map(|(kind, id)| Scope::new(kind, &*id));
                f
            })
            .collect();
        findings.extend(waiver_findings(set, &acc.waiver_used, today));
        findings.sort_by(|a, b| {
            (
                a.outcome,
                std::cmp::Reverse(a.severity),
                &a.consumer,
                &a.clause,
                &a.scope,
            )
                .cmp(&(
                    b.outcome,
                    std::cmp::Reverse(b.severity),
                    &b.consumer,
                    &b.clause,
                    &b.scope,
                ))
        });
        let tallies = std::mem::take(&mut acc.tallies);
        let coverage = finding::coverage(set, &tallies);
        Evaluation {
            findings,
            consumers: tallies,
            coverage,
            evaluations: acc.evaluations,
            unknown_evaluations: acc.unknown_evaluations,
            unseen: self.unseen.finish(set),
            clouds: acc.clouds,
        }
    }
}

/// A provider manifest's tally, all zero.
fn provider_tally(set: &ContractSet, p: &Provider) -> ConsumerTally {
    ConsumerTally {
        name: p.name.clone(),
        role: TallyRole::Provider,
        owner: p.owner.clone(),
        runbook: None,
        selector: set.describe_selector(&p.selector),
        selected: 0,
        clauses: p
            .outputs
            .iter()
            .map(|o| ClauseTally {
                id: manifest_clause_id(p, &o.path),
                kind: "manifest".into(),
                severity: Some(Severity::Error),
                reads: vec![o.path.to_string()],
                ..Default::default()
            })
            .collect(),
    }
}

/// A consumer contract's tally, all zero.
fn consumer_tally(set: &ContractSet, c: &Consumer) -> ConsumerTally {
    ConsumerTally {
        name: c.name.clone(),
        role: TallyRole::Consumer,
        owner: Some(c.owner.clone()),
        runbook: c.runbook.clone(),
        selector: set.describe_selector(&c.selector),
        selected: 0,
        clauses: c
            .clauses
            .iter()
            .enumerate()
            .map(|(k, cl)| ClauseTally {
                id: cl.id.clone(),
                kind: cl.check.kind().into(),
                severity: Some(cl.severity),
                reads: c.implicated(k).iter().map(|p| p.to_string()).collect(),
                ..Default::default()
            })
            .collect(),
    }
}

/// A provider manifest: the provider's own promises on the instances it selects.
fn provider_pass<'a>(
    set: &ContractSet,
    pi: usize,
    p: &Provider,
    fleet: impl Iterator<Item = &'a Instance>,
    (acc, tally): (&mut Acc, &mut ConsumerTally),
) {
    for i in fleet.filter(|i| set.selects(&p.selector, i)) {
        tally.selected += 1;
        for (oi, outcome) in check_manifest_with(p, i, Detail::Failures)
            .into_iter()
            .enumerate()
        {
            acc.evaluations += 1;
            let t = &mut tally.clauses[oi];
            match outcome {
                ClauseOutcome::Pass(_) => t.passed += 1,
                ClauseOutcome::Fail(v) => {
                    t.failed += 1;
                    acc.add(
                        Owner::Provider(pi, oi),
                        Outcome::Violation,
                        None,
                        (&i.id, &i.region, scope_key(i)),
                        &v,
                    );
                }
                ClauseOutcome::Unknown(r) => {
                    t.unknown += 1;
                    acc.unknown_evaluations += 1;
                    acc.add(
                        Owner::Provider(pi, oi),
                        Outcome::Unknown,
                        None,
                        (&i.id, &i.region, scope_key(i)),
                        &r,
                    );
                }
                ClauseOutcome::NotApplicable => t.not_applicable += 1,
                ClauseOutcome::Skipped(_) => t.skipped += 1,
            }
        }
    }
}

/// A consumer contract: every clause on every instance its selector selects.
fn consumer_pass<'a>(
    set: &ContractSet,
    ci: usize,
    c: &Consumer,
    fleet: impl Iterator<Item = &'a Instance>,
    today: NaiveDate,
    (acc, tally): (&mut Acc, &mut ConsumerTally),
) {
    let mut facts: Vec<Option<FactValue>> = vec![None; c.facts.len()];
    for i in fleet.filter(|i| set.selects(&c.selector, i)) {
        tally.selected += 1;
        facts.iter_mut().for_each(|f| *f = None);
        for (k, cl) in c.clauses.iter().enumerate() {
            let outcome = eval_clause(c, cl, i, &mut facts, Detail::Failures);
            if !matches!(
                outcome,
                ClauseOutcome::NotApplicable | ClauseOutcome::Skipped(_)
            ) {
                acc.evaluations += 1;
            }
            let t = &mut tally.clauses[k];
            let owner = Owner::Consumer(ci, k);
            match outcome {
                ClauseOutcome::Pass(_) => {
                    t.passed += 1;
                    if let Check::Uniform(u) = &cl.check
                        && let Some((key, val)) = u.key(&c.facts, i, &facts)
                    {
                        // Groups never span scopes.
                        acc.uniform
                            .entry((ci, k))
                            .or_default()
                            .entry((scope_key(i), key))
                            .or_default()
                            .entry(val)
                            .and_modify(|(n, min, region)| {
                                *n += 1;
                                if i.id < *min {
                                    min.clone_from(&i.id);
                                    region.clone_from(&i.region);
                                }
                            })
                            .or_insert_with(|| (1, i.id.clone(), i.region.clone()));
                    }
                }
                ClauseOutcome::Fail(v) => match finding::find_waiver(set, c, cl, i) {
                    Some(wi) if set.waivers[wi].expires >= today => {
                        acc.waiver_used[wi] = true;
                        t.waived += 1;
                        acc.add(
                            owner,
                            Outcome::Waived,
                            Some(wi),
                            (&i.id, &i.region, scope_key(i)),
                            &v,
                        );
                    }
                    w => {
                        if let Some(wi) = w {
                            acc.waiver_used[wi] = true;
                        }
                        t.failed += 1;
                        acc.add(
                            owner,
                            Outcome::Violation,
                            None,
                            (&i.id, &i.region, scope_key(i)),
                            &v,
                        );
                    }
                },
                ClauseOutcome::Unknown(r) => {
                    t.unknown += 1;
                    acc.unknown_evaluations += 1;
                    acc.add(
                        owner,
                        Outcome::Unknown,
                        None,
                        (&i.id, &i.region, scope_key(i)),
                        &r,
                    );
                }
                ClauseOutcome::NotApplicable => t.not_applicable += 1,
                ClauseOutcome::Skipped(_) => t.skipped += 1,
            }
        }
    }
}

/// Uniform clauses: a group with more than one value fails, once per group.
fn uniform_findings(set: &ContractSet, acc: &mut Acc) {
    let mut uniform_keys: Vec<_> = std::mem::take(&mut acc.uniform).into_iter().collect();
    uniform_keys.sort_by_key(|(k, _)| *k);
    for ((ci, k), groups) in uniform_keys {
        for ((scope, key), values) in groups {
            if values.len() <= 1 {
                continue;
            }
            let desc = values
                .iter()
                .map(|(v, (n, _, _))| format!("\"{v}\" on {n}"))
                .collect::<Vec<_>>()
                .join(", ");
            let label = match (key.is_empty(), &scope) {
                (true, None) => "all selected instances".to_string(),
                (true, Some((kind, id))) => format!("{} {id}", kind.name()),
                (false, None) => key.join(" / "),
                (false, Some((kind, id))) => format!("{} {id}: {}", kind.name(), key.join(" / ")),
            };
            let (first, region) = values
                .values()
                .map(|(_, min, region)| (min, region))
                .min()
                .map(|(m, r)| (m.clone(), r.clone()))
                .unwrap_or_default();
            // The regions: of the lowest instance holding each value.
            let agg = acc.add(
                Owner::Consumer(ci, k),
                Outcome::Violation,
                None,
                (&first, &region, scope),
                &format!("{label}: {desc}"),
            );
            for (_, _, r) in values.values() {
                agg.add_region(r);
            }
            let tally = acc
                .tallies
                .iter_mut()
                .find(|t| t.role == TallyRole::Consumer && t.name == set.consumers[ci].name);
            if let Some(t) = tally {
                let n: usize = values.values().map(|(n, _, _)| n).sum();
                t.clauses[k].passed -= n.min(t.clauses[k].passed);
                t.clauses[k].failed += n;
            }
        }
    }
}

/// Expired waivers fail again; unused ones are worth knowing.
fn waiver_findings(set: &ContractSet, used: &[bool], today: NaiveDate) -> Vec<Finding> {
    let mut out = Vec::new();
    for (wi, w) in set.waivers.iter().enumerate() {
        let base = Finding {
            code: Code::WaiverUnused,
            outcome: Outcome::Notice,
            severity: Severity::Warning,
            consumer: w.consumer.clone(),
            clause: w.clause.clone(),
            kind: None,
            output: None,
            expected: None,
            actual: vec![],
            count: 0,
            samples: vec![],
            message: String::new(),
            why: Some(w.reason.clone()),
            runbook: None,
            waiver: Some(finding::waiver_ref(w)),
            location: None,
            scope: None,
            also: Vec::new(),
            regions: Vec::new(),
        };
        if w.expires < today {
            out.push(Finding {
                code: Code::WaiverExpired,
                outcome: Outcome::Violation,
                expected: Some(format!("a waiver valid on {today}")),
                actual: vec![ValueCount {
                    value: format!("expired {}", w.expires),
                    count: 1,
                }],
                count: 1,
                message: format!(
                    "the waiver of {} owned by {} expired on {}; what it covered fails again",
                    finding::waiver_target(w),
                    w.owner,
                    w.expires
                ),
                ..base
            });
        } else if !used[wi] {
            out.push(Finding {
                message: format!(
                    "the waiver of {} matches no failing instance: remove it, or fix its selector",
                    finding::waiver_target(w)
                ),
                ..base
            });
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_aggregate_keeps_the_lowest_distinct_regions_of_its_instances() {
        let mut a = Agg::default();
        let mut b = Agg::default();
        for k in (0..MAX_REGIONS + 5).rev() {
            a.add((&format!("i-{k}"), &format!("r-{k:02}")), "v");
            b.add((&format!("j-{k}"), &format!("r-{k:02}")), "v");
        }
        a.add(("i-x", "r-00"), "v");
        a.add(("i-y", ""), "v");
        let want: Vec<String> = (0..MAX_REGIONS).map(|k| format!("r-{k:02}")).collect();
        assert_eq!(a.regions.iter().cloned().collect::<Vec<_>>(), want);
        b.add(("j-z", "a-first"), "v");
        a.merge(b);
        assert_eq!(a.regions.first().map(String::as_str), Some("a-first"));
        assert_eq!(a.regions.len(), MAX_REGIONS);
        assert_eq!(a.count, 2 * (MAX_REGIONS + 5) + 3);
    }
}

//! Evaluation: contracts + records + an injected `now` in, grouped findings out. Pure: no I/O,
//! no clock, no randomness, so the same inputs always give the same report.

use crate::contract::*;
use crate::fleet::{Instance, Read};
use crate::output::OutputPath;
use crate::report::*;
use chrono::{DateTime, Utc};
use std::borrow::Cow;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// How many instance ids a finding keeps as samples.
pub const SAMPLES: usize = 5;
/// How many distinct values a finding lists.
pub const MAX_VALUES: usize = 20;

/// What one clause concluded about one instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ClauseOutcome {
    /// It holds; what was read.
    Pass(String),
    /// It does not hold; the value(s) that made it fail.
    Fail(String),
    /// It cannot be evaluated; why.
    Unknown(String),
    /// Its `when` does not hold here.
    NotApplicable,
    /// Not evaluated: a fact it needs was not derived, or user-data was not sampled.
    Skipped(String),
}

/// A derived fact's value and how it was derived, for messages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FactValue {
    /// The value.
    pub value: String,
    /// `from KeyName "..." by split(':')[1]`.
    pub provenance: String,
    /// The value it was derived from.
    pub source: String,
}

enum Val<'a> {
    V(Cow<'a, str>),
    Missing,
    Unknown(String),
    Skip(String),
}

fn read_subject<'a>(
    c: &Consumer,
    s: &Subject,
    i: &'a Instance,
    facts: &'a [Option<FactValue>],
) -> Val<'a> {
    match s {
        Subject::Output(p) => read_output(p, i),
        Subject::Fact(f) => match &facts[*f] {
            Some(fv) => Val::V(Cow::Borrowed(&fv.value)),
            None => Val::Skip(format!("fact {} was not derived", c.facts[*f])),
        },
    }
}

fn read_output<'a>(p: &OutputPath, i: &'a Instance) -> Val<'a> {
    match i.read(p) {
        Read::Value(v) => Val::V(v),
        Read::Missing => Val::Missing,
        Read::Unknown(why) => Val::Unknown(format!("{p}: {why}")),
        Read::NotSampled => Val::Skip("user-data not sampled".into()),
    }
}

/// Shows a subject's value with where it came from: `"ffe27db" (workerType, from KeyName ... )`.
fn show(c: &Consumer, s: &Subject, v: &str, facts: &[Option<FactValue>]) -> String {
    match s {
        Subject::Output(_) => format!("\"{v}\""),
        Subject::Fact(f) => match &facts[*f] {
            Some(fv) => format!("\"{v}\" ({} derived {})", c.facts[*f], fv.provenance),
            None => format!("\"{v}\""),
        },
    }
}

/// What a clause reads, in words: its output (`present`/`absent`) or its subject (`fact NAME`).
pub fn clause_target(c: &Consumer, check: &Check) -> String {
    match check {
        Check::Present(p) | Check::Absent(p) => p.to_string(),
        other => other
            .subject()
            .map(|s| subject_name(c, s))
            .unwrap_or_default(),
    }
}

/// A subject's name in words.
pub fn subject_name(c: &Consumer, s: &Subject) -> String {
    match s {
        Subject::Output(p) => p.to_string(),
        Subject::Fact(f) => format!("fact {}", c.facts[*f]),
    }
}

/// Evaluates one clause on one instance. `facts` carries what earlier clauses derived.
pub fn eval_clause(
    c: &Consumer,
    cl: &Clause,
    i: &Instance,
    facts: &mut [Option<FactValue>],
) -> ClauseOutcome {
    eval_clause_with(c, cl, i, facts, Detail::All)
}

/// What an outcome carries in words.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Detail {
    /// Every outcome says what was read (`explain`).
    All,
    /// Only failures, unknowns and skips do; a pass carries an empty string. Evaluating a fleet
    /// counts passes and never shows them, and formatting them was most of its time (100,000
    /// instances: 762 ms with the words, 255 ms without).
    Failures,
}

/// A pass, with its words only when `detail` asks for them.
fn pass(detail: Detail, words: impl FnOnce() -> String) -> ClauseOutcome {
    ClauseOutcome::Pass(match detail {
        Detail::All => words(),
        Detail::Failures => String::new(),
    })
}

/// [`eval_clause`] with the detail asked for.
pub fn eval_clause_with(
    c: &Consumer,
    cl: &Clause,
    i: &Instance,
    facts: &mut [Option<FactValue>],
    detail: Detail,
) -> ClauseOutcome {
    use ClauseOutcome::*;
    if let Some(w) = &cl.when
        && !w.holds(i)
    {
        return NotApplicable;
    }
    // The common shape: read the subject; absent fails, unreadable is unknown.
    macro_rules! subject {
        ($s:expr) => {
            match read_subject(c, $s, i, facts) {
                Val::V(v) => v,
                Val::Missing => return Fail(format!("{} is absent", subject_name(c, $s))),
                Val::Unknown(r) => return Unknown(r),
                Val::Skip(r) => return Skipped(r),
            }
        };
    }
    match &cl.check {
        Check::Present(p) => match read_output(p, i) {
            Val::V(v) => pass(detail, || format!("\"{v}\"")),
            Val::Missing => Fail("absent".into()),
            Val::Unknown(r) => Unknown(r),
            Val::Skip(r) => Skipped(r),
        },
        Check::Absent(p) => match read_output(p, i) {
            Val::V(v) => Fail(format!("\"{v}\"")),
            Val::Missing => pass(detail, || "absent".into()),
            Val::Unknown(r) => Unknown(r),
            Val::Skip(r) => Skipped(r),
        },
        Check::Equals(s, want) => {
            let v = subject!(s);
            if v == want.as_str() {
                pass(detail, || show(c, s, &v, facts))
            } else {
                Fail(show(c, s, &v, facts))
            }
        }
        Check::OneOf(s, vals) => {
            let v = subject!(s);
            if vals.iter().any(|x| x == v.as_ref()) {
                pass(detail, || show(c, s, &v, facts))
            } else {
                Fail(show(c, s, &v, facts))
            }
        }
        Check::Matches(s, re) => {
            let v = subject!(s);
            if re.is_match(&v) {
                pass(detail, || show(c, s, &v, facts))
            } else {
                Fail(show(c, s, &v, facts))
            }
        }
        Check::MemberOf(s, set) => {
            let v = subject!(s);
            if set.values.contains(v.as_ref()) {
                pass(detail, || show(c, s, &v, facts))
            } else {
                Fail(show(c, s, &v, facts))
            }
        }
        Check::AgreesWith(s, other) => {
            let v = subject!(s);
            let (other_name, other_val): (String, Val<'_>) = match other {
                Other::Output(p) => (p.to_string(), read_output(p, i)),
                Other::Fact(f) => (
                    format!("fact {}", c.facts[*f]),
                    read_subject(c, &Subject::Fact(*f), i, facts),
                ),
                Other::Template(t, idx) => {
                    let rendered = t.render(&|name| {
                        idx.get(name)
                            .and_then(|f| facts[*f].as_ref())
                            .map(|fv| fv.value.clone())
                    });
                    match rendered {
                        Ok(r) => (format!("\"{}\"", t.source), Val::V(Cow::Owned(r))),
                        Err(var) => (
                            t.source.clone(),
                            Val::Skip(format!("fact {var} was not derived")),
                        ),
                    }
                }
            };
            match other_val {
                Val::V(o) if o == v => pass(detail, || {
                    format!("{} = {other_name} \"{o}\"", show(c, s, &v, facts))
                }),
                Val::V(o) => Fail(format!(
                    "{} but {other_name} is \"{o}\"",
                    show(c, s, &v, facts)
                )),
                Val::Missing => Fail(format!(
                    "{} but {other_name} is absent",
                    show(c, s, &v, facts)
                )),
                Val::Unknown(r) => Unknown(r),
                Val::Skip(r) => Skipped(r),
            }
        }
        Check::Derives { fact, from, how } => {
            let v = match read_subject(c, from, i, facts) {
                Val::V(v) => v,
                Val::Missing => {
                    return Fail(format!(
                        "{} is absent, so {} cannot be derived",
                        subject_name(c, from),
                        c.facts[*fact]
                    ));
                }
                Val::Unknown(r) => return Unknown(r),
                Val::Skip(r) => return Skipped(r),
            };
            let src = subject_name(c, from);
            let (value, provenance) = match how {
                Derivation::Identity => (v.to_string(), format!("from {src}")),
                Derivation::Split(sep, idx) => match v.split(sep.as_str()).nth(*idx) {
                    Some(part) => (
                        part.to_string(),
                        format!("from {src} \"{v}\" by split('{sep}')[{idx}]"),
                    ),
                    None => {
                        return Fail(format!(
                            "{src} \"{v}\" has no field {idx} when split on '{sep}'"
                        ));
                    }
                },
                Derivation::Capture(re, cap) => match re.captures(&v).and_then(|m| m.name(cap)) {
                    Some(m) => (
                        m.as_str().to_string(),
                        format!("from {src} \"{v}\" by /{}/", re.as_str()),
                    ),
                    None => return Fail(format!("{src} \"{v}\" does not match /{}/", re.as_str())),
                },
            };
            let shown = pass(detail, || format!("{} = \"{value}\"", c.facts[*fact]));
            facts[*fact] = Some(FactValue {
                value,
                provenance,
                source: v.to_string(),
            });
            shown
        }
        Check::Uniform(s, _) => {
            let v = subject!(s);
            pass(detail, || show(c, s, &v, facts))
        }
    }
}

/// A uniform clause's group key and value for one instance, if readable.
fn uniform_key(
    c: &Consumer,
    s: &Subject,
    per: &[Subject],
    i: &Instance,
    facts: &[Option<FactValue>],
) -> Option<(Vec<String>, String)> {
    let val = match read_subject(c, s, i, facts) {
        Val::V(v) => v.into_owned(),
        _ => return None,
    };
    let mut key = Vec::with_capacity(per.len());
    for p in per {
        match read_subject(c, p, i, facts) {
            Val::V(v) => key.push(v.into_owned()),
            _ => key.push("(absent)".into()),
        }
    }
    Some((key, val))
}

/// Per uniform clause: group key -> value -> instance ids.
type UniformGroups = BTreeMap<Vec<String>, BTreeMap<String, Vec<String>>>;

#[derive(Default)]
struct Agg {
    count: usize,
    values: HashMap<String, usize>,
    samples: BTreeSet<String>,
}

impl Agg {
    fn add(&mut self, id: &str, value: &str) {
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

    fn values(&self) -> Vec<ValueCount> {
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

/// Where a finding's aggregate belongs: (who, clause, outcome, waiver).
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
enum Owner {
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
}

/// Evaluates every provider manifest and consumer contract against the fleet.
pub fn evaluate(set: &ContractSet, fleet: &[Instance], now: DateTime<Utc>) -> Evaluation {
    let today = now.date_naive();
    let mut aggs: BTreeMap<(Owner, Outcome, Option<usize>), Agg> = BTreeMap::new();
    let mut tallies: Vec<ConsumerTally> = Vec::new();
    let mut evaluations = 0usize;
    let mut unknown_evaluations = 0usize;
    let mut waiver_used = vec![false; set.waivers.len()];

    // Provider manifests: the provider's own promises.
    for (pi, p) in set.providers.iter().enumerate() {
        let mut tally = ConsumerTally {
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
                    ..Default::default()
                })
                .collect(),
        };
        for i in fleet.iter().filter(|i| set.selects(&p.selector, i)) {
            tally.selected += 1;
            for (oi, outcome) in check_manifest_with(p, i, Detail::Failures)
                .into_iter()
                .enumerate()
            {
                evaluations += 1;
                let t = &mut tally.clauses[oi];
                match outcome {
                    ClauseOutcome::Pass(_) => t.passed += 1,
                    ClauseOutcome::Fail(v) => {
                        t.failed += 1;
                        aggs.entry((Owner::Provider(pi, oi), Outcome::Violation, None))
                            .or_default()
                            .add(&i.id, &v);
                    }
                    ClauseOutcome::Unknown(r) => {
                        t.unknown += 1;
                        unknown_evaluations += 1;
                        aggs.entry((Owner::Provider(pi, oi), Outcome::Unknown, None))
                            .or_default()
                            .add(&i.id, &r);
                    }
                    ClauseOutcome::NotApplicable => t.not_applicable += 1,
                    ClauseOutcome::Skipped(_) => t.skipped += 1,
                }
            }
        }
        tallies.push(tally);
    }

    // Consumer contracts.
    let mut uniform: HashMap<(usize, usize), UniformGroups> = HashMap::new();
    for (ci, c) in set.consumers.iter().enumerate() {
        let mut tally = ConsumerTally {
            name: c.name.clone(),
            role: TallyRole::Consumer,
            owner: Some(c.owner.clone()),
            runbook: c.runbook.clone(),
            selector: set.describe_selector(&c.selector),
            selected: 0,
            clauses: c
                .clauses
                .iter()
                .map(|cl| ClauseTally {
                    id: cl.id.clone(),
                    kind: cl.check.kind().into(),
                    severity: Some(cl.severity),
                    ..Default::default()
                })
                .collect(),
        };
        let mut facts: Vec<Option<FactValue>> = vec![None; c.facts.len()];
        for i in fleet.iter().filter(|i| set.selects(&c.selector, i)) {
            tally.selected += 1;
            facts.iter_mut().for_each(|f| *f = None);
            for (k, cl) in c.clauses.iter().enumerate() {
                let outcome = eval_clause_with(c, cl, i, &mut facts, Detail::Failures);
                let t = &mut tally.clauses[k];
                if !matches!(
                    outcome,
                    ClauseOutcome::NotApplicable | ClauseOutcome::Skipped(_)
                ) {
                    evaluations += 1;
                }
                match outcome {
                    ClauseOutcome::Pass(_) => {
                        t.passed += 1;
                        if let Check::Uniform(s, per) = &cl.check
                            && let Some((key, val)) = uniform_key(c, s, per, i, &facts)
                        {
                            uniform
                                .entry((ci, k))
                                .or_default()
                                .entry(key)
                                .or_default()
                                .entry(val)
                                .or_default()
                                .push(i.id.clone());
                        }
                    }
                    ClauseOutcome::Fail(v) => {
                        let w = find_waiver(set, c, cl, i);
                        match w {
                            Some(wi) if set.waivers[wi].expires >= today => {
                                waiver_used[wi] = true;
                                t.waived += 1;
                                aggs.entry((Owner::Consumer(ci, k), Outcome::Waived, Some(wi)))
                                    .or_default()
                                    .add(&i.id, &v);
                            }
                            _ => {
                                if let Some(wi) = w {
                                    waiver_used[wi] = true;
                                }
                                t.failed += 1;
                                aggs.entry((Owner::Consumer(ci, k), Outcome::Violation, None))
                                    .or_default()
                                    .add(&i.id, &v);
                            }
                        }
                    }
                    ClauseOutcome::Unknown(r) => {
                        t.unknown += 1;
                        unknown_evaluations += 1;
                        aggs.entry((Owner::Consumer(ci, k), Outcome::Unknown, None))
                            .or_default()
                            .add(&i.id, &r);
                    }
                    ClauseOutcome::NotApplicable => t.not_applicable += 1,
                    ClauseOutcome::Skipped(_) => t.skipped += 1,
                }
            }
        }
        tallies.push(tally);
    }

    // Uniform clauses: a group with more than one value fails, once per group.
    let mut uniform_keys: Vec<_> = uniform.into_iter().collect();
    uniform_keys.sort_by_key(|(k, _)| *k);
    for ((ci, k), groups) in uniform_keys {
        for (key, values) in groups {
            if values.len() > 1 {
                let agg = aggs
                    .entry((Owner::Consumer(ci, k), Outcome::Violation, None))
                    .or_default();
                let desc = values
                    .iter()
                    .map(|(v, ids)| format!("\"{v}\" on {}", ids.len()))
                    .collect::<Vec<_>>()
                    .join(", ");
                let label = if key.is_empty() {
                    "all selected instances".to_string()
                } else {
                    key.join(" / ")
                };
                let first = values.values().flatten().min().cloned().unwrap_or_default();
                agg.add(&first, &format!("{label}: {desc}"));
                let tally = tallies
                    .iter_mut()
                    .find(|t| t.role == TallyRole::Consumer && t.name == set.consumers[ci].name);
                if let Some(t) = tally {
                    let n: usize = values.values().map(Vec::len).sum();
                    t.clauses[k].passed -= n.min(t.clauses[k].passed);
                    t.clauses[k].failed += n;
                }
            }
        }
    }

    let mut findings: Vec<Finding> = aggs
        .into_iter()
        .map(|((owner, outcome, wi), agg)| make_finding(set, &owner, outcome, wi, &agg))
        .collect();

    for (wi, w) in set.waivers.iter().enumerate() {
        let wref = waiver_ref(w);
        if w.expires < today {
            findings.push(Finding {
                code: Code::WaiverExpired,
                outcome: Outcome::Violation,
                severity: Severity::Warning,
                consumer: w.consumer.clone(),
                clause: w.clause.clone(),
                kind: None,
                output: None,
                expected: Some(format!("a waiver valid on {today}")),
                actual: vec![ValueCount {
                    value: format!("expired {}", w.expires),
                    count: 1,
                }],
                count: 1,
                samples: vec![],
                message: format!(
                    "the waiver of {} owned by {} expired on {}; what it covered fails again",
                    waiver_target(w),
                    w.owner,
                    w.expires
                ),
                why: Some(w.reason.clone()),
                runbook: None,
                waiver: Some(wref),
            });
        } else if !waiver_used[wi] {
            findings.push(Finding {
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
                message: format!(
                    "the waiver of {} matches no failing instance: remove it, or fix its selector",
                    waiver_target(w)
                ),
                why: Some(w.reason.clone()),
                runbook: None,
                waiver: Some(wref),
            });
        }
    }
    findings.sort_by(|a, b| {
        (
            a.outcome,
            std::cmp::Reverse(a.severity),
            &a.consumer,
            &a.clause,
        )
            .cmp(&(
                b.outcome,
                std::cmp::Reverse(b.severity),
                &b.consumer,
                &b.clause,
            ))
    });

    let coverage = coverage(set, &tallies);
    Evaluation {
        findings,
        consumers: tallies,
        coverage,
        evaluations,
        unknown_evaluations,
    }
}

fn waiver_target(w: &Waiver) -> String {
    match &w.clause {
        Some(c) => format!("{} clause {c}", w.consumer),
        None => format!("consumer {}", w.consumer),
    }
}

fn waiver_ref(w: &Waiver) -> WaiverRef {
    WaiverRef {
        owner: w.owner.clone(),
        reason: w.reason.clone(),
        expires: w.expires.to_string(),
        file: format!("{} {}", w.file.display(), w.pointer),
    }
}

fn find_waiver(set: &ContractSet, c: &Consumer, cl: &Clause, i: &Instance) -> Option<usize> {
    set.waivers.iter().position(|w| {
        w.consumer == c.name
            && w.clause.as_ref().is_none_or(|id| *id == cl.id)
            && w.selector.as_ref().is_none_or(|s| set.selects(s, i))
    })
}

/// The synthetic clause id of a manifest promise.
pub fn manifest_clause_id(p: &Provider, o: &OutputPath) -> String {
    format!("manifest:{}:{o}", p.name)
}

/// Checks one instance against everything its provider promises, one outcome per output.
pub fn check_manifest(p: &Provider, i: &Instance) -> Vec<ClauseOutcome> {
    check_manifest_with(p, i, Detail::All)
}

/// [`check_manifest`] with the detail asked for.
pub fn check_manifest_with(p: &Provider, i: &Instance, detail: Detail) -> Vec<ClauseOutcome> {
    // (variable, value, the output it came from)
    let mut bound: Vec<(&str, String, Cow<'_, str>)> = Vec::new();
    for (name, var) in &p.variables {
        if let Some(b) = var.builtin
            && let Some(v) = b.read(i)
        {
            bound.push((name, v.to_string(), Cow::Borrowed("the instance")));
        }
    }
    let mut out = Vec::with_capacity(p.outputs.len());
    for o in &p.outputs {
        let v = match i.read(&o.path) {
            Read::Value(v) => v,
            Read::Missing if o.optional => {
                out.push(pass(detail, || "absent (optional)".into()));
                continue;
            }
            Read::Missing => {
                out.push(ClauseOutcome::Fail("absent".into()));
                continue;
            }
            Read::Unknown(r) => {
                out.push(ClauseOutcome::Unknown(format!("{}: {r}", o.path)));
                continue;
            }
            Read::NotSampled => {
                out.push(ClauseOutcome::Skipped("user-data not sampled".into()));
                continue;
            }
        };
        let (Some(t), Some(re)) = (&o.template, &o.regex) else {
            out.push(pass(detail, || {
                if o.secret {
                    "present (secret)".into()
                } else {
                    format!("\"{v}\"")
                }
            }));
            continue;
        };
        let Some(caps) = re.captures(&v) else {
            out.push(ClauseOutcome::Fail(format!(
                "\"{v}\" does not fit the template \"{}\"",
                t.source
            )));
            continue;
        };
        let mut problem = None;
        for name in re.capture_names().flatten() {
            let Some(m) = caps.name(name) else { continue };
            let var = name.split("__").next().unwrap_or(name);
            let val = m.as_str();
            if let Some(set_name) = p.variables.get(var).and_then(|x| x.set.as_ref())
                && let Some(members) = p.sets.get(set_name)
                && !members.contains(val)
            {
                problem = Some(format!(
                    "\"{v}\" gives {var} \"{val}\", which is not in {set_name}"
                ));
                break;
            }
            if let Some((_, prev, from)) = bound.iter().find(|(n, _, _)| *n == var) {
                if prev != val {
                    problem = Some(format!(
                        "\"{v}\" gives {var} \"{val}\" but {from} gives \"{prev}\""
                    ));
                    break;
                }
            } else {
                bound.push((var, val.to_string(), Cow::Owned(o.path.to_string())));
            }
        }
        out.push(match problem {
            Some(p) => ClauseOutcome::Fail(p),
            None => pass(detail, || format!("\"{v}\"")),
        });
    }
    out
}

fn make_finding(
    set: &ContractSet,
    owner: &Owner,
    outcome: Outcome,
    waiver: Option<usize>,
    agg: &Agg,
) -> Finding {
    let actual = agg.values();
    let samples: Vec<String> = agg.samples.iter().cloned().collect();
    let first = actual.first().map(|v| v.value.clone()).unwrap_or_default();
    match owner {
        Owner::Provider(pi, oi) => {
            let p = &set.providers[*pi];
            let o = &p.outputs[*oi];
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
                clause: Some(manifest_clause_id(p, &o.path)),
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
            }
        }
        Owner::Consumer(ci, k) => {
            let c = &set.consumers[*ci];
            let cl = &c.clauses[*k];
            let expected = expected_words(c, &cl.check);
            let target = clause_target(c, &cl.check);
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
            }
        }
    }
}

/// What a check expects, in words.
pub fn expected_words(c: &Consumer, check: &Check) -> String {
    match check {
        Check::Present(_) => "to be present".into(),
        Check::Absent(_) => "to be absent".into(),
        Check::Equals(_, v) => format!("to equal \"{v}\""),
        Check::OneOf(_, vs) => format!("to be one of [{}]", vs.join(", ")),
        Check::Matches(_, re) => format!("to match /{}/", re.as_str()),
        Check::Derives { fact, how, .. } => match how {
            Derivation::Identity => format!("to yield {}", c.facts[*fact]),
            Derivation::Split(sep, idx) => {
                format!("to yield {} by split('{sep}')[{idx}]", c.facts[*fact])
            }
            Derivation::Capture(re, cap) => format!(
                "to yield {} as group {cap} of /{}/",
                c.facts[*fact],
                re.as_str()
            ),
        },
        Check::MemberOf(_, set) => format!(
            "to be a member of {} ({} known values)",
            set.name,
            set.values.len()
        ),
        Check::AgreesWith(_, other) => match other {
            Other::Output(p) => format!("to agree with {p}"),
            Other::Fact(f) => format!("to agree with fact {}", c.facts[*f]),
            Other::Template(t, _) => format!("to agree with \"{}\"", t.source),
        },
        Check::Uniform(_, per) => {
            if per.is_empty() {
                "to be the same on every selected instance".into()
            } else {
                format!(
                    "to be the same per {}",
                    per.iter()
                        .map(|s| subject_name(c, s))
                        .collect::<Vec<_>>()
                        .join(" and ")
                )
            }
        }
    }
}

/// Outputs that may be missing from an instance, so that a consumer reading one that no
/// provider promises is a real risk (tags, user-data, key pair, instance profile).
fn provider_dependent(p: &OutputPath) -> bool {
    use crate::output::Ec2Field::*;
    match p {
        OutputPath::Tag(_) | OutputPath::UserData(_) => true,
        OutputPath::Field(f) => matches!(f, KeyName | IamInstanceProfile | InstanceLifecycle),
    }
}

fn coverage(set: &ContractSet, tallies: &[ConsumerTally]) -> Coverage {
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
            .filter(|(p, _)| provider_dependent(p) && !promised.contains(p))
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

/// Computes the summary: exit 3 when incomplete, else 1 on failures, else 0.
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
    let (status, exit_code) = if incomplete {
        (Status::Incomplete, ExitStatus::Incomplete)
    } else if failing {
        (Status::Violations, ExitStatus::Violations)
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

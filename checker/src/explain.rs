//! `checker explain`: every clause that applies to an instance, the values read, what was
//! derived and why each passed or failed; or one clause's documentation and results. Every
//! value is written through `render::escape::T`: a tag or a contract adds no line to it.

use crate::clause::{ClauseOutcome, Detail, FactValue};
use crate::contract::*;
use crate::eval::{check_manifest, eval_clause, manifest_clause_id};
use crate::fleet::Instance;
use crate::render::escape::T;
use crate::report::Report;
use std::fmt::Write as _;

fn outcome_line(o: &ClauseOutcome) -> String {
    match o {
        ClauseOutcome::Pass(v) => format!("pass     {}", T(v)),
        ClauseOutcome::Fail(v) => format!("FAIL     {}", T(v)),
        ClauseOutcome::Unknown(r) => format!("unknown  {}", T(r)),
        ClauseOutcome::NotApplicable => "n/a      its `when` does not hold".to_string(),
        ClauseOutcome::Skipped(r) => format!("skipped  {}", T(r)),
    }
}

/// Explains how every contract sees one instance.
pub fn instance(set: &ContractSet, i: &Instance) -> String {
    let mut s = String::new();
    header(&mut s, i);
    providers(&mut s, set, i);
    consumers(&mut s, set, i);
    s
}

/// The instance's own values.
fn header(s: &mut String, i: &Instance) {
    let _ = writeln!(
        s,
        "instance {} in {} ({}), state {}",
        T(&i.id),
        T(&i.region),
        T(i.zone().unwrap_or("?")),
        T(i.state())
    );
    let _ = writeln!(
        s,
        "  KeyName: {}",
        T(i.field(crate::output::Ec2Field::KeyName)
            .unwrap_or("(none)"))
    );
    for (k, v) in &i.tags {
        let _ = writeln!(s, "  tag:{}: {}", T(k), T(v));
    }
    let ud = match &i.user_data {
        crate::fleet::UserData::NotFetched => "not fetched".to_string(),
        crate::fleet::UserData::Absent => "none".to_string(),
        crate::fleet::UserData::Json(m) => format!(
            "JSON with keys {}",
            m.keys().cloned().collect::<Vec<_>>().join(", ")
        ),
        crate::fleet::UserData::Invalid(r) => r.clone(),
    };
    let _ = writeln!(s, "  user-data: {}", T(&ud));
}

/// What every provider manifest promises for it.
fn providers(s: &mut String, set: &ContractSet, i: &Instance) {
    for p in &set.providers {
        let _ = writeln!(
            s,
            "\nprovider {} ({})",
            T(&p.name),
            T(&p.file.display().to_string())
        );
        if !set.selects(&p.selector, i) {
            let _ = writeln!(s, "  not selected: {}", T(&why_not(set, &p.selector, i)));
            continue;
        }
        for (o, out) in p.outputs.iter().zip(check_manifest(p, i)) {
            let promise = o
                .template
                .as_ref()
                .map(|t| format!("\"{}\"", t.source))
                .unwrap_or_else(|| {
                    if o.secret {
                        "present (secret)".into()
                    } else {
                        "present".into()
                    }
                });
            let _ = writeln!(
                s,
                "  {:<40} promises {}\n    {}",
                T(&manifest_clause_id(p, &o.path)),
                T(&promise),
                outcome_line(&out)
            );
        }
    }
}

/// Every consumer clause on it.
fn consumers(s: &mut String, set: &ContractSet, i: &Instance) {
    for c in &set.consumers {
        let _ = writeln!(
            s,
            "\nconsumer {} ({}, owner {})",
            T(&c.name),
            T(&c.file.display().to_string()),
            T(&c.owner)
        );
        if !set.selects(&c.selector, i) {
            let _ = writeln!(s, "  not selected: {}", T(&why_not(set, &c.selector, i)));
            continue;
        }
        let _ = writeln!(
            s,
            "  selected by: {}",
            T(&set.describe_selector(&c.selector))
        );
        let mut facts: Vec<Option<FactValue>> = vec![None; c.facts.len()];
        for cl in &c.clauses {
            let o = eval_clause(c, cl, i, &mut facts, Detail::All);
            let subject = crate::eval::clause_target(c, &cl.check);
            let _ = writeln!(
                s,
                "  {} [{} {:?}] {} {}\n    {}",
                T(&cl.id),
                cl.check.kind(),
                cl.severity,
                T(&subject),
                T(&cl.check.expected(&c.facts)),
                outcome_line(&o)
            );
            if let ClauseOutcome::Pass(_) = o
                && let Some(fact) = cl.check.derived_fact()
                && let Some(fv) = &facts[fact]
            {
                let _ = writeln!(
                    s,
                    "    derived {} = \"{}\" {}",
                    T(&c.facts[fact]),
                    T(&fv.value),
                    T(&fv.provenance)
                );
            }
            if matches!(o, ClauseOutcome::Fail(_)) {
                let _ = writeln!(s, "    why it matters: {}", T(&cl.why));
            }
        }
    }
}

fn why_not(set: &ContractSet, sel: &Selector, i: &Instance) -> String {
    if !sel.states.iter().any(|s| s == i.state()) {
        return format!("state {} is not in [{}]", i.state(), sel.states.join(", "));
    }
    if let Some(p) = sel.provider
        && !set.selects(&set.providers[p].selector, i)
    {
        return format!("provider {} does not select it", set.providers[p].name);
    }
    sel.conditions
        .iter()
        .find(|c| !c.holds(i))
        .map(|c| format!("{} does not hold", c.describe()))
        .unwrap_or_else(|| "?".into())
}

/// Explains one clause: its contract, documentation and, with a report, its results.
pub fn clause(set: &ContractSet, id: &str, report: Option<&Report>) -> Option<String> {
    let mut s = String::new();
    let (c, cl) = set
        .consumers
        .iter()
        .find_map(|c| c.clauses.iter().find(|cl| cl.id == id).map(|cl| (c, cl)))?;
    let _ = writeln!(
        s,
        "clause {} of consumer {} ({} {})",
        T(id),
        T(&c.name),
        T(&c.file.display().to_string()),
        T(&cl.pointer)
    );
    let _ = writeln!(s, "  owner:    {}", T(&c.owner));
    if let Some(rb) = &c.runbook {
        let _ = writeln!(s, "  runbook:  {}", T(rb));
    }
    let _ = writeln!(s, "  applies:  {}", T(&set.describe_selector(&c.selector)));
    if let Some(w) = &cl.when {
        let _ = writeln!(s, "  when:     {}", T(&w.describe()));
    }
    let subject = crate::eval::clause_target(c, &cl.check);
    let _ = writeln!(
        s,
        "  checks:   {} {}",
        T(&subject),
        T(&cl.check.expected(&c.facts))
    );
    let _ = writeln!(s, "  severity: {:?}", cl.severity);
    let _ = writeln!(s, "  why:      {}", T(&cl.why));
    let doc = cl.check.doc();
    let _ = writeln!(s, "  kind {}: {}", doc.kind, doc.summary);
    if let Some(r) = report
        && let Some(t) = r
            .consumers
            .iter()
            .find(|t| t.name == c.name)
            .and_then(|t| t.clauses.iter().find(|x| x.id == id))
    {
        let _ = writeln!(
            s,
            "  on this fleet: {} passed, {} failed, {} unknown, {} waived, {} n/a, {} skipped",
            t.passed, t.failed, t.unknown, t.waived, t.not_applicable, t.skipped
        );
        for f in r
            .findings
            .iter()
            .filter(|f| f.clause.as_deref() == Some(id))
        {
            let _ = writeln!(s, "  {:?}: {}", f.outcome, T(&f.message));
            for v in &f.actual {
                let _ = writeln!(s, "    {} × {}", v.count, T(&v.value));
            }
        }
    }
    Some(s)
}

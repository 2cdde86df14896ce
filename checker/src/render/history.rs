//! A hook's history (`checker history`) as text: a row per run, a strip per consumer (a symbol
//! per run), and since when each finding open in the newest run has been open. The page is in
//! `html/history.rs`; the JSON is the view itself.

use super::escape::term;
use crate::history::{ConsumerRun, Open, Record, View};
use std::fmt::Write as _;

/// A consumer's state in one run: symbol and word (a run without it: `·`, absent).
pub(crate) fn state(c: Option<&ConsumerRun>) -> (&'static str, &'static str) {
    match c {
        None => ("·", "absent"),
        Some(c) if c.errors > 0 => ("✗", "errors"),
        Some(c) if c.warnings > 0 => ("!", "warnings"),
        Some(c) if c.unknowns > 0 => ("?", "unknown"),
        Some(_) => ("✓", "clean"),
    }
}

/// A run's totals over its consumers: errors, warnings, unknowns.
pub(crate) fn totals(r: &Record) -> (usize, usize, usize) {
    r.consumers.iter().fold((0, 0, 0), |(e, w, u), c| {
        (e + c.errors, w + c.warnings, u + c.unknowns)
    })
}

/// The changed groups of a run, in words.
pub(crate) fn changed(r: &Record) -> String {
    match &r.changed_groups {
        None => "–".into(),
        Some(g) if g.is_empty() => "none".into(),
        Some(g) => g.join(", "),
    }
}

/// Since when, in words.
pub(crate) fn since(o: &Open) -> String {
    let runs = super::plural(o.runs, "run", "runs");
    if o.at_least {
        format!(
            "since at least {} ({runs}; the history starts there)",
            o.since
        )
    } else {
        format!("since {} ({runs})", o.since)
    }
}

/// The finding, in a few words: `✗ error occ/clause (code) ×33`.
pub(crate) fn finding(o: &Open) -> String {
    let f = &o.finding;
    let sym = if f.outcome == "unknown" { "?" } else { "✗" };
    let what = match &f.clause {
        Some(c) => format!("{}/{c}", f.consumer),
        None => f.consumer.clone(),
    };
    format!("{sym} {} {what} ({}) ×{}", f.severity, f.code, f.count)
}

/// The history as text.
pub fn human(v: &View) -> String {
    let mut s = String::new();
    let (first, last) = (&v.records[0].at, &v.records[v.records.len() - 1].at);
    let _ = writeln!(
        s,
        "checker history: {} ({}, {} to {})\n",
        term(&v.history),
        super::plural(v.records.len(), "run", "runs"),
        term(first),
        term(last)
    );
    let at_w = v
        .records
        .iter()
        .map(|r| r.at.len())
        .max()
        .unwrap_or(2)
        .max(2);
    let _ = writeln!(
        s,
        "{:>4}  {:at_w$}  exit  instances  errors  warnings  unknown  changed groups",
        "run", "at"
    );
    for (i, r) in v.records.iter().enumerate() {
        let (e, w, u) = totals(r);
        let _ = writeln!(
            s,
            "{:>4}  {:at_w$}  {:>4}  {:>9}  {e:>6}  {w:>8}  {u:>7}  {}",
            i + 1,
            term(&r.at),
            r.exit_code,
            r.instances,
            term(&changed(r))
        );
    }
    let name_w = v.consumers.iter().map(|c| c.len()).max().unwrap_or(0);
    let _ = writeln!(
        s,
        "\nconsumers, oldest run first (✗ errors, ! warnings, ? unknown, ✓ clean, · not in that run):"
    );
    for c in &v.consumers {
        let strip: String = v
            .records
            .iter()
            .map(|r| state(r.consumers.iter().find(|x| &x.name == c)).0)
            .collect();
        let _ = writeln!(s, "  {:name_w$}  {strip}", term(c));
    }
    let _ = writeln!(s, "\nopen in the newest run:");
    if v.records[v.records.len() - 1].findings.is_none() {
        let _ = writeln!(
            s,
            "  (the newest record lists no findings: it was written before checker-history 1.1)"
        );
    } else if v.open.is_empty() {
        let _ = writeln!(s, "  nothing");
    }
    for o in &v.open {
        let _ = writeln!(s, "  {}: open {}", term(&finding(o)), term(&since(o)));
    }
    s
}

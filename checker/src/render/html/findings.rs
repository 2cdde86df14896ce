//! The report page's findings (with their filters) and clauses: a finding links to its
//! clause's row, which says once what the clause reads, why it matters and where it is written;
//! a consumer's heading carries its runbook once. The clauses that hold are listed compactly,
//! collapsed.

use super::{outcome_word, severity_word, t};
use crate::report::*;
use maud::{Markup, html};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

/// The filters' dimensions: a name, and each finding's values (one but for regions).
type Dim = (&'static str, fn(&Finding) -> Vec<String>);

const DIMS: [Dim; 6] = [
    ("consumer", |f| vec![f.consumer.clone()]),
    ("severity", |f| vec![severity_word(f.severity).to_string()]),
    ("outcome", |f| vec![outcome_word(f.outcome).1.to_string()]),
    ("code", |f| vec![f.code.name().to_string()]),
    ("scope", |f| {
        vec![
            f.scope
                .as_ref()
                .map_or_else(|| "(own scope)".into(), |s| s.label()),
        ]
    }),
    ("region", |f| {
        if f.regions.is_empty() {
            vec!["(no region)".into()]
        } else {
            f.regions.clone()
        }
    }),
];

/// Each dimension's values, sorted; a finding's value is named by its index there.
fn dim_values(r: &Report) -> Vec<Vec<String>> {
    DIMS.iter()
        .map(|(_, of)| {
            let set: BTreeSet<String> = r.findings.iter().flat_map(of).collect();
            set.into_iter().collect()
        })
        .collect()
}

/// Whether each dimension's filter would hide anything: findings differ in it. A filter that
/// would not (one consumer; every finding in the same regions) is left out.
fn useful(r: &Report) -> Vec<bool> {
    DIMS.iter()
        .map(|(_, of)| {
            let sets: BTreeSet<Vec<String>> = r.findings.iter().map(of).collect();
            sets.len() > 1
        })
        .collect()
}

/// The filters as CSS: choosing value `v` of dimension `d` hides the rows that lack it (a row
/// lists its values' indices, space-separated: a finding has several regions). Only indices
/// reach the stylesheet.
pub(super) fn filter_css(r: &Report) -> String {
    let mut s = String::new();
    let useful = useful(r);
    for (d, values) in dim_values(r).iter().enumerate().filter(|(d, _)| useful[*d]) {
        for v in 0..values.len() {
            if !s.is_empty() {
                s.push(',');
            }
            let _ = write!(
                s,
                ":has(#f-{d} [value=\"{v}\"]:checked) [data-f{d}]:not([data-f{d}~=\"{v}\"])"
            );
        }
    }
    if !s.is_empty() {
        s.push_str("{display:none}");
    }
    s
}

/// Where each (consumer, clause) is in the tallies: its anchor.
/// Only the clauses some finding names have one: nothing links to the others.
fn anchors(r: &Report) -> BTreeMap<(&str, &str), String> {
    let named: BTreeSet<(&str, &str)> = r
        .findings
        .iter()
        .filter_map(|f| Some((f.consumer.as_str(), f.clause.as_deref()?)))
        .collect();
    let mut m = BTreeMap::new();
    for (i, c) in r.consumers.iter().enumerate() {
        for (j, cl) in c.clauses.iter().enumerate() {
            let key = (c.name.as_str(), cl.id.as_str());
            if named.contains(&key) {
                m.insert(key, format!("cl-{i}-{j}"));
            }
        }
    }
    m
}

pub(super) fn findings(r: &Report) -> Markup {
    let values = dim_values(r);
    let index: Vec<BTreeMap<&str, usize>> = values
        .iter()
        .map(|vs| {
            vs.iter()
                .enumerate()
                .map(|(k, v)| (v.as_str(), k))
                .collect()
        })
        .collect();
    let anchors = anchors(r);
    let useful = useful(r);
    // Regions every finding shares are said once, above the table.
    let shared = (!useful[5])
        .then(|| r.findings.first().map(|f| &f.regions))
        .flatten()
        .filter(|g| !g.is_empty());
    let heads: BTreeMap<&str, usize> = r
        .consumers
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.as_str(), i))
        .collect();
    html! {
        section #findings aria-labelledby="findings-h" {
            h2 #findings-h { "Findings: " output #shown aria-live="polite" { (r.findings.len()) } " shown of " (r.findings.len()) }
            @if r.findings.is_empty() { p { "No findings." } } @else {
                @if useful.iter().any(|u| *u) {
                form #filters aria-label="Filter the findings" {
                    // A filter with one value to choose would choose nothing: left out.
                    @for (d, (name, _)) in DIMS.iter().enumerate().filter(|(d, _)| useful[*d]) {
                        label for=(format!("f-{d}")) { (name)
                            select id=(format!("f-{d}")) name=(name) {
                                option value="" { "all" }
                                @for (k, v) in values[d].iter().enumerate() { option value=(k) { (t(v)) } }
                            }
                        }
                    }
                }
                }
                @if let Some(g) = shared { p { "Every finding is about instances in " (t(&g.join(", "))) "." } }
                table {
                    thead { tr { th { "outcome" } th { "severity" } th { "consumer" }
                        th { "clause" } th { "code" } th { "instances, regions" } th { "what" } } }
                    tbody {
                        @for (n, f) in r.findings.iter().enumerate() {
                            @let (sym, word) = outcome_word(f.outcome);
                            @let key = |d: usize| useful[d].then(|| keys(&index[d], DIMS[d].1(f)));
                            @let clause = f.clause.as_ref().and_then(|c| anchors.get(&(f.consumer.as_str(), c.as_str())));
                            @let head = heads.get(f.consumer.as_str());
                            @let same = (n > 0).then(|| r.findings[..n].iter().position(|p| !f.samples.is_empty() && p.samples == f.samples)).flatten();
                            tr id=(format!("fd-{n}")) class=(word) data-f0=[key(0)] data-f1=[key(1)] data-f2=[key(2)] data-f3=[key(3)] data-f4=[key(4)] data-f5=[key(5)] {
                                td.o { (sym) " " (word) }
                                td { (severity_word(f.severity)) }
                                td { @match head {
                                    Some(i) => { a href=(format!("#c-{i}")) { (t(&f.consumer)) } }
                                    None => { (t(&f.consumer)) }
                                } }
                                td { @if let Some(c) = &f.clause {
                                    @match clause {
                                        Some(a) => { a href=(format!("#{a}")) { code { (t(c)) } } }
                                        None => { code { (t(c)) } }
                                    } } }
                                td.nw { code { (f.code.name()) } }
                                td { (f.count) @if shared.is_none() && !f.regions.is_empty() { div.muted.region { (t(&f.regions.join(", "))) } } }
                                td { (finding_detail(f, (clause.is_some(), head.is_some()), same)) }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// A finding's values of one dimension, as their indices there, space-separated.
fn keys(index: &BTreeMap<&str, usize>, values: Vec<String>) -> String {
    let mut out = String::new();
    for v in values {
        if let Some(k) = index.get(v.as_str()) {
            if !out.is_empty() {
                out.push(' ');
            }
            let _ = write!(out, "{k}");
        }
    }
    out
}

/// What a finding says beyond its columns. Its clause's `why` and where it is written are on
/// the clause's row (`at_clause`), its consumer's runbook under the consumer's heading
/// (`at_consumer`): said there once, not on every finding. The values seen are left out when
/// the message already quotes the only one, on every instance; their common start is said once.
/// Sample ids that an earlier finding (`same`) lists already are a link to it.
fn finding_detail(
    f: &Finding,
    (at_clause, at_consumer): (bool, bool),
    same: Option<usize>,
) -> Markup {
    let said = f.actual.len() == 1
        && f.actual[0].count == f.count
        && f.message.contains(f.actual[0].value.as_str());
    let start = common_start(&f.actual);
    html! {
        (t(&f.message))
        @if !at_clause { @if let Some(w) = &f.why { div { strong { "Why: " } (t(w)) } } }
        @if !f.actual.is_empty() && !said {
            div { "Seen "
                @if !start.is_empty() {
                    @if f.message.contains(start) { "(as quoted above, but ending) " }
                    @else { "(each " code { (t(start)) "…" } ", then) " } }
                @for (k, v) in f.actual.iter().enumerate() {
                @if k > 0 { ", " } code { @if !start.is_empty() { "…" } (t(&v.value[start.len()..])) } " ×" (v.count) } }
        }
        @match same {
            Some(p) => { div.muted { "e.g. the instances of " a href=(format!("#fd-{p}")) { "finding " (p + 1) } } }
            None => { @if !f.samples.is_empty() { div.muted { "e.g. " (t(&f.samples.join(", "))) } } }
        }
        @if !at_clause { @if let Some(l) = &f.location { div.muted { "Written at " code { (t(&l.file)) ":" (l.line) ":" (l.column) } } } }
        @if let Some(w) = &f.waiver { div { "Waived by " (t(&w.owner)) " until " (t(&w.expires)) ": " (t(&w.reason)) } }
        @if !at_consumer { @if let Some(u) = &f.runbook { div { "Runbook: " (t(u)) } } }
    }
}

/// The start several values share, up to a space, when it is long enough to be worth saying
/// once (40 bytes); else empty.
fn common_start(values: &[ValueCount]) -> &str {
    let Some((first, rest)) = values.split_first() else {
        return "";
    };
    if rest.is_empty() {
        return "";
    }
    let mut n = first.value.len();
    for v in rest {
        n = first
            .value
            .bytes()
            .zip(v.value.bytes())
            .take(n)
            .take_while(|(a, b)| a == b)
            .count();
    }
    let start = &first.value[..n];
    match start.rfind(' ') {
        Some(k) if k + 1 >= 40 => &first.value[..k + 1],
        _ => "",
    }
}

pub(super) fn clauses(r: &Report) -> Markup {
    // A clause's why and where it is written come from its findings.
    let mut about: BTreeMap<(&str, &str), &Finding> = BTreeMap::new();
    for f in &r.findings {
        if let Some(c) = &f.clause {
            about.entry((f.consumer.as_str(), c.as_str())).or_insert(f);
        }
    }
    let anchors = anchors(r);
    html! {
        section #clauses aria-labelledby="clauses-h" {
            h2 #clauses-h { "Clauses" }
            p.muted { "Per consumer, the clauses that do not hold, then (collapsed) those that do: clause (kind): outputs read; a provider's promise by its output." }
            @for (i, c) in r.consumers.iter().enumerate() {
                @let holding = c.clauses.iter().filter(|cl| clause_class(cl).1 == "holds").count();
                h3 id=(format!("c-{i}")) { (c.role.name()) " " (t(&c.name))
                    @if let Some(o) = &c.owner { span.muted { " (owner " (t(o)) ")" } } }
                p.muted { "Selects " (t(&c.selector)) ": " (c.selected) " instance(s)."
                    @if let Some(u) = &c.runbook { " Runbook: " (t(u)) } }
                @if holding < c.clauses.len() {
                    table {
                        thead { tr { th { "clause" } th { "kind" } th { "reads" }
                            th { "passed / failed / unknown / waived / n/a / skipped" } th { "why, where" } } }
                        tbody {
                            @for cl in c.clauses.iter().filter(|cl| clause_class(cl).1 != "holds") {
                                @let f = about.get(&(c.name.as_str(), cl.id.as_str()));
                                @let (sym, class) = clause_class(cl);
                                tr id=[anchors.get(&(c.name.as_str(), cl.id.as_str()))] class=(class) {
                                    td.o { (sym) " " code { (t(&cl.id)) } }
                                    td { (t(&cl.kind)) }
                                    td { (reads(cl)) }
                                    td { (cl.passed) " / " (cl.failed) " / " (cl.unknown) " / " (cl.waived) " / " (cl.not_applicable) " / " (cl.skipped) }
                                    td {
                                        @if let Some(w) = f.and_then(|f| f.why.as_ref()) { (t(w)) }
                                        @if let Some(l) = f.and_then(|f| f.location.as_ref()) {
                                            div.muted { code { (t(&l.file)) ":" (l.line) ":" (l.column) } } }
                                    }
                                }
                            }
                        }
                    }
                }
                @if holding > 0 {
                    @let manifest = format!("manifest:{}:", c.name);
                    details {
                        summary { "✓ " (holding) " hold (passed on all " (c.selected) " instances unless counted)" }
                        ul.holds {
                            @for cl in c.clauses.iter().filter(|cl| clause_class(cl).1 == "holds") {
                                li id=[anchors.get(&(c.name.as_str(), cl.id.as_str()))] {
                                    @match cl.id.strip_prefix(&manifest).filter(|o| cl.reads.len() == 1 && cl.reads[0] == *o) {
                                        // A provider's promise of one output: named by it.
                                        Some(o) => { (t(o)) }
                                        None => { (t(&cl.id)) " (" (t(&cl.kind)) "): " (t(&cl.reads.join(", "))) }
                                    }
                                    @if cl.passed != c.selected || cl.not_applicable + cl.skipped > 0 { ": " (held(cl)) }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// The outputs a clause reads.
fn reads(cl: &ClauseTally) -> Markup {
    html! { @for (k, o) in cl.reads.iter().enumerate() { @if k > 0 { ", " } code { (t(o)) } } }
}

/// A holding clause's counts, the zeros left out.
fn held(cl: &ClauseTally) -> String {
    let mut s = format!("{} passed", cl.passed);
    if cl.not_applicable > 0 {
        let _ = write!(s, ", {} n/a", cl.not_applicable);
    }
    if cl.skipped > 0 {
        let _ = write!(s, ", {} skipped", cl.skipped);
    }
    s
}

/// A clause's outcome as a symbol and a word (its row's class): the graph's edge outcome.
fn clause_class(cl: &ClauseTally) -> (&'static str, &'static str) {
    if cl.failed > 0 {
        ("✗", "violation")
    } else if cl.unknown > 0 {
        ("?", "unknown")
    } else if cl.waived > 0 {
        ("~", "waived")
    } else {
        ("✓", "holds")
    }
}

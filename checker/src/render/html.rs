//! The HTML form: one self-contained page (no external asset, no CDN; it opens from a Taskcluster
//! artifact link or a file, offline), from maud templates. A check or gate report shows its
//! summary, a gate's verdicts and changes, the dependency graph (inline SVG drawn by checker;
//! for a gate, its blast radius first), the findings with filters, and each clause with the
//! outputs it reads, its `why` and where it is written.
//!
//! Every value goes through [`term`] and then maud's escaping: it is text wherever it lands. The
//! SVG escapes its own values ([`super::graph::svg`]). The filters are CSS only (`:has()` on the
//! selects' chosen options, keyed by index: no value reaches the stylesheet), so they work
//! without JavaScript; a few lines of script count the rows shown and read filters from the
//! address's `#consumer=occ&severity=error`. Accessible: headings and landmarks, table headers,
//! labels, a skip link, focusable graph nodes with titles, and an outcome is always a word and a
//! symbol, never a colour alone. Printed, the filters and navigation are left out.

pub(super) mod diff;
pub(super) mod history;
pub(super) mod plan;

use super::escape::term;
use super::graph::{Graph, svg};
use crate::contract::Severity;
use crate::report::*;
use maud::{DOCTYPE, Markup, PreEscaped, html};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

const CSS: &str = "\
body{font:14px/1.45 system-ui,sans-serif;color:#111;margin:0 auto;max-width:1100px;padding:0 16px}\
a{color:#0d47a1}a:focus,select:focus,[tabindex]:focus{outline:3px solid #1565c0;outline-offset:2px}\
.skip{position:absolute;left:-999px}.skip:focus{left:8px;top:8px;background:#fff;padding:4px}\
table{border-collapse:collapse;width:100%;margin:8px 0}th,td{border:1px solid #ccc;padding:3px 6px;text-align:left;vertical-align:top}\
th{background:#f3f3f3}caption{text-align:left;font-weight:bold;padding:4px 0}\
.o{white-space:nowrap;font-weight:bold}.violation .o,.no,.broken{color:#b71c1c}.unknown .o,.unknown-v{color:#e65100}\
.waived .o{color:#6a1b9a}.notice .o,.yes{color:#1b5e20}\
tr.violation td:first-child{border-left:4px solid #c62828}tr.unknown td:first-child{border-left:4px dashed #ef6c00}\
tr.waived td:first-child{border-left:4px dotted #6a1b9a}\
code{font:12px ui-monospace,monospace;overflow-wrap:anywhere}\
.graph{overflow-x:auto}.graph svg{max-width:100%;height:auto}\
#filters{display:flex;flex-wrap:wrap;gap:12px;margin:8px 0}#filters label{display:flex;flex-direction:column;font-size:12px}\
.status{font-size:18px}.muted{color:#555}.nw{white-space:nowrap}\
@media print{nav,#filters,.skip{display:none}body{max-width:none}a{color:#000;text-decoration:none}\
tr{break-inside:avoid}.graph{overflow:visible}*{-webkit-print-color-adjust:exact;print-color-adjust:exact}}";

/// Counts the rows a filter leaves, and reads filters from the address (`#consumer=occ`).
const JS: &str = "(function(){var f=document.getElementById('filters');if(!f)return;\
var n=document.getElementById('shown');function upd(){var k=0;\
document.querySelectorAll('#findings tbody tr').forEach(function(r){if(getComputedStyle(r).display!=='none')k++});\
n.textContent=k}var h=new URLSearchParams(location.hash.slice(1));\
f.querySelectorAll('select').forEach(function(s){var v=h.get(s.name);if(v===null)return;\
for(var i=0;i<s.options.length;i++)if(s.options[i].textContent===v)s.selectedIndex=i});\
f.addEventListener('change',upd);upd()})();";

fn t(s: &str) -> std::borrow::Cow<'_, str> {
    term(s)
}

/// A page of one of the other documents (diff, cull plan, history): the report's stylesheet and
/// `css`, its title as the heading (after `sym`, a symbol saying the state in more than colour),
/// a skip link, and `body` as the main content.
fn page(tool: &str, title: &str, sym: &str, css: &str, body: Markup) -> String {
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(t(tool));
                title { (t(title)) }
                style { (PreEscaped(CSS)) (PreEscaped(css)) }
            }
            body {
                a.skip href="#main" { "Skip to the content" }
                header { h1 { (sym) " " (t(title)) } }
                main #main { (body) }
            }
        }
    }
    .into_string()
}

fn outcome_word(o: Outcome) -> (&'static str, &'static str) {
    match o {
        Outcome::Violation => ("✗", "violation"),
        Outcome::Unknown => ("?", "unknown"),
        Outcome::Waived => ("~", "waived"),
        Outcome::Notice => ("i", "notice"),
    }
}

fn severity_word(s: Severity) -> &'static str {
    match s {
        Severity::Error => "error",
        Severity::Warning => "warning",
    }
}

fn status_word(s: Status) -> (&'static str, &'static str) {
    match s {
        Status::Clean => ("✓", "clean"),
        Status::Warnings => ("!", "warnings"),
        Status::Violations => ("✗", "violations"),
        Status::Incomplete => ("?", "incomplete"),
    }
}

/// A check or gate report as a page.
pub fn report(r: &Report) -> String {
    let (sym, word) = status_word(r.summary.status);
    let title = match &r.gate {
        Some(g) if g.deployable => format!("checker gate: deployable ({word})"),
        Some(_) => format!("checker gate: not deployable ({word})"),
        None => format!("checker {}: {word}", r.command),
    };
    let graph = Graph::of(r);
    let page = html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                meta name="generator" content=(t(&r.tool));
                title { (t(&title)) }
                style { (PreEscaped(CSS)) (PreEscaped(filter_css(r))) }
            }
            body {
                a.skip href="#findings" { "Skip to the findings" }
                header {
                    h1 { (sym) " " (t(&title)) }
                    (summary(r))
                }
                nav aria-label="Sections" {
                    ul {
                        li { a href="#graph" { "Dependency graph" } }
                        @if r.gate.is_some() { li { a href="#verdicts" { "Verdicts" } } }
                        li { a href="#findings" { "Findings (" (r.findings.len()) ")" } }
                        li { a href="#clauses" { "Clauses" } }
                        li { a href="#coverage" { "Coverage and source" } }
                    }
                }
                main {
                    // The graph first: for a gate, the blast radius is the cause at a glance.
                    (graph_section(&graph))
                    @if let Some(g) = &r.gate { (gate(g)) }
                    (findings(r))
                    (clauses(r))
                    (coverage(r))
                }
                script { (PreEscaped(JS)) }
            }
        }
    };
    page.into_string()
}

fn summary(r: &Report) -> Markup {
    let sm = &r.summary;
    let (_, word) = status_word(sm.status);
    html! {
        p.status {
            "Status " strong { (word) } ", exit " (sm.exit_code.code()) ": "
            (sm.errors) " error(s), " (sm.warnings) " warning(s), " (sm.unknown) " unknown, "
            (sm.waived) " waived; " (sm.evaluations) " evaluations."
        }
        p.muted {
            (r.source.instances) " instances from " (r.source.kind.name()) " ("
            @for (k, p) in r.source.parts.iter().enumerate() {
                @if k > 0 { ", " }
                (t(&p.scope()))
                @if p.status == PartStatus::Failed { " " strong.no { "FAILED" } }
            }
            "); generated at " (t(&r.generated_at)) " by " (t(&r.tool)) "."
        }
    }
}

fn gate(g: &GateSection) -> Markup {
    html! {
        section #verdicts aria-labelledby="verdicts-h" {
            h2 #verdicts-h { "Verdicts: " (if g.deployable { "deployable" } else { "not deployable" }) }
            p { "Proposal " code { (t(&g.proposal)) }
                @if let Some(b) = &g.base { ", compared with " code { (t(b)) } } "." }
            table {
                thead { tr { th scope="col" { "consumer" } th scope="col" { "owner" }
                    th scope="col" { "deployable" } th scope="col" { "regression" } th scope="col" { "why" } } }
                tbody {
                    @for v in &g.verdicts {
                        tr {
                            td { (t(&v.consumer)) }
                            td { (t(&v.owner)) }
                            td class=(v.deployable.name()) {
                                (match v.deployable { Deployable::Yes => "✓ yes", Deployable::No => "✗ no", Deployable::Unknown => "? unknown" })
                                @if let Some(i) = &v.ignored { " (ignored: " (t(i)) ")" }
                            }
                            td { (match v.regression { Some(true) => "yes", Some(false) => "no", None => "–" }) }
                            td { @for x in &v.reasons { div { code { (t(&x.clause)) } ": " (t(&x.message)) } } }
                        }
                    }
                }
            }
            @if !g.changes.is_empty() {
                table {
                    caption { "What the proposal changes" }
                    thead { tr { th scope="col" { "change" } th scope="col" { "output" } th scope="col" { "before" }
                        th scope="col" { "after" } th scope="col" { "read by" } } }
                    tbody {
                        @for c in &g.changes {
                            tr {
                                td { "Δ " (c.kind.name()) } td { code { (t(&c.output)) } }
                                td { @if let Some(b) = &c.before { code { (t(b)) } } }
                                td { @if let Some(a) = &c.after { code { (t(a)) } } }
                                td { @if c.read_by.is_empty() { span.muted { "no contract" } }
                                     @else { (t(&c.read_by.join(", "))) } }
                            }
                        }
                    }
                }
            }
            @for w in &g.warnings { p { "⚠ " (t(w)) } }
        }
    }
}

fn graph_section(g: &Graph) -> Markup {
    let blast = g.blast_radius();
    let show_blast = g.gate && !blast.outputs.is_empty() && blast.edges.len() < g.edges.len();
    html! {
        section #graph aria-labelledby="graph-h" {
            h2 #graph-h { "Dependency graph" }
            p { "Outputs the providers put on instances (left), the consumers whose clauses read them (right): one edge per clause, "
                strong.broken { "✗ broken" } " (thick, red), " strong.unknown-v { "? unknown" } " (dashed), "
                "~ waived (dotted), ✓ holds (thin, grey). "
                @if g.gate { "Δ marks an output the proposal changes; its edges come first." } }
            p.muted { (super::graph::describe(g)) }
            @if show_blast {
                h3 { "Blast radius: the changed outputs and what reads them" }
                div.graph { (PreEscaped(svg(&blast, "blast"))) }
                details { summary { "The whole graph" } div.graph { (PreEscaped(svg(g, "full"))) } }
            } @else {
                div.graph { (PreEscaped(svg(g, "full"))) }
            }
            details {
                summary { "The edges as a table (" (g.edges.len()) ")" }
                table #edges {
                    thead { tr { th scope="col" { "outcome" } th scope="col" { "output" } th scope="col" { "consumer" } th scope="col" { "clause" } } }
                    tbody {
                        @for e in &g.edges {
                            tr class=(e.outcome.name()) {
                                td { (e.outcome.symbol()) " " (e.outcome.name()) }
                                td { code { (t(&g.outputs[e.output].path)) } }
                                td { (t(&g.consumers[e.consumer].name)) }
                                td { code { (t(&e.clause)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

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

/// The filters as CSS: choosing value `v` of dimension `d` hides the rows that lack it (a row
/// lists its values' indices, space-separated: a finding has several regions). Only indices
/// reach the stylesheet.
fn filter_css(r: &Report) -> String {
    let mut s = String::new();
    for (d, values) in dim_values(r).iter().enumerate() {
        for v in 0..values.len() {
            let _ = write!(
                s,
                "#findings:has(#f-{d} option[value=\"{v}\"]:checked) tbody tr:not([data-f{d}~=\"{v}\"]){{display:none}}"
            );
        }
    }
    s
}

/// Where each (consumer, clause) is in the tallies: its anchor.
fn anchors(r: &Report) -> BTreeMap<(&str, &str), String> {
    let mut m = BTreeMap::new();
    for (i, c) in r.consumers.iter().enumerate() {
        for (j, cl) in c.clauses.iter().enumerate() {
            m.insert((c.name.as_str(), cl.id.as_str()), format!("cl-{i}-{j}"));
        }
    }
    m
}

fn findings(r: &Report) -> Markup {
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
    html! {
        section #findings aria-labelledby="findings-h" {
            h2 #findings-h { "Findings: " output #shown aria-live="polite" { (r.findings.len()) } " shown of " (r.findings.len()) }
            @if r.findings.is_empty() { p { "No findings." } } @else {
                form #filters aria-label="Filter the findings" {
                    @for (d, (name, _)) in DIMS.iter().enumerate() {
                        label for=(format!("f-{d}")) { (name)
                            select id=(format!("f-{d}")) name=(name) {
                                option value="" { "all" }
                                @for (k, v) in values[d].iter().enumerate() { option value=(k) { (t(v)) } }
                            }
                        }
                    }
                }
                table {
                    thead { tr { th scope="col" { "outcome" } th scope="col" { "severity" } th scope="col" { "consumer" }
                        th scope="col" { "clause" } th scope="col" { "code" } th scope="col" { "instances, regions" } th scope="col" { "what" } } }
                    tbody {
                        @for f in &r.findings {
                            @let (sym, word) = outcome_word(f.outcome);
                            @let key = |d: usize| keys(&index[d], DIMS[d].1(f));
                            tr class=(word) data-f0=(key(0)) data-f1=(key(1)) data-f2=(key(2)) data-f3=(key(3)) data-f4=(key(4)) data-f5=(key(5)) {
                                td.o { (sym) " " (word) }
                                td { (severity_word(f.severity)) }
                                td { (t(&f.consumer)) }
                                td { @if let Some(c) = &f.clause {
                                    @match anchors.get(&(f.consumer.as_str(), c.as_str())) {
                                        Some(a) => { a href=(format!("#{a}")) { code { (t(c)) } } }
                                        None => { code { (t(c)) } }
                                    } } }
                                td.nw { code { (f.code.name()) } }
                                td { (f.count) @if !f.regions.is_empty() { div.muted.region { (t(&f.regions.join(", "))) } } }
                                td { (finding_detail(f)) }
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

fn finding_detail(f: &Finding) -> Markup {
    html! {
        (t(&f.message))
        @if let Some(w) = &f.why { div { strong { "Why: " } (t(w)) } }
        @if !f.actual.is_empty() {
            div { "Seen: " @for (k, v) in f.actual.iter().enumerate() {
                @if k > 0 { ", " } code { (t(&v.value)) } " ×" (v.count) } }
        }
        @if !f.samples.is_empty() { div.muted { "e.g. " (t(&f.samples.join(", "))) } }
        @if let Some(l) = &f.location { div.muted { "Written at " code { (t(&l.file)) ":" (l.line) ":" (l.column) } } }
        @if let Some(w) = &f.waiver { div { "Waived by " (t(&w.owner)) " until " (t(&w.expires)) ": " (t(&w.reason)) } }
        @if let Some(u) = &f.runbook { div { "Runbook: " (t(u)) } }
    }
}

fn clauses(r: &Report) -> Markup {
    // A clause's why and where it is written come from its findings.
    let mut about: BTreeMap<(&str, &str), &Finding> = BTreeMap::new();
    for f in &r.findings {
        if let Some(c) = &f.clause {
            about.entry((f.consumer.as_str(), c.as_str())).or_insert(f);
        }
    }
    html! {
        section #clauses aria-labelledby="clauses-h" {
            h2 #clauses-h { "Clauses" }
            @for (i, c) in r.consumers.iter().enumerate() {
                h3 id=(format!("c-{i}")) { (c.role.name()) " " (t(&c.name))
                    @if let Some(o) = &c.owner { span.muted { " (owner " (t(o)) ")" } } }
                p.muted { "Selects " (t(&c.selector)) ": " (c.selected) " instance(s)." }
                table {
                    thead { tr { th scope="col" { "clause" } th scope="col" { "kind" } th scope="col" { "reads" }
                        th scope="col" { "passed / failed / unknown / waived / n/a / skipped" } th scope="col" { "why, where" } } }
                    tbody {
                        @for (j, cl) in c.clauses.iter().enumerate() {
                            @let f = about.get(&(c.name.as_str(), cl.id.as_str()));
                            tr id=(format!("cl-{i}-{j}")) class=(clause_class(cl)) {
                                td { code { (t(&cl.id)) } }
                                td { (t(&cl.kind)) }
                                td { @for (k, o) in cl.reads.iter().enumerate() { @if k > 0 { ", " } code { (t(o)) } } }
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
        }
    }
}

fn clause_class(cl: &ClauseTally) -> &'static str {
    if cl.failed > 0 {
        "violation"
    } else if cl.unknown > 0 {
        "unknown"
    } else if cl.waived > 0 {
        "waived"
    } else {
        "holds"
    }
}

fn coverage(r: &Report) -> Markup {
    let c = &r.coverage;
    html! {
        section #coverage aria-labelledby="coverage-h" {
            h2 #coverage-h { "Coverage and source" }
            p { (c.covered_percent) "% of the providers' outputs are read by some contract." }
            @if !c.uncovered_outputs.is_empty() {
                p { "Read by no contract: " @for (k, u) in c.uncovered_outputs.iter().enumerate() {
                    @if k > 0 { ", " } code { (t(&u.output)) } " (" (t(&u.provider)) ")" } }
            }
            @if !c.unpromised_reads.is_empty() {
                p { "Read but promised by no provider: " @for (k, u) in c.unpromised_reads.iter().enumerate() {
                    @if k > 0 { "; " } code { (t(&u.output)) } " (" (t(&u.consumers.join(", "))) ")" } }
            }
            @if !c.unmatched_contracts.is_empty() {
                p { "Selecting no instance: " (t(&c.unmatched_contracts.join(", "))) }
            }
            table {
                caption { "Source parts" }
                thead { tr { th scope="col" { "part" } th scope="col" { "status" } th scope="col" { "instances, regions" } th scope="col" { "note" } } }
                tbody {
                    @for p in &r.source.parts {
                        tr {
                            td { (t(&p.scope())) }
                            td { @if p.status == PartStatus::Ok { "✓ ok" } @else { strong.no { "✗ failed" } } }
                            td { (p.instances) }
                            td { @if let Some(e) = &p.error { (t(e)) } @if let Some(n) = &p.note { (t(n)) } }
                        }
                    }
                }
            }
        }
    }
}

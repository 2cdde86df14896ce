//! The HTML form: one self-contained page (no external asset, no CDN; it opens from a Taskcluster
//! artifact link or a file, offline), from maud templates. A check or gate report shows its
//! summary, a gate's verdicts and changes, the dependency graph (inline SVG drawn by checker;
//! for a gate, its blast radius and every edge that does not hold: the edges that all hold
//! elsewhere are left to the clauses' text), the findings with filters, and each clause with
//! the outputs it reads, its `why` and where it is written.
//!
//! Small (the 2018 gate page is under 25 KB: bench/RESULTS-html.md): each thing is said once.
//! The SVG's style, description and legend are the page's; a clause's `why` and location are on
//! its row, a consumer's runbook under its heading, and findings link there; values seen that
//! share a long start say it once; sample ids an earlier finding lists link to it; the clauses
//! that hold are a collapsed list; a filter that would hide nothing is left out.
//!
//! Every value goes through [`term`] and then maud's escaping: it is text wherever it lands. The
//! SVG escapes its own values ([`super::graph::svg`]). The filters are CSS only (`:has()` on the
//! selects' chosen options, keyed by index: no value reaches the stylesheet), so they work
//! without JavaScript; a few lines of script count the rows shown and read filters from the
//! address's `#consumer=occ&region=us-east-1`. Accessible: headings and landmarks, table headers,
//! labels, a skip link, focusable graph nodes with titles, and an outcome is always a word and a
//! symbol, never a colour alone. Printed, the filters and navigation are left out.

pub(super) mod diff;
mod findings;
pub(super) mod history;
pub(super) mod plan;

use findings::{clauses, filter_css, findings};

use super::escape::term;
use super::graph::{Graph, svg_in_page};
use crate::contract::Severity;
use crate::report::*;
use maud::{DOCTYPE, Markup, PreEscaped, html};

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

/// The report's own: the clauses that hold, listed compactly.
const REPORT_CSS: &str =
    "ul.holds{columns:2 360px;margin:4px 0;padding-left:20px;font:12px ui-monospace,monospace}";

/// Counts the rows a filter leaves, and reads filters from the address (`#consumer=occ`);
/// printed, every collapsed section is opened.
const JS: &str = "onbeforeprint=()=>document.querySelectorAll('details').forEach(d=>d.open=true);\
(()=>{const f=document.getElementById('filters');if(!f)return;\
const n=document.getElementById('shown'),upd=()=>{let k=0;\
document.querySelectorAll('#findings tbody tr').forEach(r=>k+=getComputedStyle(r).display!='none');\
n.textContent=k},h=new URLSearchParams(location.hash.slice(1));\
f.querySelectorAll('select').forEach(s=>{const v=h.get(s.name);if(v===null)return;\
for(let i=0;i<s.options.length;i++)if(s.options[i].textContent===v)s.selectedIndex=i});\
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
                style { (PreEscaped(CSS)) (PreEscaped(REPORT_CSS)) (PreEscaped(super::graph::STYLE)) (PreEscaped(filter_css(r))) }
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
                    @if let Some(g) = &r.gate { (gate(g, &r.findings)) }
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
            @if r.source.parts.len() > 3 && !r.source.incomplete() {
                // Named under "Coverage and source".
                (r.source.parts.len()) " parts, all read"
            } @else {
                @for (k, p) in r.source.parts.iter().enumerate() {
                    @if k > 0 { ", " }
                    (t(&p.scope()))
                    @if p.status == PartStatus::Failed { " " strong.no { "FAILED" } }
                }
            }
            "); generated at " (t(&r.generated_at)) " by " (t(&r.tool)) "."
        }
    }
}

/// A gate's verdicts and changes. A reason whose clause has a finding on the page links to it
/// (the finding says what fails, and how); the others are said here.
fn gate(g: &GateSection, findings: &[Finding]) -> Markup {
    let finding = |consumer: &str, clause: &str| {
        findings
            .iter()
            .position(|f| f.consumer == consumer && f.clause.as_deref() == Some(clause))
    };
    html! {
        section #verdicts aria-labelledby="verdicts-h" {
            h2 #verdicts-h { "Verdicts: " (if g.deployable { "deployable" } else { "not deployable" }) }
            p { "Proposal " code { (t(&g.proposal)) }
                @if let Some(b) = &g.base { ", compared with " code { (t(b)) } } "." }
            table {
                thead { tr { th { "consumer" } th { "owner" }
                    th { "deployable" } th { "regression" } th { "why" } } }
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
                            td { @for x in &v.reasons {
                                @match finding(&v.consumer, &x.clause) {
                                    Some(n) => { div { a href=(format!("#fd-{n}")) { code { (t(&x.clause)) } } " (finding " (n + 1) ")" } }
                                    None => { div { code { (t(&x.clause)) } ": " (t(&x.message)) } }
                                }
                            } }
                        }
                    }
                }
            }
            @if !g.changes.is_empty() {
                table {
                    caption { "What the proposal changes" }
                    thead { tr { th { "change" } th { "output" } th { "before" }
                        th { "after" } th { "read by" } } }
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
    let focus = g.focus();
    let focused = g.gate && !focus.outputs.is_empty() && focus.edges.len() < g.edges.len();
    html! {
        section #graph aria-labelledby="graph-h" {
            h2 #graph-h { "Dependency graph" }
            p { "Outputs the providers put on instances (left), the consumers whose clauses read them (right): one edge per clause, "
                strong.broken { "✗ broken" } " (thick, red), " strong.unknown-v { "? unknown" } " (dashed), "
                "~ waived (dotted), ✓ holds (thin, grey). "
                @if g.gate { "Δ marks an output the proposal changes; its edges come first." } }
            p.muted #graph-d { (super::graph::describe(g)) " As text: each clause under " a href="#clauses" { "Clauses" }
                ", with its outcome and the outputs it reads." }
            @if focused {
                @if g.outputs.iter().any(|o| o.change.is_some()) {
                    h3 { "Blast radius: the changed outputs, what reads them, and every edge that does not hold" }
                } @else {
                    h3 { "What breaks: every edge that does not hold, with the outputs and consumers at its ends" }
                }
                div.graph { (PreEscaped(svg_in_page(&focus, "blast", "graph-d"))) }
                p.muted { "Not drawn: " (g.outputs.len() - focus.outputs.len()) " outputs, "
                    (g.edges.len() - focus.edges.len()) " edges, all holding (under Clauses; "
                    code { "checker graph report.json --format svg" } " draws all)." }
            } @else {
                div.graph { (PreEscaped(svg_in_page(g, "full", "graph-d"))) }
            }
        }
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
            @if r.source.parts.iter().all(|p| p.status == PartStatus::Ok && p.error.is_none() && p.note.is_none()) {
                // Every part read, nothing to note: one line.
                p { "Source parts, all read (✓ ok): " @for (k, p) in r.source.parts.iter().enumerate() {
                    @if k > 0 { ", " } (t(&p.scope())) " " (p.instances) } " instance(s)." }
            } @else {
            table {
                caption { "Source parts" }
                thead { tr { th { "part" } th { "status" } th { "instances" } th { "note" } } }
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
}

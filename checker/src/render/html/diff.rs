//! A diff as a page: the per-group drift grid (a row per group, a column per changed output, a
//! cell per change, marked by what it does to the consumers reading it), the changes with their
//! values and consumers, and the snapshot diff itself.

use super::{page as shell, t};
use crate::snapshot::{DiffReport, Holds, OutputChange};
use maud::{Markup, html};
use std::collections::{BTreeMap, BTreeSet};

const CSS: &str = "\
table.grid td{text-align:center;white-space:nowrap}table.grid th[scope=row]{white-space:nowrap}\
td.breaks{background:#fdecea;color:#b71c1c;font-weight:bold;border:2px solid #c62828}\
td.unknown{background:#fff3e0;color:#e65100}td.holds{background:#f1f8e9;color:#1b5e20}\
td.uncontracted{background:#f5f5f5;color:#333;font-style:italic}\
pre{white-space:pre-wrap;font:12px ui-monospace,monospace;background:#fafafa;padding:8px}";

/// How a change lands: its class, symbol and word.
fn landing(c: &OutputChange) -> (&'static str, &'static str, &'static str) {
    if c.uncontracted {
        ("uncontracted", "Δ", "uncontracted")
    } else if c.consumers.iter().any(|i| i.holds == Holds::No) {
        ("breaks", "✗", "breaks")
    } else if c.consumers.iter().any(|i| i.holds == Holds::Unknown) {
        ("unknown", "?", "unknown")
    } else {
        ("holds", "✓", "holds")
    }
}

fn holds_word(h: Holds) -> &'static str {
    match h {
        Holds::Yes => "✓ holds",
        Holds::No => "✗ BREAKS",
        Holds::Unknown => "? not evaluated",
    }
}

fn value(v: &Option<serde_json::Value>) -> String {
    super::super::human::short(v)
}

/// A diff report as a page.
pub fn page(r: &DiffReport) -> String {
    let d = &r.diff;
    let (sym, word) = if d.breaking {
        ("✗", "breaking")
    } else if d.any() {
        ("!", "changed, nothing breaks")
    } else {
        ("✓", "no change")
    };
    let title = format!("checker diff: {word}");
    let groups: BTreeSet<&str> = d.changes.iter().map(|c| c.group.as_str()).collect();
    let body = html! {
        p.status {
            "Exit " (r.exit_code.code()) ": " (d.changes.len()) " change(s) in " (groups.len())
            " group(s); " (d.groups_added.len()) " group(s) appeared, " (d.groups_removed.len())
            " vanished; " (d.lost_inputs.len()) " consumer(s) lost their input."
        }
        p.muted {
            "Against the snapshot " code { (t(&r.snapshot)) } "; " (r.source.instances)
            " instances from " (r.source.kind.name()) "; by " (t(&r.tool)) "."
        }
        @for c in &d.lost_inputs {
            p.no { "✗ " strong { (t(c)) } " selected instances in the snapshot and selects none now: it lost its input." }
        }
        @for g in &d.groups_added { p { "+ group appeared: " code { (t(g)) } } }
        @for g in &d.groups_removed { p { "− group vanished: " code { (t(g)) } } }
        @if !d.changes.is_empty() { (grid(r)) (changes(r)) }
        section #unified aria-labelledby="unified-h" {
            h2 #unified-h { "Snapshot diff" }
            @if r.unified_diff.is_empty() { p { "No output changed since the snapshot." } }
            @else { details { summary { "The snapshots as a unified diff" } pre { code { (t(&r.unified_diff)) } } } }
        }
    };
    shell(&r.tool, &title, sym, CSS, body)
}

/// The drift grid: groups by changed outputs.
fn grid(r: &DiffReport) -> Markup {
    let d = &r.diff;
    let outputs: BTreeSet<&str> = d.changes.iter().map(|c| c.output.as_str()).collect();
    let groups: BTreeSet<&str> = d.changes.iter().map(|c| c.group.as_str()).collect();
    let cell: BTreeMap<(&str, &str), &OutputChange> = d
        .changes
        .iter()
        .map(|c| ((c.group.as_str(), c.output.as_str()), c))
        .collect();
    html! {
        section #grid aria-labelledby="grid-h" {
            h2 #grid-h { "Drift by group" }
            p { "A row per group, a column per output that changed in some group. "
                strong.no { "✗ breaks" } ": a consumer reading it no longer holds; ? not evaluated; "
                "✓ holds: every consumer reading it still holds; Δ uncontracted: no contract reads it; – unchanged." }
            table.grid {
                caption { (d.changes.len()) " change(s): " (groups.len()) " group(s) x " (outputs.len()) " output(s)" }
                thead { tr { th scope="col" { "group" } @for o in &outputs { th scope="col" { code { (t(o)) } } } } }
                tbody {
                    @for g in &groups {
                        tr {
                            th scope="row" { code { (t(g)) } }
                            @for o in &outputs {
                                @match cell.get(&(*g, *o)) {
                                    Some(c) => {
                                        @let (class, sym, word) = landing(c);
                                        td class=(class) title=(t(&format!("{g}: {o} {}: {} → {}; {}", c.kind, value(&c.before), value(&c.after), super::super::human::holds(c)))) {
                                            (sym) " " (word)
                                        }
                                    }
                                    None => { td.muted title="unchanged" { "–" } }
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

fn changes(r: &DiffReport) -> Markup {
    html! {
        section #changes aria-labelledby="changes-h" {
            h2 #changes-h { "Changes" }
            table {
                thead { tr { th scope="col" { "group" } th scope="col" { "output" } th scope="col" { "change" }
                    th scope="col" { "before" } th scope="col" { "after" } th scope="col" { "consumers" } } }
                tbody {
                    @for c in &r.diff.changes {
                        @let (class, sym, word) = landing(c);
                        tr class=(class) {
                            td { code { (t(&c.group)) } }
                            td { code { (t(&c.output)) } }
                            td.nw { (sym) " " (c.kind.name()) ", " (word) }
                            td { code { (t(&value(&c.before))) } }
                            td { code { (t(&value(&c.after))) } }
                            td {
                                @if c.uncontracted { span.muted { "no contract reads it" } }
                                @for i in &c.consumers { div { (t(&i.consumer)) ": " (holds_word(i.holds)) } }
                            }
                        }
                    }
                }
            }
        }
    }
}

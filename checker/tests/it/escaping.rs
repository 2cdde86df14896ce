//! Output that data cannot forge (issue 28 item 5, issue 25 item 11): every string of every
//! document (check and gate reports, diffs, cull plans, contract test results, histories) is set to a
//! generated hostile value, and each format must keep the structure it has with a plain value:
//! the same lines (human), the same headings, table rows, HTML and links (Markdown, read by a
//! CommonMark parser), the same test cases (JUnit), no CI command, no control character.
//!
//! The documents are written as exhaustive struct literals (no `..Default`), so a field added
//! to a wire type does not compile here until it is given the hostile value too.

use crate::support::*;
use checker::contract::Severity;
use checker::contract_test::{CaseResult, Check};
use checker::cull::{Action, Decision, GroupBudget, Plan, PlanEntry, Refusal};
use checker::exit::ExitStatus;
use checker::render::escape::{html, term};
use checker::render::{self, Format};
use checker::report::*;
use checker::snapshot::{DiffReport, Holds, Impact, OutputChange, SnapshotDiff};
use proptest::prelude::*;
use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};
use serde_json::Value;

fn finding_with(v: &str, outcome: Outcome, severity: Severity, waiver: bool) -> Finding {
    let s = || v.to_string();
    Finding {
        code: Code::ClauseViolated,
        outcome,
        severity,
        consumer: s(),
        clause: Some(s()),
        kind: Some(s()),
        output: Some(s()),
        expected: Some(s()),
        actual: vec![ValueCount {
            value: s(),
            count: 3,
        }],
        count: 3,
        samples: vec![s(), s()],
        message: s(),
        why: Some(s()),
        runbook: Some(s()),
        waiver: waiver.then(|| WaiverRef {
            owner: s(),
            reason: s(),
            expires: s(),
            file: s(),
        }),
        location: Some(Location {
            file: s(),
            line: 3,
            column: 5,
        }),
        scope: Some(Scope::new(ScopeKind::Account, s())),
        also: vec![ClauseRef {
            consumer: s(),
            clause: s(),
        }],
        regions: vec![s()],
    }
}

fn part_with(v: &str, status: PartStatus) -> SourcePart {
    let s = || v.to_string();
    SourcePart {
        name: s(),
        status,
        instances: 2,
        error: Some(s()),
        api_calls: Some(1),
        note: Some(s()),
        api_calls_by_action: Some([(s(), 1)].into_iter().collect()),
        sequential_calls: Some(1),
        scope: Some(Scope::new(ScopeKind::Account, s())),
        kind: checker::report::PartKind::RegionOfAccount,
    }
}

fn gate_with(v: &str) -> GateSection {
    let s = || v.to_string();
    GateSection {
        proposal: s(),
        base: Some(s()),
        deployable: false,
        dry_run: true,
        verdict_exit_code: ExitStatus::Violations,
        verdicts: vec![
            Verdict {
                consumer: s(),
                owner: s(),
                deployable: Deployable::No,
                affected: true,
                regression: Some(true),
                reasons: vec![Reason {
                    clause: s(),
                    kind: s(),
                    message: s(),
                }],
                ignored: None,
            },
            Verdict {
                consumer: s(),
                owner: s(),
                deployable: Deployable::Unknown,
                affected: false,
                regression: None,
                reasons: vec![],
                ignored: Some(s()),
            },
        ],
        changes: vec![Change {
            kind: ChangeKind::Changed,
            output: s(),
            before: Some(s()),
            after: Some(s()),
            read_by: vec![s()],
        }],
        warnings: vec![s()],
        pools: vec![PoolVerdict {
            pool: s(),
            provider_id: s(),
            implementation: Some(s()),
            launch_configs: 1,
            deployable: Deployable::No,
            reasons: vec![Reason {
                clause: s(),
                kind: s(),
                message: s(),
            }],
            location: None,
        }],
    }
}

fn report_with(v: &str) -> Report {
    let s = || v.to_string();
    let finding = |outcome, severity, waiver: bool| finding_with(v, outcome, severity, waiver);
    let part = |status| part_with(v, status);
    Report {
        format: FORMAT,
        version: VERSION,
        minor_version: MINOR_VERSION,
        tool: s(),
        build: checker::build::info(),
        command: s(),
        generated_at: s(),
        source: SourceInfo {
            kind: SourceKind::Live,
            parts: vec![part(PartStatus::Ok), part(PartStatus::Failed)],
            instances: 4,
            user_data_sampled: 2,
        },
        summary: Summary {
            status: Status::Violations,
            errors: 1,
            warnings: 1,
            unknown: 1,
            unknown_evaluations: 1,
            waived: 1,
            evaluations: 9,
            exit_code: ExitStatus::Violations,
            fail_on_warn: false,
        },
        findings: vec![
            finding(Outcome::Violation, Severity::Error, false),
            finding(Outcome::Violation, Severity::Warning, false),
            finding(Outcome::Unknown, Severity::Error, false),
            finding(Outcome::Waived, Severity::Error, true),
        ],
        coverage: Coverage {
            uncovered_outputs: vec![Uncovered {
                provider: s(),
                output: s(),
            }],
            unpromised_reads: vec![Unpromised {
                output: s(),
                consumers: vec![s(), s()],
            }],
            unmatched_contracts: vec![s()],
            covered_percent: 50,
        },
        consumers: vec![ConsumerTally {
            name: s(),
            role: TallyRole::Consumer,
            owner: Some(s()),
            runbook: Some(s()),
            selector: s(),
            selected: 2,
            clauses: vec![ClauseTally {
                id: s(),
                kind: s(),
                severity: Some(Severity::Error),
                passed: 1,
                failed: 1,
                unknown: 0,
                waived: 0,
                not_applicable: 0,
                skipped: 0,
                reads: vec![s()],
            }],
        }],
        gate: Some(gate_with(v)),
    }
}

pub(crate) fn diff_with(v: &str) -> DiffReport {
    let s = || v.to_string();
    DiffReport {
        format: checker::snapshot::DIFF_FORMAT,
        version: checker::snapshot::DIFF_VERSION,
        minor_version: checker::snapshot::DIFF_MINOR_VERSION,
        tool: s(),
        build: checker::build::info(),
        snapshot: s(),
        source: report_with(v).source,
        diff: SnapshotDiff {
            groups_added: vec![s()],
            groups_removed: vec![s()],
            changes: vec![OutputChange {
                group: s(),
                output: s(),
                kind: ChangeKind::Changed,
                before: Some(Value::String(s())),
                after: Some(serde_json::json!([s(), s()])),
                consumers: vec![Impact {
                    consumer: s(),
                    holds: Holds::No,
                }],
                uncontracted: false,
            }],
            unaffected: vec![s()],
            lost_inputs: vec![s()],
            breaking: true,
        },
        // As the diff writes it: JSON lines, the value JSON-escaped.
        unified_diff: format!(
            "--- a\n+++ b\n@@ -1 +1 @@\n-  \"x\": {}\n+  \"x\": {}\n",
            Value::String(s()),
            Value::String(s())
        ),
        exit_code: ExitStatus::Violations,
        updated: true,
    }
}

pub(crate) fn plan_with(v: &str) -> Plan {
    let s = || v.to_string();
    Plan {
        format: checker::cull::PLAN_FORMAT,
        version: checker::cull::PLAN_VERSION,
        minor_version: checker::cull::PLAN_MINOR_VERSION,
        tool: s(),
        build: checker::build::info(),
        contract: s(),
        action: Action::Terminate,
        dry_run: false,
        refused: Some(s()),
        refusal_kind: Some(Refusal::BrokenContract),
        threshold_minutes: 10,
        budget_window_minutes: 60,
        entries: vec![PlanEntry {
            instance: s(),
            region: s(),
            group: Some(s()),
            decision: Decision::Act,
            reason: s(),
            impaired_since: Some(s()),
            result: Some(s()),
        }],
        groups: vec![GroupBudget {
            group: s(),
            size: 3,
            impaired: 1,
            allowed: 1,
            used_in_window: 0,
            acting: 1,
            deferred: 0,
        }],
        suspect_claims: vec![s()],
        outcome: Some(Default::default()),
    }
}

pub(crate) fn history_with(v: &str) -> checker::history::View {
    use checker::history::*;
    let s = || v.to_string();
    let record = |findings: bool| Record {
        format: FORMAT.into(),
        version: VERSION,
        minor_version: MINOR_VERSION,
        at: s(),
        checker: Tool {
            version: s(),
            commit: s(),
        },
        task_id: Some(s()),
        exit_code: 1,
        instances: 3,
        consumers: vec![ConsumerRun {
            name: s(),
            errors: 1,
            warnings: 0,
            unknowns: 0,
        }],
        changed_groups: Some(vec![s()]),
        previous: Previous {
            from: Some(s()),
            state: PreviousState::Corrupt,
            carried: 1,
            note: Some(s()),
        },
        findings: findings.then(|| {
            vec![FindingRun {
                consumer: s(),
                clause: Some(s()),
                code: s(),
                outcome: s(),
                severity: s(),
                count: 2,
            }]
        }),
    };
    view(s(), vec![record(false), record(true)], vec![s()])
}

fn cases_with(v: &str) -> Vec<CaseResult> {
    let s = || v.to_string();
    vec![CaseResult {
        file: s().into(),
        name: s(),
        pointer: s(),
        checks: vec![Check {
            target: s(),
            expected: s(),
            actual: format!("{v}!"),
            detail: vec![s()],
        }],
    }]
}

/// Every document in every format it has.
fn outputs(v: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let (r, d, p, c) = (report_with(v), diff_with(v), plan_with(v), cases_with(v));
    let h = history_with(v);
    for f in [
        Format::Human,
        Format::Json,
        Format::Junit,
        Format::Markdown,
        Format::Sarif,
        Format::Html,
    ] {
        let name = format!("{f:?}");
        let ok = |x: checker::Result<String>| x.expect("renders");
        out.push((format!("report {name}"), ok(render::report(&r, f, false))));
        if f != Format::Sarif {
            out.push((format!("diff {name}"), ok(render::diff(&d, f, false))));
            out.push((format!("plan {name}"), ok(render::plan(&p, f))));
        }
        if !matches!(f, Format::Sarif | Format::Html) {
            out.push((format!("tests {name}"), ok(render::contract_tests(&c, f))));
        }
        if matches!(f, Format::Human | Format::Json | Format::Html) {
            out.push((format!("history {name}"), ok(render::history(&h, f))));
        }
    }
    out.push(("check text".into(), render::github::text(&r)));
    out.push((
        "annotations".into(),
        render::github::annotations(&r).expect("renders"),
    ));
    out
}

fn md_options() -> Options {
    Options::ENABLE_TABLES
        | Options::ENABLE_STRIKETHROUGH
        | Options::ENABLE_TASKLISTS
        | Options::ENABLE_MATH
        | Options::ENABLE_FOOTNOTES
}

/// The Markdown's structure: every block and inline element, all HTML, no text.
fn md_structure(md: &str) -> Vec<String> {
    Parser::new_ext(md, md_options())
        .filter_map(|e| match e {
            Event::Text(_) | Event::Code(_) => None,
            Event::Html(h) | Event::InlineHtml(h) => Some(format!("html {h}")),
            other => Some(format!("{other:?}")),
        })
        .collect()
}

/// The Markdown's text as a reader sees it (zero-width spaces, which break mentions, removed),
/// and the text outside `<code>` and code blocks (where GitHub looks for mentions).
fn md_text(md: &str) -> (String, String) {
    let (mut all, mut outside) = (String::new(), String::new());
    let mut in_code = false;
    for e in Parser::new_ext(md, md_options()) {
        match e {
            Event::Text(t) | Event::Code(t) => {
                all.push_str(&t);
                if !in_code {
                    outside.push_str(&t);
                }
            }
            Event::InlineHtml(h) if &*h == "<code>" => in_code = true,
            Event::InlineHtml(h) if &*h == "</code>" => in_code = false,
            Event::Start(Tag::CodeBlock(_)) => in_code = true,
            Event::End(TagEnd::CodeBlock) => in_code = false,
            _ => {}
        }
    }
    (all.replace('\u{200b}', ""), outside)
}

fn is_markdown(name: &str) -> bool {
    name.ends_with("Markdown") || name == "check text"
}

/// The invariants of one output with a hostile value, against the same output with a plain one.
fn same_structure(name: &str, plain: &str, hostile: &str, value: &str) -> Result<(), String> {
    let fail = |what: &str| {
        Err(format!(
            "{name}: {what}\n--- plain:\n{plain}\n--- hostile:\n{hostile}"
        ))
    };
    if plain.lines().count() != hostile.lines().count() {
        return fail("the value added or removed a line");
    }
    for line in hostile.lines() {
        if line.trim_start().starts_with("::") || line.contains("##[") {
            return fail("a line is a CI workflow command");
        }
    }
    let json = name.ends_with("Sarif") || name.ends_with("Json") || name == "annotations";
    if hostile.chars().any(|c| c.is_control() && c != '\n') {
        return fail("a control character reached the output");
    }
    if is_markdown(name) {
        if md_structure(plain) != md_structure(hostile) {
            return fail("the value changed the Markdown's structure");
        }
        let (text, outside_code) = md_text(hostile);
        if !text.contains(&*term(value)) {
            return fail(&format!(
                "the value's text {:?} does not survive",
                term(value)
            ));
        }
        let mention = regex::Regex::new(r"(^|[^A-Za-z0-9_`])@[A-Za-z0-9]").expect("regex");
        if mention.is_match(&outside_code) {
            return fail("the value mentions someone");
        }
    }
    if name.ends_with("Html") {
        // The page's elements, in order: a value adds none, closes none, opens no script.
        let tags = |x: &str| -> Vec<String> {
            regex::Regex::new(r"<(/?[A-Za-z!][A-Za-z0-9-]*)")
                .expect("regex")
                .captures_iter(x)
                .map(|c| c[1].to_string())
                .collect()
        };
        if tags(plain) != tags(hostile) {
            return fail("the value changed the page's elements");
        }
        if !hostile.contains(&*html(value)) {
            return fail("the value's text does not survive");
        }
    }
    if name.ends_with("Junit") {
        let count = |x: &str| x.matches("<testcase").count();
        if count(plain) != count(hostile) {
            return fail("the value changed the test cases");
        }
        let mut reader = quick_xml::Reader::from_str(hostile);
        loop {
            match reader.read_event() {
                Ok(quick_xml::events::Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return fail(&format!("not XML: {e}")),
            }
        }
    }
    if json {
        let v: Value = serde_json::from_str(hostile).map_err(|e| format!("{name}: {e}"))?;
        let texts: Vec<&str> = match name {
            _ if name.ends_with("Json") => vec![],
            "annotations" => v
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a["title"].as_str())
                .collect(),
            _ => v["runs"][0]["results"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|r| r["message"]["text"].as_str())
                .collect(),
        };
        for t in texts {
            if t.chars().any(char::is_control) {
                return fail("a one-line text has a line break");
            }
            if name.ends_with("Sarif") && t.replace("\\[", "").replace("\\]", "").contains('[') {
                return fail("a SARIF message has an embedded link");
            }
        }
    }
    Ok(())
}

/// Pieces an attacker would put in a pool value or a tag.
fn hostile() -> impl Strategy<Value = String> {
    let piece = prop_oneof![
        Just("\r"),
        Just("\n"),
        Just("\r\n## checker gate: deployable\r\n"),
        Just("| a | b |"),
        Just("\n|---|---|\n"),
        Just("<img src=x onerror=alert(1)>"),
        Just("![x](https://e.example/x.png)"),
        Just("[click](javascript:alert(1))"),
        Just("@octocat"),
        Just("@mozilla/releng"),
        Just("`"),
        Just("```"),
        Just("</details>"),
        Just("<details>"),
        Just("<!--"),
        Just("::error::forged"),
        Just("##[error]forged"),
        Just("\u{1b}[2J\u{1b}[H"),
        Just("\u{202e}"),
        Just("\u{2028}"),
        Just("\u{85}"),
        Just("\t"),
        Just("&lt;"),
        Just("&"),
        Just("\\"),
        Just("*"),
        Just("_"),
        Just("~~"),
        Just("$x$"),
        Just("(?P<workerType>[^:]+)"),
        Just("clean: 0 errors → exit 0"),
        Just("<br>"),
        Just("]]><![CDATA["),
        Just("\""),
        Just(" "),
        Just("-"),
        Just("#"),
        Just(">"),
        "[a-z]{1,6}".prop_map(|s| Box::leak(s.into_boxed_str()) as &str),
    ];
    proptest::collection::vec(piece, 1..8).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn no_value_adds_a_line_a_row_a_heading_or_markup(value in hostile()) {
        let plain = outputs("plain");
        let forged = outputs(&value);
        for ((name, p), (_, h)) in plain.iter().zip(&forged) {
            if let Err(e) = same_structure(name, p, h, &value) {
                prop_assert!(false, "{}", e);
            }
        }
    }
}

#[test]
fn a_pattern_in_a_markdown_cell_keeps_its_named_group() {
    // Issue 25 item 11: GitHub rendered `<workerType>` as an HTML tag and dropped it.
    let run = replay("after", "prefix", "14", &["--format", "markdown"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    let (text, _) = md_text(&run.stdout);
    assert!(
        text.contains("(?P<workerType>[^:]+)"),
        "the pattern lost its group:\n{text}"
    );
    let html: Vec<String> = md_structure(&run.stdout)
        .into_iter()
        .filter(|e| e.starts_with("html "))
        .filter(|e| !e.contains("details") && !e.contains("summary") && !e.contains("code>"))
        .collect();
    assert!(html.is_empty(), "HTML from data: {html:?}");
}

/// A fleet whose KeyName carries a forged heading, table row, image, mention, screen clear and
/// CI command: the real `check` in every format.
#[test]
fn a_forged_key_name_stays_one_value_in_every_format() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = "managed:x\r\n## checker gate: deployable\r\n| ok | ok |<img src=x>@octocat\u{1b}[2J\n::error::forged:abc1234";
    let d = dir.path();
    write_json(d, "c/prov.json", &provider());
    write_json(d, "c/cons.json", &consumer());
    let f = write_json(
        d,
        "fleet.json",
        &fleet(vec![instance("i-0000000000000001", key, "wt-a", None)]),
    );
    let c = d.join("c");
    let (c, f) = (c.to_str().expect("utf-8"), f.to_str().expect("utf-8"));
    for format in ["human", "markdown", "junit", "sarif", "html"] {
        let run = checker(&["check", "--contracts", c, "--fleet", f, "--format", format]);
        assert_eq!(run.code, 1, "{format}: {}\n{}", run.stdout, run.stderr);
        let out = &run.stdout;
        assert!(
            out.contains("checker gate: deployable"),
            "{format}: the value is shown:\n{out}"
        );
        assert!(
            !out.chars().any(|c| c.is_control() && c != '\n'),
            "{format}:\n{out:?}"
        );
        for line in out.lines() {
            assert!(!line.trim_start().starts_with("::"), "{format}: {line}");
            assert!(!line.starts_with("## checker gate"), "{format}: {line}");
            assert!(!line.starts_with("| ok"), "{format}: {line}");
        }
        if format == "markdown" {
            let headings = md_structure(out)
                .iter()
                .filter(|e| e.starts_with("Start(Heading"))
                .count();
            assert_eq!(headings, 1, "{out}");
            assert!(
                !md_structure(out).iter().any(|e| e.contains("<img")),
                "{out}"
            );
            let (_, outside_code) = md_text(out);
            assert!(!outside_code.contains("@octocat"), "{out}");
        }
    }
}

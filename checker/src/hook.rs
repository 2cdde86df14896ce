//! The scheduled job: check + diff against the snapshot + cull, in one read of the fleet, with
//! every result written as an artifact (report.json, report.html, junit.xml, diff.json, diff.md,
//! diff.html, cull-plan.json, cull-plan.html, summary.md, history.jsonl, history.html;
//! audit.jsonl when acting).

use crate::contract::ContractSet;
use crate::cull::{CullSettings, Gathered};
use crate::error::{Error, Result};
use crate::eval::{Evaluation, Judgement};
use crate::exit::ExitStatus;
use crate::render::{self, Format};
use crate::source::{RecordSink, Source};
use chrono::{DateTime, Utc};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// What the hook is asked to do.
#[derive(Debug, Clone)]
pub struct HookRequest {
    /// Where the fleet comes from.
    pub from: std::sync::Arc<dyn Source>,
    /// How to cull.
    pub cull: CullSettings,
    /// The snapshot to diff against.
    pub snapshot: Option<PathBuf>,
    /// Where the artifacts go.
    pub artifacts: PathBuf,
    /// Check and diff only.
    pub no_cull: bool,
    /// The evaluation time.
    pub now: DateTime<Utc>,
    /// Where the previous run's `history.jsonl` is.
    pub history: crate::history::From,
    /// History records kept (the newest).
    pub history_keep: usize,
}

/// How the run ended, and what it has to say on stderr (in order).
#[derive(Debug, Default)]
pub struct HookOutcome {
    /// The task's exit status.
    pub status: ExitStatus,
    /// `warning: ...` and `error: ...` lines for stderr.
    pub messages: Vec<String>,
}

/// Artifacts written so far; a failed write makes the run incomplete but the others are tried.
struct Artifacts<'a> {
    dir: &'a Path,
    failed: Vec<String>,
}

impl Artifacts<'_> {
    fn write(&mut self, name: &str, text: Result<String>) {
        let path = self.dir.join(name);
        let res = text.and_then(|t| crate::fsio::write_output(&t, Some(&path)));
        if let Err(e) = res {
            self.failed.push(e.to_string());
        }
    }
}

/// What the hook's one read folds as records arrive: without a snapshot, the check's
/// evaluation; with one, the new snapshot and each group's evaluation, the check being their
/// merge. No record is kept.
enum Folding {
    Check(crate::eval::EvalSink),
    Diff(crate::snapshot::DiffSink),
}

impl Folding {
    fn sink(&self) -> Arc<dyn RecordSink> {
        match self {
            Folding::Check(s) => Arc::new(s.clone()),
            Folding::Diff(s) => Arc::new(s.clone()),
        }
    }
}

/// The hook's one read of the fleet, folded into `fold`; with culling, also the health checks,
/// the claims and the cull contract's scope.
fn read(
    set: &ContractSet,
    req: &HookRequest,
    want_cull: bool,
    fold: Arc<dyn RecordSink>,
    rt: &tokio::runtime::Runtime,
) -> Result<Gathered> {
    if want_cull {
        return rt.block_on(crate::cull::gather_in_scope(
            set,
            req.from.as_ref(),
            &req.cull,
            Some(fold),
        ));
    }
    Ok(Gathered {
        source: req.from.read_into(set, fold)?,
        fleet: Vec::new(),
        statuses: Vec::new(),
        actor: None,
        warnings: Vec::new(),
        claims: Vec::new(),
        in_scope: None,
    })
}

/// Reads the fleet once, folding it as records arrive, and judges the diff (with a snapshot) on
/// each group's evaluation before they merge into the check's evaluation.
fn read_and_diff(
    set: &ContractSet,
    req: &HookRequest,
    old: Option<&crate::snapshot::Snapshot>,
    want_cull: bool,
    rt: &tokio::runtime::Runtime,
) -> Result<(Gathered, Evaluation, Option<crate::snapshot::DiffReport>)> {
    let shared = Arc::new(set.clone());
    let folding = match old {
        Some(old) => Folding::Diff(crate::snapshot::DiffSink::new(
            &shared,
            req.now,
            Some(old.groups.keys().cloned().collect()),
        )),
        None => Folding::Check(crate::eval::EvalSink::new(&shared, req.now)),
    };
    let g = read(set, req, want_cull, folding.sink(), rt)?;
    Ok(match (folding, &req.snapshot, old) {
        (Folding::Diff(sink), Some(path), Some(old)) => {
            let (new, groups) = sink.finish();
            let (d, _) = crate::snapshot::report(
                set,
                (path, old),
                new,
                Some(&groups),
                g.source.clone(),
                false,
            )?;
            (g, groups.into_whole(set), Some(d))
        }
        (Folding::Diff(sink), ..) => (g, sink.finish().1.into_whole(set), None),
        (Folding::Check(sink), ..) => (g, sink.finish(), None),
    })
}

/// Runs the hook with loaded contracts.
pub fn run(set: &ContractSet, req: &HookRequest) -> Result<HookOutcome> {
    let old = req
        .snapshot
        .as_deref()
        .map(crate::snapshot::read)
        .transpose()?;
    std::fs::create_dir_all(&req.artifacts).map_err(|e| {
        Error::Incomplete(format!("cannot create {}: {e}", req.artifacts.display()))
    })?;
    // The source says whether it can read health checks to cull with.
    let can_cull = req.from.capabilities().health;
    let want_cull = !req.no_cull && can_cull.yes();
    let rt = crate::source::runtime()?;
    let (mut g, ev, diff_report) = read_and_diff(set, req, old.as_ref(), want_cull, &rt)?;
    rt.block_on(async {
        let mut out = HookOutcome::default();
        out.messages
            .extend(g.warnings.iter().map(|w| format!("warning: {w}")));
        out.messages
            .extend(crate::source::failed_region_warnings(&g.source));
        let mut art = Artifacts {
            dir: &req.artifacts,
            failed: Vec::new(),
        };
        let mut statuses = Vec::new();
        let mut summary = String::new();
        let previous = crate::history::load(&req.history);
        if let Some(note) = &previous.previous.note {
            out.messages.push(format!("warning: history: {note}"));
        }
        // Check.
        let report = crate::eval::report_of(
            "hook",
            set,
            ev,
            g.source.clone(),
            Vec::new(),
            Judgement::default(),
            req.now,
        );
        statuses.push(report.summary.exit_code);
        art.write("report.json", render::report(&report, Format::Json, false));
        art.write("junit.xml", render::report(&report, Format::Junit, false));
        art.write("report.html", render::report(&report, Format::Html, false));
        summary.push_str(&render::report(&report, Format::Markdown, false)?);
        // Diff.
        if let Some(d) = &diff_report {
            write_diff(d, &mut art, &mut summary)?;
            statuses.push(d.exit_code);
        }
        // Cull.
        if want_cull {
            let (status, md) = cull(set, req, &mut g, &mut art, &mut out.messages).await?;
            statuses.push(status);
            summary.push('\n');
            summary.push_str(&md);
        } else {
            let why = cull_skipped(req.no_cull, &can_cull);
            if !req.no_cull {
                out.messages.push(format!("warning: cull skipped: {why}"));
            }
            summary.push_str(&format!("\n## checker cull: skipped\n\n{why}\n"));
        }
        art.write("summary.md", Ok(summary));
        // History: this run's record after the previous ones (its exit code before this write).
        let status = ExitStatus::worst(statuses.clone());
        let status = if art.failed.is_empty() {
            status
        } else {
            ExitStatus::Incomplete
        };
        let this = crate::history::record(
            &report,
            diff_report.as_ref(),
            status.code(),
            previous.previous,
        );
        write_history(&mut art, previous.records, this, req.history_keep);
        if !art.failed.is_empty() {
            out.messages.extend(art.failed.iter().cloned());
            statuses.push(ExitStatus::Incomplete);
        }
        out.status = ExitStatus::worst(statuses);
        Ok(out)
    })
}

/// The diff step (with `--snapshot`): diff.json, diff.md and diff.html written, diff.md appended
/// to the summary.
fn write_diff(
    d: &crate::snapshot::DiffReport,
    art: &mut Artifacts<'_>,
    summary: &mut String,
) -> Result<()> {
    art.write("diff.json", render::diff(d, Format::Json, false));
    let md = render::diff(d, Format::Markdown, false)?;
    art.write("diff.md", Ok(md.clone()));
    art.write("diff.html", render::diff(d, Format::Html, false));
    summary.push('\n');
    summary.push_str(&md);
    Ok(())
}

/// Writes history.jsonl (the previous records and this run's, the newest `keep`) and its page,
/// history.html, showing the records as written.
fn write_history(
    art: &mut Artifacts<'_>,
    previous: Vec<crate::history::Record>,
    this: crate::history::Record,
    keep: usize,
) {
    let history = crate::history::render(previous, this, keep);
    if let Ok(text) = &history {
        let (records, _) = crate::history::parse(text);
        let view = crate::history::view(crate::history::FILE.into(), records, Vec::new());
        art.write("history.html", render::history(&view, Format::Html));
    }
    art.write(crate::history::FILE, history);
}

/// Why the hook did not cull (said on stderr and in summary.md: a skipped step must not look
/// like a step that found nothing to do).
fn cull_skipped(no_cull: bool, can_cull: &crate::source::Can) -> String {
    match can_cull.why_not() {
        _ if no_cull => "--no-cull was given; no cull plan was made".into(),
        Some(why) => why.to_string(),
        None => "no cull plan was made".into(),
    }
}

/// The cull part: plan, apply when asked and allowed, write the plan.
async fn cull(
    set: &ContractSet,
    req: &HookRequest,
    g: &mut Gathered,
    art: &mut Artifacts<'_>,
    messages: &mut Vec<String>,
) -> Result<(ExitStatus, String)> {
    let mut plan = crate::cull::make_plan(set, g, &req.cull, req.now)?;
    let mut status = plan.exit_status();
    let mut opts = req.cull.clone();
    if opts.audit_log.is_none() {
        opts.audit_log = Some(req.artifacts.join("audit.jsonl"));
    }
    messages.extend(
        plan.suspect_claims
            .iter()
            .map(|s| format!("warning: {s}; it counts against the budget until it is removed")),
    );
    if opts.apply
        && plan.refused.is_none()
        && let Some(actor) = &g.actor
    {
        match crate::cull::apply(
            &mut plan,
            actor.as_ref(),
            &opts,
            req.now,
            &crate::cull::stop_on_signal(),
        )
        .await
        {
            Ok(warnings) => messages.extend(warnings.into_iter().map(|w| format!("warning: {w}"))),
            Err(e) => {
                messages.push(e.to_string());
                status = ExitStatus::worst([status, ExitStatus::Incomplete]);
            }
        }
    }
    art.write("cull-plan.json", render::plan(&plan, Format::Json));
    art.write("cull-plan.html", render::plan(&plan, Format::Html));
    Ok((status, render::plan(&plan, Format::Markdown)?))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::fake::Fake;

    fn request(from: Fake, no_cull: bool, dir: &Path) -> HookRequest {
        HookRequest {
            from: std::sync::Arc::new(from),
            cull: crate::cull::run::tests::settings(true),
            snapshot: None,
            artifacts: dir.to_path_buf(),
            no_cull,
            now: Utc::now(),
            history: crate::history::From::Nowhere,
            history_keep: crate::history::DEFAULT_KEEP,
        }
    }

    fn artifacts(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("checker-hook-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }

    #[test]
    fn the_hook_skips_culling_in_the_words_of_a_source_without_health_checks() {
        let dir = artifacts("no-health");
        let req = request(Fake::unable("the fake source has no health"), false, &dir);
        let out = run(&ContractSet::default(), &req).expect("ran");
        assert!(
            out.messages
                .contains(&"warning: cull skipped: the fake source has no health (health)".into()),
            "{:?}",
            out.messages
        );
        let summary = std::fs::read_to_string(dir.join("summary.md")).expect("summary");
        assert!(
            summary
                .contains("## checker cull: skipped\n\nthe fake source has no health (health)\n")
        );
        assert!(!dir.join("cull-plan.json").exists(), "no plan was made");
        let _ = std::fs::remove_dir_all(&dir);
    }

    #[test]
    fn the_hook_culls_when_the_source_reads_health_even_if_it_cannot_act() {
        let dir = artifacts("health");
        let mut fake = Fake::unable("the fake source cannot act");
        fake.caps.health = crate::source::Can::Yes;
        let req = request(fake, false, &dir);
        // No cull contract is loaded: culling fails before the fleet is read, which shows it
        // was attempted.
        let err = run(&ContractSet::default(), &req).expect_err("culling was attempted");
        let wrote = dir.join("report.json").exists();
        let _ = std::fs::remove_dir_all(&dir);
        assert!(err.to_string().contains("\"role\": \"cull\""), "{err}");
        assert!(
            !wrote,
            "bad input fails before the fleet is read, with no artifact"
        );
    }

    /// The hook reads the fleet once, page by page, and keeps no record: the check, the diff
    /// (each change judged on its group's new values) and the cull scope are folded as the
    /// pages arrive.
    #[test]
    fn the_hook_keeps_no_record_and_judges_the_diff_on_the_new_values() {
        use crate::source::fake::{Streaming, bench_set, regions};
        let set = bench_set();
        let dir = artifacts("streamed");
        let snapshot = dir.with_extension("snapshot.json");
        let before: Vec<_> = regions(false)
            .into_iter()
            .filter(|(_, ok)| *ok)
            .flat_map(|(r, _)| r)
            .collect();
        let text = crate::snapshot::to_text(&crate::snapshot::take(&set, &before)).expect("text");
        std::fs::write(&snapshot, text).expect("snapshot written");
        let from = std::sync::Arc::new(Streaming {
            regions: regions(true),
            ..Default::default()
        });
        let mut req = request(Fake::unable("unused"), false, &dir);
        req.from = from.clone();
        req.snapshot = Some(snapshot.clone());
        req.cull = crate::cull::run::tests::settings(false);
        let out = run(&set, &req).expect("ran");
        let read = |name: &str| -> serde_json::Value {
            let text = std::fs::read_to_string(dir.join(name)).expect(name);
            serde_json::from_str(&text).expect("json")
        };
        let (diff, report) = (read("diff.json"), read("report.json"));
        let plan_written = dir.join("cull-plan.json").exists();
        let _ = std::fs::remove_dir_all(&dir);
        let _ = std::fs::remove_file(&snapshot);
        assert_eq!(from.read_whole(), 0, "no record was handed over whole");
        assert!(plan_written, "the cull plan was made from the folded scope");
        assert_eq!(out.status, ExitStatus::Violations, "{:?}", out.messages);
        assert_eq!(diff["breaking"], true, "{diff:#}");
        let key = diff["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .find(|c| c["group"] == "ec2-manager/gecko-t-win7-32" && c["output"] == "KeyName")
            .expect("the win7 key names changed");
        assert_eq!(
            key["consumers"],
            serde_json::json!([{"consumer": "impaired-instance-culling", "holds": "no"}])
        );
        assert!(
            !diff["changes"]
                .as_array()
                .expect("changes")
                .iter()
                .any(|c| c["group"] == "ec2-manager/gecko-t-win10-64"),
            "win10 did not change"
        );
        assert_eq!(report["summary"]["exitCode"], 1, "{:#}", report["summary"]);
    }
}

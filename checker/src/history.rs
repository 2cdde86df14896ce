//! History across hook runs: each `checker hook` run appends one compact record to the previous
//! run's `history.jsonl` (the last N kept) and writes it as an artifact. The format is its own
//! (`checker-history` 1.0, one JSON object a line), not a report field.
//!
//! The previous history comes from a directory (`--history-from DIR`) or from Taskcluster: the
//! hook's last fires (`GET <proxy>/api/hooks/v1/hooks/<group>/<id>/last-fires`, paginated with
//! `continuationToken`; shape from taskcluster/taskcluster services/hooks/src/api.js and
//! services/hooks/schemas/v1/list-lastFires-response.yml at 9d59eb59f6fd0912075c194100d8910f2da40f52),
//! then that task's artifact through the queue. A missing, corrupt or unreachable previous
//! history never fails the run: it starts a new one (or keeps the good lines) and says so.

use crate::report::{Outcome, Report};
use crate::snapshot::DiffReport;
use serde::{Deserialize, Serialize};
use std::path::PathBuf;

/// The format name of a history line.
pub const FORMAT: &str = "checker-history";
/// Its major version.
pub const VERSION: u32 = 1;
/// Its minor version (fields added: 1, `findings`).
pub const MINOR_VERSION: u32 = 1;
/// The artifact's file name.
pub const FILE: &str = "history.jsonl";
/// Records kept by default (`checker hook --history-keep`).
pub const DEFAULT_KEEP: usize = 100;

/// One hook run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Record {
    /// Always `checker-history`.
    pub format: String,
    /// Always 1.
    pub version: u32,
    /// 1 (0: before `findings`).
    pub minor_version: u32,
    /// The run's evaluation time, RFC 3339.
    pub at: String,
    /// The checker binary: version and git commit.
    pub checker: Tool,
    /// The Taskcluster task that ran it (`TASK_ID`), when in a task.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    /// The run's exit code (0 clean, 1 violations, 2 bad input, 3 incomplete).
    pub exit_code: i32,
    /// Instances read.
    pub instances: usize,
    /// Per consumer (and provider) contract: its findings by kind.
    pub consumers: Vec<ConsumerRun>,
    /// Groups with a changed output since the snapshot; absent when no snapshot was diffed.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub changed_groups: Option<Vec<String>>,
    /// Where the earlier records came from, and whether they could be read.
    pub previous: Previous,
    /// The run's open findings (violations and unknowns), one per consumer, clause, code and
    /// outcome, counts summed over scopes: what `checker history` says "open since" of. Absent
    /// in records written before 1.1. Since 1.1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub findings: Option<Vec<FindingRun>>,
}

/// One open finding in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FindingRun {
    /// The consumer (or provider).
    pub consumer: String,
    /// The clause id, when the finding is about one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub clause: Option<String>,
    /// The finding code (`checker rules`).
    pub code: String,
    /// `violation` or `unknown`.
    pub outcome: String,
    /// `error` or `warning`.
    pub severity: String,
    /// Instances (or groups) it is about.
    pub count: usize,
}

impl FindingRun {
    /// What makes two runs' findings the same finding.
    pub fn key(&self) -> (&str, Option<&str>, &str, &str) {
        (
            &self.consumer,
            self.clause.as_deref(),
            &self.code,
            &self.outcome,
        )
    }
}

/// The binary that wrote a record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct Tool {
    /// Crate version.
    pub version: String,
    /// Git commit (`unknown` outside a checkout).
    pub commit: String,
}

/// One contract in one run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct ConsumerRun {
    /// The contract's name.
    pub name: String,
    /// Error-severity violations.
    pub errors: usize,
    /// Warning-severity violations.
    pub warnings: usize,
    /// Unknown findings.
    pub unknowns: usize,
}

/// How the previous history was read.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Previous {
    /// Where it was looked for (a path, or `taskcluster:<taskId>`); absent when not asked.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub from: Option<String>,
    /// `read`, `none` (not asked), `missing`, `corrupt` (bad lines dropped, good lines kept) or
    /// `unreachable` (a new history was started).
    pub state: PreviousState,
    /// Records carried forward.
    pub carried: usize,
    /// What went wrong, in words (absent when `read` or `none`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

/// The previous history's state.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub enum PreviousState {
    /// Read whole.
    Read,
    /// Not asked for.
    None,
    /// Not there (a first run, or a 404): a new history starts.
    Missing,
    /// Some lines were not records: they were dropped, the others kept.
    Corrupt,
    /// It could not be read (network, HTTP error): a new history starts.
    Unreachable,
}

/// Where the previous history is.
#[derive(Debug, Clone)]
pub enum From {
    /// None: a new history.
    Nowhere,
    /// `DIR/history.jsonl`.
    Dir(PathBuf),
    /// The hook's newest completed fire before this task, through the proxy.
    Taskcluster {
        /// The proxy (`TASKCLUSTER_PROXY_URL`) or a root URL's origin.
        proxy: String,
        /// `hookGroupId/hookId`.
        hook: String,
        /// This task (`TASK_ID`), skipped among the fires.
        task_id: Option<String>,
        /// The artifact's name, e.g. `public/checker/history.jsonl`.
        artifact: String,
    },
}

/// The previous records and how they were read.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// Oldest first.
    pub records: Vec<Record>,
    /// How.
    pub previous: Previous,
}

/// Reads the previous history; never fails (see [`PreviousState`]).
pub fn load(from: &From) -> Loaded {
    let (label, text) = match from {
        From::Nowhere => return loaded(None, PreviousState::None, Vec::new(), None),
        From::Dir(dir) => {
            let path = dir.join(FILE);
            let label = path.display().to_string();
            match std::fs::read_to_string(&path) {
                Ok(t) => (label, t),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                    let note = format!("{label} does not exist; a new history starts");
                    return loaded(Some(label), PreviousState::Missing, Vec::new(), Some(note));
                }
                Err(e) => {
                    let note = format!("cannot read {label} ({e}); a new history starts");
                    return loaded(
                        Some(label),
                        PreviousState::Unreachable,
                        Vec::new(),
                        Some(note),
                    );
                }
            }
        }
        From::Taskcluster {
            proxy,
            hook,
            task_id,
            artifact,
        } => match crate::taskcluster::previous_artifact(proxy, hook, task_id.as_deref(), artifact)
        {
            Ok(crate::taskcluster::Fetched::Found { task_id, text }) => {
                (format!("taskcluster:{task_id}"), text)
            }
            Ok(crate::taskcluster::Fetched::Missing(why)) => {
                let note = format!("{why}; a new history starts");
                return loaded(
                    Some(format!("taskcluster:{hook}")),
                    PreviousState::Missing,
                    Vec::new(),
                    Some(note),
                );
            }
            Err(e) => {
                let note = format!("{e}; a new history starts");
                return loaded(
                    Some(format!("taskcluster:{hook}")),
                    PreviousState::Unreachable,
                    Vec::new(),
                    Some(note),
                );
            }
        },
    };
    let (records, bad) = parse(&text);
    if bad.is_empty() {
        return loaded(Some(label), PreviousState::Read, records, None);
    }
    let note = format!(
        "{label}: {} line(s) are not history records and were dropped ({}); the {} good record(s) are kept",
        bad.len(),
        bad.join("; "),
        records.len()
    );
    loaded(Some(label), PreviousState::Corrupt, records, Some(note))
}

fn loaded(
    from: Option<String>,
    state: PreviousState,
    records: Vec<Record>,
    note: Option<String>,
) -> Loaded {
    Loaded {
        previous: Previous {
            from,
            state,
            carried: records.len(),
            note,
        },
        records,
    }
}

/// Parses JSON lines: the records, and for each bad line `line N: why` (blank lines are skipped).
pub fn parse(text: &str) -> (Vec<Record>, Vec<String>) {
    let mut records = Vec::new();
    let mut bad = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<Record>(line) {
            Ok(r) if r.format == FORMAT && r.version == VERSION => records.push(r),
            Ok(r) => bad.push(format!(
                "line {}: format {} {} is not {FORMAT} {VERSION}",
                i + 1,
                r.format,
                r.version
            )),
            Err(e) => bad.push(format!("line {}: {e}", i + 1)),
        }
    }
    (records, bad)
}

/// This run's record.
pub fn record(
    report: &Report,
    diff: Option<&DiffReport>,
    exit_code: i32,
    previous: Previous,
) -> Record {
    let build = crate::build::info();
    let consumers = report
        .consumers
        .iter()
        .map(|c| {
            let of = |f: &dyn Fn(&crate::report::Finding) -> bool| {
                report
                    .findings
                    .iter()
                    .filter(|x| x.consumer == c.name && f(x))
                    .count()
            };
            ConsumerRun {
                name: c.name.clone(),
                errors: of(&|x| {
                    x.outcome == Outcome::Violation
                        && x.severity == crate::contract::Severity::Error
                }),
                warnings: of(&|x| {
                    x.outcome == Outcome::Violation
                        && x.severity == crate::contract::Severity::Warning
                }),
                unknowns: of(&|x| x.outcome == Outcome::Unknown),
            }
        })
        .collect();
    let changed_groups = diff.map(|d| {
        let mut g: Vec<String> = d.diff.changes.iter().map(|c| c.group.clone()).collect();
        g.extend(d.diff.groups_added.iter().cloned());
        g.extend(d.diff.groups_removed.iter().cloned());
        g.sort();
        g.dedup();
        g
    });
    Record {
        format: FORMAT.into(),
        version: VERSION,
        minor_version: MINOR_VERSION,
        at: report.generated_at.clone(),
        checker: Tool {
            version: build.version,
            commit: build.commit,
        },
        task_id: std::env::var("TASK_ID")
            .ok()
            .filter(|s| !s.trim().is_empty()),
        exit_code,
        instances: report.source.instances,
        consumers,
        changed_groups,
        previous,
        findings: Some(open_findings(report)),
    }
}

/// The report's violations and unknowns, merged by [`FindingRun::key`] (counts summed).
fn open_findings(report: &Report) -> Vec<FindingRun> {
    let mut out: Vec<FindingRun> = Vec::new();
    for f in &report.findings {
        if !matches!(f.outcome, Outcome::Violation | Outcome::Unknown) {
            continue;
        }
        let run = FindingRun {
            consumer: f.consumer.clone(),
            clause: f.clause.clone(),
            code: f.code.name().to_string(),
            outcome: outcome_name(f.outcome).into(),
            severity: match f.severity {
                crate::contract::Severity::Error => "error".into(),
                crate::contract::Severity::Warning => "warning".into(),
            },
            count: f.count,
        };
        match out.iter_mut().find(|o| o.key() == run.key()) {
            Some(o) => o.count += run.count,
            None => out.push(run),
        }
    }
    out
}

fn outcome_name(o: Outcome) -> &'static str {
    match o {
        Outcome::Violation => "violation",
        Outcome::Unknown => "unknown",
        Outcome::Waived => "waived",
        Outcome::Notice => "notice",
    }
}

/// The new history: the previous records and this one, the last `keep` of them, as JSON lines.
pub fn render(mut records: Vec<Record>, this: Record, keep: usize) -> crate::Result<String> {
    records.push(this);
    let skip = records.len().saturating_sub(keep.max(1));
    let mut out = String::new();
    for r in &records[skip..] {
        out.push_str(
            &serde_json::to_string(r)
                .map_err(|e| crate::Error::Incomplete(format!("history: {e}")))?,
        );
        out.push('\n');
    }
    Ok(out)
}

/// The format name of `checker history --format json`.
pub const VIEW_FORMAT: &str = "checker-history-view";
/// Its major version.
pub const VIEW_VERSION: u32 = 1;
/// Its minor version.
pub const VIEW_MINOR_VERSION: u32 = 0;

/// A history as `checker history` shows it: the records, and since when each finding open in
/// the newest run has been open.
#[derive(Debug, Clone, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct View {
    /// Always [`VIEW_FORMAT`].
    pub format: &'static str,
    /// [`VIEW_VERSION`].
    pub version: u32,
    /// [`VIEW_MINOR_VERSION`].
    pub minor_version: u32,
    /// `checker x.y.z`.
    pub tool: String,
    /// The file read.
    pub history: String,
    /// Lines that are not records (`line N: why`), skipped.
    pub skipped: Vec<String>,
    /// Every contract named by a record, sorted.
    pub consumers: Vec<String>,
    /// The findings open in the newest run, each with the run its streak started in.
    pub open: Vec<Open>,
    /// The records, oldest first.
    pub records: Vec<Record>,
}

/// A finding open in the newest run.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Open {
    /// The finding, as the newest run counted it.
    #[serde(flatten)]
    pub finding: FindingRun,
    /// When the run that first had it (without a break since) ran, RFC 3339.
    pub since: String,
    /// Consecutive runs it has been open in, the newest included.
    pub runs: usize,
    /// The streak reaches the oldest record that lists findings: it may have opened earlier.
    pub at_least: bool,
}

/// Reads `path` (a history.jsonl, or a directory holding one) for `checker history`: a missing
/// file or one without a single record is bad input; bad lines are skipped and named.
pub fn read(path: &std::path::Path) -> crate::Result<View> {
    use crate::diag::{Diagnostic, Diagnostics};
    let file = if path.is_dir() {
        path.join(FILE)
    } else {
        path.to_path_buf()
    };
    let bad = |msg: String, hint: &str| {
        crate::Error::Input(Diagnostics(vec![Diagnostic::file(&file, msg).hint(hint)]))
    };
    let text = std::fs::read_to_string(&file).map_err(|e| {
        bad(
            format!("cannot read the history: {e}"),
            "name a history.jsonl (a `checker hook` artifact) or the directory holding it",
        )
    })?;
    let (records, skipped) = parse(&text);
    if records.is_empty() {
        let why = match skipped.first() {
            Some(s) => format!("no line is a {FORMAT} {VERSION} record ({s})"),
            None => "the history is empty".into(),
        };
        return Err(bad(
            why,
            "`checker hook --artifacts DIR` writes DIR/history.jsonl",
        ));
    }
    Ok(view(file.display().to_string(), records, skipped))
}

/// The view of `records` (oldest first).
pub fn view(history: String, records: Vec<Record>, skipped: Vec<String>) -> View {
    let consumers: std::collections::BTreeSet<String> = records
        .iter()
        .flat_map(|r| r.consumers.iter().map(|c| c.name.clone()))
        .collect();
    View {
        format: VIEW_FORMAT,
        version: VIEW_VERSION,
        minor_version: VIEW_MINOR_VERSION,
        tool: format!("checker {}", env!("CARGO_PKG_VERSION")),
        history,
        skipped,
        consumers: consumers.into_iter().collect(),
        open: open_since(&records),
        records,
    }
}

/// Since when each finding of the newest run has been open: its streak walks back while the
/// earlier run lists the same finding ([`FindingRun::key`]).
pub fn open_since(records: &[Record]) -> Vec<Open> {
    let Some((last, earlier)) = records.split_last() else {
        return Vec::new();
    };
    let Some(now) = &last.findings else {
        return Vec::new();
    };
    now.iter()
        .map(|f| {
            let mut start = earlier.len();
            let mut at_least = true;
            while start > 0 {
                match &earlier[start - 1].findings {
                    Some(fs) if fs.iter().any(|x| x.key() == f.key()) => start -= 1,
                    Some(_) => {
                        at_least = false;
                        break;
                    }
                    None => break,
                }
            }
            Open {
                finding: f.clone(),
                since: records[start].at.clone(),
                runs: records.len() - start,
                at_least,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(at: &str, findings: Option<&[(&str, &str)]>) -> Record {
        Record {
            format: FORMAT.into(),
            version: VERSION,
            minor_version: MINOR_VERSION,
            at: at.into(),
            checker: Tool {
                version: "0".into(),
                commit: "x".into(),
            },
            task_id: None,
            exit_code: 0,
            instances: 1,
            consumers: Vec::new(),
            changed_groups: None,
            previous: Previous {
                from: None,
                state: PreviousState::None,
                carried: 0,
                note: None,
            },
            findings: findings.map(|fs| {
                fs.iter()
                    .map(|(c, cl)| FindingRun {
                        consumer: (*c).into(),
                        clause: Some((*cl).into()),
                        code: "clause-violated".into(),
                        outcome: "violation".into(),
                        severity: "error".into(),
                        count: 1,
                    })
                    .collect()
            }),
        }
    }

    #[test]
    fn a_finding_is_open_since_the_first_run_of_its_unbroken_streak() {
        let recs = vec![
            rec("t1", Some(&[("occ", "a")])),
            rec("t2", Some(&[("occ", "b")])),
            rec("t3", Some(&[("occ", "a"), ("occ", "b")])),
            rec("t4", Some(&[("occ", "a"), ("occ", "b")])),
        ];
        let open = open_since(&recs);
        let a = &open[0];
        assert_eq!((a.since.as_str(), a.runs, a.at_least), ("t3", 2, false));
        let b = &open[1];
        assert_eq!((b.since.as_str(), b.runs, b.at_least), ("t2", 3, false));
    }

    #[test]
    fn a_streak_reaching_the_oldest_record_or_one_without_findings_is_at_least() {
        let recs = vec![
            rec("t1", None),
            rec("t2", Some(&[("occ", "a")])),
            rec("t3", Some(&[("occ", "a")])),
        ];
        let open = open_since(&recs);
        assert_eq!(
            (open[0].since.as_str(), open[0].runs, open[0].at_least),
            ("t2", 2, true)
        );
        assert!(open_since(&recs[..1]).is_empty(), "no findings listed");
        let one = open_since(&recs[1..2]);
        assert_eq!((one[0].runs, one[0].at_least), (1, true));
    }
}

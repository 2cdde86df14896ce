//! The diff of two snapshots, with, for each change, the consumers whose contracts read that
//! output and whether they still hold; and the `checker diff` report around it.

use super::{Group, GroupEvaluations, Snapshot};
use crate::contract::{Consumer, ContractSet};
use crate::exit::ExitStatus;
use crate::output::OutputPath;
use crate::report::{ChangeKind, SourceInfo};
use serde::Serialize;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

/// Whether a consumer's contract holds on the new data.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Holds {
    /// Its contract holds on the group's instances.
    Yes,
    /// It breaks.
    No,
    /// Not evaluated (the new side is a snapshot, not instances).
    Unknown,
}

/// A consumer touched by a change.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Impact {
    /// The consumer.
    pub consumer: String,
    /// Whether its contract still holds.
    pub holds: Holds,
}

/// One change between two snapshots.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OutputChange {
    /// The group.
    pub group: String,
    /// The output (or `instances`, `regions`).
    pub output: String,
    /// `added`, `removed`, `changed` (CloudFormation's ADD / REMOVE / NOT_EQUAL).
    pub kind: ChangeKind,
    /// Before.
    pub before: Option<Value>,
    /// After.
    pub after: Option<Value>,
    /// Consumers whose contracts read it; empty: uncontracted.
    pub consumers: Vec<Impact>,
    /// No contract reads it: an undocumented-dependency risk.
    pub uncontracted: bool,
}

/// Everything that changed.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SnapshotDiff {
    /// Groups only in the new data.
    pub groups_added: Vec<String>,
    /// Groups only in the snapshot.
    pub groups_removed: Vec<String>,
    /// Output changes in groups present on both sides.
    pub changes: Vec<OutputChange>,
    /// Consumers that read none of the changed outputs.
    pub unaffected: Vec<String>,
    /// Consumers that lost their input: the snapshot had instances of the provider they select
    /// (of any provider, for a consumer that names none) and they select none now: the 2018
    /// culling script's silent failure. Breaking. Since 1.2.
    pub lost_inputs: Vec<String>,
    /// A change breaks some consumer's contract (or a consumer lost its input).
    pub breaking: bool,
}

impl SnapshotDiff {
    /// Whether anything changed at all.
    pub fn any(&self) -> bool {
        !self.changes.is_empty()
            || !self.groups_added.is_empty()
            || !self.groups_removed.is_empty()
            || !self.lost_inputs.is_empty()
    }
}

/// Consumers that selected instances in the snapshot's groups and select none now (`selects`
/// says whether a consumer selects any instance of the fleet read).
pub fn lost_inputs(
    set: &ContractSet,
    old: &Snapshot,
    selects: impl Fn(&Consumer) -> bool,
) -> Vec<String> {
    set.consumers
        .iter()
        .filter(|c| {
            // Recorded since the snapshot knew its consumers; older snapshots: any instance of
            // the provider the consumer selects.
            let had = if !old.consumers.is_empty() {
                old.consumers.contains_key(&c.name)
            } else {
                match c.selector.provider {
                    Some(p) => {
                        let prefix = format!("{}/", set.providers[p].name);
                        old.groups.keys().any(|g| g.starts_with(&prefix))
                    }
                    None => !old.groups.is_empty(),
                }
            };
            had && !selects(c)
        })
        .map(|c| c.name.clone())
        .collect()
}

/// A change found in one group, before its readers are known.
type LocalChange = (String, ChangeKind, Option<Value>, Option<Value>);

/// What changed between two summaries of one group.
fn group_changes(before: &Group, after: &Group) -> Vec<LocalChange> {
    let mut local = Vec::new();
    if before.instances != after.instances {
        local.push((
            "instances".to_string(),
            ChangeKind::Changed,
            Some(Value::String(before.instances.clone())),
            Some(Value::String(after.instances.clone())),
        ));
    }
    if before.regions != after.regions {
        local.push((
            "regions".to_string(),
            ChangeKind::Changed,
            serde_json::to_value(&before.regions).ok(),
            serde_json::to_value(&after.regions).ok(),
        ));
    }
    for k in before
        .outputs
        .keys()
        .chain(after.outputs.keys())
        .collect::<BTreeSet<_>>()
    {
        let (b, a) = (before.outputs.get(k), after.outputs.get(k));
        let kind = match (b, a) {
            (Some(x), Some(y)) if x == y => continue,
            (Some(_), Some(_)) => ChangeKind::Changed,
            (Some(_), None) => ChangeKind::Removed,
            (None, Some(_)) => ChangeKind::Added,
            (None, None) => continue,
        };
        local.push((
            k.clone(),
            kind,
            b.and_then(|x| serde_json::to_value(x).ok()),
            a.and_then(|x| serde_json::to_value(x).ok()),
        ));
    }
    local
}

/// Compares `old` with `new`; `groups` (the evaluations of the groups of the fleet `new` was
/// taken from) lets each touched consumer be judged on the new values.
pub fn diff(
    set: &ContractSet,
    old: &Snapshot,
    new: &Snapshot,
    groups: Option<&GroupEvaluations>,
) -> SnapshotDiff {
    let reads = set.consumer_reads();
    let only_in = |a: &Snapshot, b: &Snapshot| -> Vec<String> {
        a.groups
            .keys()
            .filter(|k| !b.groups.contains_key(*k))
            .cloned()
            .collect()
    };
    let mut changes = Vec::new();
    for (g, before) in &old.groups {
        let Some(after) = new.groups.get(g) else {
            continue;
        };
        let local = group_changes(before, after);
        if local.is_empty() {
            continue;
        }
        // Which consumers break on this group's instances (when there are instances).
        let broken = groups.map(|gs| gs.broken(set, g));
        for (output, kind, b, a) in local {
            let path = OutputPath::parse(&output).ok();
            let consumers: Vec<Impact> = path
                .as_ref()
                .and_then(|p| reads.get(p))
                .into_iter()
                .flatten()
                .map(|c| Impact {
                    consumer: c.clone(),
                    holds: match &broken {
                        None => Holds::Unknown,
                        Some(b)
                            if b.get(c).is_some_and(|outs| {
                                path.as_ref().is_some_and(|p| outs.contains(p))
                            }) =>
                        {
                            Holds::No
                        }
                        Some(_) => Holds::Yes,
                    },
                })
                .collect();
            let uncontracted = consumers.is_empty() && output != "instances" && output != "regions";
            changes.push(OutputChange {
                group: g.clone(),
                output,
                kind,
                before: b,
                after: a,
                consumers,
                uncontracted,
            });
        }
    }
    let lost = groups
        .map(|_| lost_inputs(set, old, |c| new.consumers.contains_key(&c.name)))
        .unwrap_or_default();
    let breaking = !lost.is_empty()
        || changes
            .iter()
            .any(|c| c.consumers.iter().any(|i| i.holds == Holds::No));
    let touched: BTreeSet<&str> = changes
        .iter()
        .flat_map(|c| c.consumers.iter().map(|i| i.consumer.as_str()))
        .collect();
    let unaffected = set
        .consumers
        .iter()
        .map(|c| c.name.clone())
        .filter(|n| !touched.contains(n.as_str()) && !lost.contains(n))
        .collect();
    SnapshotDiff {
        groups_added: only_in(new, old),
        groups_removed: only_in(old, new),
        changes,
        unaffected,
        lost_inputs: lost,
        breaking,
    }
}

/// The diff report's format name.
pub const DIFF_FORMAT: &str = "checker-diff";
/// The diff report's (major) version.
pub const DIFF_VERSION: u32 = 1;
/// The diff report's minor version (1: `minorVersion`, `tool`; 2: `lostInputs`; 4: a source
/// part's `scope` and `scopeKind`).
pub const DIFF_MINOR_VERSION: u32 = 4;

/// The diff report: what `checker diff --format json` prints.
#[derive(Debug, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    /// Always [`DIFF_FORMAT`].
    pub format: &'static str,
    /// [`DIFF_VERSION`].
    pub version: u32,
    /// [`DIFF_MINOR_VERSION`]. Since 1.1.
    pub minor_version: u32,
    /// `checker x.y.z`. Since 1.1.
    pub tool: String,
    /// The binary: version, git commit, dirty flag, build time (report 1.3, diff 1.3, plan 1.2).
    pub build: crate::build::BuildInfo,
    /// The snapshot compared with.
    pub snapshot: String,
    /// Where the new side came from.
    pub source: SourceInfo,
    /// What changed.
    #[serde(flatten)]
    pub diff: SnapshotDiff,
    /// The two snapshots' texts as a unified diff.
    pub unified_diff: String,
    /// The exit code the diff calls for.
    pub exit_code: ExitStatus,
    /// Whether `--update` wrote the new snapshot.
    pub updated: bool,
}

/// Diffs the snapshot `old` (read from `old_path`) with `new`; returns the report and the new
/// snapshot's text.
pub fn report(
    set: &ContractSet,
    (old_path, old): (&Path, &Snapshot),
    new: Snapshot,
    groups: Option<&GroupEvaluations>,
    source: SourceInfo,
    fail_on_drift: bool,
) -> crate::Result<(DiffReport, String)> {
    let d = diff(set, old, &new, groups);
    let old_text = super::to_text(old)?;
    let new_text = super::to_text(&new)?;
    let unified = similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&old_path.display().to_string(), "now")
        .to_string();
    let exit_code = if source.incomplete() {
        ExitStatus::Incomplete
    } else if d.breaking || (fail_on_drift && d.any()) {
        ExitStatus::Violations
    } else {
        ExitStatus::Clean
    };
    Ok((
        DiffReport {
            format: DIFF_FORMAT,
            version: DIFF_VERSION,
            minor_version: DIFF_MINOR_VERSION,
            tool: crate::eval::tool(),
            build: crate::build::info(),
            snapshot: old_path.display().to_string(),
            source,
            diff: d,
            unified_diff: unified,
            exit_code,
            updated: false,
        },
        new_text,
    ))
}

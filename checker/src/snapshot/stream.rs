//! `diff` (and the hook's diff) as the source reads: each page's records are folded into the
//! new snapshot's [`Summary`] and, group by group, into an [`Evaluator`] of that group's
//! instances, so no record is kept. A change in a group is then judged on the evaluation of
//! that group's instances, as evaluating the group's records would judge it, and the whole
//! fleet's evaluation (the hook's check) is the merge of the groups'.

use super::fold::Summary;
use super::{GroupCache, Snapshot};
use crate::contract::{ContractSet, Severity};
use crate::error::Result;
use crate::eval::{Evaluation, Evaluator};
use crate::fleet::Instance;
use crate::output::OutputPath;
use crate::report::{Outcome, SourceInfo};
use crate::source::{PartFold, RecordSink, Source};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::{Arc, Mutex};

/// Per group (`provider/group`), the evaluation of its instances so far: of the groups a diff
/// judges one by one (those of the old snapshot: a change is found only in a group on both
/// sides), each on its own; every other group's instances together, for the whole fleet's
/// evaluation. So memory follows the old snapshot's groups, not the fleet's names (an unmanaged
/// instance is grouped by its Name tag).
#[derive(Clone)]
pub struct GroupEvaluations {
    /// An evaluator of nothing, cloned for a group seen first.
    empty: Evaluator,
    /// The groups judged one by one; `None`: every group.
    wanted: Option<Arc<BTreeSet<String>>>,
    groups: BTreeMap<String, Evaluator>,
    /// The instances of the other groups.
    rest: Option<Evaluator>,
}

impl std::fmt::Debug for GroupEvaluations {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "GroupEvaluations({} groups)", self.groups.len())
    }
}

/// Per consumer, the outputs its failing error clauses depend on.
pub type Broken = BTreeMap<String, BTreeSet<OutputPath>>;

impl GroupEvaluations {
    /// No group yet, for contracts `set` evaluated as of `now`, judging the groups `wanted`
    /// one by one (`None`: every group).
    pub fn new(
        set: &ContractSet,
        now: DateTime<Utc>,
        wanted: Option<BTreeSet<String>>,
    ) -> GroupEvaluations {
        GroupEvaluations {
            empty: Evaluator::new(set, now),
            wanted: wanted.map(Arc::new),
            groups: BTreeMap::new(),
            rest: None,
        }
    }

    /// The same groups wanted, nothing evaluated yet.
    fn emptied(&self) -> GroupEvaluations {
        GroupEvaluations {
            empty: self.empty.clone(),
            wanted: self.wanted.clone(),
            groups: BTreeMap::new(),
            rest: None,
        }
    }

    /// Evaluates `records` group by group; `each` sees every record with its group.
    fn add(
        &mut self,
        set: &ContractSet,
        records: &[Instance],
        cache: &mut GroupCache,
        mut each: impl FnMut(&str, &Instance),
    ) {
        let mut by: BTreeMap<String, Vec<&Instance>> = BTreeMap::new();
        for i in records {
            let g = cache.group_of(set, i);
            each(&g, i);
            match by.get_mut(&g) {
                Some(v) => v.push(i),
                None => {
                    by.insert(g, vec![i]);
                }
            }
        }
        for (g, members) in by {
            if self.wanted.as_ref().is_some_and(|w| !w.contains(&g)) {
                self.rest
                    .get_or_insert_with(|| self.empty.clone())
                    .add_refs(set, &members);
                continue;
            }
            match self.groups.get_mut(&g) {
                Some(e) => e.add_refs(set, &members),
                None => {
                    let mut e = self.empty.clone();
                    e.add_refs(set, &members);
                    self.groups.insert(g, e);
                }
            }
        }
    }

    fn merge(&mut self, other: GroupEvaluations) {
        match (&mut self.rest, other.rest) {
            (Some(mine), Some(e)) => mine.merge(e),
            (None, Some(e)) => self.rest = Some(e),
            (_, None) => {}
        }
        for (g, e) in other.groups {
            match self.groups.get_mut(&g) {
                Some(mine) => mine.merge(e),
                None => {
                    self.groups.insert(g, e);
                }
            }
        }
    }

    /// The consumers whose error clauses fail on `group`'s instances, with the outputs those
    /// clauses depend on (nothing for a group with no instances, or one not judged one by one).
    pub fn broken(&self, set: &ContractSet, group: &str) -> Broken {
        match self.groups.get(group) {
            Some(e) => broken_consumers(set, &e.clone().finish_part(set)),
            None => Broken::new(),
        }
    }

    /// The evaluation of every group's instances together: the whole fleet's.
    pub fn into_whole(self, set: &ContractSet) -> Evaluation {
        let mut whole = self.empty;
        for e in self.groups.into_values().chain(self.rest) {
            whole.merge(e);
        }
        whole.finish(set)
    }
}

/// Per consumer: the outputs its failing error clauses depend on, in an evaluation.
fn broken_consumers(set: &ContractSet, ev: &Evaluation) -> Broken {
    let mut broken = Broken::new();
    for x in ev
        .findings
        .iter()
        .filter(|x| x.outcome == Outcome::Violation && x.severity == Severity::Error)
    {
        let Some(c) = set.consumer(&x.consumer) else {
            continue;
        };
        let Some(k) = c
            .clauses
            .iter()
            .position(|cl| x.clause.as_deref() == Some(cl.id.as_str()))
        else {
            continue;
        };
        broken
            .entry(c.name.clone())
            .or_default()
            .extend(c.implicated(k));
    }
    broken
}

/// What one part (or all the kept parts) gave: the snapshot's fold and the groups' evaluations.
struct Fold {
    summary: Summary,
    groups: GroupEvaluations,
    /// The groups of values seen (a part's own).
    cache: GroupCache,
}

impl Fold {
    fn add(&mut self, set: &ContractSet, records: &[Instance]) {
        let summary = &mut self.summary;
        self.groups.add(set, records, &mut self.cache, |g, i| {
            summary.add_one(set, g, i)
        });
    }

    fn merge(&mut self, other: Fold) {
        self.summary.merge(other.summary);
        self.groups.merge(other.groups);
    }
}

struct Shared {
    set: Arc<ContractSet>,
    /// Nothing evaluated yet, for a part's groups.
    empty: GroupEvaluations,
    kept: Mutex<Fold>,
}

/// A [`RecordSink`] that folds the new snapshot and each group's evaluation as records arrive
/// (a part counts only when it is read completely).
#[derive(Clone)]
pub struct DiffSink(Arc<Shared>);

impl std::fmt::Debug for DiffSink {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("DiffSink")
    }
}

impl DiffSink {
    /// A sink for `set`, evaluating as of `now`, judging the groups `wanted` one by one
    /// (`None`: every group; a diff wants the old snapshot's).
    pub fn new(
        set: &Arc<ContractSet>,
        now: DateTime<Utc>,
        wanted: Option<BTreeSet<String>>,
    ) -> DiffSink {
        let groups = GroupEvaluations::new(set, now, wanted);
        DiffSink(Arc::new(Shared {
            set: set.clone(),
            empty: groups.emptied(),
            kept: Mutex::new(Fold {
                summary: Summary::default(),
                groups,
                cache: GroupCache::default(),
            }),
        }))
    }

    /// The new snapshot and the groups' evaluations of every part kept so far.
    pub fn finish(&self) -> (Snapshot, GroupEvaluations) {
        let mut kept = self.0.kept.lock().unwrap_or_else(|e| e.into_inner());
        let summary = std::mem::take(&mut kept.summary);
        let groups = std::mem::replace(&mut kept.groups, self.0.empty.emptied());
        (summary.finish(&self.0.set), groups)
    }
}

struct DiffPart {
    shared: Arc<Shared>,
    fold: Fold,
}

impl RecordSink for DiffSink {
    fn part(&self) -> Box<dyn PartFold> {
        Box::new(DiffPart {
            shared: self.0.clone(),
            fold: Fold {
                summary: Summary::default(),
                groups: self.0.empty.emptied(),
                cache: GroupCache::default(),
            },
        })
    }
}

impl PartFold for DiffPart {
    fn add(&mut self, records: &[Instance]) {
        self.fold.add(&self.shared.set, records);
    }

    fn keep(self: Box<Self>) {
        let DiffPart { shared, fold } = *self;
        shared
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(fold);
    }
}

/// What `from` reads, folded for a diff with `old` as it reads (a live fleet page by page,
/// keeping no records; recorded files once read): the source, the new snapshot, and the
/// evaluation of each group `old` has. Only the parts read completely count; the caller decides
/// what a failed part means.
pub fn read_diffed(
    from: &dyn Source,
    set: &Arc<ContractSet>,
    old: &Snapshot,
    now: DateTime<Utc>,
) -> Result<(SourceInfo, Snapshot, GroupEvaluations)> {
    let sink = DiffSink::new(set, now, Some(old.groups.keys().cloned().collect()));
    let source = from.read_into(set, Arc::new(sink.clone()))?;
    let (snapshot, groups) = sink.finish();
    Ok((source, snapshot, groups))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::snapshot::group_of;
    use crate::source::fake::{Streaming, bench_set, regions};

    /// The records of the regions read completely.
    fn kept_of(from: &Streaming) -> Vec<Instance> {
        from.regions
            .iter()
            .filter(|(_, ok)| *ok)
            .flat_map(|(r, _)| r.iter().cloned())
            .collect()
    }

    /// Only the old snapshot's groups are evaluated one by one: instances named one by one
    /// (each an unmanaged group of its own) are evaluated together, and the whole is the same.
    #[test]
    fn only_the_old_snapshots_groups_are_evaluated_one_by_one() {
        let set = Arc::new(bench_set());
        let now = Utc::now();
        let mut from = Streaming {
            regions: regions(true),
            ..Default::default()
        };
        for (records, _) in &mut from.regions {
            for (k, i) in records.iter_mut().enumerate() {
                if k % 3 == 0 {
                    i.tags.insert("Owner".into(), "someone-else".into());
                    i.tags.insert("Name".into(), format!("pet-{}", i.id));
                }
            }
        }
        let kept = kept_of(&from);
        let win7 = "ec2-manager/gecko-t-win7-32".to_string();
        let old = Snapshot {
            groups: super::super::take(&set, &kept)
                .groups
                .into_iter()
                .filter(|(g, _)| *g == win7)
                .collect(),
            ..super::super::take(&set, &[])
        };
        let (_, snap, groups) = read_diffed(&from, &set, &old, now).expect("read");
        assert!(snap.groups.len() > 15, "{}", snap.groups.len());
        assert_eq!(groups.groups.keys().collect::<Vec<_>>(), [&win7]);
        assert!(
            groups.rest.is_some(),
            "the other groups' instances, together"
        );
        let members: Vec<Instance> = kept
            .iter()
            .filter(|i| group_of(&set, i) == win7)
            .cloned()
            .collect();
        let expected = broken_consumers(&set, &crate::eval::evaluate(&set, &members, now));
        assert!(!expected.is_empty());
        assert_eq!(groups.broken(&set, &win7), expected);
        let whole = groups.into_whole(&set);
        let expected = crate::eval::evaluate(&set, &kept, now);
        assert_eq!(
            format!("{:?}", whole.findings),
            format!("{:?}", expected.findings)
        );
        assert_eq!(whole.evaluations, expected.evaluations);
    }

    /// `diff` folded page by page keeps no record, and judges each group as evaluating that
    /// group's records would; the groups' merge is the whole fleet's evaluation.
    #[test]
    fn groups_folded_page_by_page_judge_as_their_records_would() {
        let set = Arc::new(bench_set());
        let now = Utc::now();
        let from = Streaming {
            regions: regions(true),
            ..Default::default()
        };
        let old = super::super::take(
            &set,
            &kept_of(&Streaming {
                regions: regions(false),
                ..Default::default()
            }),
        );
        let (source, snap, groups) = read_diffed(&from, &set, &old, now).expect("read");
        assert_eq!(from.read_whole(), 0, "no record was handed over whole");
        let kept = kept_of(&from);
        assert_eq!(source.instances, kept.len());
        assert_eq!(snap, super::super::take(&set, &kept));
        assert_eq!(snap.groups.len(), 4, "{:?}", snap.groups.keys());
        let mut broke = 0;
        for g in snap.groups.keys() {
            let members: Vec<Instance> = kept
                .iter()
                .filter(|i| group_of(&set, i) == *g)
                .cloned()
                .collect();
            let expected = broken_consumers(&set, &crate::eval::evaluate(&set, &members, now));
            assert_eq!(groups.broken(&set, g), expected, "{g}");
            broke += usize::from(!expected.is_empty());
        }
        assert_eq!(broke, 1, "only the win7 group breaks the culling contract");
        let whole = groups.into_whole(&set);
        let expected = crate::eval::evaluate(&set, &kept, now);
        assert_eq!(
            format!("{:?}", whole.findings),
            format!("{:?}", expected.findings)
        );
        assert_eq!(
            format!("{:?}", whole.consumers),
            format!("{:?}", expected.consumers)
        );
        assert_eq!(whole.evaluations, expected.evaluations);
    }
}

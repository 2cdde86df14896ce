//! Evaluation as a source reads: the [`RecordSink`] a source hands its records to, so `check`
//! evaluates a live fleet page by page and keeps only the aggregates (and the extra-field
//! sample), never the fleet. The sources layer defines the sink; this side implements it, so
//! the dependency runs from evaluation to sources and not back.

use super::{Evaluation, Evaluator, evaluate};
use crate::contract::ContractSet;
use crate::error::Result;
use crate::fleet::Instance;
use crate::report::SourceInfo;
use crate::source::{PartFold, RecordSink, Source};
use chrono::{DateTime, Utc};
use std::sync::{Arc, Mutex};

/// Evaluates every part a source reads completely, merging the parts' evaluations.
#[derive(Clone)]
pub struct EvalSink {
    set: Arc<ContractSet>,
    now: DateTime<Utc>,
    kept: Arc<Mutex<Option<Evaluator>>>,
}

impl EvalSink {
    /// A sink evaluating `set` as of `now`.
    pub fn new(set: &Arc<ContractSet>, now: DateTime<Utc>) -> EvalSink {
        EvalSink {
            set: set.clone(),
            now,
            kept: Arc::new(Mutex::new(None)),
        }
    }

    /// The evaluation of every part kept so far.
    pub fn finish(&self) -> Evaluation {
        let ev = self.kept.lock().unwrap_or_else(|e| e.into_inner()).take();
        match ev {
            Some(e) => e.finish(&self.set),
            None => evaluate(&self.set, &[], self.now),
        }
    }
}

/// One part's evaluation, merged into the whole when the part is kept.
struct EvalPart {
    set: Arc<ContractSet>,
    ev: Evaluator,
    kept: Arc<Mutex<Option<Evaluator>>>,
}

impl RecordSink for EvalSink {
    fn part(&self) -> Box<dyn PartFold> {
        Box::new(EvalPart {
            set: self.set.clone(),
            ev: Evaluator::new(&self.set, self.now),
            kept: self.kept.clone(),
        })
    }
}

impl PartFold for EvalPart {
    fn add(&mut self, records: &[Instance]) {
        self.ev.add(&self.set, records);
    }

    fn keep(self: Box<Self>) {
        let mut kept = self.kept.lock().unwrap_or_else(|e| e.into_inner());
        match kept.as_mut() {
            Some(all) => all.merge(self.ev),
            None => *kept = Some(self.ev),
        }
    }
}

/// The fleet evaluated, for commands that need only the evaluation (`check`): the source hands
/// its records over as it reads them (a live fleet page by page, keeping no records; recorded
/// files once read) and they are evaluated there.
pub fn read_evaluated(
    from: &dyn Source,
    set: &Arc<ContractSet>,
    now: DateTime<Utc>,
) -> Result<(SourceInfo, Evaluation)> {
    let sink = EvalSink::new(set, now);
    let source = from.read_into(set, Arc::new(sink.clone()))?;
    let ev = sink.finish();
    Ok((source, ev))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_part_counts_only_when_kept() {
        let set = Arc::new(ContractSet::default());
        let now = Utc::now();
        let kept = Arc::new(Mutex::new(None));
        let sink = EvalSink {
            set: set.clone(),
            now,
            kept: kept.clone(),
        };
        let mut dropped = sink.part();
        dropped.add(&[Instance::default()]);
        drop(dropped);
        assert!(
            kept.lock().expect("lock").is_none(),
            "a failed part is not evaluated"
        );
        let mut ok = sink.part();
        ok.add(&[]);
        ok.keep();
        assert!(kept.lock().expect("lock").is_some());
    }
}

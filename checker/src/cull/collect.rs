//! What `cull` keeps of a fleet: the cull contract is evaluated on each record as its page
//! arrives, and only the members its selector selects are kept (id, region, group), with the
//! error clauses they fail; every other record, and every record's other fields, is dropped at
//! once. A part (a region) counts only when it is read completely, as for `check`.

use super::Member;
use super::scope::{evaluate, group_fact, problem};
use crate::contract::ContractSet;
use crate::fleet::Instance;
use crate::source::{PartFold, RecordSink};
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// What the cull contract's scope holds of the fleet read.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct InScope {
    /// The instances it selects, sorted by (region, id).
    pub members: Vec<Member>,
    /// Its error clauses that fail, in words.
    pub problems: Vec<String>,
    /// Records read, selected or not.
    pub read: usize,
}

/// An error clause failing: how often, and the example of the first instance in (region, id)
/// order (the one the whole sorted fleet would give).
#[derive(Debug)]
struct Failing {
    count: usize,
    first: (String, String),
    example: String,
}

/// Members and failures of some parts.
#[derive(Debug, Default)]
struct Tally {
    members: Vec<Member>,
    failing: BTreeMap<String, Failing>,
    read: usize,
}

impl Tally {
    fn fail(&mut self, id: &str, i: &Instance, example: String) {
        let key = (i.region.as_str(), i.id.as_str());
        match self.failing.get_mut(id) {
            Some(f) => {
                f.count += 1;
                if key < (f.first.0.as_str(), f.first.1.as_str()) {
                    f.first = (i.region.clone(), i.id.clone());
                    f.example = example;
                }
            }
            None => {
                self.failing.insert(
                    id.to_string(),
                    Failing {
                        count: 1,
                        first: (i.region.clone(), i.id.clone()),
                        example,
                    },
                );
            }
        }
    }

    fn merge(&mut self, other: Tally) {
        self.members.extend(other.members);
        self.read += other.read;
        for (id, f) in other.failing {
            match self.failing.get_mut(&id) {
                Some(mine) => {
                    mine.count += f.count;
                    if f.first < mine.first {
                        mine.first = f.first;
                        mine.example = f.example;
                    }
                }
                None => {
                    self.failing.insert(id, f);
                }
            }
        }
    }
}

/// The cull contract and what the complete parts gave.
#[derive(Debug)]
struct Shared {
    set: ContractSet,
    contract: usize,
    kept: Mutex<Tally>,
}

/// A [`RecordSink`] that keeps only what the cull contract's scope selects.
#[derive(Debug, Clone)]
pub struct ScopeSink(Arc<Shared>);

impl ScopeSink {
    /// A sink for `set`'s consumer number `contract` (the cull contract).
    pub fn new(set: &ContractSet, contract: usize) -> ScopeSink {
        ScopeSink(Arc::new(Shared {
            set: set.clone(),
            contract,
            kept: Mutex::new(Tally::default()),
        }))
    }

    /// What the complete parts gave, members sorted by (region, id).
    pub fn finish(&self) -> InScope {
        let tally = std::mem::take(&mut *self.0.kept.lock().unwrap_or_else(|e| e.into_inner()));
        let mut members = tally.members;
        // A stable sort finds the parts' sorted runs and merges them.
        members.sort_by(by_place);
        InScope {
            members,
            problems: tally
                .failing
                .iter()
                .map(|(id, f)| problem(id, f.count, &f.example))
                .collect(),
            read: tally.read,
        }
    }
}

impl RecordSink for ScopeSink {
    fn part(&self) -> Box<dyn PartFold> {
        Box::new(ScopeFold {
            shared: self.0.clone(),
            tally: Tally::default(),
        })
    }
}

/// Members in (region, id) order.
fn by_place(a: &Member, b: &Member) -> std::cmp::Ordering {
    (&a.region, &a.id).cmp(&(&b.region, &b.id))
}

/// One part's share of a [`ScopeSink`].
struct ScopeFold {
    shared: Arc<Shared>,
    tally: Tally,
}

impl PartFold for ScopeFold {
    fn add(&mut self, records: &[Instance]) {
        let set = &self.shared.set;
        let contract = &set.consumers[self.shared.contract];
        let group = group_fact(contract);
        self.tally.read += records.len();
        for i in records
            .iter()
            .filter(|i| set.selects(&contract.selector, i))
        {
            let mut failed = Vec::new();
            let m = evaluate(contract, group, i, |id, v| failed.push((id.to_string(), v)));
            for (id, v) in failed {
                self.tally.fail(&id, i, v);
            }
            self.tally.members.push(m);
        }
    }

    fn keep(self: Box<Self>) {
        let ScopeFold { shared, mut tally } = *self;
        // Sorted here, on the part's own thread while other parts are still read, so that
        // the end of the run only merges sorted runs (a million members sorted at the end
        // was a second of wall time after the last page).
        tally.members.sort_unstable_by(by_place);
        shared
            .kept
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .merge(tally);
    }
}

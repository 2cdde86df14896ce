//! One location's read, as its own task: every page turned into records as it arrives, and
//! either kept, or handed to the read's record sink at once and dropped (`check` evaluates them
//! there: only aggregates stay); then, still in the location's task, the location's sample of
//! the extra field, so it is fetched while other locations are still read.
//!
//! When records go to a sink and the extra field is wanted, the instances that could still be in
//! the sample (the lowest ids of each group so far) wait; one pushed out of its group's sample is
//! handed over there and then, so memory holds at most the sample.

use super::{Location, LocationStats, Progress};
use crate::fleet::{Instance, SecretPolicy};
use crate::source::{PartFold, RecordSink};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// How many instances' extra field (EC2: user-data) to fetch per group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sample {
    /// Up to N per group.
    PerGroup(usize),
    /// Every instance.
    All,
}

impl std::str::FromStr for Sample {
    type Err = String;
    fn from_str(s: &str) -> Result<Sample, String> {
        if s == "all" {
            return Ok(Sample::All);
        }
        s.parse::<usize>()
            .map(Sample::PerGroup)
            .map_err(|_| format!("`{s}` is neither a number nor `all`"))
    }
}

/// What one location's task is given.
pub(super) struct Job {
    pub location: Arc<dyn Location>,
    pub progress: Arc<Progress>,
    /// The scope every record gets (a read of several scopes); else what the cloud said.
    pub scope: Option<Arc<str>>,
    /// The extra-field sample to fetch, when some contract reads the field.
    pub extra: Option<(Sample, SecretPolicy)>,
    /// Where records go as they are read (none are kept).
    pub sink: Option<Arc<dyn RecordSink>>,
}

/// What one location's task gives back.
pub(super) struct Out {
    pub location: Arc<dyn Location>,
    pub res: Result<LocationStats, String>,
    /// The records, sorted by id (when they are kept).
    pub records: Vec<Instance>,
    /// The location's share of the sink (when records go to one), to keep if the location was
    /// read completely.
    pub fold: Option<Box<dyn PartFold>>,
    /// Records read.
    pub instances: usize,
    /// Extra-field calls made.
    pub extra_fetched: usize,
}

/// The instances that may still be in the sample: per group, the lowest ids so far. An instance
/// whose id is above a full group's highest leaves at once: most instances cost no allocation.
#[derive(Default)]
struct Candidates {
    per_group: std::collections::HashMap<String, BTreeMap<String, Instance>>,
    limit: Option<usize>,
    key: String,
}

impl Candidates {
    /// Takes `i`; gives back the instance that can no longer be in the sample, if any.
    fn offer(&mut self, i: Instance, location: &dyn Location) -> Option<Instance> {
        if self.limit == Some(0) {
            return Some(i);
        }
        self.key.clear();
        location.sample_group(&i, &mut self.key);
        let g = match self.per_group.get_mut(self.key.as_str()) {
            Some(g) => g,
            None => self.per_group.entry(self.key.clone()).or_default(),
        };
        if let Some(n) = self.limit
            && g.len() >= n
            && g.last_key_value().is_some_and(|(top, _)| i.id > *top)
        {
            return Some(i);
        }
        g.insert(i.id.clone(), i);
        match self.limit {
            Some(n) if g.len() > n => g.pop_last().map(|(_, out)| out),
            _ => None,
        }
    }

    fn into_vec(self) -> Vec<Instance> {
        self.per_group
            .into_values()
            .flat_map(BTreeMap::into_values)
            .collect()
    }
}

/// The task's running state, shared with the page sink.
#[derive(Default)]
struct State {
    records: Vec<Instance>,
    fold: Option<Box<dyn PartFold>>,
    candidates: Option<Candidates>,
    instances: usize,
}

impl State {
    fn page(&mut self, page: Vec<Instance>, scope: &Option<Arc<str>>, location: &dyn Location) {
        self.instances += page.len();
        let records = page.into_iter().map(|mut i| {
            if scope.is_some() {
                i.scope.clone_from(scope);
            }
            i
        });
        let Some(fold) = &mut self.fold else {
            self.records.extend(records);
            return;
        };
        let now: Vec<Instance> = match &mut self.candidates {
            Some(c) => records.filter_map(|i| c.offer(i, location)).collect(),
            None => records.collect(),
        };
        fold.add(&now);
    }
}

/// Fetches the extra field of `instances[k]` for every `k` in `chosen`, all at once (the
/// location paces its own calls); returns the calls made.
async fn fetch(
    location: &dyn Location,
    instances: &mut [Instance],
    chosen: &[usize],
    secrets: &SecretPolicy,
) -> usize {
    let mut jobs: FuturesUnordered<_> = chosen
        .iter()
        .map(|&k| {
            let id = instances[k].id.clone();
            async move { (k, location.extra(&id, secrets).await) }
        })
        .collect();
    let mut results = Vec::new();
    while let Some(r) = jobs.next().await {
        results.push(r);
    }
    drop(jobs);
    let n = results.len();
    for (k, value) in results {
        instances[k].user_data = value;
    }
    n
}

/// The sample of kept records: the lowest ids of each group, so runs agree.
fn choose(instances: &[Instance], sample: Sample, location: &dyn Location) -> Vec<usize> {
    let mut per_group: std::collections::HashMap<String, Vec<usize>> = Default::default();
    let mut key = String::new();
    for (k, i) in instances.iter().enumerate() {
        key.clear();
        location.sample_group(i, &mut key);
        match per_group.get_mut(key.as_str()) {
            Some(g) => g.push(k),
            None => {
                per_group.insert(key.clone(), vec![k]);
            }
        }
    }
    let mut chosen = Vec::new();
    for (_, mut idx) in per_group {
        idx.sort_by(|a, b| instances[*a].id.cmp(&instances[*b].id));
        match sample {
            Sample::All => chosen.extend(idx),
            Sample::PerGroup(n) => chosen.extend(idx.into_iter().take(n)),
        }
    }
    chosen
}

/// Reads the location, then fetches its extra-field sample (only if the read completed).
pub(super) async fn run(job: Job) -> Out {
    let state = Arc::new(Mutex::new(State {
        fold: job.sink.as_ref().map(|s| s.part()),
        candidates: match (&job.sink, &job.extra) {
            (Some(_), Some((sample, _))) => Some(Candidates {
                limit: match sample {
                    Sample::All => None,
                    Sample::PerGroup(n) => Some(*n),
                },
                ..Candidates::default()
            }),
            _ => None,
        },
        ..State::default()
    }));
    let location = job.location.as_ref();
    let sink = {
        let state = state.clone();
        let progress = job.progress.clone();
        let scope = job.scope.clone();
        move |page: Vec<Instance>| {
            progress.pages.fetch_add(1, Ordering::Relaxed);
            progress.instances.fetch_add(page.len(), Ordering::Relaxed);
            progress.update("");
            if let Ok(mut s) = state.lock() {
                s.page(page, &scope, location);
            }
        }
    };
    let res = location.scan(&sink).await;
    drop(sink);
    job.progress.done.fetch_add(1, Ordering::Relaxed);
    job.progress.update("");
    let mut st = match Arc::try_unwrap(state) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(shared) => std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner())),
    };
    let mut fetched = 0;
    if res.is_ok()
        && let Some((sample, secrets)) = &job.extra
    {
        match (st.candidates.take(), &mut st.fold) {
            (Some(c), Some(fold)) => {
                let mut sampled = c.into_vec();
                let all: Vec<usize> = (0..sampled.len()).collect();
                fetched = fetch(location, &mut sampled, &all, secrets).await;
                fold.add(&sampled);
            }
            _ => {
                let chosen = choose(&st.records, *sample, location);
                fetched = fetch(location, &mut st.records, &chosen, secrets).await;
            }
        }
    }
    // Sorted here, while other locations are still being read; ids are unique (the cloud's
    // read de-duplicates), so an unstable sort gives the one order. By region first: a
    // location may span regions (GCE: a project's every zone in one listing).
    st.records
        .sort_unstable_by(|a, b| (&a.region, &a.id).cmp(&(&b.region, &b.id)));
    Out {
        location: job.location,
        res,
        records: st.records,
        fold: st.fold,
        instances: st.instances,
        extra_fetched: fetched,
    }
}

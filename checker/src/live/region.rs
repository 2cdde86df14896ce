//! One region's scan, as its own task: every page turned into records as it arrives, and either
//! kept, or handed to the scan's record sink at once and dropped (`check` evaluates them there:
//! only aggregates stay); then, still in the region's task, the region's user-data sample, so it
//! is fetched while other regions are still read.
//!
//! When records go to a sink and user-data is wanted, the instances that could still be in the
//! sample (the lowest ids of each group so far) wait; one pushed out of its group's sample is
//! handed over there and then, so memory holds at most the sample.

use super::{Filters, Sample, from_raw};
use crate::fleet::{Instance, Interner, SecretPolicy, UserData};
use crate::output::Ec2Field;
use crate::source::{PartFold, RecordSink};
use checker_ec2::{Ec2Error, RawInstance, RegionClient, ScanStats};
use futures::stream::{FuturesUnordered, StreamExt};
use std::collections::BTreeMap;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};

/// What one region's task is given.
pub(super) struct Job {
    pub client: RegionClient,
    pub progress: Arc<super::Progress>,
    pub filters: Filters,
    pub shard: bool,
    /// The account every record gets (a scan of several accounts); else the response's ownerId.
    pub account: Option<Arc<str>>,
    /// The user-data sample to fetch, when some contract reads user-data.
    pub user_data: Option<(Sample, SecretPolicy)>,
    /// Where records go as they are read (none are kept).
    pub sink: Option<Arc<dyn RecordSink>>,
}

/// What one region's task gives back.
pub(super) struct Out {
    pub client: RegionClient,
    pub res: Result<ScanStats, Ec2Error>,
    /// The records, sorted by id (when they are kept).
    pub records: Vec<Instance>,
    /// The region's share of the sink (when records go to one), to keep if the region was
    /// read completely.
    pub fold: Option<Box<dyn PartFold>>,
    /// Records read.
    pub instances: usize,
    /// User-data calls made.
    pub user_data_fetched: usize,
}

/// The sample group: what the provisioner's launch configuration varies by (Name or
/// WorkerPoolId, region, AMI, instance type), written NUL-separated into `key` (a reused
/// buffer, so looking a group up allocates nothing).
fn sample_group(i: &Instance, key: &mut String) {
    key.clear();
    for part in [
        i.tags
            .get("Name")
            .or_else(|| i.tags.get("WorkerPoolId"))
            .map(String::as_str)
            .unwrap_or_default(),
        i.region.as_str(),
        i.field(Ec2Field::ImageId).unwrap_or_default(),
        i.field(Ec2Field::InstanceType).unwrap_or_default(),
    ] {
        key.push_str(part);
        key.push('\0');
    }
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
    fn offer(&mut self, i: Instance) -> Option<Instance> {
        if self.limit == Some(0) {
            return Some(i);
        }
        sample_group(&i, &mut self.key);
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
    accounts: Interner,
    fold: Option<Box<dyn PartFold>>,
    candidates: Option<Candidates>,
    instances: usize,
}

impl State {
    fn page(&mut self, page: Vec<RawInstance>, region: &str, account: &Option<Arc<str>>) {
        self.instances += page.len();
        let records = page.into_iter().map(|raw| {
            let mut i = from_raw(raw, region, &mut self.accounts);
            if account.is_some() {
                i.scope.clone_from(account);
            }
            i
        });
        let Some(fold) = &mut self.fold else {
            self.records.extend(records);
            return;
        };
        let now: Vec<Instance> = match &mut self.candidates {
            Some(c) => records.filter_map(|i| c.offer(i)).collect(),
            None => records.collect(),
        };
        fold.add(&now);
    }
}

/// Fetches the user-data of `instances[k]` for every `k` in `chosen`, `concurrency` at a time
/// (the client's own limit); returns the calls made.
async fn fetch(
    client: &RegionClient,
    instances: &mut [Instance],
    chosen: &[usize],
    secrets: &SecretPolicy,
) -> usize {
    let mut jobs: FuturesUnordered<_> = chosen
        .iter()
        .map(|&k| {
            let id = instances[k].id.clone();
            async move { (k, client.user_data(&id).await) }
        })
        .collect();
    let mut results = Vec::new();
    while let Some(r) = jobs.next().await {
        results.push(r);
    }
    drop(jobs);
    for (k, res) in &results {
        instances[*k].user_data = match res {
            Ok(Some(b64)) => UserData::from_base64(b64, secrets),
            Ok(None) => UserData::Absent,
            Err(e) => UserData::Invalid(format!("could not fetch user-data: {e}")),
        };
    }
    results.len()
}

/// The sample of kept records: the lowest ids of each group, so runs agree.
fn choose(instances: &[Instance], sample: Sample) -> Vec<usize> {
    let mut per_group: std::collections::HashMap<String, Vec<usize>> = Default::default();
    let mut key = String::new();
    for (k, i) in instances.iter().enumerate() {
        sample_group(i, &mut key);
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

/// Scans the region, then fetches its user-data sample (only if the scan completed).
pub(super) async fn run(job: Job) -> Out {
    let state = Arc::new(Mutex::new(State {
        fold: job.sink.as_ref().map(|s| s.part()),
        candidates: match (&job.sink, &job.user_data) {
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
    let sink = {
        let state = state.clone();
        let progress = job.progress.clone();
        let region = job.client.region.clone();
        let account = job.account.clone();
        move |page: Vec<RawInstance>| {
            progress.pages.fetch_add(1, Ordering::Relaxed);
            progress.instances.fetch_add(page.len(), Ordering::Relaxed);
            progress.update("");
            if let Ok(mut s) = state.lock() {
                s.page(page, &region, &account);
            }
        }
    };
    let res = job.client.scan(&job.filters, job.shard, &sink).await;
    drop(sink);
    job.progress.regions_done.fetch_add(1, Ordering::Relaxed);
    job.progress.update("");
    let mut st = match Arc::try_unwrap(state) {
        Ok(m) => m.into_inner().unwrap_or_else(|e| e.into_inner()),
        Err(shared) => std::mem::take(&mut *shared.lock().unwrap_or_else(|e| e.into_inner())),
    };
    let mut fetched = 0;
    if res.is_ok()
        && let Some((sample, secrets)) = &job.user_data
    {
        match (st.candidates.take(), &mut st.fold) {
            (Some(c), Some(fold)) => {
                let mut sampled = c.into_vec();
                let all: Vec<usize> = (0..sampled.len()).collect();
                fetched = fetch(&job.client, &mut sampled, &all, secrets).await;
                fold.add(&sampled);
            }
            _ => {
                let chosen = choose(&st.records, *sample);
                fetched = fetch(&job.client, &mut st.records, &chosen, secrets).await;
            }
        }
    }
    // Sorted here, while other regions are still being read; ids are unique (the scan
    // de-duplicates), so an unstable sort gives the one order.
    st.records.sort_unstable_by(|a, b| a.id.cmp(&b.id));
    Out {
        client: job.client,
        res,
        records: st.records,
        fold: st.fold,
        instances: st.instances,
        user_data_fetched: fetched,
    }
}

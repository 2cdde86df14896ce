//! The live driver: what every cloud's live read needs, written once. A cloud opens its scopes
//! (EC2: accounts) and their locations (EC2: regions) and reads one location's records
//! ([`Location`]); the driver does the rest: the fan-out over scopes x locations (a few scopes
//! at once, every location of a scope at once, each in its own task), progress, one part per
//! location (or per scope that could not be opened, named by it, while the other scopes are
//! still read), call counts, streaming into a [`RecordSink`] (a location's records count only
//! when it was read completely), and the sample of an extra per-instance field (EC2: user-data).
//!
//! A cloud whose listing is plain pages (`list one page of scope S, location L after token T`)
//! reads a location with [`paginate`], which adds the pagination guard (a token given twice
//! fails the location) and the scope's API [`Budget`]. EC2 pipelines and shards its pages, so its
//! location reads them itself (`checker_ec2`, with its own guard and per-account buckets).
//!
//! Cloud-neutral, like the rest of `crate::source`: it names no cloud.

use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::ScopeKind;
use crate::report::{PartKind, PartStatus, Scope, SourcePart};
use crate::source::RecordSink;
use futures::future::BoxFuture;
use futures::stream::{FuturesUnordered, StreamExt};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::BTreeMap;
use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

mod location;
mod paged;
pub use location::Sample;
pub use paged::{Budget, MAX_PAGES, Page, PageGuard, PageLister, paginate};

/// How one location was read.
#[derive(Debug, Clone, Default)]
pub struct LocationStats {
    /// Listings run side by side (EC2: one per zone shard).
    pub shards: usize,
    /// Pages fetched in all.
    pub pages: usize,
    /// The longest chain of calls that had to run one after another.
    pub max_sequential_pages: usize,
    /// Distinct instances.
    pub instances: usize,
    /// Wall time.
    pub elapsed: Duration,
    /// How the read departed from its plan, for the report (EC2: read as one chain).
    pub note: Option<String>,
}

/// Where a location hands its records, a page at a time, as they arrive.
pub type Emit<'a> = &'a (dyn Fn(Vec<Instance>) + Send + Sync);

/// One location of one scope, as its cloud reads it: all a cloud writes for a live read.
pub trait Location: Send + Sync + 'static {
    /// Its name (a region), as parts and logs name it.
    fn name(&self) -> &str;

    /// Reads every record of the location the read asks for, handing each page to `emit` as it
    /// arrives, each instance once. An error fails the location (its part says it in words).
    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>>;

    /// The extra per-instance field of instance `id` (EC2: its user-data), redacted with
    /// `secrets`; a call that fails is a value that says why.
    fn extra<'a>(&'a self, id: &'a str, secrets: &'a SecretPolicy) -> BoxFuture<'a, UserData>;

    /// Writes the group the sample is drawn from (what the provisioner's launch configuration
    /// varies by) into `key`, an empty buffer.
    fn sample_group(&self, i: &Instance, key: &mut String);

    /// Extra-field calls in flight at once (a chain of sequential calls grows by the sample
    /// over this).
    fn extra_concurrency(&self) -> usize;

    /// Calls made so far, in all and per action.
    fn calls(&self) -> (usize, BTreeMap<String, usize>);
}

/// What a read does with the records.
#[derive(Clone, Default)]
pub struct ReadPlan {
    /// Fetch the extra field for a sample (some contract reads it), redacting with the policy.
    pub extra: Option<(Sample, SecretPolicy)>,
    /// Hand the records to this sink as they are read and keep none (`check` evaluates them
    /// so); a location's records count only if the location is read completely.
    pub sink: Option<Arc<dyn RecordSink>>,
}

/// What a live read produced.
#[derive(Debug, Default)]
pub struct LiveFleet {
    /// Records from every location that answered completely.
    pub instances: Vec<Instance>,
    /// One part per location, ok or failed (and one per scope that could not be opened).
    pub parts: Vec<SourcePart>,
    /// Instances whose extra field was fetched.
    pub user_data_sampled: usize,
    /// API calls made.
    pub api_calls: usize,
    /// Per location: (shards, pages, longest sequential chain).
    pub shape: Vec<(String, usize, usize, usize)>,
    /// Wall time of the read: from the first call to the last record (extra field included).
    pub elapsed: Duration,
    /// Records read (kept in `instances`, or only evaluated).
    pub read: usize,
}

/// Progress on stderr when it is a terminal; silent otherwise.
pub(crate) struct Progress {
    bar: Option<ProgressBar>,
    total: usize,
    done: AtomicUsize,
    pages: AtomicUsize,
    instances: AtomicUsize,
}

impl Progress {
    fn new(locations: usize, shown: bool) -> Self {
        let bar = (shown && std::io::stderr().is_terminal()).then(|| {
            let b = ProgressBar::with_draw_target(None, ProgressDrawTarget::stderr());
            b.set_style(
                ProgressStyle::with_template("{spinner} {elapsed} {msg}")
                    .unwrap_or_else(|_| ProgressStyle::default_spinner()),
            );
            b.enable_steady_tick(Duration::from_millis(120));
            b
        });
        Progress {
            bar,
            total: locations,
            done: AtomicUsize::new(0),
            pages: AtomicUsize::new(0),
            instances: AtomicUsize::new(0),
        }
    }
    fn update(&self, extra: &str) {
        if let Some(b) = &self.bar {
            b.set_message(format!(
                "regions {}/{} · pages {} · instances {}{extra}",
                self.done.load(Ordering::Relaxed),
                self.total,
                self.pages.load(Ordering::Relaxed),
                self.instances.load(Ordering::Relaxed)
            ));
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}

/// Each location's part (ok or failed, with its calls), shape, records and evaluation, in the
/// order given. Only the locations that answered completely count: a failed location's pages
/// are dropped, evaluated or not.
fn record_results(fleet: &mut LiveFleet, results: Vec<location::Out>) {
    for out in results {
        let name = out.location.name().to_string();
        let (calls, by_action) = out.location.calls();
        fleet.api_calls += calls;
        let mut part = match out.res {
            Ok(stats) => {
                tracing::info!(region = %name, instances = stats.instances, pages = stats.pages, shards = stats.shards, ms = stats.elapsed.as_millis() as u64, "region scanned");
                // The chain grows by the extra-field rounds, made after the location's read.
                let rounds = out
                    .extra_fetched
                    .div_ceil(out.location.extra_concurrency().max(1));
                fleet.shape.push((
                    name.clone(),
                    stats.shards,
                    stats.pages,
                    stats.max_sequential_pages,
                ));
                fleet.instances.extend(out.records);
                fleet.read += out.instances;
                fleet.user_data_sampled += out.extra_fetched;
                // The part was read completely: what its sink saw counts.
                if let Some(fold) = out.fold {
                    fold.keep();
                }
                SourcePart {
                    note: stats.note,
                    sequential_calls: Some(stats.max_sequential_pages + rounds),
                    ..SourcePart::read(name, PartKind::Region, out.instances)
                }
            }
            Err(e) => {
                tracing::debug!(region = %name, error = %e, "region failed");
                SourcePart::failed(name, PartKind::Region, e)
            }
        };
        part.api_calls = Some(calls);
        part.api_calls_by_action = Some(by_action);
        fleet.parts.push(part);
    }
}

/// Reads every location of one scope at once, each in its own task. `scope`: the scope every
/// record and part is marked with, when this is one of several scopes (no progress bar of its
/// own then: the caller shows scopes); `None` for the credentials' own, whose records keep what
/// the cloud said.
pub async fn read_scope(
    scope: Option<(ScopeKind, Arc<str>)>,
    locations: Vec<Arc<dyn Location>>,
    plan: &ReadPlan,
) -> LiveFleet {
    let started = std::time::Instant::now();
    let progress = Arc::new(Progress::new(locations.len(), scope.is_none()));
    progress.update("");
    // One task per location, so pages of different locations are parsed on every core, and
    // each location fetches its sample as soon as it is read.
    let handles: Vec<_> = locations
        .iter()
        .cloned()
        .map(|location| {
            tokio::spawn(location::run(location::Job {
                location,
                progress: progress.clone(),
                scope: scope.as_ref().map(|(_, id)| id.clone()),
                extra: plan.extra.clone(),
                sink: plan.sink.clone(),
            }))
        })
        .collect();
    let mut results = Vec::new();
    for (h, location) in handles.into_iter().zip(&locations) {
        results.push(match h.await {
            Ok(r) => r,
            Err(e) => location::Out {
                location: location.clone(),
                res: Err(format!("the scan task failed: {e}")),
                records: Vec::new(),
                fold: None,
                instances: 0,
                extra_fetched: 0,
            },
        });
    }
    // Locations in name order, each already sorted by id: the fleet comes out sorted by
    // (location, id).
    results.sort_by(|a, b| a.location.name().cmp(b.location.name()));
    let mut fleet = LiveFleet::default();
    fleet
        .instances
        .reserve(results.iter().map(|r| r.records.len()).sum());
    record_results(&mut fleet, results);
    progress.finish();
    fleet.parts.sort_by(|a, b| a.name.cmp(&b.name));
    fleet.shape.sort();
    debug_assert!(
        fleet
            .instances
            .windows(2)
            .all(|w| (&w[0].region, &w[0].id) < (&w[1].region, &w[1].id))
    );
    if let Some((kind, id)) = &scope {
        for p in &mut fleet.parts {
            p.scope = Some(Scope::new(*kind, &**id));
            p.kind = PartKind::RegionOfAccount;
        }
    }
    fleet.elapsed = started.elapsed();
    fleet
}

/// A cloud's scopes, for a read of several: how each is named and opened.
pub trait Scopes: Send + Sync {
    /// One scope as the cloud describes it (EC2: an account of the accounts file).
    type Scope: Send + Sync;

    /// What kind of scope they are.
    fn kind(&self) -> ScopeKind;

    /// The scope's id (what records and parts are marked with).
    fn id(&self, s: &Self::Scope) -> String;

    /// The scope's label (`dev (111122223333)`): a scope that cannot be opened is the failed
    /// part `KIND LABEL`.
    fn label(&self, s: &Self::Scope) -> String;

    /// Opens the scope (its credentials, checked) and its locations; the error says why not,
    /// in words.
    fn open<'a>(
        &'a self,
        s: &'a Self::Scope,
    ) -> BoxFuture<'a, Result<Vec<Arc<dyn Location>>, String>>;
}

/// How many scopes are read at once (each has its own API budget; this bounds connections).
pub const SCOPES_AT_ONCE: usize = 4;

/// One scope: opened, then read; a scope that cannot be opened is its own failed part.
async fn one_scope<C: Scopes>(cloud: &C, s: &C::Scope, plan: &ReadPlan) -> LiveFleet {
    let kind = cloud.kind();
    let id = cloud.id(s);
    match cloud.open(s).await {
        Ok(locations) => read_scope(Some((kind, id.as_str().into())), locations, plan).await,
        Err(e) => LiveFleet {
            parts: vec![
                SourcePart::failed(
                    format!("{} {}", kind.name(), cloud.label(s)),
                    PartKind::Account,
                    e,
                )
                .in_scope(Scope::new(kind, id)),
            ],
            ..LiveFleet::default()
        },
    }
}

/// Reads every scope, a few at a time; one scope's failure is its own failed part, and the
/// others are still read. Records come out sorted by (scope, location, id), parts by (scope,
/// name).
pub async fn read_scopes<C: Scopes>(cloud: &C, scopes: &[C::Scope], plan: &ReadPlan) -> LiveFleet {
    let started = std::time::Instant::now();
    let limit = Arc::new(tokio::sync::Semaphore::new(SCOPES_AT_ONCE));
    let mut jobs: FuturesUnordered<_> = scopes
        .iter()
        .map(|s| {
            let limit = limit.clone();
            async move {
                let _p = limit.acquire().await.ok();
                let t = std::time::Instant::now();
                let live = one_scope(cloud, s, plan).await;
                tracing::info!(account = %cloud.label(s), instances = live.instances.len(), failed = live.parts.iter().filter(|p| p.status == PartStatus::Failed).count(), ms = t.elapsed().as_millis() as u64, "account scanned");
                live
            }
        })
        .collect();
    let mut all = LiveFleet::default();
    while let Some(live) = jobs.next().await {
        all.instances.extend(live.instances);
        all.parts.extend(live.parts);
        all.user_data_sampled += live.user_data_sampled;
        all.api_calls += live.api_calls;
        all.shape.extend(live.shape);
        all.read += live.read;
    }
    all.instances
        .sort_unstable_by(|a, b| (&a.scope, &a.region, &a.id).cmp(&(&b.scope, &b.region, &b.id)));
    all.parts
        .sort_by(|a, b| (&a.scope, &a.name).cmp(&(&b.scope, &b.name)));
    all.shape.sort();
    all.elapsed = started.elapsed();
    all
}

#[cfg(test)]
mod tests;

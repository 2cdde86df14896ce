//! Live GCE as a [`Source`]: each project a scope of the live driver, its one location all its
//! zones (`instances.aggregatedList`), paged through the driver's `paginate`.

use super::client::{Auth, Lister, Settings, bucket, parse, peek_next};
use super::{API_METHOD, NO_CULL};
use crate::accounts::Project;
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{GceField, ScopeKind};
use crate::report::{SourceInfo, SourceKind};
use crate::source::driver::{
    self, Budget, Emit, LiveFleet, Location, LocationStats, PageGuard, ReadPlan, Scopes,
};
use crate::source::{
    Can, Capabilities, Fleet, HealthRead, HealthRequest, RecordSink, Source, read_only_for_cull,
};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

/// The name of a project's one location (every zone, in one listing).
const ALL_ZONES: &str = "all-zones";

/// What a live GCE read reads and how: the command line's GCP arguments, resolved.
#[derive(Debug, Clone)]
pub struct GceOptions {
    /// The projects (from `--project` or the accounts file's `projects:`).
    pub projects: Vec<Project>,
    /// The Compute REST root.
    pub endpoint: String,
    /// Compute read calls per minute, per project (worker-manager spends the same quota).
    pub per_minute: f64,
    /// Attempts per call, the first included.
    pub attempts: u32,
    /// Backoff before the first retry.
    pub initial_backoff: Duration,
    /// Timeout of one attempt.
    pub timeout: Duration,
}

/// Live GCE.
#[derive(Debug, Clone)]
pub struct Live {
    /// What to read and how.
    pub opts: GceOptions,
}

/// The driver's view of the projects.
struct Projects {
    opts: GceOptions,
    http: reqwest::Client,
    auth: Arc<Auth>,
    filter: Option<String>,
    secrets: SecretPolicy,
}

/// One project's listing, as the driver's location.
struct ProjectLocation {
    lister: Lister,
    budget: Budget,
    secrets: Arc<SecretPolicy>,
}

impl ProjectLocation {
    /// Every page, the next one fetched while this one is read (on a blocking thread): the
    /// token is found ahead of the read (`peek_next`) and checked by it. A token given twice
    /// fails the project (the driver's `PageGuard`); every call goes through the project's
    /// budget.
    async fn pages(&self, emit: Emit<'_>) -> Result<LocationStats, String> {
        let started = std::time::Instant::now();
        let mut guard = PageGuard::default();
        let mut stats = LocationStats {
            shards: 1,
            ..LocationStats::default()
        };
        let mut body = self
            .budget
            .spend(API_METHOD, self.lister.fetch(None))
            .await?;
        for n in 1.. {
            let peeked = peek_next(&body);
            if let Some(t) = &peeked {
                guard.next(t, API_METHOD)?;
            }
            let (secrets, project) = (self.secrets.clone(), self.lister.project.clone());
            let read = tokio::task::spawn_blocking(move || parse(&body, &project, n, &secrets));
            let ahead = async {
                match &peeked {
                    Some(t) => Some(
                        self.budget
                            .spend(API_METHOD, self.lister.fetch(Some(t)))
                            .await,
                    ),
                    None => None,
                }
            };
            let (page, next) = tokio::join!(read, ahead);
            let page = page.map_err(|e| format!("reading page {n} failed: {e}"))??;
            if page.next.as_deref().filter(|t| !t.is_empty())
                != peeked.as_deref().filter(|t| !t.is_empty())
            {
                return Err(format!(
                    "page {n}'s nextPageToken could not be found ahead of reading it: stopped rather than skip or repeat pages"
                ));
            }
            stats.pages += 1;
            stats.instances += page.records.len();
            emit(page.records);
            match next {
                None => break,
                Some(b) => body = b?,
            }
        }
        stats.max_sequential_pages = stats.pages;
        stats.elapsed = started.elapsed();
        Ok(stats)
    }
}

impl Location for ProjectLocation {
    fn name(&self) -> &str {
        ALL_ZONES
    }

    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(async move {
            let mut stats = self.pages(emit).await?;
            if let Some(f) = &self.lister.filter {
                stats.note = Some(format!("server-side filter: {f}"));
            }
            Ok(stats)
        })
    }

    fn extra<'a>(&'a self, _: &'a str, _: &'a SecretPolicy) -> BoxFuture<'a, UserData> {
        // The `taskcluster` metadata comes with the listing: nothing more to fetch.
        Box::pin(async { UserData::NotFetched })
    }

    fn sample_group(&self, i: &Instance, key: &mut String) {
        key.push_str(i.field(GceField::Zone).unwrap_or_default());
    }

    fn extra_concurrency(&self) -> usize {
        1
    }

    fn calls(&self) -> (usize, BTreeMap<String, usize>) {
        let n = self.budget.calls();
        (n, BTreeMap::from([(API_METHOD.to_string(), n)]))
    }
}

impl Scopes for Projects {
    type Scope = Project;

    fn kind(&self) -> ScopeKind {
        ScopeKind::Project
    }

    fn id(&self, s: &Project) -> String {
        s.id.clone()
    }

    fn label(&self, s: &Project) -> String {
        if s.name == s.id {
            s.id.clone()
        } else {
            format!("{} ({})", s.name, s.id)
        }
    }

    fn open<'a>(&'a self, s: &'a Project) -> BoxFuture<'a, Result<Vec<Arc<dyn Location>>, String>> {
        Box::pin(async move {
            // A token first: credentials that cannot give one fail the project by name.
            self.auth.token().await?;
            let location: Arc<dyn Location> = Arc::new(ProjectLocation {
                lister: Lister {
                    http: self.http.clone(),
                    auth: self.auth.clone(),
                    settings: Settings {
                        endpoint: self.opts.endpoint.clone(),
                        attempts: self.opts.attempts.max(1),
                        initial_backoff: self.opts.initial_backoff,
                        timeout: self.opts.timeout,
                    },
                    project: s.id.clone(),
                    filter: self.filter.clone(),
                    bucket: bucket(self.opts.per_minute),
                },
                budget: Budget::new(2, None),
                secrets: Arc::new(self.secrets.clone()),
            });
            Ok(vec![location])
        })
    }
}

impl Live {
    /// Live GCE with these options.
    pub fn new(opts: GceOptions) -> Live {
        Live { opts }
    }

    /// Reads every project with `filter` into `sink` (or keeps the records).
    pub async fn read_async(
        &self,
        filter: Option<String>,
        secrets: &SecretPolicy,
        sink: Option<Arc<dyn RecordSink>>,
    ) -> Result<Fleet> {
        let auth = Auth::load().map_err(Error::Usage)?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(5))
            .build()
            .map_err(|e| Error::Incomplete(format!("cannot start the HTTP client: {e}")))?;
        tracing::info!(filter = ?filter, projects = self.opts.projects.len(), "GCE server-side filter");
        let projects = Projects {
            opts: self.opts.clone(),
            http,
            auth: Arc::new(auth),
            filter,
            secrets: secrets.clone(),
        };
        let plan = ReadPlan { extra: None, sink };
        let live = driver::read_scopes(&projects, &self.opts.projects, &plan).await;
        tracing::info!(
            api_calls = live.api_calls,
            instances = live.read,
            ms = live.elapsed.as_millis() as u64,
            "scan done"
        );
        Ok(from_live(live))
    }

    /// Reads every project with `filter` on a fresh runtime (`fleet record`: the default
    /// statuses).
    pub fn scan(&self, filter: Option<String>, secrets: &SecretPolicy) -> Result<Fleet> {
        crate::source::runtime()?.block_on(self.read_async(filter, secrets, None))
    }
}

/// A live read's records with their source.
fn from_live(live: LiveFleet) -> Fleet {
    Fleet {
        instances: live.instances,
        source: SourceInfo {
            kind: SourceKind::Live,
            instances: live.read,
            user_data_sampled: 0,
            parts: live.parts,
        },
    }
}

impl Source for Live {
    fn describe(&self) -> String {
        let ids: Vec<&str> = self.opts.projects.iter().map(|p| p.id.as_str()).collect();
        format!("live GCE (projects {})", ids.join(", "))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reads_recorded: false,
            scans_live: true,
            samples_extra_field: None,
            server_filters: true,
            health: Can::No(NO_CULL.into()),
            act: Can::No(NO_CULL.into()),
            concurrency: 1,
        }
    }

    fn read(&self, set: &ContractSet) -> Result<Fleet> {
        self.scan(super::server_filter(set), &set.secret_policy())
    }

    fn read_into(&self, set: &ContractSet, sink: Arc<dyn RecordSink>) -> Result<SourceInfo> {
        let fleet = crate::source::runtime()?.block_on(self.read_async(
            super::server_filter(set),
            &set.secret_policy(),
            Some(sink),
        ))?;
        Ok(fleet.source)
    }

    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        read_only_for_cull(req, NO_CULL, async move {
            self.read_async(super::server_filter(set), &set.secret_policy(), None)
                .await
        })
    }
}

//! Live GCE as a [`Source`]: each project a scope of the live driver, its one location all its
//! zones (`instances.aggregatedList`), paged through the driver's `paginate`.

use super::client::{Auth, Lister, Settings, bucket};
use super::{API_METHOD, NO_CULL};
use crate::accounts::Project;
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::{Instance, SecretPolicy, UserData};
use crate::output::{GceField, ScopeKind};
use crate::report::{SourceInfo, SourceKind};
use crate::source::driver::{
    self, Budget, Emit, LiveFleet, Location, LocationStats, Page, PageLister, ReadPlan, Scopes,
};
use crate::source::{Can, Capabilities, Fleet, HealthRead, HealthRequest, RecordSink, Source};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
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
    pages: AtomicUsize,
}

impl PageLister for ProjectLocation {
    fn page<'a>(&'a self, token: Option<&'a str>) -> BoxFuture<'a, Result<Page, String>> {
        let n = self.pages.fetch_add(1, Ordering::Relaxed) + 1;
        Box::pin(self.lister.page(token, n))
    }
}

impl Location for ProjectLocation {
    fn name(&self) -> &str {
        ALL_ZONES
    }

    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(async move {
            let mut stats = driver::paginate(self, API_METHOD, &self.budget, emit).await?;
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
                    secrets: self.secrets.clone(),
                },
                budget: Budget::new(1, None),
                pages: AtomicUsize::new(0),
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
        Box::pin(async move {
            if req.health {
                return Err(Error::usage(NO_CULL));
            }
            let fleet = self
                .read_async(super::server_filter(set), &set.secret_policy(), None)
                .await?;
            Ok(HealthRead {
                fleet,
                ..HealthRead::default()
            })
        })
    }
}

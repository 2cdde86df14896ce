//! Taskcluster worker-manager pool definitions rendered as worker-manager would launch them:
//! one record per launch configuration, by the provider implementation the pool's
//! `providerId` names (AWS, Google, Azure: `aws.rs`, `google.rs`, `azure.rs`), and the launches
//! it would refuse. A pool of a provider checker does not model gets no records and an
//! "unknown" verdict, never a silent pass.
//!
//! Modelled on taskcluster/taskcluster `services/worker-manager/src/providers/`, commit
//! 9d59eb59f6fd0912075c194100d8910f2da40f52 (the commit of the schemas the pools are validated
//! against); see docs/taskcluster.md and docs/firefox-ci-2026.md for each fact and its lines.

use super::providers::{ProviderKind, ProviderKinds};
use super::{json_files, read_value};
use crate::contract::ContractSet;
use crate::diag::{Diagnostic, Diagnostics};
use crate::fleet::{Instance, SecretPolicy};
use crate::tcschema::TcSchema;
use serde_json::{Map, Value};
use std::path::{Path, PathBuf};

/// The most user-data worker-manager sends: it refuses a launch configuration whose JSON
/// user-data is longer (aws.js: `if (userData.length > 16384)`, a "User Data is too long"
/// creation error; EC2's own limit is 16 KB before base64).
pub const USER_DATA_LIMIT: usize = 16384;

/// The value a proposal's public IPv4 gets: EC2 assigns it at launch.
pub const ASSIGNED_AT_LAUNCH: &str = "<assigned at launch>";

/// Fields of a create-worker-pool-request; the rest of an API response (workerPoolId, capacity
/// counters, timestamps) is not part of the definition.
const POOL_REQUEST_FIELDS: &[&str] = &[
    "providerId",
    "description",
    "config",
    "owner",
    "emailOnError",
];

/// Why worker-manager's launch of one launch configuration would fail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefusalKind {
    /// A tag key twice in one resource's tags: EC2 rejects the RunInstances call.
    DuplicateTagKey,
    /// User-data over [`USER_DATA_LIMIT`]: worker-manager reports a creation error instead.
    UserDataTooLong,
    /// GCE: the instance name worker-manager derives from the pool id is not a valid name.
    InvalidInstanceName,
    /// GCE: a label key or value GCE refuses (characters, case, over 63 characters).
    InvalidLabel,
    /// GCE: more than 64 labels on one resource.
    TooManyLabels,
    /// GCE: labels on a SCRATCH (local SSD) disk, which GCE refuses (taskcluster#6958).
    LabelsOnLocalSsd,
    /// GCE: a metadata key twice (the pool's own `taskcluster` item beside worker-manager's).
    DuplicateMetadataKey,
    /// Azure: more than 50 tags on one resource.
    TooManyTags,
    /// Azure: a tag name over 512 or a value over 256 characters.
    TagTooLong,
    /// Azure: no location (`armDeployment.parameters.location.value`, or `location`).
    NoLocation,
}

impl RefusalKind {
    /// The cloud that refuses.
    pub fn cloud(self) -> crate::output::Cloud {
        use crate::output::Cloud;
        match self {
            RefusalKind::DuplicateTagKey | RefusalKind::UserDataTooLong => Cloud::Ec2,
            RefusalKind::InvalidInstanceName
            | RefusalKind::InvalidLabel
            | RefusalKind::TooManyLabels
            | RefusalKind::LabelsOnLocalSsd
            | RefusalKind::DuplicateMetadataKey => Cloud::Gce,
            RefusalKind::TooManyTags | RefusalKind::TagTooLong | RefusalKind::NoLocation => {
                Cloud::Azure
            }
        }
    }

    /// The name reports carry.
    pub fn name(self) -> &'static str {
        match self {
            RefusalKind::DuplicateTagKey => "duplicate-tag-key",
            RefusalKind::UserDataTooLong => "user-data-too-long",
            RefusalKind::InvalidInstanceName => "invalid-instance-name",
            RefusalKind::InvalidLabel => "invalid-label",
            RefusalKind::TooManyLabels => "too-many-labels",
            RefusalKind::LabelsOnLocalSsd => "labels-on-local-ssd",
            RefusalKind::DuplicateMetadataKey => "duplicate-metadata-key",
            RefusalKind::TooManyTags => "too-many-tags",
            RefusalKind::TagTooLong => "tag-too-long",
            RefusalKind::NoLocation => "no-location",
        }
    }
}

/// A launch configuration that would launch nothing.
#[derive(Debug, Clone)]
pub struct LaunchRefusal {
    /// The pool.
    pub pool: String,
    /// Its launch configuration id, as worker-manager computes it.
    pub launch_config_id: String,
    /// Why.
    pub kind: RefusalKind,
    /// In one sentence.
    pub message: String,
    /// The pool definition.
    pub file: PathBuf,
    /// Where in it.
    pub pointer: String,
}

/// Pools rendered.
#[derive(Debug, Default)]
pub struct RenderedPools {
    /// One record per launch configuration that would launch.
    pub records: Vec<Instance>,
    /// Launch configurations that would not.
    pub refusals: Vec<LaunchRefusal>,
    /// Accepted, but not as written (an `additionalUserData.launchConfigId` is overwritten).
    pub warnings: Vec<Diagnostic>,
    /// The proposed pools' ids: known to the provider from now on.
    pub pool_ids: Vec<String>,
    /// Every pool read, in order.
    pub pools: Vec<ProposedPool>,
    /// Pools whose provider checker does not model.
    pub unmodelled: Vec<Unmodelled>,
}

/// A pool whose provider checker does not model: it has no records and no verdict but
/// "unknown".
#[derive(Debug, Clone)]
pub struct Unmodelled {
    /// The pool.
    pub pool: String,
    /// Its `providerId`.
    pub provider_id: String,
    /// Why it is not rendered.
    pub why: String,
    /// The pool definition.
    pub file: PathBuf,
    /// Where in it.
    pub pointer: String,
}

/// One proposed pool: what it is and how many launch configurations it has.
#[derive(Debug, Clone)]
pub struct ProposedPool {
    /// The pool id.
    pub pool: String,
    /// Its `providerId`.
    pub provider_id: String,
    /// The provider implementation (`aws`, `google`, `azure`), or `None` when not modelled.
    pub kind: Option<ProviderKind>,
    /// Its launch configurations.
    pub launch_configs: usize,
    /// Its records: `RenderedPools::records[records]`.
    pub records: std::ops::Range<usize>,
    /// The pool definition.
    pub file: PathBuf,
    /// Where in it.
    pub pointer: String,
}

/// The pool a launch configuration belongs to.
pub(super) struct Pool<'a> {
    pub(super) id: &'a str,
    pub(super) provider_id: &'a str,
    pub(super) owner: &'a str,
    pub(super) file: &'a Path,
    /// Its pointer in the file (`""`, or `/3` in a bundle).
    pub(super) base: &'a str,
}

impl Pool<'_> {
    /// Records that launch configuration `lc_id` would launch nothing, and why.
    pub(super) fn refuse(
        &self,
        out: &mut RenderedPools,
        lc_id: &str,
        kind: RefusalKind,
        message: String,
        pointer: String,
    ) {
        out.refusals.push(LaunchRefusal {
            pool: self.id.to_string(),
            launch_config_id: lc_id.to_string(),
            kind,
            message: format!("pool {} launch configuration {lc_id}: {message}", self.id),
            file: self.file.to_path_buf(),
            pointer,
        });
    }

    /// The proposed record's id for launch configuration `lc_id` in `place`.
    pub(super) fn record_id(&self, place: &str, lc_id: &str) -> String {
        format!("proposed:{}:{place}:{lc_id}", self.id)
    }
}

/// What every launch configuration shares.
pub(super) struct RenderCx<'a> {
    pub(super) root_url: &'a str,
    pub(super) set: &'a ContractSet,
    pub(super) secrets: &'a SecretPolicy,
}

/// The schemas pools are validated against: the request's, and one per provider
/// implementation.
struct PoolSchemas {
    request: TcSchema,
    aws: TcSchema,
    google: TcSchema,
    azure: TcSchema,
}

impl PoolSchemas {
    fn config(&self, kind: ProviderKind) -> Option<&TcSchema> {
        match kind {
            ProviderKind::Aws => Some(&self.aws),
            ProviderKind::Google => Some(&self.google),
            ProviderKind::Azure => Some(&self.azure),
            ProviderKind::Other(_) => None,
        }
    }
}

/// Validates and renders one pool definition, `v`, at `base` in file `f`.
fn one_pool(
    f: &Path,
    base: &str,
    v: &Value,
    schemas: &PoolSchemas,
    cx: &PoolsCx<'_>,
    diags: &mut Vec<Diagnostic>,
    out: &mut RenderedPools,
) {
    let Some(pool_id) = v
        .get("workerPoolId")
        .and_then(Value::as_str)
        .map(str::to_string)
    else {
        diags.push(Diagnostic::at(f, base, "the pool has no \"workerPoolId\"").hint("each file is a create-worker-pool-request with its workerPoolId added, as the worker-manager API returns a pool"));
        return;
    };
    let req: Map<String, Value> = v
        .as_object()
        .map(|o| {
            o.iter()
                .filter(|(k, _)| POOL_REQUEST_FIELDS.contains(&k.as_str()))
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect()
        })
        .unwrap_or_default();
    let req = Value::Object(req);
    let text = |k: &str| req.get(k).and_then(Value::as_str).unwrap_or("");
    let provider_id = text("providerId").to_string();
    let kind = cx.kinds.kind(&provider_id);
    let before = diags.len();
    diags.extend(schemas.request.check(f, base, &req));
    if let (Some(cfg), Some(schema)) = (
        req.get("config"),
        kind.as_ref().and_then(|k| schemas.config(k.clone())),
    ) {
        diags.extend(
            schema
                .check(f, &format!("{base}/config"), cfg)
                .into_iter()
                .map(super::aws::reserved_words),
        );
    }
    if diags.len() > before {
        return;
    }
    let lcs: Vec<&Value> = req
        .get("config")
        .and_then(|c| c.get("launchConfigs"))
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    out.pools.push(ProposedPool {
        pool: pool_id.clone(),
        provider_id: provider_id.clone(),
        kind: kind
            .clone()
            .filter(|k| !matches!(k, ProviderKind::Other(_))),
        launch_configs: lcs.len(),
        records: out.records.len()..out.records.len(),
        file: f.to_path_buf(),
        pointer: base.to_string(),
    });
    let pool = Pool {
        id: &pool_id,
        provider_id: &provider_id,
        owner: text("owner"),
        file: f,
        base,
    };
    let Some(render) = renderer(kind.as_ref(), &pool, cx, out) else {
        return;
    };
    for (i, lc) in lcs.into_iter().enumerate() {
        render(&pool, i, lc, &cx.render, out);
    }
    let end = out.records.len();
    if let Some(p) = out.pools.last_mut() {
        p.records.end = end;
    }
    out.pool_ids.push(pool_id);
}

/// The renderer of a pool's provider implementation; a pool of one checker does not model is
/// recorded as such, and has none.
fn renderer(
    kind: Option<&ProviderKind>,
    pool: &Pool<'_>,
    cx: &PoolsCx<'_>,
    out: &mut RenderedPools,
) -> Option<Render> {
    let why = match kind {
        Some(ProviderKind::Aws) => return Some(super::aws::render_launch_config),
        Some(ProviderKind::Google) => return Some(super::google::render_launch_config),
        Some(ProviderKind::Azure) => return Some(super::azure::render_launch_config),
        Some(ProviderKind::Other(k)) => format!(
            "its provider {:?} is a {k} provider, which checker does not model: what it puts on instances is unknown",
            pool.provider_id
        ),
        None => format!(
            "its provider {:?} is not one checker knows the implementation of (known: {}); pass --provider-kind {}=aws|google|azure",
            pool.provider_id,
            cx.kinds.describe(),
            pool.provider_id
        ),
    };
    out.unmodelled.push(Unmodelled {
        pool: pool.id.to_string(),
        provider_id: pool.provider_id.to_string(),
        why,
        file: pool.file.to_path_buf(),
        pointer: format!("{}/providerId", pool.base),
    });
    None
}

/// Renders launch configuration `i` of a pool.
type Render = fn(&Pool<'_>, usize, &Value, &RenderCx<'_>, &mut RenderedPools);

/// What rendering every pool shares.
struct PoolsCx<'a> {
    render: RenderCx<'a>,
    kinds: &'a ProviderKinds,
}

/// Reads worker-manager pool definitions (each a create-worker-pool-request with its
/// `workerPoolId`), validates them against Taskcluster's schemas (the request's and its
/// provider implementation's config schema), and renders one record per launch configuration
/// as worker-manager would launch it.
pub fn render_pools(
    paths: &[PathBuf],
    schemas: &crate::tcschema::SchemaSource,
    root_url: &str,
    set: &ContractSet,
    secrets: &SecretPolicy,
    kinds: &ProviderKinds,
) -> Result<RenderedPools, Diagnostics> {
    let mut diags = Vec::new();
    let load = |rel: &str| {
        TcSchema::load(schemas, rel)
            .map_err(|e| Diagnostics(vec![Diagnostic::file(Path::new(&schemas.describe()), e)]))
    };
    let schemas_cx = PoolSchemas {
        request: load("worker-manager/v1/create-worker-pool-request.json")?,
        aws: load("worker-manager/v1/config-aws.json")?,
        google: load("worker-manager/v1/config-google.json")?,
        azure: load("worker-manager/v1/config-azure.json")?,
    };
    let cx = PoolsCx {
        render: RenderCx {
            root_url,
            set,
            secrets,
        },
        kinds,
    };
    let mut out = RenderedPools::default();
    for path in paths {
        for f in json_files(path, &mut diags) {
            let Some(v) = read_value(&f, &mut diags) else {
                continue;
            };
            // A file holds one pool, or an array of them (a bundle, as a CI task publishes).
            match &v {
                Value::Array(items) => {
                    for (i, item) in items.iter().enumerate() {
                        one_pool(
                            &f,
                            &format!("/{i}"),
                            item,
                            &schemas_cx,
                            &cx,
                            &mut diags,
                            &mut out,
                        );
                    }
                }
                one => one_pool(&f, "", one, &schemas_cx, &cx, &mut diags, &mut out),
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

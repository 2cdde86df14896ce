//! The gate as one call: load the contract sets (the proposal's and the base's), render what the
//! proposal would put on instances, evaluate, and give each consumer a verdict.

use crate::contract::ContractSet;
use crate::diag::Diagnostics;
use crate::error::{Error, Result};
use crate::eval::Judgement;
use crate::exit::ExitStatus;
use crate::fleet::Instance;
use crate::report::{
    Change, Code, Finding, GateSection, Outcome, Report, SourceInfo, SourceKind, SourcePart,
};
use chrono::{DateTime, Utc};
use std::collections::{BTreeMap, BTreeSet};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What the gate is asked.
#[derive(Debug, Clone, Default)]
pub struct GateRequest {
    /// The consumer contracts (and any other contracts) to load.
    pub contracts: Vec<PathBuf>,
    /// A proposed provider manifest revision.
    pub proposed: Option<PathBuf>,
    /// The revision it replaces.
    pub base: Option<PathBuf>,
    /// Read the base revision of `proposed` from git at this ref.
    pub base_ref: Option<String>,
    /// Worker-manager pool definitions.
    pub pools: Vec<PathBuf>,
    /// aws-provisioner worker type definitions.
    pub worker_types: Vec<PathBuf>,
    /// The provider manifest whose naming rules `worker_types` use.
    pub provider: Option<String>,
    /// Which implementation each worker-manager `providerId` runs (`--provider-kind`).
    pub provider_kinds: crate::proposal::ProviderKinds,
    /// Regions to render a manifest in.
    pub regions: Vec<String>,
    /// rootUrl worker-manager puts in user-data.
    pub root_url: String,
    /// Taskcluster's JSON Schemas (needed for pools and worker types).
    pub taskcluster_schemas: Option<crate::tcschema::SchemaSource>,
    /// `CONSUMER=REASON`: left out of the verdict.
    pub ignore: Vec<String>,
    /// Report everything, exit 0.
    pub dry_run: bool,
    /// How findings are judged.
    pub judgement: Judgement,
    /// The evaluation time.
    pub now: DateTime<Utc>,
}

/// What was proposed, rendered.
#[derive(Default)]
struct Rendered {
    records: Vec<Instance>,
    base_records: Option<Vec<Instance>>,
    label: String,
    changes: Vec<Change>,
    /// Launches the provisioner would refuse, as findings.
    refused: Vec<Finding>,
    /// Accepted but not as written, located.
    warnings: Vec<String>,
    /// Groups the proposal brings (its own pools): known to their provider from now on.
    known: BTreeMap<String, BTreeSet<String>>,
    /// The pools proposed (`--pools`), their launch refusals and those not modelled.
    pools: Option<crate::proposal::RenderedPools>,
}

/// Runs the gate; the report's exit status is the verdicts' (0 under `dry_run`).
pub fn run(req: &GateRequest) -> Result<Report> {
    let ignore = parse_ignores(&req.ignore)?;
    if req.proposed.is_none() && req.pools.is_empty() && req.worker_types.is_empty() {
        return Err(Error::usage(
            "nothing proposed: pass --proposed FILE (a manifest revision), --pools PATH or --worker-types PATH",
        ));
    }
    let proposed_files: Vec<PathBuf> = req.proposed.iter().cloned().collect();
    let set = crate::load::load_with(&req.contracts, &proposed_files, &[])?;
    // A base revision read from git is kept beside the proposed file (so its relative set
    // files resolve) for as long as it is read.
    let base_tmp = base_from_git(req)?;
    let base_file: Option<PathBuf> = req
        .base
        .clone()
        .or_else(|| base_tmp.as_ref().map(|t| t.path().to_path_buf()));
    let base_set = match &base_file {
        Some(b) => Some(crate::load::load_with(
            &req.contracts,
            std::slice::from_ref(b),
            &proposed_files,
        )?),
        None => None,
    };
    for c in ignore.keys() {
        if set.consumer(c).is_none() {
            return Err(Error::usage(format!(
                "--ignore {c}: no consumer contract has that name (known: {})",
                names(set.consumers.iter().map(|c| c.name.as_str()))
            )));
        }
    }
    let mut r = render(req, &set, base_set.as_ref(), base_file.as_deref())?;
    // A proposal's own groups (a new pool) are known to their provider: adding a pool is the
    // most common change, and it must not be refused for being new.
    let set = if r.known.is_empty() {
        set
    } else {
        crate::load::load_knowing(&req.contracts, &proposed_files, &[], &r.known)?
    };
    let proposal = proposal_source(&r.records);
    let mut refused = std::mem::take(&mut r.refused);
    if let (Some(bs), Some(br)) = (&base_set, &r.base_records) {
        refused.extend(super::lost_inputs(&set, &r.records, bs, br, &r.changes));
    }
    let mut report = crate::eval::build_with(
        "gate",
        &set,
        &r.records,
        proposal,
        refused,
        req.judgement,
        req.now,
    );
    let base_report = match (&base_set, &r.base_records) {
        (Some(bs), Some(br)) => Some(crate::eval::build(
            "gate",
            bs,
            br,
            proposal_source(br),
            req.judgement,
            req.now,
        )),
        _ => None,
    };
    let mut verdicts = super::verdicts(
        &set,
        &r.records,
        &report,
        base_report.as_ref(),
        &r.changes,
        &ignore,
        req.judgement.fail_on_warn,
    );
    let pool_verdicts = pools_judged(req, &set, &r, &ignore, &mut verdicts);
    super::pools::relocate(&mut report.findings, &pool_verdicts);
    let status = super::exit_status(&verdicts);
    report.gate = Some(GateSection {
        proposal: r.label,
        base: base_file
            .as_ref()
            .map(|b| match (&req.base_ref, &req.proposed) {
                (Some(r), Some(p)) => format!("{} at {r}", p.display()),
                _ => b.display().to_string(),
            }),
        deployable: status == ExitStatus::Clean,
        dry_run: req.dry_run,
        verdict_exit_code: status,
        verdicts,
        changes: r.changes,
        warnings: r.warnings,
        pools: pool_verdicts,
    });
    report.summary.exit_code = if req.dry_run {
        ExitStatus::Clean
    } else {
        status
    };
    Ok(report)
}

/// A `--pools` gate's verdict per pool, and the verdict of the pools nothing models.
fn pools_judged(
    req: &GateRequest,
    set: &ContractSet,
    r: &Rendered,
    ignore: &BTreeMap<String, String>,
    verdicts: &mut Vec<crate::report::Verdict>,
) -> Vec<crate::report::PoolVerdict> {
    let Some(p) = &r.pools else {
        return Vec::new();
    };
    verdicts.extend(super::pools::unmodelled_verdict(&p.unmodelled));
    super::pools::pool_verdicts(&super::pools::PoolInputs {
        set,
        records: &r.records,
        pools: &p.pools,
        refusals: &p.refusals,
        unmodelled: &p.unmodelled,
        ignore,
        judgement: req.judgement,
        now: req.now,
    })
}

fn parse_ignores(given: &[String]) -> Result<BTreeMap<String, String>> {
    let mut ignore = BTreeMap::new();
    for i in given {
        match i.split_once('=') {
            Some((c, r)) if !c.trim().is_empty() && !r.trim().is_empty() => {
                ignore.insert(c.trim().to_string(), r.trim().to_string());
            }
            _ => {
                return Err(Error::usage(format!(
                    "--ignore {i}: give a reason, as CONSUMER=REASON (the reason is shown in the report)"
                )));
            }
        }
    }
    Ok(ignore)
}

fn names<'a>(it: impl Iterator<Item = &'a str>) -> String {
    it.collect::<Vec<_>>().join(", ")
}

fn paths(ps: &[PathBuf]) -> String {
    ps.iter()
        .map(|p| p.display().to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// With `--base-ref`, the base revision of `--proposed` written to a temporary file beside it.
fn base_from_git(req: &GateRequest) -> Result<Option<tempfile::NamedTempFile>> {
    let (None, Some(r), Some(p)) = (&req.base, &req.base_ref, &req.proposed) else {
        return Ok(None);
    };
    let text = super::git::show(r, p).map_err(|e| Error::usage(format!("--base-ref {r}: {e}")))?;
    let dir = p
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    tempfile::Builder::new()
        .prefix(".checker-base-")
        .suffix(".json")
        .tempfile_in(dir)
        .and_then(|mut t| {
            t.write_all(text.as_bytes())?;
            Ok(t)
        })
        .map(Some)
        .map_err(|e| {
            Error::Incomplete(format!(
                "cannot write the base revision beside {}: {e}",
                p.display()
            ))
        })
}

/// The `name` of the provider manifest in a file, if it is one.
fn provider_name_of(file: &Path) -> Option<String> {
    std::fs::read_to_string(file)
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
}

/// The provider named, or the only one loaded.
fn pick(s: &ContractSet, name: Option<String>) -> Option<usize> {
    match name {
        Some(n) => s.providers.iter().position(|p| p.name == n),
        None if s.providers.len() == 1 => Some(0),
        // aws-provisioner's worker types are EC2's: the one EC2 provider, when there is one.
        None => {
            let mut ec2 = s
                .providers
                .iter()
                .enumerate()
                .filter(|(_, p)| p.cloud == crate::output::Cloud::Ec2);
            match (ec2.next(), ec2.next()) {
                (Some((i, _)), None) => Some(i),
                _ => None,
            }
        }
    }
}

fn render(
    req: &GateRequest,
    set: &ContractSet,
    base_set: Option<&ContractSet>,
    base_file: Option<&Path>,
) -> Result<Rendered> {
    let secrets = set.secret_policy();
    if let Some(pfile) = &req.proposed {
        return render_manifest_revision(req, set, pfile, base_set.zip(base_file));
    }
    if !req.pools.is_empty() {
        return render_pools(req, set);
    }
    let Some(pi) = pick(set, req.provider.clone()) else {
        return Err(Error::usage(format!(
            "--worker-types needs the provider manifest whose naming rules apply: load it with --contracts and name it with --provider (loaded: {})",
            names(set.providers.iter().map(|p| p.name.as_str()))
        )));
    };
    let records = crate::proposal::render_worker_types(
        &req.worker_types,
        schemas(req)?,
        &set.providers[pi],
        &secrets,
    )?;
    Ok(Rendered {
        records,
        label: format!(
            "worker types {} with {}'s naming",
            paths(&req.worker_types),
            set.providers[pi].name
        ),
        ..Default::default()
    })
}

/// Fetches worker pool definitions from the worker-manager API of `root_url` into `dir` (one
/// file each, as `--pools` reads them), whatever their provider: the gate judges each by its
/// provider's implementation, and a pool of one it does not model is "unknown", not skipped.
pub fn fetch_pools(root_url: &str, ids: &[String], dir: &Path) -> Result<Vec<PathBuf>> {
    let mut files = Vec::new();
    for id in ids {
        let mut v = crate::taskcluster::worker_pool(root_url, id)?;
        if let Some(o) = v.as_object_mut() {
            o.insert("workerPoolId".into(), id.clone().into());
        }
        let file = dir.join(format!("{}.json", id.replace('/', "--")));
        let text =
            serde_json::to_string_pretty(&v).map_err(|e| Error::Incomplete(e.to_string()))?;
        crate::fsio::write_output(&text, Some(&file))?;
        files.push(file);
    }
    Ok(files)
}

/// Downloads a pool file (one pool, or an array of pools: a CI task's artifact) given as a URL
/// into `dir`; an answer over `max_bytes` is refused (and says how to raise the limit).
pub fn fetch_pool_file(url: &str, dir: &Path, n: usize, max_bytes: u64) -> Result<PathBuf> {
    let v = crate::taskcluster::get_json_limited(url, max_bytes)
        .map_err(|e| Error::Incomplete(format!("--pools {url}: {e}")))?;
    let file = dir.join(format!("pools-{n}.json"));
    let text = serde_json::to_string_pretty(&v).map_err(|e| Error::Incomplete(e.to_string()))?;
    crate::fsio::write_output(&text, Some(&file))?;
    Ok(file)
}

/// Taskcluster's schemas, or the error that says how to give them.
fn schemas(req: &GateRequest) -> Result<&crate::tcschema::SchemaSource> {
    match &req.taskcluster_schemas {
        Some(s) => Ok(s),
        None => Err(Error::usage(
            crate::tcschema::SchemaSource::resolve(None, None)
                .err()
                .unwrap_or_default(),
        )),
    }
}

/// The provider whose model renders pools.
const WORKER_MANAGER: &str = "worker-manager";

/// The provider manifest a refused launch is credited to: the first about the cloud the
/// launch was for, else [`WORKER_MANAGER`].
fn refusing_provider(set: &ContractSet, cloud: crate::output::Cloud) -> String {
    set.providers
        .iter()
        .find(|p| p.cloud == cloud)
        .map_or_else(|| WORKER_MANAGER.to_string(), |p| p.name.clone())
}

fn render_pools(req: &GateRequest, set: &ContractSet) -> Result<Rendered> {
    let secrets = set.secret_policy();
    let mut pools = crate::proposal::render_pools(
        &req.pools,
        schemas(req)?,
        &req.root_url,
        set,
        &secrets,
        &req.provider_kinds,
    )?;
    let mut known: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for rec in &pools.records {
        let g = crate::snapshot::group_of(set, rec);
        if let Some((provider, group)) = g.split_once('/')
            && provider != "(unmanaged)"
            && !group.starts_with("(no ")
        {
            known
                .entry(provider.to_string())
                .or_default()
                .insert(group.to_string());
        }
    }
    let refused = pools
        .refusals
        .iter()
        .map(|x| {
            let place = Diagnostics(vec![crate::diag::Diagnostic::at(
                &x.file,
                x.pointer.clone(),
                "",
            )])
            .located()
            .0
            .remove(0);
            let mut f = Finding::about(
                Code::LaunchRefused,
                Outcome::Violation,
                crate::contract::Severity::Error,
                refusing_provider(set, x.kind.cloud()),
                x.message.clone(),
            );
            f.clause = Some(format!("launch:{}", x.launch_config_id));
            f.kind = Some(x.kind.name().to_string());
            f.expected = Some("a launch configuration worker-manager can launch".into());
            f.count = 1;
            f.samples = vec![format!("{}{}", place.file.display(), place.place)];
            f.location = crate::report::Location::of(&x.file, &x.pointer);
            f
        })
        .collect();
    let warnings = Diagnostics(std::mem::take(&mut pools.warnings))
        .located()
        .0
        .iter()
        .map(|d| d.to_string())
        .collect();
    Ok(Rendered {
        records: std::mem::take(&mut pools.records),
        label: format!("worker pools {}", paths(&req.pools)),
        refused,
        warnings,
        known,
        pools: Some(pools),
        ..Default::default()
    })
}

fn render_manifest_revision(
    req: &GateRequest,
    set: &ContractSet,
    pfile: &Path,
    base: Option<(&ContractSet, &Path)>,
) -> Result<Rendered> {
    let secrets = set.secret_policy();
    let Some(pi) = pick(set, provider_name_of(pfile)) else {
        return Err(Error::usage(format!(
            "{}: not a provider manifest checker could load",
            pfile.display()
        )));
    };
    let bad = |file: &Path, e: String| {
        Error::Input(Diagnostics(vec![crate::diag::Diagnostic::file(file, e)]))
    };
    let records = crate::proposal::render_manifest(&set.providers[pi], &req.regions, &secrets)
        .map_err(|e| bad(pfile, e.to_string()))?;
    let (base_records, changes) = match base {
        Some((bs, bf)) => {
            let Some(bi) = pick(bs, provider_name_of(bf)) else {
                return Err(Error::usage(
                    "the base revision is not a provider manifest checker could load",
                ));
            };
            let recs = crate::proposal::render_manifest(&bs.providers[bi], &req.regions, &secrets)
                .map_err(|e| Error::usage(format!("base revision: {e}")))?;
            (
                Some(recs),
                super::manifest_changes(set, &bs.providers[bi], &set.providers[pi]),
            )
        }
        None => (None, Vec::new()),
    };
    Ok(Rendered {
        records,
        base_records,
        label: format!("provider manifest {}", pfile.display()),
        changes,
        ..Default::default()
    })
}

/// A proposal's records as a source: one part per region.
pub(super) fn proposal_source(recs: &[Instance]) -> SourceInfo {
    let mut by_region: BTreeMap<&str, usize> = BTreeMap::new();
    for r in recs {
        *by_region.entry(r.region.as_str()).or_default() += 1;
    }
    SourceInfo {
        kind: SourceKind::Proposal,
        instances: recs.len(),
        user_data_sampled: recs.len(),
        parts: by_region
            .into_iter()
            .map(|(n, c)| SourcePart::read(n, crate::report::PartKind::Region, c))
            .collect(),
    }
}

//! `checker gate`: can-i-deploy for a provisioner change.

use super::{ContractArgs, Ctx, ReportArgs};
use checker::gate::GateRequest;
use checker::{ExitStatus, Result};
use chrono::Utc;
use std::path::PathBuf;

/// `checker gate`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Exit codes:\n  0  deployable: every consumer says yes (ignored consumers aside)\n  1  not deployable: a consumer's contract breaks on the proposal\n  2  bad input: contracts or proposal invalid (file and place given)\n  3  unknown: some contract could not be evaluated on the proposal\n  --dry-run always exits 0 and records that it was used."
)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    /// A proposed provider manifest revision.
    #[arg(long, value_name = "FILE", group = "proposal")]
    proposed: Option<PathBuf>,
    /// The manifest revision it replaces (to list what changes and what regresses).
    #[arg(
        long,
        value_name = "FILE",
        requires = "proposed",
        conflicts_with = "base_ref"
    )]
    base: Option<PathBuf>,
    /// Read the base revision of --proposed from git at this ref (e.g. origin/main).
    #[arg(long, value_name = "GIT_REF", requires = "proposed")]
    base_ref: Option<String>,
    /// Worker-manager pool definitions (create-worker-pool-request + workerPoolId): files,
    /// directories, or URLs (a CI task's artifact); a file may hold an array of pools.
    #[arg(long, value_name = "PATH", group = "proposal")]
    pools: Vec<PathBuf>,
    /// Worker pools to fetch from the deployment's worker-manager API (needs --root-url or
    /// TASKCLUSTER_ROOT_URL): what the Pulse-triggered hook gates when a pool changes.
    #[arg(long = "pool-id", value_name = "WORKER_POOL_ID", group = "proposal")]
    pool_ids: Vec<String>,
    /// Which implementation a worker-manager providerId runs, ID=KIND (KIND aws, google, azure;
    /// another name, e.g. static, is a provider checker does not model: its pools are
    /// "unknown"). Firefox CI's are known: aws (aws); fxci-level1-gcp, fxci-level2-gcp,
    /// fxci-level3-gcp, fxci-test-gcp (google); azure2, azure_trusted (azure).
    #[arg(long = "provider-kind", value_name = "ID=KIND")]
    provider_kinds: Vec<String>,
    /// Deprecated: the same as --provider-kind ID=aws.
    #[arg(long = "aws-provider", value_name = "PROVIDER_ID", hide = true)]
    aws_providers: Vec<String>,
    /// 2018 aws-provisioner worker type definitions (JSON or YAML), rendered with a manifest's naming rules.
    #[arg(long = "worker-types", value_name = "PATH", group = "proposal")]
    worker_types: Vec<PathBuf>,
    /// The provider manifest whose naming rules --worker-types uses (default: the only one loaded).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Regions to render a manifest in, when it has no `regions` set.
    #[arg(long = "region", value_name = "REGION", default_value = "us-east-1")]
    regions: Vec<String>,
    /// The Taskcluster deployment: the rootUrl worker-manager puts in pool user-data, and where
    /// Taskcluster's JSON Schemas are fetched from (`<URL>/schemas/...`, cached) when
    /// --taskcluster-schemas is not given [env: TASKCLUSTER_ROOT_URL; rendering default
    /// https://taskcluster.example.com].
    #[arg(long, value_name = "URL")]
    root_url: Option<String>,
    /// Folder with Taskcluster's JSON Schemas, to validate pools and worker types offline
    /// [env: CHECKER_TASKCLUSTER_SCHEMAS]. Cache of fetched ones: CHECKER_CACHE_DIR, else the
    /// user's cache folder.
    #[arg(long, value_name = "DIR")]
    taskcluster_schemas: Option<PathBuf>,
    /// The largest pool file --pools URL may download, in MiB (the all-pools bundle of
    /// docs/deploying.md was 6.7 MB in 2026 and grows with every pool).
    #[arg(long, value_name = "MB", default_value_t = checker::taskcluster::DEFAULT_MAX_RESPONSE_BYTES >> 20, value_parser = clap::value_parser!(u64).range(1..=65536))]
    max_response_mb: u64,
    /// Leave a consumer out of the verdict: CONSUMER=REASON (the reason is shown in the report).
    #[arg(long, value_name = "CONSUMER=REASON")]
    ignore: Vec<String>,
    /// Also write the GitHub check of a `reporting: checks-v1` task here:
    /// customCheckRunText.md (at most 65,535 characters) and customCheckRunAnnotations.json (at
    /// most 50 annotations at contract files and lines). Publish the folder as public/github.
    #[arg(long, value_name = "DIR")]
    github_check: Option<PathBuf>,
    /// Break glass: report everything, exit 0, and record that --dry-run was used.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    report: ReportArgs,
}

/// Runs the gate and renders its report.
pub fn run(a: &Args, ctx: &Ctx) -> Result<ExitStatus> {
    a.report.out.check()?;
    let root_url = a
        .root_url
        .clone()
        .or_else(|| std::env::var("TASKCLUSTER_ROOT_URL").ok())
        .filter(|u| !u.trim().is_empty());
    let fetched = tempfile::tempdir().map_err(|e| {
        checker::Error::Incomplete(format!("cannot make a temporary directory: {e}"))
    })?;
    let mut pools = Vec::with_capacity(a.pools.len());
    for (n, p) in a.pools.iter().enumerate() {
        match p
            .to_str()
            .filter(|s| s.starts_with("https://") || s.starts_with("http://"))
        {
            Some(url) => pools.push(checker::gate::fetch_pool_file(
                url,
                fetched.path(),
                n,
                a.max_response_mb << 20,
            )?),
            None => pools.push(p.clone()),
        }
    }
    if !a.pool_ids.is_empty() {
        let Some(root) = &root_url else {
            return Err(checker::Error::usage(
                "--pool-id fetches the pool from worker-manager: give --root-url URL (or set TASKCLUSTER_ROOT_URL)",
            ));
        };
        pools = checker::gate::fetch_pools(root, &a.pool_ids, fetched.path())?;
    }
    let mut kinds: Vec<String> = a
        .aws_providers
        .iter()
        .map(|id| format!("{id}=aws"))
        .collect();
    kinds.extend(a.provider_kinds.iter().cloned());
    let provider_kinds =
        checker::proposal::ProviderKinds::with(&kinds).map_err(checker::Error::usage)?;
    let req = GateRequest {
        contracts: a.contracts.contracts.clone(),
        proposed: a.proposed.clone(),
        base: a.base.clone(),
        base_ref: a.base_ref.clone(),
        pools,
        worker_types: a.worker_types.clone(),
        provider: a.provider.clone(),
        regions: a.regions.clone(),
        provider_kinds,
        root_url: root_url
            .clone()
            .unwrap_or_else(|| "https://taskcluster.example.com".into()),
        taskcluster_schemas: checker::tcschema::SchemaSource::resolve(
            a.taskcluster_schemas.clone(),
            root_url.as_deref(),
        )
        .ok(),
        ignore: a.ignore.clone(),
        dry_run: a.dry_run,
        judgement: a.report.judgement(),
        now: a.report.now.unwrap_or_else(Utc::now),
    };
    let report = checker::gate::run(&req)?;
    if let Some(dir) = &a.github_check {
        std::fs::create_dir_all(dir).map_err(|e| checker::Error::Write {
            path: dir.clone(),
            source: e,
        })?;
        let text = checker::render::github::text(&report);
        checker::fsio::write_output(&text, Some(&dir.join("customCheckRunText.md")))?;
        let notes = checker::render::github::annotations(&report)?;
        checker::fsio::write_output(&notes, Some(&dir.join("customCheckRunAnnotations.json")))?;
    }
    a.report.finish(&report, ctx)
}

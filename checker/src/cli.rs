//! The command line: argument types (clap derive) and one function per command.

use crate::contract::ContractSet;
use crate::diag::Diagnostics;
use crate::eval::{Policy, evaluate, summarize};
use crate::exit;
use crate::fleet::Instance;
use crate::render::{Format, render};
use crate::report::*;
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;

/// Contracts between a fleet's provisioner and the programs that depend on it.
///
/// Provider manifests say what a provisioner puts on every instance (key name, tags, user-data
/// fields, ...); consumer contracts say what OpenCloudConfig, the culling job, generic-worker...
/// rely on and derive from those outputs. checker evaluates them against a fleet and reports
/// violations, unknowns and waivers, grouped so that 5,000 failing instances are one finding.
#[derive(Debug, Parser)]
#[command(name = "checker", version, after_long_help = exit::HELP, after_help = exit::HELP)]
pub struct Cli {
    /// More logging on stderr (-v: info, -vv: debug incl. every AWS call, -vvv: trace). RUST_LOG overrides.
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Colour in human output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// The command.
    #[command(subcommand)]
    pub command: Command,
}

/// When to colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    /// When writing to a terminal and NO_COLOR is unset.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Load and validate contracts (schema, regexes, facts, sets, templates, unique ids); exit 2 listing every problem.
    Validate(ValidateArgs),
    /// Evaluate every provider manifest and consumer contract against a fleet.
    Check(CheckArgs),
    /// Explain an instance (every clause that applies, values read, facts derived, verdicts) or a clause id.
    Explain(ExplainArgs),
    /// List the clause kinds and finding codes, with their documentation.
    Rules(RulesArgs),
    /// Pre-deploy gate: would a proposed provider change break any consumer? Verdict per consumer.
    Gate(GateArgs),
    /// Write a normalized, deterministic, secret-free summary of the fleet's outputs per group.
    Snapshot(SnapshotArgs),
    /// What changed since a snapshot, and which consumers each change touches (and breaks).
    Diff(DiffArgs),
    /// Terminate impaired instances within the cull contract's scope and per-group budgets (dry run unless --apply).
    Cull(crate::ops::CullArgs),
    /// The scheduled job: check + diff against the snapshot + cull, artifacts written to --artifacts.
    Hook(crate::ops::HookArgs),
    /// Fleet files: `checker fleet record` writes what live EC2 returns in the format --fleet reads.
    #[command(subcommand)]
    Fleet(FleetCommand),
}

/// `checker fleet ...`.
#[derive(Debug, Subcommand)]
pub enum FleetCommand {
    /// Scan live EC2 and write describe-instances JSON (user-data inline, secrets redacted), so a
    /// live problem can be reproduced offline with `checker check --fleet`.
    Record(RecordArgs),
}

/// `checker fleet record`.
#[derive(Debug, Args)]
pub struct RecordArgs {
    #[command(flatten)]
    aws: crate::live::AwsArgs,
    /// Contracts whose manifests mark secret user-data fields (credential-like names are always redacted).
    #[arg(long = "contracts", value_name = "PATH")]
    contracts: Vec<PathBuf>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Where contracts come from.
#[derive(Debug, Clone, Args)]
pub struct ContractArgs {
    /// Contract files or directories (repeatable; combined). Directories are read recursively for *.json, skipping schema/.
    #[arg(long = "contracts", value_name = "PATH", default_value = "contracts")]
    pub contracts: Vec<PathBuf>,
}

/// Where the fleet comes from: recorded files, or live EC2.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// A file of `aws ec2 describe-instances --output json` output (repeatable). Instances may carry
    /// user-data inline as "UserData": {"Value": "<base64>"}. Without --fleet, live EC2 is scanned.
    #[arg(long = "fleet", value_name = "FILE")]
    pub fleet: Vec<PathBuf>,
    /// Live EC2 settings, used when no --fleet is given.
    #[command(flatten)]
    pub aws: crate::live::AwsArgs,
}

/// How results are written and judged.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write the report to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Warnings fail the run (exit 1) too.
    #[arg(long)]
    pub fail_on_warn: bool,
    /// Unknown evaluations tolerated before the result is incomplete (exit 3).
    #[arg(long, value_name = "N", default_value_t = 0)]
    pub max_unknown: usize,
    /// Evaluate as of this time (RFC 3339) instead of now: waiver expiry, reproducible reports.
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    pub now: Option<DateTime<Utc>>,
}

/// Parses `--now`.
pub fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: write e.g. 2018-02-14T12:00:00Z"))
}

/// `checker validate`.
#[derive(Debug, Args)]
pub struct ValidateArgs {
    #[command(flatten)]
    contracts: ContractArgs,
}

/// `checker check`.
#[derive(Debug, Args)]
#[command(after_help = exit::HELP)]
pub struct CheckArgs {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    #[command(flatten)]
    report: ReportArgs,
}

/// `checker explain`.
#[derive(Debug, Args)]
pub struct ExplainArgs {
    /// An instance id (i-...) or a clause id.
    pub id: String,
    #[command(flatten)]
    contracts: ContractArgs,
    /// Fleet files (needed for an instance; optional for a clause, to show its results).
    #[arg(long = "fleet", value_name = "FILE")]
    fleet: Vec<PathBuf>,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

/// `checker gate`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes:\n  0  deployable: every consumer says yes (ignored consumers aside)\n  1  not deployable: a consumer's contract breaks on the proposal\n  2  bad input: contracts or proposal invalid (file and place given)\n  3  unknown: some contract could not be evaluated on the proposal\n  --dry-run always exits 0 and records that it was used."
)]
pub struct GateArgs {
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
    /// Worker-manager pool definitions (create-worker-pool-request + workerPoolId), files or directories.
    #[arg(long, value_name = "PATH", group = "proposal")]
    pools: Vec<PathBuf>,
    /// 2018 aws-provisioner worker type definitions (JSON or YAML), rendered with a manifest's naming rules.
    #[arg(long = "worker-types", value_name = "PATH", group = "proposal")]
    worker_types: Vec<PathBuf>,
    /// The provider manifest whose naming rules --worker-types uses (default: the only one loaded).
    #[arg(long, value_name = "NAME")]
    provider: Option<String>,
    /// Regions to render a manifest in, when it has no `regions` set.
    #[arg(long = "region", value_name = "REGION", default_value = "us-east-1")]
    regions: Vec<String>,
    /// rootUrl worker-manager puts in pool user-data.
    #[arg(
        long,
        value_name = "URL",
        default_value = "https://taskcluster.example.com"
    )]
    root_url: String,
    /// Folder with Taskcluster's JSON Schemas, to validate pools and worker types [env: CHECKER_TASKCLUSTER_SCHEMAS; default ../shared/taskcluster-schemas].
    #[arg(long, value_name = "DIR")]
    taskcluster_schemas: Option<PathBuf>,
    /// Leave a consumer out of the verdict: CONSUMER=REASON (the reason is shown in the report).
    #[arg(long, value_name = "CONSUMER=REASON")]
    ignore: Vec<String>,
    /// Break glass: report everything, exit 0, and record that --dry-run was used.
    #[arg(long)]
    dry_run: bool,
    #[command(flatten)]
    report: ReportArgs,
}

/// `checker snapshot`.
#[derive(Debug, Args)]
pub struct SnapshotArgs {
    #[command(flatten)]
    contracts: ContractArgs,
    #[command(flatten)]
    fleet: FleetArgs,
    /// Write the snapshot here (atomically); default stdout.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
}

/// `checker diff`.
#[derive(Debug, Args)]
#[command(
    after_help = "Exit codes:\n  0  no change (or changes that break nothing, without --fail-on-drift)\n  1  a change breaks a consumer's contract (with --fail-on-drift: any change)\n  2  bad input: a missing, corrupt or newer-format snapshot, bad contracts\n  3  the source could not be read completely"
)]
pub struct DiffArgs {
    #[command(flatten)]
    contracts: ContractArgs,
    /// The recorded snapshot to compare with.
    #[arg(long, value_name = "FILE")]
    snapshot: PathBuf,
    /// Compare with a second snapshot instead of a fleet (contracts cannot be evaluated then).
    #[arg(long, value_name = "FILE", conflicts_with = "fleet")]
    to: Option<PathBuf>,
    #[command(flatten)]
    fleet: FleetArgs,
    /// After showing the diff, write the new snapshot over --snapshot (atomically).
    #[arg(long)]
    update: bool,
    /// Any change fails (exit 1), not only breaking ones.
    #[arg(long)]
    fail_on_drift: bool,
    /// Output format (junit: one test case per changed output).
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
    /// Write the diff here (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
    /// Evaluate as of this time (RFC 3339).
    #[arg(long, value_name = "TIME", value_parser = parse_time)]
    now: Option<DateTime<Utc>>,
}

/// `checker rules`.
#[derive(Debug, Args)]
pub struct RulesArgs {
    /// `human` or `json`.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    format: Format,
}

/// Runs the CLI and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                exit::BAD_INPUT
            } else {
                exit::CLEAN
            };
        }
    };
    init_tracing(cli.verbose);
    let color = match cli.color {
        ColorChoice::Always => true,
        ColorChoice::Never => false,
        ColorChoice::Auto => {
            std::io::stdout().is_terminal() && std::env::var_os("NO_COLOR").is_none()
        }
    };
    match cli.command {
        Command::Validate(a) => validate(&a),
        Command::Check(a) => check(&a, color),
        Command::Explain(a) => explain(&a),
        Command::Rules(a) => rules(&a),
        Command::Fleet(FleetCommand::Record(a)) => record(&a),
        Command::Gate(a) => gate(&a, color),
        Command::Snapshot(a) => snapshot_cmd(&a),
        Command::Diff(a) => diff_cmd(&a, color),
        Command::Cull(a) => crate::ops::cull(&a),
        Command::Hook(a) => crate::ops::hook(&a),
    }
}

fn init_tracing(verbose: u8) {
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("checker={level},checker_ec2={level}"))
    });
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}

/// Prints diagnostics on stderr.
pub fn print_diags(d: &Diagnostics) {
    eprintln!("{d}");
}

/// Loads contracts, printing every problem on failure.
pub fn load_contracts(a: &ContractArgs) -> Result<ContractSet, i32> {
    crate::load::load(&a.contracts).map_err(|d| {
        print_diags(&d);
        exit::BAD_INPUT
    })
}

fn validate(a: &ValidateArgs) -> i32 {
    match load_contracts(&a.contracts) {
        Err(code) => code,
        Ok(set) => {
            let clauses: usize = set.consumers.iter().map(|c| c.clauses.len()).sum();
            println!(
                "ok: {} files: {} provider manifest(s), {} consumer contract(s) with {} clauses, {} waiver(s)",
                set.files.len(),
                set.providers.len(),
                set.consumers.len(),
                clauses,
                set.waivers.len()
            );
            exit::CLEAN
        }
    }
}

/// Reads recorded fleet files; every bad instance is reported.
pub fn read_fleets(
    files: &[PathBuf],
    set: &ContractSet,
) -> Result<(Vec<Instance>, Vec<SourcePart>), i32> {
    let secrets = set.secret_policy();
    let mut all = Vec::new();
    let mut parts = Vec::new();
    let mut diags = Vec::new();
    for f in files {
        match crate::fleet::read_recorded(f, &secrets) {
            Ok(v) => {
                parts.push(SourcePart {
                    name: f.display().to_string(),
                    status: "ok",
                    instances: v.len(),
                    error: None,
                    api_calls: None,
                    sequential_calls: None,
                });
                all.extend(v);
            }
            Err(d) => diags.extend(d.0),
        }
    }
    if !diags.is_empty() {
        print_diags(&Diagnostics(diags));
        return Err(exit::BAD_INPUT);
    }
    Ok((all, parts))
}

/// Builds a report from an evaluation.
pub fn build_report(
    command: &str,
    set: &ContractSet,
    fleet: &[Instance],
    source: SourceInfo,
    args: &ReportArgs,
) -> Report {
    let now = args.now.unwrap_or_else(Utc::now);
    let ev = evaluate(set, fleet, now);
    let incomplete = source.parts.iter().any(|p| p.status != "ok");
    let mut findings = ev.findings;
    for p in source.parts.iter().filter(|p| p.status != "ok") {
        findings.insert(
            0,
            Finding {
                code: "region-failed",
                outcome: Outcome::Unknown,
                severity: crate::contract::Severity::Error,
                consumer: "(source)".into(),
                clause: None,
                kind: None,
                output: None,
                expected: None,
                actual: vec![],
                count: 0,
                samples: vec![],
                message: format!(
                    "{} could not be read: {}; its instances were not evaluated",
                    p.name,
                    p.error.as_deref().unwrap_or("error")
                ),
                why: None,
                runbook: None,
                waiver: None,
            },
        );
    }
    let summary = summarize(
        &findings,
        ev.evaluations,
        ev.unknown_evaluations,
        Policy {
            fail_on_warn: args.fail_on_warn,
            max_unknown: args.max_unknown,
            source_incomplete: incomplete,
        },
    );
    Report {
        format: FORMAT,
        version: VERSION,
        tool: format!("checker {}", env!("CARGO_PKG_VERSION")),
        command: command.to_string(),
        generated_at: now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        source,
        summary,
        findings,
        coverage: ev.coverage,
        consumers: ev.consumers,
        gate: None,
    }
}

/// Renders a report as asked, writes it, and returns its exit code (3 if it cannot be written).
pub fn finish(report: &Report, args: &ReportArgs, color: bool) -> i32 {
    let text = render(report, args.format, color && args.output.is_none());
    match emit(&text, args.output.as_ref()) {
        Ok(()) => report.summary.exit_code,
        Err(c) => c,
    }
}

/// Writes rendered output to the file or stdout; an I/O failure is exit 3.
pub fn emit(text: &str, output: Option<&PathBuf>) -> Result<(), i32> {
    match output {
        Some(path) => crate::fsio::write_atomic(path, text.as_bytes()).map_err(|e| {
            eprintln!("error: cannot write {}: {e}", path.display());
            exit::INCOMPLETE
        }),
        None => {
            let mut out = std::io::stdout().lock();
            match out.write_all(text.as_bytes()).and_then(|_| out.flush()) {
                Ok(()) => Ok(()),
                // A closed pipe (`| head`) is the reader's choice, not our failure.
                Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
                Err(e) => {
                    eprintln!("error: cannot write to stdout: {e}");
                    Err(exit::INCOMPLETE)
                }
            }
        }
    }
}

/// Reads the fleet from files, or scans live EC2 when no file is given.
pub fn get_fleet(a: &FleetArgs, set: &ContractSet) -> Result<(Vec<Instance>, SourceInfo), i32> {
    if let Some(recorded) = recorded_fleet(a, set)? {
        return Ok(recorded);
    }
    let filters = crate::live::server_filters(set);
    tracing::debug!(?filters, "server-side filters");
    let live = scan_live(
        &a.aws,
        &filters,
        set.reads_user_data(),
        &set.secret_policy(),
    )?;
    warn_failed_regions(&live.parts);
    Ok(live_source(live))
}

/// The recorded fleet of `--fleet` files with its source, or `None` when the fleet is live.
/// Giving both recorded files and live-scan arguments is an error: one would be ignored.
pub fn recorded_fleet(
    a: &FleetArgs,
    set: &ContractSet,
) -> Result<Option<(Vec<Instance>, SourceInfo)>, i32> {
    if a.fleet.is_empty() {
        return Ok(None);
    }
    if a.aws.endpoint_url.is_some() || !a.aws.regions.is_empty() {
        eprintln!(
            "error: --fleet reads recorded files; --region/--endpoint-url scan live EC2: give one or the other"
        );
        return Err(exit::BAD_INPUT);
    }
    let (fleet, parts) = read_fleets(&a.fleet, set)?;
    let sampled = fleet
        .iter()
        .filter(|i| !matches!(i.user_data, crate::fleet::UserData::NotFetched))
        .count();
    let source = SourceInfo {
        kind: "recorded".into(),
        instances: fleet.len(),
        user_data_sampled: sampled,
        parts,
    };
    Ok(Some((fleet, source)))
}

/// A live scan's records and the report's description of where they came from.
pub fn live_source(live: crate::live::LiveFleet) -> (Vec<Instance>, SourceInfo) {
    let source = SourceInfo {
        kind: "live".into(),
        instances: live.instances.len(),
        user_data_sampled: live.user_data_sampled,
        parts: live.parts,
    };
    (live.instances, source)
}

/// Names every region that could not be read completely, on stderr.
pub fn warn_failed_regions(parts: &[SourcePart]) {
    for p in parts.iter().filter(|p| p.status != "ok") {
        eprintln!(
            "warning: region {} could not be read: {}",
            p.name,
            p.error.as_deref().unwrap_or("error")
        );
    }
}

/// The SDK configuration (aws-config's default chain with the shared AWS arguments) and the
/// regions to scan; an error is reported on stderr and becomes the exit code.
pub async fn connect(
    aws: &crate::live::AwsArgs,
) -> Result<(checker_ec2::SdkConfig, Vec<String>), i32> {
    let sdk = checker_ec2::load_config(&aws.connection()).await;
    let regions = crate::live::resolve_regions(aws, &sdk).await.map_err(|e| {
        eprintln!("error: {e}");
        e.exit_code()
    })?;
    Ok((sdk, regions))
}

/// [`crate::live::scan`], with its summary logged (`scan done`, at `-v`).
pub async fn scan_logged(
    sdk: &checker_ec2::SdkConfig,
    regions: &[String],
    aws: &crate::live::AwsArgs,
    filters: &crate::live::Filters,
    user_data: bool,
    secrets: &crate::fleet::SecretPolicy,
) -> crate::live::LiveFleet {
    let live = crate::live::scan(sdk, regions, aws, filters, user_data, secrets).await;
    tracing::info!(api_calls = live.api_calls, instances = live.instances.len(), shape = ?live.shape, ms = live.elapsed.as_millis() as u64, "scan done");
    live
}

/// Runs a live scan on a fresh runtime. Failed regions are in the result's parts; the caller
/// reports them.
pub fn scan_live(
    aws: &crate::live::AwsArgs,
    filters: &crate::live::Filters,
    user_data: bool,
    secrets: &crate::fleet::SecretPolicy,
) -> Result<crate::live::LiveFleet, i32> {
    let rt = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return Err(exit::INCOMPLETE);
        }
    };
    rt.block_on(async {
        let (sdk, regions) = connect(aws).await?;
        Ok(scan_logged(&sdk, &regions, aws, filters, user_data, secrets).await)
    })
}

fn record(a: &RecordArgs) -> i32 {
    let secrets = if a.contracts.is_empty() {
        crate::fleet::SecretPolicy::default()
    } else {
        match load_contracts(&ContractArgs {
            contracts: a.contracts.clone(),
        }) {
            Ok(set) => set.secret_policy(),
            Err(c) => return c,
        }
    };
    let filters: crate::live::Filters = vec![(
        "instance-state-name".into(),
        vec!["pending".into(), "running".into()],
    )];
    let want_user_data = a.aws.user_data_sample != crate::live::Sample::PerGroup(0);
    let live = match scan_live(&a.aws, &filters, want_user_data, &secrets) {
        Ok(l) => l,
        Err(c) => return c,
    };
    warn_failed_regions(&live.parts);
    let mut text =
        serde_json::to_string_pretty(&crate::fleet::to_describe_instances(&live.instances))
            .unwrap_or_default();
    text.push('\n');
    if let Err(c) = emit(&text, a.output.as_ref()) {
        return c;
    }
    eprintln!(
        "recorded {} instances from {} region(s), user-data for {}",
        live.instances.len(),
        live.parts.len(),
        live.user_data_sampled
    );
    if live.parts.iter().any(|p| p.status != "ok") {
        exit::INCOMPLETE
    } else {
        exit::CLEAN
    }
}

fn check(a: &CheckArgs, color: bool) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (fleet, source) = match get_fleet(&a.fleet, &set) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let t = std::time::Instant::now();
    let report = build_report("check", &set, &fleet, source, &a.report);
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "evaluated");
    let t = std::time::Instant::now();
    let code = finish(&report, &a.report, color);
    tracing::debug!(ms = t.elapsed().as_millis() as u64, "report written");
    release_at_exit((set, fleet, report));
    code
}

/// Leaves a command's big values (a fleet's records, the report) to the operating system: the
/// process exits right after the command returns, and freeing 100,000 records one allocation at
/// a time took 0.27 s of a 2.5 s run (bench/RESULTS.md).
fn release_at_exit<T>(values: T) {
    std::mem::forget(values);
}

fn explain(a: &ExplainArgs) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (fleet, parts) = if a.fleet.is_empty() {
        (Vec::new(), Vec::new())
    } else {
        match read_fleets(&a.fleet, &set) {
            Ok(x) => x,
            Err(c) => return c,
        }
    };
    if let Some(i) = fleet.iter().find(|i| i.id == a.id) {
        let _ = emit(&crate::explain::instance(&set, i), None);
        return exit::CLEAN;
    }
    let report = (!fleet.is_empty()).then(|| {
        let source = SourceInfo {
            kind: "recorded".into(),
            instances: fleet.len(),
            user_data_sampled: 0,
            parts,
        };
        let args = ReportArgs {
            format: Format::Human,
            output: None,
            fail_on_warn: false,
            max_unknown: 0,
            now: a.now,
        };
        build_report("explain", &set, &fleet, source, &args)
    });
    if let Some(text) = crate::explain::clause(&set, &a.id, report.as_ref()) {
        let _ = emit(&text, None);
        return exit::CLEAN;
    }
    let ids: Vec<&str> = set
        .consumers
        .iter()
        .flat_map(|c| c.clauses.iter().map(|cl| cl.id.as_str()))
        .collect();
    let close: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| crate::output::edit_distance(id, &a.id) <= 3)
        .collect();
    if a.id.starts_with("i-") {
        eprintln!(
            "error: instance {} is not in the fleet files given ({} instances read)",
            a.id,
            fleet.len()
        );
        eprintln!("  hint: pass the fleet file that holds it with --fleet");
    } else {
        eprintln!(
            "error: \"{}\" is neither an instance in the given fleet nor a clause id",
            a.id
        );
        if close.is_empty() {
            eprintln!(
                "  hint: clause ids are listed by `checker validate` contracts; there are {} loaded",
                ids.len()
            );
        } else {
            eprintln!("  hint: did you mean {}?", close.join(", "));
        }
    }
    exit::BAD_INPUT
}

fn rules(a: &RulesArgs) -> i32 {
    let text = if a.format == Format::Json {
        let v = serde_json::json!({ "clauseKinds": crate::rules::RULES, "findingCodes": crate::rules::CODES });
        format!("{}\n", serde_json::to_string_pretty(&v).unwrap_or_default())
    } else {
        let mut s = String::from("Clause kinds\n");
        for r in crate::rules::RULES {
            s.push_str(&format!(
                "\n{}\n  {}\n  fields:  {}\n  unknown: {}\n  example: {}\n",
                r.kind, r.summary, r.fields, r.unknown_when, r.example
            ));
        }
        s.push_str("\nFinding codes\n\n");
        for c in crate::rules::CODES {
            s.push_str(&format!("  {:<18} {}\n", c.code, c.meaning));
        }
        s
    };
    match emit(&text, None) {
        Ok(()) => exit::CLEAN,
        Err(c) => c,
    }
}

fn git_show(reference: &str, path: &std::path::Path) -> Result<String, String> {
    let abs = path
        .canonicalize()
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let dir = abs.parent().unwrap_or(std::path::Path::new("."));
    let top = std::process::Command::new("git")
        .args(["rev-parse", "--show-toplevel"])
        .current_dir(dir)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !top.status.success() {
        return Err(format!("{} is not in a git repository", path.display()));
    }
    let top = PathBuf::from(String::from_utf8_lossy(&top.stdout).trim());
    let rel = abs
        .strip_prefix(&top)
        .map_err(|_| "path outside the repository".to_string())?;
    let out = std::process::Command::new("git")
        .args(["show", &format!("{reference}:{}", rel.display())])
        .current_dir(&top)
        .output()
        .map_err(|e| format!("cannot run git: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "git show {reference}:{} failed: {}",
            rel.display(),
            String::from_utf8_lossy(&out.stderr).trim()
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn gate(a: &GateArgs, color: bool) -> i32 {
    let mut ignore = std::collections::BTreeMap::new();
    for i in &a.ignore {
        match i.split_once('=') {
            Some((c, r)) if !c.trim().is_empty() && !r.trim().is_empty() => {
                ignore.insert(c.trim().to_string(), r.trim().to_string());
            }
            _ => {
                eprintln!(
                    "error: --ignore {i}: give a reason, as CONSUMER=REASON (the reason is shown in the report)"
                );
                return exit::BAD_INPUT;
            }
        }
    }
    if a.proposed.is_none() && a.pools.is_empty() && a.worker_types.is_empty() {
        eprintln!(
            "error: nothing proposed: pass --proposed FILE (a manifest revision), --pools PATH or --worker-types PATH"
        );
        return exit::BAD_INPUT;
    }
    let schemas = a
        .taskcluster_schemas
        .clone()
        .unwrap_or_else(crate::tcschema::default_dir);
    // The contract sets: the proposal's, and the base's when there is one.
    let proposed_files: Vec<PathBuf> = a.proposed.iter().cloned().collect();
    let set = match crate::load::load_with(&a.contracts.contracts, &proposed_files, &[]) {
        Ok(s) => s,
        Err(d) => {
            print_diags(&d);
            return exit::BAD_INPUT;
        }
    };
    // Keep a base revision read from git beside the proposed file, so its relative set files resolve.
    let mut _base_tmp = None;
    let base_file: Option<PathBuf> = match (&a.base, &a.base_ref, &a.proposed) {
        (Some(b), _, _) => Some(b.clone()),
        (None, Some(r), Some(p)) => match git_show(r, p) {
            Ok(text) => {
                let dir = p
                    .parent()
                    .filter(|d| !d.as_os_str().is_empty())
                    .unwrap_or(std::path::Path::new("."));
                match tempfile::Builder::new()
                    .prefix(".checker-base-")
                    .suffix(".json")
                    .tempfile_in(dir)
                    .and_then(|mut t| {
                        t.write_all(text.as_bytes())?;
                        Ok(t)
                    }) {
                    Ok(t) => {
                        let path = t.path().to_path_buf();
                        _base_tmp = Some(t);
                        Some(path)
                    }
                    Err(e) => {
                        eprintln!(
                            "error: cannot write the base revision beside {}: {e}",
                            p.display()
                        );
                        return exit::INCOMPLETE;
                    }
                }
            }
            Err(e) => {
                eprintln!("error: --base-ref {r}: {e}");
                return exit::BAD_INPUT;
            }
        },
        _ => None,
    };
    let base_set = match &base_file {
        Some(b) => match crate::load::load_with(
            &a.contracts.contracts,
            std::slice::from_ref(b),
            &proposed_files,
        ) {
            Ok(s) => Some(s),
            Err(d) => {
                print_diags(&d);
                return exit::BAD_INPUT;
            }
        },
        None => None,
    };
    for c in ignore.keys() {
        if set.consumer(c).is_none() {
            eprintln!(
                "error: --ignore {c}: no consumer contract has that name (known: {})",
                set.consumers
                    .iter()
                    .map(|c| c.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return exit::BAD_INPUT;
        }
    }
    let secrets = set.secret_policy();
    let provider_name_of = |file: &PathBuf| -> Option<String> {
        std::fs::read_to_string(file)
            .ok()
            .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
            .and_then(|v| v.get("name").and_then(|n| n.as_str()).map(str::to_string))
    };
    let pick = |s: &ContractSet, name: Option<String>| -> Option<usize> {
        match name {
            Some(n) => s.providers.iter().position(|p| p.name == n),
            None if s.providers.len() == 1 => Some(0),
            None => None,
        }
    };
    let (records, base_records, label, changes) = if let Some(pfile) = &a.proposed {
        let Some(pi) = pick(&set, provider_name_of(pfile)) else {
            eprintln!(
                "error: {}: not a provider manifest checker could load",
                pfile.display()
            );
            return exit::BAD_INPUT;
        };
        let records =
            match crate::proposal::render_manifest(&set.providers[pi], &a.regions, &secrets) {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("error: {}: {e}", pfile.display());
                    return exit::BAD_INPUT;
                }
            };
        let (base_records, changes) = match (&base_set, &base_file) {
            (Some(bs), Some(bf)) => {
                let Some(bi) = pick(bs, provider_name_of(bf)) else {
                    eprintln!(
                        "error: the base revision is not a provider manifest checker could load"
                    );
                    return exit::BAD_INPUT;
                };
                let recs =
                    match crate::proposal::render_manifest(&bs.providers[bi], &a.regions, &secrets)
                    {
                        Ok(r) => r,
                        Err(e) => {
                            eprintln!("error: base revision: {e}");
                            return exit::BAD_INPUT;
                        }
                    };
                (
                    Some(recs),
                    crate::gate::manifest_changes(&set, &bs.providers[bi], &set.providers[pi]),
                )
            }
            _ => (None, Vec::new()),
        };
        (
            records,
            base_records,
            format!("provider manifest {}", pfile.display()),
            changes,
        )
    } else if !a.pools.is_empty() {
        match crate::proposal::render_pools(&a.pools, &schemas, &a.root_url, &secrets) {
            Ok(r) => (
                r,
                None,
                format!(
                    "worker pools {}",
                    a.pools
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
                Vec::new(),
            ),
            Err(d) => {
                print_diags(&d);
                return exit::BAD_INPUT;
            }
        }
    } else {
        let Some(pi) = pick(&set, a.provider.clone()) else {
            eprintln!(
                "error: --worker-types needs the provider manifest whose naming rules apply: load it with --contracts and name it with --provider (loaded: {})",
                set.providers
                    .iter()
                    .map(|p| p.name.as_str())
                    .collect::<Vec<_>>()
                    .join(", ")
            );
            return exit::BAD_INPUT;
        };
        match crate::proposal::render_worker_types(
            &a.worker_types,
            &schemas,
            &set.providers[pi],
            &secrets,
        ) {
            Ok(r) => (
                r,
                None,
                format!(
                    "worker types {} with {}'s naming",
                    a.worker_types
                        .iter()
                        .map(|p| p.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                    set.providers[pi].name
                ),
                Vec::new(),
            ),
            Err(d) => {
                print_diags(&d);
                return exit::BAD_INPUT;
            }
        }
    };
    let parts = |recs: &[Instance]| -> Vec<SourcePart> {
        let mut by_region: std::collections::BTreeMap<&str, usize> =
            std::collections::BTreeMap::new();
        for r in recs {
            *by_region.entry(r.region.as_str()).or_default() += 1;
        }
        by_region
            .into_iter()
            .map(|(n, c)| SourcePart {
                name: n.to_string(),
                status: "ok",
                instances: c,
                error: None,
                api_calls: None,
                sequential_calls: None,
            })
            .collect()
    };
    let source = SourceInfo {
        kind: "proposal".into(),
        instances: records.len(),
        user_data_sampled: records.len(),
        parts: parts(&records),
    };
    let mut report = build_report("gate", &set, &records, source, &a.report);
    let base_report = match (&base_set, &base_records) {
        (Some(bs), Some(br)) => {
            let src = SourceInfo {
                kind: "proposal".into(),
                instances: br.len(),
                user_data_sampled: br.len(),
                parts: parts(br),
            };
            Some(build_report("gate", bs, br, src, &a.report))
        }
        _ => None,
    };
    let verdicts = crate::gate::verdicts(
        &set,
        &records,
        &report,
        base_report.as_ref(),
        &changes,
        &ignore,
        a.report.fail_on_warn,
    );
    let code = crate::gate::exit_code(&verdicts);
    report.gate = Some(GateSection {
        proposal: label,
        base: base_file
            .as_ref()
            .map(|b| match (&a.base_ref, &a.proposed) {
                (Some(r), Some(p)) => format!("{} at {r}", p.display()),
                _ => b.display().to_string(),
            }),
        deployable: code == exit::CLEAN,
        dry_run: a.dry_run,
        verdict_exit_code: code,
        verdicts,
        changes,
    });
    report.summary.exit_code = if a.dry_run { exit::CLEAN } else { code };
    finish(&report, &a.report, color)
}

fn snapshot_cmd(a: &SnapshotArgs) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    let (fleet, source) = match get_fleet(&a.fleet, &set) {
        Ok(x) => x,
        Err(c) => return c,
    };
    if source.parts.iter().any(|p| p.status != "ok") {
        eprintln!(
            "error: the source was read only in part; a snapshot of partial data would look like a shrunken fleet, so none is written"
        );
        return exit::INCOMPLETE;
    }
    let text = crate::snapshot::to_text(&crate::snapshot::take(&set, &fleet));
    release_at_exit(fleet);
    match emit(&text, a.out.as_ref()) {
        Ok(()) => exit::CLEAN,
        Err(c) => c,
    }
}

/// The diff report: what `checker diff --format json` prints.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct DiffReport {
    format: &'static str,
    version: u32,
    snapshot: String,
    source: SourceInfo,
    #[serde(flatten)]
    diff: crate::snapshot::SnapshotDiff,
    unified_diff: String,
    /// The exit code the diff calls for.
    pub exit_code: i32,
    updated: bool,
}

/// Diffs the snapshot `old` (read from `old_path`) with `new`; returns the report and the new
/// snapshot's text.
#[allow(
    clippy::too_many_arguments,
    reason = "one call site per command; a struct would only rename them"
)]
pub fn run_diff(
    set: &ContractSet,
    old_path: &std::path::Path,
    old: &crate::snapshot::Snapshot,
    new: crate::snapshot::Snapshot,
    fleet: Option<&[Instance]>,
    source: SourceInfo,
    fail_on_drift: bool,
    now: DateTime<Utc>,
) -> (DiffReport, String) {
    let d = crate::snapshot::diff(set, old, &new, fleet, now);
    let old_text = crate::snapshot::to_text(old);
    let new_text = crate::snapshot::to_text(&new);
    let unified = similar::TextDiff::from_lines(&old_text, &new_text)
        .unified_diff()
        .context_radius(3)
        .header(&old_path.display().to_string(), "now")
        .to_string();
    let any = !d.changes.is_empty() || !d.groups_added.is_empty() || !d.groups_removed.is_empty();
    let incomplete = source.parts.iter().any(|p| p.status != "ok");
    let exit_code = if incomplete {
        exit::INCOMPLETE
    } else if d.breaking || (fail_on_drift && any) {
        exit::VIOLATIONS
    } else {
        exit::CLEAN
    };
    (
        DiffReport {
            format: "checker-diff",
            version: 1,
            snapshot: old_path.display().to_string(),
            source,
            diff: d,
            unified_diff: unified,
            exit_code,
            updated: false,
        },
        new_text,
    )
}

/// Renders a diff report.
pub fn render_diff(r: &DiffReport, format: Format, color: bool) -> String {
    use std::fmt::Write as _;
    let d = &r.diff;
    let holds = |c: &crate::snapshot::OutputChange| -> String {
        if c.uncontracted {
            return "uncontracted (no contract reads it)".into();
        }
        c.consumers
            .iter()
            .map(|i| {
                format!(
                    "{} {}",
                    i.consumer,
                    match i.holds {
                        crate::snapshot::Holds::Yes => "holds",
                        crate::snapshot::Holds::No => "BREAKS",
                        crate::snapshot::Holds::Unknown => "not evaluated",
                    }
                )
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    let short = |v: &Option<serde_json::Value>| {
        v.as_ref()
            .map(|x| x.to_string())
            .unwrap_or_else(|| "(none)".into())
    };
    match format {
        Format::Json => format!("{}\n", serde_json::to_string_pretty(r).unwrap_or_default()),
        Format::Markdown => {
            let mut s = String::new();
            let icon = if d.breaking {
                "❌"
            } else if d.changes.is_empty()
                && d.groups_added.is_empty()
                && d.groups_removed.is_empty()
            {
                "✅"
            } else {
                "⚠️"
            };
            let _ = writeln!(s, "## {icon} checker diff against `{}`\n", r.snapshot);
            for g in &d.groups_added {
                let _ = writeln!(s, "- group appeared: `{g}`");
            }
            for g in &d.groups_removed {
                let _ = writeln!(s, "- group vanished: `{g}`");
            }
            if !d.changes.is_empty() {
                let _ = writeln!(
                    s,
                    "\n| group | output | change | before | after | consumers |\n|---|---|---|---|---|---|"
                );
                for c in &d.changes {
                    let _ = writeln!(
                        s,
                        "| `{}` | `{}` | {} | `{}` | `{}` | {} |",
                        c.group,
                        c.output,
                        c.kind,
                        short(&c.before).replace('|', "\\|"),
                        short(&c.after).replace('|', "\\|"),
                        holds(c)
                    );
                }
            }
            let _ = writeln!(
                s,
                "\n<details><summary>Snapshot diff</summary>\n\n```diff\n{}```\n</details>",
                r.unified_diff
            );
            s
        }
        Format::Junit => {
            use quick_junit::{NonSuccessKind, TestCase, TestCaseStatus, TestSuite};
            let mut rep = quick_junit::Report::new("checker diff");
            let mut suite = TestSuite::new(format!("drift against {}", r.snapshot));
            for c in &d.changes {
                let breaking = c
                    .consumers
                    .iter()
                    .any(|i| i.holds == crate::snapshot::Holds::No);
                let mut st = if breaking {
                    TestCaseStatus::non_success(NonSuccessKind::Failure)
                } else {
                    TestCaseStatus::success()
                };
                if breaking {
                    st.set_message(holds(c));
                }
                suite.add_test_case(TestCase::new(
                    format!("{} {} {}", c.group, c.output, c.kind),
                    st,
                ));
            }
            rep.add_test_suite(suite);
            rep.to_string().unwrap_or_default()
        }
        Format::Human => {
            let mut s = String::new();
            for line in r.unified_diff.lines() {
                let styled = if !color {
                    line.to_string()
                } else if line.starts_with('+') && !line.starts_with("+++") {
                    format!(
                        "{}{line}{}",
                        anstyle::AnsiColor::Green.on_default().render(),
                        anstyle::Reset.render()
                    )
                } else if line.starts_with('-') && !line.starts_with("---") {
                    format!(
                        "{}{line}{}",
                        anstyle::AnsiColor::Red.on_default().render(),
                        anstyle::Reset.render()
                    )
                } else if line.starts_with("@@") {
                    format!(
                        "{}{line}{}",
                        anstyle::AnsiColor::Cyan.on_default().render(),
                        anstyle::Reset.render()
                    )
                } else {
                    line.to_string()
                };
                let _ = writeln!(s, "{styled}");
            }
            if r.unified_diff.is_empty() {
                let _ = writeln!(s, "no change since {}", r.snapshot);
            }
            for g in &d.groups_added {
                let _ = writeln!(s, "group appeared: {g}");
            }
            for g in &d.groups_removed {
                let _ = writeln!(s, "group vanished: {g}");
            }
            if !d.changes.is_empty() {
                if !d.unaffected.is_empty() {
                    let _ = writeln!(s, "\nunaffected consumers: {}", d.unaffected.join(", "));
                }
                let _ = writeln!(s, "\nimpact:");
                for c in &d.changes {
                    let _ = writeln!(
                        s,
                        "  {:<8} {} {}: {} → {}\n           {}",
                        c.kind,
                        c.group,
                        c.output,
                        short(&c.before),
                        short(&c.after),
                        holds(c)
                    );
                }
            }
            let _ = writeln!(
                s,
                "\n{} → exit {}{}",
                if d.breaking {
                    "a change breaks a contract"
                } else if d.changes.is_empty() {
                    "no breaking change"
                } else {
                    "changes break no contract"
                },
                r.exit_code,
                if r.updated {
                    format!("; {} updated", r.snapshot)
                } else {
                    String::new()
                }
            );
            s
        }
    }
}

fn diff_cmd(a: &DiffArgs, color: bool) -> i32 {
    let set = match load_contracts(&a.contracts) {
        Ok(s) => s,
        Err(c) => return c,
    };
    // Read the snapshot before any (possibly long) scan.
    let old = match crate::snapshot::read(&a.snapshot) {
        Ok(s) => s,
        Err(d) => {
            print_diags(&d);
            return exit::BAD_INPUT;
        }
    };
    let (new, fleet, source) = if let Some(to) = &a.to {
        match crate::snapshot::read(to) {
            Ok(s) => (
                s,
                None,
                SourceInfo {
                    kind: "snapshot".into(),
                    instances: 0,
                    user_data_sampled: 0,
                    parts: vec![],
                },
            ),
            Err(d) => {
                print_diags(&d);
                return exit::BAD_INPUT;
            }
        }
    } else {
        match get_fleet(&a.fleet, &set) {
            Ok((f, src)) => (crate::snapshot::take(&set, &f), Some(f), src),
            Err(c) => return c,
        }
    };
    let now = a.now.unwrap_or_else(Utc::now);
    let (mut report, new_text) = run_diff(
        &set,
        &a.snapshot,
        &old,
        new,
        fleet.as_deref(),
        source,
        a.fail_on_drift,
        now,
    );
    if a.update {
        if report.exit_code == exit::INCOMPLETE {
            eprintln!(
                "error: the source was read only in part; {} is left as it is",
                a.snapshot.display()
            );
        } else if let Err(e) = crate::fsio::write_atomic(&a.snapshot, new_text.as_bytes()) {
            eprintln!(
                "error: cannot update {}: {e}; the previous snapshot is intact",
                a.snapshot.display()
            );
            return exit::INCOMPLETE;
        } else {
            report.updated = true;
        }
    }
    let text = render_diff(&report, a.format, color && a.output.is_none());
    match emit(&text, a.output.as_ref()) {
        Ok(()) => report.exit_code,
        Err(c) => c,
    }
}

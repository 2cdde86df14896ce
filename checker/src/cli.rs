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

fn parse_time(s: &str) -> Result<DateTime<Utc>, String> {
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

fn print_diags(d: &Diagnostics) {
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
    if !a.fleet.is_empty() {
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
        return Ok((fleet, source));
    }
    let filters = crate::live::server_filters(set);
    tracing::debug!(?filters, "server-side filters");
    let live = scan_live(
        &a.aws,
        &filters,
        set.reads_user_data(),
        &set.secret_policy(),
    )?;
    let source = SourceInfo {
        kind: "live".into(),
        instances: live.instances.len(),
        user_data_sampled: live.user_data_sampled,
        parts: live.parts,
    };
    Ok((live.instances, source))
}

/// Runs a live scan on a fresh runtime; reports failed regions on stderr.
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
        let sdk = checker_ec2::load_config(&aws.connection()).await;
        let regions = crate::live::resolve_regions(aws, &sdk).await.map_err(|e| {
            eprintln!("error: {e}");
            match e {
                crate::live::LiveError::NoRegion => exit::BAD_INPUT,
                crate::live::LiveError::Regions(_) => exit::INCOMPLETE,
            }
        })?;
        let live = crate::live::scan(&sdk, &regions, aws, filters, user_data, secrets).await;
        for p in live.parts.iter().filter(|p| p.status != "ok") {
            eprintln!("warning: region {} could not be read: {}", p.name, p.error.as_deref().unwrap_or("error"));
        }
        tracing::info!(api_calls = live.api_calls, instances = live.instances.len(), shape = ?live.shape, "scan done");
        Ok(live)
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
    let report = build_report("check", &set, &fleet, source, &a.report);
    let text = render(&report, a.report.format, color && a.report.output.is_none());
    match emit(&text, a.report.output.as_ref()) {
        Ok(()) => report.summary.exit_code,
        Err(c) => c,
    }
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

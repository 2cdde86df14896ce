//! The command line: argument types shared by the commands, and dispatch. Each command lives in
//! its own file with its `Args` and a `run` that calls the library and renders; an error is
//! printed once, here, and becomes the exit status.

use checker::cloud::{ec2, gce};
use checker::contract::ContractSet;
use checker::render::Format;
use checker::source::Source;
use checker::{Error, ExitStatus, Result};
use chrono::{DateTime, Utc};
use clap::{Args, Parser, Subcommand, ValueEnum};
use std::path::{Path, PathBuf};
use std::sync::Arc;

mod aws;
mod azure;
mod check;
mod cull;
mod diff;
mod docs;
mod explain;
mod fleet;
mod gate;
mod gcp;
mod graph;
mod history;
mod hook;
mod init;
mod rules;
mod snapshot;
mod test;
mod validate;

/// Contracts between a fleet's provisioner and the programs that depend on it.
///
/// Provider manifests say what a provisioner puts on every instance (key name, tags, user-data
/// fields, ...); consumer contracts say what OpenCloudConfig, the culling job, generic-worker...
/// rely on and derive from those outputs. checker evaluates them against a fleet and reports
/// violations, unknowns and waivers, grouped so that 5,000 failing instances are one finding.
#[derive(Debug, Parser)]
#[command(name = "checker", version = checker::build::long_version(), after_long_help = checker::exit::HELP, after_help = checker::exit::HELP)]
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
    Validate(validate::Args),
    /// Evaluate every provider manifest and consumer contract against a fleet.
    Check(check::Args),
    /// Explain an instance (every clause that applies, values read, facts derived, verdicts) or a clause id.
    Explain(explain::Args),
    /// List the clause kinds and finding codes, with their documentation.
    Rules(rules::Args),
    /// Pre-deploy gate: would a proposed provider change break any consumer? Verdict per consumer.
    Gate(gate::Args),
    /// Write a normalized, deterministic, secret-free summary of the fleet's outputs per group.
    Snapshot(snapshot::Args),
    /// What changed since a snapshot, and which consumers each change touches (and breaks).
    Diff(diff::Args),
    /// Terminate impaired instances within the cull contract's scope and per-group budgets (dry run unless --apply).
    Cull(cull::Args),
    /// The scheduled job: check + diff against the snapshot + cull, artifacts written to --artifacts.
    Hook(hook::Args),
    /// The dependency graph of a report: outputs, the consumers reading them, one edge per clause, by outcome.
    Graph(graph::Args),
    /// A hook's history.jsonl: a row per run, a strip per consumer, since when each open finding is open.
    History(history::Args),
    /// Draft contracts from a fleet: a provider manifest per provisioner and a consumer skeleton.
    Init(init::Args),
    /// Run the contract tests beside the contracts: instances in, the outcome per consumer and clause expected.
    Test(test::Args),
    /// Fleet files: `checker fleet record` writes what live EC2 returns in the format --fleet reads.
    #[command(subcommand)]
    Fleet(fleet::Command),
    /// Print the shell completion script (bash, zsh, fish, elvish, powershell).
    Completions(docs::CompletionsArgs),
    /// Print checker(1), or write a man page per command with --output DIR.
    Man(docs::ManArgs),
}

/// The command line: [`Cli`], with each command's `--format` offering only the formats its
/// document is rendered in ([`checker::render::Document::formats`]), so help, completions and man
/// pages cannot offer a format the command then refuses.
pub fn command() -> clap::Command {
    use checker::render::Document;
    use clap::CommandFactory;
    let restrict = |doc: Document| {
        move |c: clap::Command| {
            c.mut_arg("format", move |a| {
                use clap::builder::TypedValueParser;
                let names: Vec<clap::builder::PossibleValue> = doc
                    .formats()
                    .iter()
                    .filter_map(|f| f.to_possible_value())
                    .collect();
                a.value_parser(
                    clap::builder::PossibleValuesParser::new(names)
                        .map(|s| Format::from_str(&s, false).unwrap_or(Format::Human)),
                )
            })
        }
    };
    Cli::command()
        .mut_subcommand("diff", restrict(Document::Diff))
        .mut_subcommand("cull", restrict(Document::Plan))
        .mut_subcommand("test", restrict(Document::ContractTests))
        .mut_subcommand("rules", restrict(Document::Rules))
        .mut_subcommand("history", restrict(Document::History))
}

/// What every command gets besides its arguments.
pub struct Ctx {
    /// Colour human output on stdout.
    pub color: bool,
}

/// Runs the CLI and returns the exit status.
pub fn main() -> ExitStatus {
    use clap::FromArgMatches;
    let cli = match command()
        .try_get_matches()
        .and_then(|m| Cli::from_arg_matches(&m))
    {
        Ok(c) => c,
        Err(e) => {
            let _ = e.print();
            return if e.use_stderr() {
                ExitStatus::BadInput
            } else {
                ExitStatus::Clean
            };
        }
    };
    anstream::ColorChoice::write_global(match cli.color {
        ColorChoice::Auto => anstream::ColorChoice::Auto,
        ColorChoice::Always => anstream::ColorChoice::Always,
        ColorChoice::Never => anstream::ColorChoice::Never,
    });
    // Logs go to stderr: coloured only when --color and stderr allow it (never in a pipe, with
    // --color never, NO_COLOR or TERM=dumb), like the rest of the output.
    init_tracing(
        cli.verbose,
        anstream::AutoStream::choice(&std::io::stderr()) != anstream::ColorChoice::Never,
    );
    let ctx = Ctx {
        color: anstream::AutoStream::choice(&std::io::stdout()) != anstream::ColorChoice::Never,
    };
    let result = match &cli.command {
        Command::Validate(a) => validate::run(a),
        Command::Check(a) => check::run(a, &ctx),
        Command::Explain(a) => explain::run(a),
        Command::Rules(a) => rules::run(a),
        Command::Test(a) => test::run(a),
        Command::Init(a) => init::run(a),
        Command::Gate(a) => gate::run(a, &ctx),
        Command::Snapshot(a) => snapshot::run(a),
        Command::Diff(a) => diff::run(a, &ctx),
        Command::Cull(a) => cull::run(a),
        Command::Hook(a) => hook::run(a),
        Command::Graph(a) => graph::run(a),
        Command::History(a) => history::run(a),
        Command::Fleet(fleet::Command::Record(a)) => fleet::record(a),
        Command::Completions(a) => docs::completions(a),
        Command::Man(a) => docs::man(a),
    };
    match result {
        Ok(status) => status,
        Err(Error::Input(d)) => {
            eprint_lines(&d.located().to_string());
            ExitStatus::BadInput
        }
        Err(e) => {
            eprint_lines(&e.to_string());
            e.exit_status()
        }
    }
}

/// Prints text on stderr line by line, each line through `render::escape::term`: a value quoted
/// in an error (a zone, a tag, an AWS message) moves no cursor and starts no CI command.
fn eprint_lines(text: &str) {
    for line in text.lines() {
        eprintln!("{}", checker::render::escape::term(line));
    }
}

/// Logs on stderr: `-v` info, `-vv` debug, `-vvv` trace for checker's own events; RUST_LOG
/// overrides. Whatever either says, other crates (the AWS SDK, hyper, rustls) log at most at
/// info: at debug and trace they print request and response bodies and headers, which hold
/// user-data secrets and session tokens, and a Taskcluster task log is public.
fn init_tracing(verbose: u8, ansi: bool) {
    use tracing_subscriber::prelude::*;
    let level = match verbose {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| {
        tracing_subscriber::EnvFilter::new(format!("checker={level},checker_ec2={level}"))
    });
    let ours_or_quiet = tracing_subscriber::filter::filter_fn(|m| {
        m.target().starts_with("checker") || *m.level() <= tracing::Level::INFO
    });
    let layer = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(ansi)
        .with_target(false)
        .with_filter(filter)
        .with_filter(ours_or_quiet);
    let _ = tracing_subscriber::registry().with(layer).try_init();
    // `try_init` also forwards the `log` crate's records (globset, reqwest, rustls) to tracing,
    // letting through every level the subscriber might want: with the filter above that is
    // TRACE, and every `log::trace!` a dependency makes was formatted and dispatched only to
    // be dropped (8% of a live Azure run's CPU). Other crates are shown at most at info.
    log::set_max_level(log::LevelFilter::Info);
}

/// Where contracts come from.
#[derive(Debug, Clone, Args)]
pub struct ContractArgs {
    /// Contract files or directories (repeatable; combined). Directories are read recursively for *.json, skipping schema/.
    #[arg(long = "contracts", value_name = "PATH", default_value = "contracts")]
    pub contracts: Vec<PathBuf>,
}

impl ContractArgs {
    /// Loads and validates the contracts.
    pub fn load(&self) -> Result<ContractSet> {
        Ok(checker::load::load(&self.contracts)?)
    }
}

/// Where the fleet comes from: recorded files, or live EC2.
#[derive(Debug, Clone, Args)]
pub struct FleetArgs {
    /// A file of `aws ec2 describe-instances --output json` output (repeatable; `-` reads standard
    /// input). Instances may carry user-data inline as "UserData": {"Value": "<base64>"}. Without
    /// --fleet, live EC2 is scanned.
    #[arg(long = "fleet", value_name = "FILE")]
    pub fleet: Vec<PathBuf>,
    /// Live EC2 settings, used when no --fleet is given.
    #[command(flatten)]
    pub aws: aws::AwsArgs,
    /// Live GCP settings: used when --project or an accounts file's `projects:` asks for GCP.
    #[command(flatten)]
    pub gcp: gcp::GcpArgs,
    /// Live Azure settings: read when subscriptions are given.
    #[command(flatten)]
    pub azure: azure::AzureArgs,
}

/// The source the arguments name: the one place where which source a command reads is chosen
/// (a new cloud is a variant here and a module in `checker::cloud`). Commands get the built
/// [`Source`] and ask it what it can do; none looks at the variant.
#[derive(Debug)]
pub enum FleetSource {
    /// Recorded EC2: describe-instances files (and describe-instance-status, for culling).
    Ec2Recorded(ec2::Recorded),
    /// Live EC2.
    Ec2Live(Box<ec2::Live>),
    /// Live GCE (Compute Engine projects).
    GceLive(Box<gce::Live>),
    /// Live Azure, through Resource Graph.
    AzureLive(checker::cloud::azure::Live),
}

impl FleetSource {
    /// The source.
    pub fn build(self) -> Arc<dyn Source> {
        let source: Arc<dyn Source> = match self {
            FleetSource::Ec2Recorded(s) => Arc::new(s),
            FleetSource::Ec2Live(s) => Arc::new(*s),
            FleetSource::GceLive(s) => Arc::new(*s),
            FleetSource::AzureLive(s) => Arc::new(s),
        };
        tracing::debug!(source = %source.describe(), capabilities = ?source.capabilities(), "source");
        source
    }

    /// Gives a live EC2 scan the credentials `credentials` reads (the hook's
    /// `--aws-credentials-secret`): only a live EC2 source has AWS credentials to give.
    pub fn with_aws_credentials(
        mut self,
        credentials: impl FnOnce() -> Result<checker_ec2::StaticCredentials>,
    ) -> Result<Self> {
        let FleetSource::Ec2Live(live) = &mut self else {
            return Err(Error::usage(
                "--aws-credentials-secret gives credentials to a live scan; --fleet reads recorded files",
            ));
        };
        live.opts.connection.credentials = Some(Box::new(credentials()?));
        Ok(self)
    }
}

impl FleetArgs {
    /// The source: recorded files (with `status`, recorded status checks for culling), or live
    /// EC2. Giving both recorded files and live-scan arguments is an error: one would be ignored.
    pub fn choose(&self, status: Option<PathBuf>) -> Result<FleetSource> {
        // The accounts file is read here, once: a file that cannot be read is said once.
        let listed = self.aws.accounts.listed()?;
        let listed = listed.as_ref();
        let azure = self.azure.live(&self.aws.accounts, listed)?;
        let gcp = self.gcp.asked(listed);
        if azure.is_some() && gcp {
            return Err(Error::usage(
                "both GCP projects (--project, projects:) and Azure subscriptions (--subscription, subscriptions:) are asked for; scanning two clouds in one run is not supported yet: run once per cloud (an accounts file can be narrowed with --account/--account-tag)",
            ));
        }
        if self.fleet.is_empty() && gcp {
            return Ok(FleetSource::GceLive(Box::new(gce::Live::new(live_gcp(
                &self.aws, &self.gcp, listed,
            )?))));
        }
        if !self.gcp.projects.is_empty() {
            return Err(Error::usage(
                "--fleet reads recorded files; --project scans live GCP: give one or the other",
            ));
        }
        if let Some(live) = azure {
            if !self.fleet.is_empty() {
                return Err(Error::usage(
                    "--fleet reads recorded files; --subscription scans live Azure: give one or the other",
                ));
            }
            if self.aws.endpoint_url.is_some() || !self.aws.regions.is_empty() {
                return Err(Error::usage(
                    "--region/--endpoint-url scan live EC2 and --subscription live Azure: scanning both clouds in one run is not supported yet; run once per cloud",
                ));
            }
            return Ok(FleetSource::AzureLive(live));
        }
        if self.fleet.is_empty() {
            return Ok(FleetSource::Ec2Live(Box::new(ec2::Live::new(
                self.aws.options(listed)?,
            ))));
        }
        if self.aws.endpoint_url.is_some() || !self.aws.regions.is_empty() {
            return Err(Error::usage(
                "--fleet reads recorded files; --region/--endpoint-url scan live EC2: give one or the other",
            ));
        }
        Ok(FleetSource::Ec2Recorded(ec2::Recorded {
            files: self.fleet.clone(),
            status,
        }))
    }

    /// The source, for commands that read a fleet only.
    pub fn source(&self) -> Result<Arc<dyn Source>> {
        Ok(self.choose(None)?.build())
    }
}

/// The live GCP options, refusing a run that also asks for live AWS (one cloud per live run for
/// now): AWS regions, endpoint or organization, or an accounts file (`listed`, as read) that
/// lists AWS accounts too.
pub fn live_gcp(
    aws: &aws::AwsArgs,
    gcp: &gcp::GcpArgs,
    listed: Option<&aws::Listed>,
) -> Result<gce::GceOptions> {
    let file_accounts = listed.is_some_and(|l| !l.file.accounts.is_empty());
    if !aws.regions.is_empty() || aws.endpoint_url.is_some() || aws.accounts.org || file_accounts {
        return Err(Error::usage(
            "this run asks for both live AWS (--region, --endpoint-url, --org or the accounts file's `accounts:`) and live GCP (--project or `projects:`); one live cloud per run for now: run checker once per cloud",
        ));
    }
    gcp.options(&aws.accounts, listed)
}

/// Where a command's output goes.
#[derive(Debug, Clone, Args)]
pub struct OutputArgs {
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Human)]
    pub format: Format,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    pub output: Option<PathBuf>,
}

impl OutputArgs {
    /// Whether human output may be coloured: only on stdout.
    pub fn color(&self, ctx: &Ctx) -> bool {
        ctx.color && self.output.is_none()
    }

    /// Refuses `--output json` (a format given where a file was meant) before any work is done.
    pub fn check(&self) -> Result<()> {
        check_output(self.output.as_deref())
    }

    /// Writes the rendered text.
    pub fn write(&self, text: &str) -> Result<()> {
        checker::fsio::write_output(text, self.output.as_deref())
    }
}

/// `--output json` names a file called `json`; that is almost always `--format json` mistyped.
pub fn check_output(output: Option<&Path>) -> Result<()> {
    match output.and_then(Path::to_str) {
        Some(o) if Format::is_name(o) => Err(Error::usage(format!(
            "--output {o} names a file called \"{o}\": for the format, write --format {o}; for a file of that name, write --output ./{o}"
        ))),
        _ => Ok(()),
    }
}

/// How results are judged and when they are evaluated.
#[derive(Debug, Clone, Args)]
pub struct ReportArgs {
    #[command(flatten)]
    pub out: OutputArgs,
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

impl ReportArgs {
    /// How findings are judged.
    pub fn judgement(&self) -> checker::eval::Judgement {
        checker::eval::Judgement {
            fail_on_warn: self.fail_on_warn,
            max_unknown: self.max_unknown,
        }
    }

    /// Renders the report as asked, writes it, and returns its exit status.
    pub fn finish(&self, report: &checker::report::Report, ctx: &Ctx) -> Result<ExitStatus> {
        let mut text = checker::render::report(report, self.out.format, self.out.color(ctx))?;
        if self.out.format == Format::Human
            && self.out.output.is_none()
            && let Some(width) = terminal_width()
        {
            text = wrap(&text, width);
        }
        self.out.write(&text)?;
        Ok(report.summary.exit_code)
    }
}

/// The width human output wraps to on stdout: `COLUMNS` when set, else the terminal's; none in a
/// pipe or a file (a log keeps one line per message, for grep).
fn terminal_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(c) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.parse::<usize>().ok())
    {
        return (c >= 20).then_some(c);
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0))
}

/// Wraps each line longer than `width` at word boundaries, continuing at its own indentation
/// (colour codes do not count; a word longer than the line, a regex or a URL, is kept whole).
fn wrap(text: &str, width: usize) -> String {
    let mut out = String::with_capacity(text.len() + text.len() / 8);
    for line in text.lines() {
        if textwrap::core::display_width(line) <= width {
            out.push_str(line);
        } else {
            let body = line.trim_start();
            let indent = &line[..line.len() - body.len()];
            let opts = textwrap::Options::new(width)
                .initial_indent(indent)
                .subsequent_indent(indent)
                .break_words(false)
                .word_separator(textwrap::WordSeparator::AsciiSpace)
                .word_splitter(textwrap::WordSplitter::NoHyphenation);
            out.push_str(&textwrap::fill(body, opts));
        }
        out.push('\n');
    }
    out
}

/// Parses `--now`.
pub fn parse_time(s: &str) -> std::result::Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s)
        .map(|t| t.with_timezone(&Utc))
        .map_err(|e| format!("{e}: write e.g. 2018-02-14T12:00:00Z"))
}

/// Names every region that could not be read completely, on stderr.
pub fn warn_failed_regions(src: &checker::report::SourceInfo) {
    for w in checker::source::failed_region_warnings(src) {
        eprint_lines(&w.to_string());
    }
}

/// Warns, on stderr, of every read of an output that no provider promises (and, with a fleet,
/// no instance carries): at its file, line and column, with the name it most likely meant.
pub fn warn_unseen_reads(reads: &[checker::eval::UnseenRead]) {
    let located = checker::diag::Diagnostics(reads.iter().map(|r| r.diagnostic()).collect());
    for d in located.located().0 {
        eprintln!("warning: {d}");
    }
}

/// Leaves a command's big values (a fleet's records, the report) to the operating system: the
/// process exits right after the command returns, and freeing 100,000 records one allocation at
/// a time took 0.27 s of a 2.5 s run (bench/RESULTS.md).
pub fn release_at_exit<T>(values: T) {
    std::mem::forget(values);
}

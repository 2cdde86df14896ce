//! AWS arguments shared by every live command (the shape of cargo-lambda's shared AWS struct).

use checker::accounts::AccountsFile;
use checker::live::{Accounts, LiveOptions, OrgScope, Sample};
use clap::Args;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// AWS arguments shared by every live command.
#[derive(Debug, Clone, Args)]
pub struct AwsArgs {
    /// Region to scan (repeatable), or `all` for every enabled region (DescribeRegions).
    /// Default: the region of the profile / AWS_REGION.
    #[arg(long = "region", value_name = "REGION")]
    pub regions: Vec<String>,
    /// Shared-config profile; otherwise aws-config's default chain (env, profile, SSO, web identity, IMDS).
    #[arg(long, env = "AWS_PROFILE")]
    pub profile: Option<String>,
    /// Another EC2 endpoint (moto, LocalStack, a mock). AWS_ENDPOINT_URL also works.
    #[arg(long, value_name = "URL")]
    pub endpoint_url: Option<String>,
    /// Attempts per API call, first included; throttling and 5xx are retried with backoff.
    #[arg(long, default_value_t = 5)]
    pub retry_attempts: u32,
    /// Backoff before the first retry, in milliseconds (exponential with jitter after).
    #[arg(long, value_name = "MS", default_value_t = 500)]
    pub retry_initial_backoff_ms: u64,
    /// `standard` backs off after throttling; `adaptive` also rate-limits the SDK client, which
    /// turned 3 throttled calls into a 24 s stall (0.5 s in standard mode); the API budget
    /// (--api-rate) already paces checker's calls.
    #[arg(long, value_enum, default_value_t = RetryMode::Standard)]
    pub retry_mode: RetryMode,
    /// Client-side budget of Describe* calls per second, per region (EC2 refills 20/s per
    /// account and region, shared with the provisioner; the default takes half).
    #[arg(long, value_name = "PER_SECOND", default_value_t = 10.0, value_parser = parse_rate)]
    pub api_rate: f64,
    /// Describe* calls that may go at once after a pause (EC2's bucket holds 100).
    #[arg(long, value_name = "N", default_value_t = 50, value_parser = clap::value_parser!(u32).range(1..=1000))]
    pub api_burst: u32,
    /// Terminate/Reboot/CreateTags/DeleteTags calls per second, per region (EC2 refills
    /// TerminateInstances at 5/s; the default takes half).
    #[arg(long, value_name = "PER_SECOND", default_value_t = 2.5, value_parser = parse_rate)]
    pub api_mutate_rate: f64,
    /// Timeout of one API call, retries and backoff included, in seconds: an endpoint that does
    /// not answer is reported unreachable after this (a region's zone listing and its first
    /// page go out together, so a dead endpoint fails the region in about this long).
    #[arg(long, value_name = "SECONDS", default_value_t = 30, value_parser = clap::value_parser!(u64).range(1..=3600))]
    pub timeout: u64,
    /// Connect timeout, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub connect_timeout: u64,
    /// API calls in flight per region.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// User-data calls in flight per region: a region's sample goes out at once when the region
    /// is read (paced by --api-rate/--api-burst), so reading user-data costs about one round.
    #[arg(long, value_name = "N", default_value_t = 32)]
    pub user_data_concurrency: usize,
    /// One paginator per availability zone (faster on big regions); `--no-shard` for one chain.
    #[arg(long = "no-shard", action = clap::ArgAction::SetFalse)]
    pub shard: bool,
    /// User-data to fetch per group (worker type, region, AMI, instance type): a number, `all`,
    /// or 0. Only fetched when some contract reads user-data.
    #[arg(long, value_name = "N|all", default_value = "3", value_parser = parse_sample)]
    pub user_data_sample: Sample,
    #[command(flatten)]
    pub accounts: AccountArgs,
}

/// Which AWS accounts a live scan reads (default: the credentials' own).
#[derive(Debug, Clone, Args)]
pub struct AccountArgs {
    /// A Cloud Custodian c7n-org accounts file (YAML or JSON, used as it is): every account in it
    /// is scanned through its own role (chain) or profile, in its own regions.
    #[arg(
        help_heading = "Accounts",
        long,
        value_name = "FILE",
        conflicts_with = "org"
    )]
    pub accounts: Option<PathBuf>,
    /// Discover the accounts from AWS Organizations (active accounts only), with the base
    /// credentials of the management or a delegated administrator account.
    #[arg(help_heading = "Accounts", long)]
    pub org: bool,
    /// With --org: the role to assume in each account, a name or an ARN template with
    /// {account_id}.
    #[arg(
        help_heading = "Accounts",
        long,
        value_name = "ROLE",
        default_value = "OrganizationAccountAccessRole",
        requires = "org"
    )]
    pub org_role: String,
    /// With --org: only accounts under this OU path (repeatable; `/Prod/Workers`; default `/`).
    #[arg(
        help_heading = "Accounts",
        long = "org-ou",
        value_name = "PATH",
        requires = "org"
    )]
    pub org_ou: Vec<String>,
    /// With --org: leave out this OU path's subtree (repeatable).
    #[arg(
        help_heading = "Accounts",
        long = "org-exclude-ou",
        value_name = "PATH",
        requires = "org"
    )]
    pub org_exclude_ou: Vec<String>,
    /// Only this account, by name or id (repeatable; c7n-org's -a).
    #[arg(help_heading = "Accounts", long = "account", value_name = "NAME|ID")]
    pub only: Vec<String>,
    /// Only accounts with every one of these tags (repeatable; c7n-org's -t).
    #[arg(help_heading = "Accounts", long = "account-tag", value_name = "TAG")]
    pub tags: Vec<String>,
    /// Leave this account out, by name or id (repeatable; c7n-org's --not-accounts).
    #[arg(
        help_heading = "Accounts",
        long = "not-account",
        value_name = "NAME|ID"
    )]
    pub not: Vec<String>,
    /// The role session name CloudTrail records for every call in the member accounts
    /// [default: checker-<TASK_ID>-<RUN_ID>-<time> in a task, checker-<user>-<time> elsewhere].
    #[arg(help_heading = "Accounts", long, value_name = "NAME")]
    pub role_session_name: Option<String>,
}

/// `--accounts FILE` as read, once a run: each cloud's arguments take their part of it.
#[derive(Debug)]
pub struct Listed<'a> {
    /// The file, for messages.
    pub path: &'a Path,
    /// What it lists.
    pub file: AccountsFile,
}

impl AccountArgs {
    /// `--accounts FILE`, read and parsed (`None` without one); a file that cannot be read or
    /// parsed is an input error naming it.
    pub fn listed(&self) -> checker::Result<Option<Listed<'_>>> {
        self.accounts
            .as_deref()
            .map(|path| {
                checker::accounts::read_file(path)
                    .map(|file| Listed { path, file })
                    .map_err(checker::Error::Input)
            })
            .transpose()
    }

    /// The accounts to scan, chosen now from `listed` (the file [`Self::listed`] read) or
    /// --org (a bad file fails before any call).
    pub fn resolve(&self, listed: Option<&Listed>) -> checker::Result<Accounts> {
        let picking = !self.only.is_empty() || !self.tags.is_empty() || !self.not.is_empty();
        if let Some(l) = listed {
            let all =
                checker::accounts::aws_accounts(l.path, &l.file).map_err(checker::Error::Input)?;
            return checker::accounts::select(all, &self.only, &self.tags, &self.not)
                .map(Accounts::Listed)
                .map_err(|e| checker::Error::usage(format!("{}: {e}", l.path.display())));
        }
        if self.org {
            return Ok(Accounts::Org(OrgScope {
                role: self.org_role.clone(),
                include: if self.org_ou.is_empty() {
                    vec!["/".into()]
                } else {
                    self.org_ou.clone()
                },
                exclude: self.org_exclude_ou.clone(),
                only: self.only.clone(),
                tags: self.tags.clone(),
                not: self.not.clone(),
            }));
        }
        if picking {
            return Err(checker::Error::usage(
                "--account, --account-tag and --not-account choose among the accounts of --accounts FILE or --org",
            ));
        }
        Ok(Accounts::Own)
    }

    /// The session name.
    pub fn session_name(&self) -> String {
        match &self.role_session_name {
            Some(n) => checker_ec2::session_name(n),
            None => checker::accounts::default_session_name(chrono::Utc::now()),
        }
    }
}

/// The retry mode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RetryMode {
    /// Backoff plus client-side rate limiting.
    Adaptive,
    /// Backoff only.
    Standard,
}

fn parse_sample(s: &str) -> Result<Sample, String> {
    s.parse()
}

fn parse_rate(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (0.01..=1000.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "`{s}` is not a rate between 0.01 and 1000 calls per second"
        )),
    }
}

impl AwsArgs {
    /// The live scan's options, with the accounts chosen (from `listed`, the accounts file as
    /// read).
    pub fn options(&self, listed: Option<&Listed>) -> checker::Result<LiveOptions> {
        checker::live::check_credential_env()?;
        Ok(LiveOptions {
            accounts: self.accounts.resolve(listed)?,
            session_name: self.accounts.session_name(),
            regions: checker::source::Regions::parse(&self.regions),
            connection: checker_ec2::Connection {
                profile: self.profile.clone(),
                endpoint_url: self.endpoint_url.clone(),
                retry_attempts: self.retry_attempts,
                initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms),
                adaptive: self.retry_mode == RetryMode::Adaptive,
                connect_timeout: Duration::from_secs(self.connect_timeout),
                attempt_timeout: Duration::from_secs(self.timeout),
                concurrency: self.concurrency,
                user_data_concurrency: self.user_data_concurrency,
                rate: checker_ec2::ApiRate {
                    describe_per_second: self.api_rate,
                    describe_burst: self.api_burst,
                    mutate_per_second: self.api_mutate_rate,
                    mutate_burst: 5,
                },
                credentials: None,
                assume_role: None,
            },
            shard: self.shard,
            user_data_sample: self.user_data_sample,
        })
    }
}

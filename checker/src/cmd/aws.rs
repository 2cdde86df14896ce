//! AWS arguments shared by every live command (the shape of cargo-lambda's shared AWS struct).

use checker::live::{LiveOptions, Sample};
use clap::Args;
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
    /// Timeout of one API call attempt, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
    /// Connect timeout, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 5)]
    pub connect_timeout: u64,
    /// API calls in flight per region.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// One paginator per availability zone (faster on big regions); `--no-shard` for one chain.
    #[arg(long = "no-shard", action = clap::ArgAction::SetFalse)]
    pub shard: bool,
    /// User-data to fetch per group (worker type, region, AMI, instance type): a number, `all`,
    /// or 0. Only fetched when some contract reads user-data.
    #[arg(long, value_name = "N|all", default_value = "3", value_parser = parse_sample)]
    pub user_data_sample: Sample,
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
    /// The live scan's options.
    pub fn options(&self) -> LiveOptions {
        LiveOptions {
            regions: self.regions.clone(),
            connection: checker_ec2::Connection {
                profile: self.profile.clone(),
                endpoint_url: self.endpoint_url.clone(),
                retry_attempts: self.retry_attempts,
                initial_backoff: Duration::from_millis(self.retry_initial_backoff_ms),
                adaptive: self.retry_mode == RetryMode::Adaptive,
                connect_timeout: Duration::from_secs(self.connect_timeout),
                attempt_timeout: Duration::from_secs(self.timeout),
                concurrency: self.concurrency,
                rate: checker_ec2::ApiRate {
                    describe_per_second: self.api_rate,
                    describe_burst: self.api_burst,
                    mutate_per_second: self.api_mutate_rate,
                    mutate_burst: 5,
                },
                credentials: None,
            },
            shard: self.shard,
            user_data_sample: self.user_data_sample,
        }
    }
}

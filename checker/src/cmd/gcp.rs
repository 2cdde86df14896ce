//! GCP arguments shared by every live command: which projects, where Compute is, how fast.

use super::aws::{AccountArgs, Listed};
use checker::accounts::Project;
use checker::cloud::gce::{DEFAULT_ENDPOINT, GceOptions};
use clap::Args;
use std::time::Duration;

/// GCP arguments shared by every live command.
#[derive(Debug, Clone, Args)]
pub struct GcpArgs {
    /// A GCP project to scan live (repeatable); or list them under `projects:` of --accounts FILE.
    /// Credentials: Application Default Credentials (docs/accounts.md).
    #[arg(help_heading = "GCP", long = "project", value_name = "ID")]
    pub projects: Vec<String>,
    /// Another Compute REST root (tests, a fake): default https://compute.googleapis.com/compute/v1.
    #[arg(
        help_heading = "GCP",
        long,
        value_name = "URL",
        env = "CHECKER_GCP_ENDPOINT_URL"
    )]
    pub gcp_endpoint_url: Option<String>,
    /// Compute read calls per minute, per project (Compute's default quota is 1,500 a minute,
    /// shared with worker-manager; the default takes half).
    #[arg(
        help_heading = "GCP",
        long,
        value_name = "PER_MINUTE",
        default_value_t = 750.0,
        value_parser = parse_per_minute
    )]
    pub gcp_api_rate: f64,
    /// Attempts per Compute call, the first included (rate limiting and 5xx are retried).
    #[arg(help_heading = "GCP", long, value_name = "N", default_value_t = 5)]
    pub gcp_retry_attempts: u32,
    /// Backoff before the first retry, in milliseconds (doubled after each).
    #[arg(help_heading = "GCP", long, value_name = "MS", default_value_t = 500)]
    pub gcp_retry_initial_backoff_ms: u64,
}

fn parse_per_minute(s: &str) -> Result<f64, String> {
    match s.parse::<f64>() {
        Ok(r) if (1.0..=100_000.0).contains(&r) => Ok(r),
        _ => Err(format!(
            "`{s}` is not a rate between 1 and 100000 calls a minute"
        )),
    }
}

impl GcpArgs {
    /// Whether anything here or in `listed` (the accounts file as read) asks for a live GCP
    /// read.
    pub fn asked(&self, listed: Option<&Listed>) -> bool {
        !self.projects.is_empty() || listed.is_some_and(|l| !l.file.projects.is_empty())
    }

    /// The live read's options: projects from `--project`, else `listed`'s (the accounts file
    /// as read), chosen by `--account`/`--account-tag`/`--not-account`.
    pub fn options(
        &self,
        accounts: &AccountArgs,
        listed: Option<&Listed>,
    ) -> checker::Result<GceOptions> {
        let projects = if !self.projects.is_empty() {
            let mut ids = self.projects.clone();
            ids.sort();
            ids.dedup();
            ids.into_iter()
                .map(|id| Project {
                    name: id.clone(),
                    id,
                    tags: Vec::new(),
                })
                .collect()
        } else {
            let l = listed.ok_or_else(|| {
                checker::Error::usage(
                    "a live GCP read needs --project ID or --accounts FILE with `projects:`",
                )
            })?;
            checker::accounts::select_as(
                l.file.projects.clone(),
                &accounts.only,
                &accounts.tags,
                &accounts.not,
                "project",
            )
            .map_err(|e| checker::Error::usage(format!("{}: {e}", l.path.display())))?
        };
        Ok(GceOptions {
            projects,
            endpoint: self
                .gcp_endpoint_url
                .clone()
                .unwrap_or_else(|| DEFAULT_ENDPOINT.to_string()),
            per_minute: self.gcp_api_rate,
            attempts: self.gcp_retry_attempts,
            initial_backoff: Duration::from_millis(self.gcp_retry_initial_backoff_ms),
            timeout: Duration::from_secs(30),
        })
    }
}

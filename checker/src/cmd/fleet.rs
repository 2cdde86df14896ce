//! `checker fleet record`: what live EC2 returns, in the fleet-file format `--fleet` reads.

use super::aws::{AwsArgs, Listed};
use super::gcp::GcpArgs;
use super::{ContractArgs, check_output, warn_failed_regions};
use checker::{Error, ExitStatus, Result};
use std::path::PathBuf;

/// `checker fleet ...`.
#[derive(Debug, clap::Subcommand)]
pub enum Command {
    /// Scan live EC2 and write describe-instances JSON (user-data inline, secrets redacted), so a
    /// live problem can be reproduced offline with `checker check --fleet`.
    Record(RecordArgs),
}

/// `checker fleet record`.
#[derive(Debug, clap::Args)]
pub struct RecordArgs {
    #[command(flatten)]
    aws: AwsArgs,
    #[command(flatten)]
    gcp: GcpArgs,
    #[command(flatten)]
    azure: super::azure::AzureArgs,
    /// Contracts whose manifests mark secret user-data fields (credential-like names and values
    /// are always redacted) [default: contracts, when it exists].
    #[arg(long = "contracts", value_name = "PATH")]
    contracts: Vec<PathBuf>,
    /// Write to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Scans and writes the records; when a region failed, writes nothing and exits 3.
pub fn record(a: &RecordArgs) -> Result<ExitStatus> {
    check_output(a.output.as_deref())?;
    // The manifests say which fields are secret: without them only credential-like names and
    // values would be redacted, so the default contracts are read when they are there.
    let contracts = if a.contracts.is_empty() && std::path::Path::new("contracts").is_dir() {
        vec![PathBuf::from("contracts")]
    } else {
        a.contracts.clone()
    };
    let secrets = if contracts.is_empty() {
        eprintln!(
            "warning: no --contracts and no contracts/ here: only credential-like user-data names and values are redacted; pass --contracts so the manifests' secret fields are too"
        );
        checker::fleet::SecretPolicy::default()
    } else {
        ContractArgs { contracts }.load()?.secret_policy()
    };
    // The accounts file is read once. GCP is asked for by `--project` or by the file's
    // `projects:`; with `--project` a file that cannot be read is not needed, so it is said
    // only when another cloud reads it.
    let listed = a.aws.accounts.listed();
    let readable = listed.as_ref().ok().and_then(Option::as_ref);
    if a.gcp.asked(readable) {
        return record_gce(a, readable, &secrets);
    }
    let listed = listed?;
    let azure = a.azure.live(&a.aws.accounts, listed.as_ref())?;
    let (fleet, azure) = match azure {
        Some(live) => (live.read_all(&secrets)?, true),
        None => (scan_ec2(a, listed.as_ref(), &secrets)?, false),
    };
    let regions = fleet.source.parts.len();
    let sampled = fleet.source.user_data_sampled;
    // A file of the regions that could be read would check clean later: nothing in it says a
    // region is missing. So a partial scan writes nothing (as `snapshot` does).
    refuse_partial(&fleet.source)?;
    // Azure is written as `az vm list -d -o json` prints it; EC2 as describe-instances.
    let doc = if azure {
        serde_json::Value::Array(
            fleet
                .instances
                .iter()
                .map(checker::fleet::to_recorded)
                .collect(),
        )
    } else {
        checker::fleet::to_describe_instances(&fleet.instances)
    };
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::Incomplete(format!("cannot render the fleet file: {e}")))?;
    text.push('\n');
    checker::fsio::write_output(&text, a.output.as_deref())?;
    eprintln!(
        "recorded {} instances from {regions} region(s), user-data for {sampled}",
        fleet.instances.len()
    );
    Ok(ExitStatus::Clean)
}

/// Refuses to write a partial read: a file without the failed parts would later check clean.
fn refuse_partial(source: &checker::report::SourceInfo) -> Result<()> {
    warn_failed_regions(source);
    if source.incomplete() {
        let failed: Vec<String> = source.failed().map(|p| p.scope()).collect();
        return Err(Error::Incomplete(format!(
            "{} could not be read; a fleet file without them would later check clean, so none is written (fix the failure and record again)",
            failed.join(", ")
        )));
    }
    Ok(())
}

/// `fleet record` of live GCE projects: what `gcloud compute instances list --format=json`
/// prints (metadata inline, secrets redacted), the instances in the default statuses.
fn record_gce(
    a: &RecordArgs,
    listed: Option<&Listed>,
    secrets: &checker::fleet::SecretPolicy,
) -> Result<ExitStatus> {
    let opts = super::live_gcp(&a.aws, &a.gcp, listed)?;
    let statuses: Vec<String> = checker::output::Cloud::Gce
        .default_states()
        .iter()
        .map(|s| format!("(status = \"{s}\")"))
        .collect();
    let fleet = checker::cloud::gce::Live::new(opts).scan(Some(statuses.join(" OR ")), secrets)?;
    refuse_partial(&fleet.source)?;
    let doc = serde_json::Value::Array(
        fleet
            .instances
            .iter()
            .map(checker::fleet::to_gcloud)
            .collect(),
    );
    let mut text = serde_json::to_string_pretty(&doc)
        .map_err(|e| Error::Incomplete(format!("cannot render the fleet file: {e}")))?;
    text.push('\n');
    checker::fsio::write_output(&text, a.output.as_deref())?;
    eprintln!(
        "recorded {} instances from {} project(s)",
        fleet.instances.len(),
        fleet.source.parts.len()
    );
    Ok(ExitStatus::Clean)
}

/// Live EC2's running and pending instances, user-data sampled unless the sample is 0.
fn scan_ec2(
    a: &RecordArgs,
    listed: Option<&Listed>,
    secrets: &checker::fleet::SecretPolicy,
) -> Result<checker::source::Fleet> {
    let filters: checker::live::Filters = vec![(
        "instance-state-name".into(),
        vec!["pending".into(), "running".into()],
    )];
    let opts = a.aws.options(listed)?;
    let want_user_data = opts.user_data_sample != checker::live::Sample::PerGroup(0);
    checker::cloud::ec2::Live::new(opts).scan(&filters, want_user_data, secrets)
}

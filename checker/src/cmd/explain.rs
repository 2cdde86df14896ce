//! `checker explain`: every clause that applies to an instance, or one clause's docs and results.

use super::{ContractArgs, check_output, parse_time};
use checker::eval::Judgement;
use checker::report::SourceKind;
use checker::{Error, ExitStatus, Result};
use chrono::{DateTime, Utc};
use std::path::PathBuf;

/// `checker explain`.
#[derive(Debug, clap::Args)]
pub struct Args {
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
    /// Write the explanation to this file (atomically) instead of stdout.
    #[arg(long, value_name = "FILE")]
    output: Option<PathBuf>,
}

/// Explains the instance or clause; an id that is neither is bad input, with a suggestion.
pub fn run(a: &Args) -> Result<ExitStatus> {
    check_output(a.output.as_deref())?;
    let set = a.contracts.load()?;
    let fleet = if a.fleet.is_empty() {
        checker::source::Fleet::default()
    } else {
        checker::cloud::ec2::Recorded::new(a.fleet.clone()).read_with(&set.secret_policy())?
    };
    let write = |text: String| {
        checker::fsio::write_output(&text, a.output.as_deref()).map(|()| ExitStatus::Clean)
    };
    if let Some(i) = fleet.instances.iter().find(|i| i.id == a.id) {
        return write(checker::explain::instance(&set, i));
    }
    let report = (!fleet.instances.is_empty()).then(|| {
        let mut source = fleet.source.clone();
        source.kind = SourceKind::Recorded;
        source.user_data_sampled = 0;
        checker::eval::build(
            "explain",
            &set,
            &fleet.instances,
            source,
            Judgement::default(),
            a.now.unwrap_or_else(Utc::now),
        )
    });
    if let Some(text) = checker::explain::clause(&set, &a.id, report.as_ref()) {
        return write(text);
    }
    if a.id.starts_with("i-") {
        return Err(Error::usage(format!(
            "instance {} is not in the fleet files given ({} instances read)\n  hint: pass the fleet file that holds it with --fleet",
            a.id,
            fleet.instances.len()
        )));
    }
    let ids: Vec<&str> = set
        .consumers
        .iter()
        .flat_map(|c| c.clauses.iter().map(|cl| cl.id.as_str()))
        .collect();
    let close: Vec<&str> = ids
        .iter()
        .copied()
        .filter(|id| strsim::levenshtein(id, &a.id) <= 3)
        .collect();
    let hint = if close.is_empty() {
        format!(
            "clause ids are listed by `checker validate` contracts; there are {} loaded",
            ids.len()
        )
    } else {
        format!("did you mean {}?", close.join(", "))
    };
    Err(Error::usage(format!(
        "\"{}\" is neither an instance in the given fleet nor a clause id\n  hint: {hint}",
        a.id
    )))
}

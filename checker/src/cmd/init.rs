//! `checker init`: draft contracts from a fleet.

use super::FleetArgs;
use checker::{Error, ExitStatus, Result};
use std::path::PathBuf;

/// `checker init`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Writes OUT/providers/<provisioner>.json (a provider manifest: each output as the strongest promise the fleet supports; outputs equal on every instance share one variable), OUT/consumers/<provisioner>-draft.json (a consumer skeleton, every clause marked DRAFT), OUT/tests/<provisioner>-draft.test.json (contract tests of the skeleton, for `checker test --contracts OUT`) and OUT/schema/ (the JSON Schemas the drafts' $schema name), validated; the drafted tests are run and pass. `checker check --contracts OUT` of the same fleet is clean. A fleet without user-data (as `aws ec2 describe-instances` prints it) drafts no user-data promise, with a warning. Review every promise: the fleet shows what the provisioner did, not what it promises.\n\nExit codes:\n  0  drafts written\n  2  bad input (the fleet), or OUT already holds drafts (use --force)\n  3  the fleet could not be read completely"
)]
pub struct Args {
    #[command(flatten)]
    fleet: FleetArgs,
    /// Where to write the drafts.
    #[arg(long, value_name = "DIR")]
    out: PathBuf,
    /// Overwrite drafts already in --out.
    #[arg(long)]
    force: bool,
}

/// Infers, writes and validates the drafts.
pub fn run(a: &Args) -> Result<ExitStatus> {
    let set = checker::contract::ContractSet::default();
    let fleet = a.fleet.source()?.read(&set)?;
    if fleet.source.incomplete() {
        return Err(Error::Incomplete(
            "the fleet could not be read completely: drafts from part of it would promise too little".into(),
        ));
    }
    for w in checker::init::warnings(&fleet.instances) {
        eprintln!("warning: {w}");
    }
    let drafts = checker::init::infer(&fleet.instances);
    if drafts.is_empty() {
        return Err(Error::usage(format!(
            "no provisioner found among {} instance(s): none carries tag:ManagedBy (managed-by), a KeyName with a prefix, tag:CreatedBy (created-by) or tag:Owner (owner)",
            fleet.instances.len()
        )));
    }
    for d in &drafts {
        let path = a.out.join(&d.path);
        if path.exists() && !a.force {
            return Err(Error::usage(format!(
                "{} exists: checker init does not overwrite drafts (pass --force)",
                path.display()
            )));
        }
    }
    for d in &drafts {
        let path = a.out.join(&d.path);
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| Error::Write {
                path: dir.to_path_buf(),
                source: e,
            })?;
        }
        let text = serde_json::to_string_pretty(&d.doc)
            .map_err(|e| Error::Incomplete(e.to_string()))?
            + "\n";
        checker::fsio::write_output(&text, Some(&path))?;
    }
    let out = std::slice::from_ref(&a.out);
    let loaded = checker::load::load(out)?;
    let tests = checker::load::test_files(out)?;
    let cases = checker::contract_test::run(&loaded, &tests, chrono::Utc::now())?;
    if let Some(bad) = cases.iter().find(|c| !c.ok()) {
        return Err(Error::Incomplete(format!(
            "the drafted contract test \"{}\" in {} does not pass: this is a bug in checker init; the drafts are left in {} to look at",
            bad.name,
            bad.file.display(),
            a.out.display()
        )));
    }
    eprintln!(
        "checker init: {} provider manifest(s), {} consumer skeleton(s) and {} contract test case(s) from {} instance(s) in {}, validated, tests passing; review every DRAFT",
        loaded.providers.len(),
        loaded.consumers.len(),
        cases.len(),
        fleet.instances.len(),
        a.out.display()
    );
    Ok(ExitStatus::Clean)
}

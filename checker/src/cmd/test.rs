//! `checker test`: run the contract tests that live beside the contracts.

use super::{ContractArgs, OutputArgs};
use checker::{ExitStatus, Result};
use std::path::PathBuf;

/// `checker test`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Test files are JSON with \"kind\": \"test\" (schema: contracts/schema/test.schema.json), found under --contracts (or --tests). Each case gives instances in describe-instances shape and the outcome expected per consumer (pass, fail, unknown, not-selected) or clause (pass, fail, unknown, waived, not-applicable).\n\nExit codes:\n  0  every expectation holds\n  1  a test case fails (the clause, what was expected, what happened)\n  2  bad input: contracts or test files invalid (file and place given)"
)]
pub struct Args {
    #[command(flatten)]
    contracts: ContractArgs,
    /// Test files or directories (default: the --contracts paths).
    #[arg(long = "tests", value_name = "PATH")]
    tests: Vec<PathBuf>,
    #[command(flatten)]
    out: OutputArgs,
}

/// Runs the tests and renders their results.
pub fn run(a: &Args) -> Result<ExitStatus> {
    a.out.check()?;
    let set = a.contracts.load()?;
    let paths = if a.tests.is_empty() {
        &a.contracts.contracts
    } else {
        &a.tests
    };
    let files = checker::load::test_files(paths)?;
    if files.is_empty() {
        return Err(checker::Error::usage(format!(
            "no contract test files (\"kind\": \"test\") under {}",
            paths
                .iter()
                .map(|p| p.display().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    let results = checker::contract_test::run(&set, &files, chrono::Utc::now())?;
    let text = checker::render::contract_tests(&results, a.out.format)?;
    a.out.write(&text)?;
    Ok(if results.iter().all(|c| c.ok()) {
        ExitStatus::Clean
    } else {
        ExitStatus::Violations
    })
}

//! `checker rules`: the clause kinds and finding codes, with their documentation.

use super::OutputArgs;
use checker::{ExitStatus, Result};

/// `checker rules`.
#[derive(Debug, clap::Args)]
pub struct Args {
    #[command(flatten)]
    out: OutputArgs,
}

/// Renders the list in the format asked.
pub fn run(a: &Args) -> Result<ExitStatus> {
    a.out.check()?;
    a.out.write(&checker::render::rules(a.out.format)?)?;
    Ok(ExitStatus::Clean)
}

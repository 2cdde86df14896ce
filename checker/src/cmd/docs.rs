//! `checker completions SHELL` and `checker man`: shell completions and man pages, generated
//! from the same command definitions as `--help` (clap_complete, clap_mangen), so they cannot
//! drift from the flags.

use checker::{Error, ExitStatus, Result};
use std::path::PathBuf;

/// `checker completions`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Install, e.g.:\n  bash: checker completions bash > ~/.local/share/bash-completion/completions/checker\n  zsh:  checker completions zsh > \"${fpath[1]}/_checker\"\n  fish: checker completions fish > ~/.config/fish/completions/checker.fish"
)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    shell: clap_complete::Shell,
}

/// `checker man`.
#[derive(Debug, clap::Args)]
#[command(
    after_help = "Read one without installing: checker man | man -l -\nInstall: checker man --output ~/.local/share/man/man1"
)]
pub struct ManArgs {
    /// Write one page per command (checker.1, checker-check.1, ...) into this directory
    /// (created if missing, each file written atomically) instead of checker(1) on stdout.
    #[arg(long, value_name = "DIR")]
    output: Option<PathBuf>,
}

/// Prints the completion script for the shell.
pub fn completions(a: &CompletionsArgs) -> Result<ExitStatus> {
    let mut cmd = super::command();
    let mut out = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "checker", &mut out);
    write(&out, None)?;
    Ok(ExitStatus::Clean)
}

/// Writes the man pages.
pub fn man(a: &ManArgs) -> Result<ExitStatus> {
    let mut cmd = super::command();
    cmd.build();
    let Some(dir) = &a.output else {
        write(&render(&cmd)?, None)?;
        return Ok(ExitStatus::Clean);
    };
    std::fs::create_dir_all(dir)
        .map_err(|e| Error::Incomplete(format!("cannot create {}: {e}", dir.display())))?;
    let mut pages = vec![(cmd.get_name().to_string(), cmd.clone())];
    let mut i = 0;
    while i < pages.len() {
        let (name, c) = pages[i].clone();
        for sub in c.get_subcommands().filter(|s| s.get_name() != "help") {
            let sub_name = format!("{name}-{}", sub.get_name());
            pages.push((sub_name.clone(), sub.clone().name(sub_name)));
        }
        i += 1;
    }
    for (name, page) in &pages {
        write(&render(page)?, Some(&dir.join(format!("{name}.1"))))?;
    }
    eprintln!("checker man: {} pages in {}", pages.len(), dir.display());
    Ok(ExitStatus::Clean)
}

fn render(cmd: &clap::Command) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    clap_mangen::Man::new(cmd.clone())
        .render(&mut out)
        .map_err(|e| Error::Incomplete(format!("cannot render the man page: {e}")))?;
    Ok(out)
}

fn write(bytes: &[u8], path: Option<&std::path::Path>) -> Result<()> {
    let text = String::from_utf8_lossy(bytes);
    checker::fsio::write_output(&text, path)
}

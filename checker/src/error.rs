//! The library's one error type. Commands return it; the binary prints it once, at the edge,
//! and maps it to an exit status. Context (which file, which flag, what to do) is part of the
//! message when the error is made, so nothing prints an error where it happens.

use crate::diag::Diagnostics;
use crate::exit::ExitStatus;
use std::path::PathBuf;

/// Why a command could not do its work.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Input files are wrong: every problem, with file, place and hint (exit 2).
    #[error("{0}")]
    Input(Diagnostics),
    /// The command line asks for something impossible or contradictory (exit 2).
    #[error("error: {0}")]
    Usage(String),
    /// Output could not be written (exit 3).
    #[error("error: cannot write {}: {source}", path.display())]
    Write {
        /// The file (or `stdout`).
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The work could not be completed: an AWS or I/O failure (exit 3).
    #[error("error: {0}")]
    Incomplete(String),
}

impl Error {
    /// The exit status this error ends a command with.
    pub fn exit_status(&self) -> ExitStatus {
        match self {
            Error::Input(_) | Error::Usage(_) => ExitStatus::BadInput,
            Error::Write { .. } | Error::Incomplete(_) => ExitStatus::Incomplete,
        }
    }

    /// A usage error.
    pub fn usage(msg: impl Into<String>) -> Self {
        Error::Usage(msg.into())
    }
}

impl From<Diagnostics> for Error {
    fn from(d: Diagnostics) -> Self {
        Error::Input(d)
    }
}

/// The library's result.
pub type Result<T, E = Error> = std::result::Result<T, E>;

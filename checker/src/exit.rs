//! Exit statuses: one meaning each, documented in `--help` and the README.

/// How a command ended. The numbers are public interface (scripts and Taskcluster's
/// `onExitStatus` match on them); a report's `exitCode` carries the same number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub enum ExitStatus {
    /// Nothing fails (warnings may be present unless `--fail-on-warn`).
    #[default]
    Clean,
    /// A contract is violated (gate: not deployable; diff: a change breaks a contract).
    Violations,
    /// Bad usage or bad input files: nothing was evaluated.
    BadInput,
    /// Could not evaluate completely: a region failed, unknowns above the threshold, I/O or AWS errors.
    Incomplete,
}

impl ExitStatus {
    /// The process exit code.
    pub fn code(self) -> i32 {
        match self {
            ExitStatus::Clean => 0,
            ExitStatus::Violations => 1,
            ExitStatus::BadInput => 2,
            ExitStatus::Incomplete => 3,
        }
    }

    /// The status of several results taken together: violations beat incomplete beats clean
    /// (bad input, which stops a command before it evaluates, beats all). A violation found is
    /// real whatever else could not be read: exit 1 tells a script "the fleet is broken", which
    /// a retry (what 3 asks for) cannot fix; the report still names what was not read.
    pub fn worst(statuses: impl IntoIterator<Item = ExitStatus>) -> ExitStatus {
        let rank = |s: &ExitStatus| match s {
            ExitStatus::Clean => 0,
            ExitStatus::Incomplete => 1,
            ExitStatus::Violations => 2,
            ExitStatus::BadInput => 3,
        };
        statuses.into_iter().max_by_key(rank).unwrap_or_default()
    }
}

impl From<ExitStatus> for std::process::ExitCode {
    fn from(s: ExitStatus) -> Self {
        std::process::ExitCode::from(s.code() as u8)
    }
}

impl std::fmt::Display for ExitStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.code(), f)
    }
}

impl serde::Serialize for ExitStatus {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_i32(self.code())
    }
}

/// The text `--help` shows.
pub const HELP: &str = "Exit codes:
  0  clean: no error-severity violation (warnings allowed unless --fail-on-warn)
  1  violations: a contract does not hold
  2  bad usage, bad input (contracts, fleet files) or no AWS credentials: nothing was evaluated
  3  incomplete: a region failed, unknowns above --max-unknown, or an I/O/AWS error;
     partial data never reports clean
A violation found beats an incomplete run: violations plus unknowns or a failed region exit 1
(the report still lists what could not be read).";

impl schemars::JsonSchema for ExitStatus {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "ExitStatus".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "The exit status: 0 clean, 1 violations, 2 bad input, 3 incomplete.",
            "type": "integer",
            "enum": [0, 1, 2, 3]
        })
    }
}

#[cfg(test)]
mod tests {
    use super::ExitStatus::*;
    use super::*;

    #[test]
    fn codes_are_the_documented_numbers_and_worst_ranks_them() {
        assert_eq!(
            [Clean, Violations, BadInput, Incomplete].map(ExitStatus::code),
            [0, 1, 2, 3]
        );
        assert_eq!(
            ExitStatus::worst([Clean, Violations, Incomplete]),
            Violations
        );
        assert_eq!(ExitStatus::worst([Clean, Incomplete]), Incomplete);
        assert_eq!(ExitStatus::worst([Clean, Violations]), Violations);
        assert_eq!(ExitStatus::worst([]), Clean);
    }
}

//! Exit codes: one meaning each, documented in `--help` and the README.

/// Nothing fails (warnings may be present unless `--fail-on-warn`).
pub const CLEAN: i32 = 0;
/// A contract is violated (gate: not deployable; diff: a change breaks a contract).
pub const VIOLATIONS: i32 = 1;
/// Bad usage or bad input files: nothing was evaluated.
pub const BAD_INPUT: i32 = 2;
/// Could not evaluate completely: a region failed, unknowns above the threshold, I/O or AWS errors.
pub const INCOMPLETE: i32 = 3;

/// The text `--help` shows.
pub const HELP: &str = "Exit codes:
  0  clean: no error-severity violation (warnings allowed unless --fail-on-warn)
  1  violations: a contract does not hold
  2  bad usage or bad input (contracts, fleet files): nothing was evaluated
  3  incomplete: a region failed, unknowns above --max-unknown, or an I/O/AWS error;
     partial data never reports clean";

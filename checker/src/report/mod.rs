//! The report model: one data structure every renderer reads. Its JSON form is a documented,
//! versioned interface (docs/report-format.md); change it only with a version bump.

use crate::contract::Severity;
use crate::exit::ExitStatus;
use serde::Serialize;

pub use crate::code::Code;

mod scope;
pub use scope::{Scope, ScopeKind};

/// The JSON envelope's format name.
pub const FORMAT: &str = "checker-report";
/// The JSON envelope's (major) version: a reader that knows it can read every document of it.
pub const VERSION: u32 = 1;
/// The minor version: fields added within [`VERSION`] (see docs/report-format.md).
pub const MINOR_VERSION: u32 = 7;

/// What a finding says about the fleet.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// The contract does not hold.
    Violation,
    /// It could not be evaluated.
    Unknown,
    /// It does not hold, and a waiver accepts that.
    Waived,
    /// Something worth knowing that fails nothing (an unused waiver).
    Notice,
}

/// A value seen, and on how many instances.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ValueCount {
    /// The value (secrets never appear: records hold only markers).
    pub value: String,
    /// Instances with it.
    pub count: usize,
}

/// The waiver that covered a finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct WaiverRef {
    /// Who accepted it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Last day.
    pub expires: String,
    /// Where it is written.
    pub file: String,
}

/// One grouped finding: every instance failing the same clause the same way is one finding.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// Stable kebab-case code (see `checker rules`).
    pub code: Code,
    /// Violation, unknown, waived or notice.
    pub outcome: Outcome,
    /// Error or warning.
    pub severity: Severity,
    /// The consumer (or provider, for manifest findings).
    pub consumer: String,
    /// The clause id.
    pub clause: Option<String>,
    /// The clause kind.
    pub kind: Option<String>,
    /// The output it reads.
    pub output: Option<String>,
    /// What was expected, in words.
    pub expected: Option<String>,
    /// The distinct values seen, most frequent first (at most 20).
    pub actual: Vec<ValueCount>,
    /// How many instances (or groups, for uniform).
    pub count: usize,
    /// A few instance ids, sorted.
    pub samples: Vec<String>,
    /// The finding in one sentence.
    pub message: String,
    /// What breaks, from the contract.
    pub why: Option<String>,
    /// Where to go.
    pub runbook: Option<String>,
    /// The waiver, for waived and waiver-* findings.
    pub waiver: Option<WaiverRef>,
    /// Where the failing clause (or promise, or launch configuration) is written: file, line,
    /// column. For editors, SARIF and GitHub annotations. Since 1.3.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub location: Option<Location>,
    /// The scope (an AWS account) of the instances it is about, never more than one, when the
    /// records carry it (a reservation's OwnerId, a scan of several accounts). See [`Scope`].
    #[serde(flatten)]
    pub scope: Option<Scope>,
    /// Other clauses (or promises) left unknown by the same cause on the same instances (one
    /// user-data that is not JSON leaves every clause reading it unknown): one finding per
    /// cause, not one per clause. Since 1.5.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub also: Vec<ClauseRef>,
    /// The distinct regions (or zones, or locations, as the records carry them: an EC2 region,
    /// the region of a GCE zone, an Azure location) of the failing instances it is about,
    /// sorted, at most 20 (the lowest kept). For a `uniform` finding, of the lowest instance
    /// holding each value. Absent when no record names one. Since 1.7.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub regions: Vec<String>,
}

/// A clause of a consumer (or a promise of a provider), named.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct ClauseRef {
    /// The consumer (or provider).
    pub consumer: String,
    /// The clause id.
    pub clause: String,
}

pub use crate::diag::Location;

mod pools;
pub use pools::PoolVerdict;

impl Finding {
    /// A finding that is not about one clause (a source, a launch, a lost input).
    pub fn about(
        code: Code,
        outcome: Outcome,
        severity: crate::contract::Severity,
        consumer: impl Into<String>,
        message: impl Into<String>,
    ) -> Finding {
        Finding {
            code,
            outcome,
            severity,
            consumer: consumer.into(),
            clause: None,
            kind: None,
            output: None,
            expected: None,
            actual: vec![],
            count: 0,
            samples: vec![],
            message: message.into(),
            why: None,
            runbook: None,
            waiver: None,
            location: None,
            scope: None,
            also: Vec::new(),
            regions: Vec::new(),
        }
    }
}

impl Finding {
    /// `input-lost`: consumer `c` selected instances before and selects none now. `message`
    /// says against what; `expected` what it selected then.
    pub fn input_lost(c: &crate::contract::Consumer, message: String, expected: String) -> Finding {
        let mut f = Finding::about(
            Code::InputLost,
            Outcome::Violation,
            Severity::Error,
            c.name.clone(),
            message,
        );
        f.clause = Some("(selector)".into());
        f.kind = Some("input-lost".into());
        f.expected = Some(expected);
        f.why = Some("a consumer that selects nothing does nothing, silently".into());
        f.runbook = c.runbook.clone();
        f.location = Location::of(&c.file, "/selector");
        f
    }
}

/// One clause's tally, for JUnit, summaries and the dependency graph.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ClauseTally {
    /// Clause id.
    pub id: String,
    /// Kind.
    pub kind: String,
    /// Severity.
    pub severity: Option<Severity>,
    /// Instances it passed on.
    pub passed: usize,
    /// Instances it failed on (not waived).
    pub failed: usize,
    /// Instances where it was unknown.
    pub unknown: usize,
    /// Failures a waiver accepted.
    pub waived: usize,
    /// Instances where its `when` did not hold.
    pub not_applicable: usize,
    /// Instances where it was not evaluated (a fact it needs was not derived; user-data not sampled).
    pub skipped: usize,
    /// The outputs it depends on, sorted: what it reads itself, its `when`, and what the clauses
    /// deriving the facts it uses read; a manifest clause's own output. Since 1.6.
    pub reads: Vec<String>,
}

/// One consumer's (or provider manifest's) tally.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ConsumerTally {
    /// Name.
    pub name: String,
    /// `consumer` or `provider`.
    pub role: TallyRole,
    /// Owner.
    pub owner: Option<String>,
    /// Runbook.
    pub runbook: Option<String>,
    /// Its selector in words.
    pub selector: String,
    /// Instances selected.
    pub selected: usize,
    /// Per clause.
    pub clauses: Vec<ClauseTally>,
}

/// An output some provider emits that no consumer contract reads.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Uncovered {
    /// The provider.
    pub provider: String,
    /// The output.
    pub output: String,
}

/// An output consumers read that no loaded provider promises.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Unpromised {
    /// The output.
    pub output: String,
    /// Who reads it.
    pub consumers: Vec<String>,
}

/// Coverage: the undocumented-dependency risk, in both directions.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Coverage {
    /// Outputs the providers emit that no contract reads.
    pub uncovered_outputs: Vec<Uncovered>,
    /// Outputs contracts read that no provider promises.
    pub unpromised_reads: Vec<Unpromised>,
    /// Contracts whose selector matched no instance.
    pub unmatched_contracts: Vec<String>,
    /// Percent of provider outputs some contract reads.
    pub covered_percent: u32,
}

/// One region's (or file's) read status.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourcePart {
    /// Region or file.
    pub name: String,
    /// `ok` or `failed`.
    pub status: PartStatus,
    /// Instances read.
    pub instances: usize,
    /// Why it failed.
    pub error: Option<String>,
    /// API calls made (live sources).
    pub api_calls: Option<usize>,
    /// How reading it departed from the plan (its zones could not be listed: one chain, not
    /// sharded). Since 1.2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    /// API calls made per action (live sources). Since 1.2.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub api_calls_by_action: Option<std::collections::BTreeMap<String, usize>>,
    /// The longest chain of calls that had to run one after another (live sources): with a
    /// latency L per call, no scan of this region can take less than this times L.
    pub sequential_calls: Option<usize>,
    /// The scope of a region read through `--accounts` or `--org`; on a part that stands for a
    /// whole scope (its credentials failed), `name` is its label. See [`Scope`].
    #[serde(flatten)]
    pub scope: Option<Scope>,
    /// What the part stands for: how its name is read (a file, a region, a whole account, a
    /// region of one of several accounts). Not written: the wire keeps `name` and `scope`.
    #[serde(skip)]
    #[schemars(skip)]
    pub kind: PartKind,
}

/// What a [`SourcePart`] stands for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PartKind {
    /// A recorded file (`name` is its path).
    File,
    /// A region of the credentials' own account, or of a proposal (`name` is the region).
    #[default]
    Region,
    /// A whole account that could not be entered (`name` is `account LABEL`, `scope` its id).
    Account,
    /// A region read through `--accounts` or `--org` (`name` is the region, `scope` its id).
    RegionOfAccount,
}

/// Where the records came from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct SourceInfo {
    /// `recorded`, `live`, `proposal` or `snapshot`.
    pub kind: SourceKind,
    /// Regions or files.
    pub parts: Vec<SourcePart>,
    /// Instances in all.
    pub instances: usize,
    /// Instances whose user-data was read.
    pub user_data_sampled: usize,
}

/// The counts the exit code is computed from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Summary {
    /// `clean`, `warnings`, `violations` or `incomplete`.
    pub status: Status,
    /// Error-severity violations (findings).
    pub errors: usize,
    /// Warning-severity violations and warning notices (findings).
    pub warnings: usize,
    /// Unknown findings.
    pub unknown: usize,
    /// Instance-clause evaluations that were unknown.
    pub unknown_evaluations: usize,
    /// Waived findings.
    pub waived: usize,
    /// Instance-clause evaluations performed.
    pub evaluations: usize,
    /// The exit code.
    pub exit_code: ExitStatus,
    /// Warnings fail the run (`--fail-on-warn`). Since 1.1.
    pub fail_on_warn: bool,
}

/// A whole report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Report {
    /// Always [`FORMAT`].
    pub format: &'static str,
    /// Always [`VERSION`].
    pub version: u32,
    /// [`MINOR_VERSION`]. Since 1.1.
    pub minor_version: u32,
    /// `checker x.y.z`.
    pub tool: String,
    /// The binary: version, git commit, dirty flag, build time (report 1.3, diff 1.3, plan 1.2).
    pub build: crate::build::BuildInfo,
    /// The command that made it.
    pub command: String,
    /// The evaluation time (the injected `now`), RFC 3339.
    pub generated_at: String,
    /// Where records came from.
    pub source: SourceInfo,
    /// Counts and status.
    pub summary: Summary,
    /// Findings: violations first, then unknown, waived, notices; each by consumer and clause.
    pub findings: Vec<Finding>,
    /// Coverage.
    pub coverage: Coverage,
    /// Per consumer and clause.
    pub consumers: Vec<ConsumerTally>,
    /// The gate's verdicts (gate only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub gate: Option<GateSection>,
}

/// Why a consumer would break.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Reason {
    /// The clause.
    pub clause: String,
    /// Its kind.
    pub kind: String,
    /// In words, with the proposed value and how the consumer derives from it.
    pub message: String,
}

/// One consumer's verdict on a proposal.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// The consumer.
    pub consumer: String,
    /// Its owner.
    pub owner: String,
    /// `yes`, `no` or `unknown`.
    pub deployable: Deployable,
    /// Whether the proposal touches anything the consumer reads (or selects any proposed instance).
    pub affected: bool,
    /// With a base: the consumer held on the base and breaks on the proposal.
    pub regression: Option<bool>,
    /// Why not (or why unknown).
    pub reasons: Vec<Reason>,
    /// `--ignore`d, with the reason given.
    pub ignored: Option<String>,
}

/// One output the proposal changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Change {
    /// `added`, `removed` or `changed` (CloudFormation's ADD / REMOVE / NOT_EQUAL).
    pub kind: ChangeKind,
    /// The output (or `set:NAME`).
    pub output: String,
    /// Before.
    pub before: Option<String>,
    /// After.
    pub after: Option<String>,
    /// Consumers whose contracts read it; empty: no contract covers it.
    pub read_by: Vec<String>,
}

/// The gate's part of a report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GateSection {
    /// What was proposed.
    pub proposal: String,
    /// What it is compared with.
    pub base: Option<String>,
    /// Deployable: no `no` verdict (ignored consumers aside), no `unknown`.
    pub deployable: bool,
    /// `--dry-run` was used: the exit code is 0 whatever the verdicts.
    pub dry_run: bool,
    /// The exit code the verdicts call for (the real one is 0 under --dry-run).
    pub verdict_exit_code: ExitStatus,
    /// Per consumer.
    pub verdicts: Vec<Verdict>,
    /// What the proposal changes (with a base).
    pub changes: Vec<Change>,
    /// What the provisioner accepts but not as written (`file:line:col at /pointer: message`).
    /// Since 1.3.
    pub warnings: Vec<String>,
    /// Per proposed worker pool (`--pools`, `--pool-id`). Since 1.6.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub pools: Vec<PoolVerdict>,
}

/// Whether a region's (or file's) data was read completely.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum PartStatus {
    /// Read completely.
    Ok,
    /// Not read, or read only in part: nothing from it is evaluated.
    Failed,
}

/// Where a report's records came from.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum SourceKind {
    /// `--fleet` files.
    #[default]
    Recorded,
    /// Live EC2.
    Live,
    /// Instances rendered from a proposed provider configuration (gate).
    Proposal,
    /// A second snapshot (`diff --to`).
    Snapshot,
}

impl SourceKind {
    /// As the report writes it.
    pub fn name(self) -> &'static str {
        match self {
            SourceKind::Recorded => "recorded",
            SourceKind::Live => "live",
            SourceKind::Proposal => "proposal",
            SourceKind::Snapshot => "snapshot",
        }
    }
}

/// Whether a tally is a provider manifest's or a consumer contract's.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum TallyRole {
    /// A provider manifest.
    Provider,
    /// A consumer contract.
    Consumer,
}

/// A report's overall status.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Default,
    Serialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Nothing fails.
    #[default]
    Clean,
    /// Only warnings.
    Warnings,
    /// Something fails.
    Violations,
    /// The data or the evaluation is incomplete.
    Incomplete,
}

/// A consumer's verdict on a proposal.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Deployable {
    /// Its contract holds on the proposal.
    Yes,
    /// Its contract breaks on the proposal.
    No,
    /// Its contract could not be evaluated on the proposal.
    Unknown,
}

/// How an output changed (CloudFormation's ADD / REMOVE / NOT_EQUAL).
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum ChangeKind {
    /// New.
    Added,
    /// Gone.
    Removed,
    /// Different.
    Changed,
}

impl ChangeKind {
    /// As reports write it.
    pub fn name(self) -> &'static str {
        match self {
            ChangeKind::Added => "added",
            ChangeKind::Removed => "removed",
            ChangeKind::Changed => "changed",
        }
    }
}

impl SourcePart {
    /// A part read completely: `instances` records, nothing else counted yet.
    pub fn read(name: impl Into<String>, kind: PartKind, instances: usize) -> SourcePart {
        SourcePart {
            name: name.into(),
            status: PartStatus::Ok,
            instances,
            error: None,
            api_calls: None,
            api_calls_by_action: None,
            note: None,
            sequential_calls: None,
            scope: None,
            kind,
        }
    }

    /// A part that could not be read, and why.
    pub fn failed(name: impl Into<String>, kind: PartKind, error: impl Into<String>) -> SourcePart {
        SourcePart {
            status: PartStatus::Failed,
            error: Some(error.into()),
            ..SourcePart::read(name, kind, 0)
        }
    }

    /// The part's name with its scope: a region read through `--accounts` or `--org` names its
    /// account too (`us-west-1 (account 111122223333)`), since two accounts' regions share a
    /// name; a part that stands for a whole account already names it.
    pub fn scope(&self) -> String {
        match (self.kind, &self.scope) {
            (PartKind::RegionOfAccount, Some(s)) => format!("{} ({})", self.name, s.label()),
            _ => self.name.clone(),
        }
    }
}

impl SourceInfo {
    /// Whether some part could not be read: such data never reports clean.
    pub fn incomplete(&self) -> bool {
        self.parts.iter().any(|p| p.status != PartStatus::Ok)
    }

    /// The parts that could not be read.
    pub fn failed(&self) -> impl Iterator<Item = &SourcePart> {
        self.parts.iter().filter(|p| p.status != PartStatus::Ok)
    }
}

impl TallyRole {
    /// As reports write it.
    pub fn name(self) -> &'static str {
        match self {
            TallyRole::Provider => "provider",
            TallyRole::Consumer => "consumer",
        }
    }
}

impl Status {
    /// As reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Status::Clean => "clean",
            Status::Warnings => "warnings",
            Status::Violations => "violations",
            Status::Incomplete => "incomplete",
        }
    }
}

impl Deployable {
    /// As reports write it.
    pub fn name(self) -> &'static str {
        match self {
            Deployable::Yes => "yes",
            Deployable::No => "no",
            Deployable::Unknown => "unknown",
        }
    }
}

crate::code::display_as_name!(TallyRole, Status, Deployable, SourceKind, ChangeKind);

#[cfg(test)]
mod tests;

//! The contract model, as evaluation sees it: compiled, cross-referenced, validated.
//!
//! Files are loaded by [`crate::load`]; everything here is already checked (regexes compiled,
//! facts resolved to indexes, sets resolved to their members), so evaluation cannot fail on a
//! contract, only produce findings.

pub use crate::clause::{Check, SetRef, Subject};
use crate::fleet::{Instance, Read};
use crate::output::{Ec2Field, OutputPath};
use crate::template::Template;
use chrono::NaiveDate;
use globset::GlobMatcher;
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::path::PathBuf;
use std::sync::Arc;

/// Everything loaded from `--contracts`.
#[derive(Debug, Clone, Default)]
pub struct ContractSet {
    /// Provider manifests.
    pub providers: Vec<Provider>,
    /// Consumer contracts.
    pub consumers: Vec<Consumer>,
    /// Waivers.
    pub waivers: Vec<Waiver>,
    /// Every file that was read, for the report.
    pub files: Vec<PathBuf>,
}

/// What a provisioner promises to emit.
#[derive(Debug, Clone)]
pub struct Provider {
    /// Unique name, e.g. `ec2-manager`.
    pub name: String,
    /// Prose.
    pub description: String,
    /// Who answers for it.
    pub owner: Option<String>,
    /// The file it came from.
    pub file: PathBuf,
    /// Which instances are this provider's.
    pub selector: Selector,
    /// The variable that names an instance's group.
    pub group_by: String,
    /// Template variables.
    pub variables: BTreeMap<String, Variable>,
    /// Named sets (workerTypes, ...), sorted.
    pub sets: BTreeMap<String, Arc<BTreeSet<String>>>,
    /// Promised outputs, in manifest order.
    pub outputs: Vec<ProviderOutput>,
    /// What its launches get when a launch request does not say (`launchDefaults`).
    pub launch: Option<LaunchDefaults>,
    /// The cloud its instances are in (`cloud`, default EC2).
    pub cloud: crate::output::Cloud,
    /// What the ARM templates its Azure pools deploy do (`armTemplates`).
    pub arm_templates: Vec<ArmTemplate>,
}

/// What one ARM template deployment does with the parameters worker-manager passes, as a
/// provider manifest declares it: the template's content is not something checker can read.
#[derive(Debug, Clone)]
pub struct ArmTemplate {
    /// The template's id or uri; `*` matches any run of characters.
    pub template_spec: String,
    /// The VM gets the `tags` parameter.
    pub applies_tags: bool,
    /// The VM gets the `customData` parameter.
    pub custom_data: bool,
    /// The deployment gives the VM a public IPv4.
    pub public_ip: bool,
    /// Why this is believed.
    pub source: String,
}

impl ArmTemplate {
    /// Whether the entry describes the template `id`.
    pub fn describes(&self, id: &str) -> bool {
        globset::Glob::new(&self.template_spec)
            .map(|g| g.compile_matcher().is_match(id))
            .unwrap_or(false)
    }
}

/// A provider's account defaults for what a launch request leaves out; the gate renders
/// proposals with them.
#[derive(Debug, Clone, Default)]
pub struct LaunchDefaults {
    /// Subnets whose `MapPublicIpOnLaunch` is true (a set's members); `None`: not declared.
    pub public_ip_subnets: Option<Arc<BTreeSet<String>>>,
    /// Whether a launch gets a public IPv4 when neither its network interfaces nor a declared
    /// subnet say (`publicIpv4`); `None`: not declared.
    pub public_ip: Option<bool>,
    /// `MetadataOptions` defaults (EC2's own, optional/enabled/1, where not given).
    pub metadata: crate::fleet::MetadataOptions,
}

/// A template variable.
#[derive(Debug, Clone, Default)]
pub struct Variable {
    /// Prose.
    pub description: Option<String>,
    /// Regex for its values (unanchored text, used inside a template's regex).
    pub pattern: Option<String>,
    /// A set its values must belong to.
    pub set: Option<String>,
    /// A value for rendering proposals.
    pub example: Option<String>,
    /// Bound from the instance itself.
    pub builtin: Option<Builtin>,
}

/// Variables bound from an instance's own fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Builtin {
    /// The region.
    Region,
    /// The availability zone.
    AvailabilityZone,
    /// The instance type.
    InstanceType,
    /// The AMI.
    ImageId,
    /// The AWS account (12 digits) that owns the instance: its reservation's `OwnerId`, or the
    /// account a live scan reached.
    Account,
}

impl Builtin {
    /// Reads the variable's value from an instance.
    pub fn read(self, i: &Instance) -> Option<&str> {
        match self {
            Builtin::Region => Some(&i.region),
            Builtin::AvailabilityZone => i.zone(),
            Builtin::InstanceType => i.field(Ec2Field::InstanceType),
            Builtin::ImageId => i.field(Ec2Field::ImageId),
            Builtin::Account => i.scope.as_deref(),
        }
    }
}

/// One promised output.
#[derive(Debug, Clone)]
pub struct ProviderOutput {
    /// Where it is.
    pub path: OutputPath,
    /// Its value's template, if the value is predictable.
    pub template: Option<Template>,
    /// The template as an anchored regex.
    pub regex: Option<Regex>,
    /// Never stored or shown.
    pub secret: bool,
    /// May be absent.
    pub optional: bool,
    /// Its value is particular to each instance (`perInstance`): see [`ContractSet::per_instance`].
    pub per_instance: bool,
    /// Prose.
    pub description: Option<String>,
    /// Where it is written (set once the set is loaded).
    pub location: Option<crate::diag::Location>,
}

/// The role a consumer plays.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    /// Reads outputs.
    Reader,
    /// Scopes and groups `checker cull`.
    Cull,
}

/// What one consumer relies on.
#[derive(Debug, Clone)]
pub struct Consumer {
    /// Unique name.
    pub name: String,
    /// Who answers for it.
    pub owner: String,
    /// Prose.
    pub description: String,
    /// Where to go when it breaks.
    pub runbook: Option<String>,
    /// Its role.
    pub role: Role,
    /// The file it came from.
    pub file: PathBuf,
    /// Which instances it applies to.
    pub selector: Selector,
    /// Its clauses, in order (a fact is derived before it is used).
    pub clauses: Vec<Clause>,
    /// Fact names, by index.
    pub facts: Vec<String>,
    /// Selecting no instance of a complete fleet is expected (`mayBeEmpty`), not a
    /// `selects-nothing` finding.
    pub may_be_empty: bool,
}

/// Error or warning.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Fails only with `--fail-on-warn`.
    Warning,
    /// Fails the check.
    Error,
}

/// One clause.
#[derive(Debug, Clone)]
pub struct Clause {
    /// Stable, globally unique id.
    pub id: String,
    /// Error or warning.
    pub severity: Severity,
    /// What breaks when it fails.
    pub why: String,
    /// Applies only where this holds.
    pub when: Option<Condition>,
    /// What it checks.
    pub check: Check,
    /// Its JSON pointer in the file.
    pub pointer: String,
    /// Where it is written (set once the set is loaded).
    pub location: Option<crate::diag::Location>,
}

/// Which instances something applies to.
#[derive(Debug, Clone, Default)]
pub struct Selector {
    /// Only instances of this cloud.
    pub cloud: crate::output::Cloud,
    /// Only instances the provider at this index selects.
    pub provider: Option<usize>,
    /// Accepted states.
    pub states: Vec<String>,
    /// All must hold.
    pub conditions: Vec<Condition>,
}

/// A condition over one instance.
#[derive(Debug, Clone)]
pub enum Condition {
    /// Equal.
    Equals(OutputPath, String),
    /// One of.
    OneOf(OutputPath, Vec<String>),
    /// Regex.
    Matches(OutputPath, Regex),
    /// Shell glob, with its source text.
    Glob(OutputPath, GlobMatcher, String),
    /// Present (true) or absent (false).
    Present(OutputPath, bool),
    /// Member of a set.
    MemberOf(OutputPath, SetRef),
    /// All hold.
    All(Vec<Condition>),
    /// One holds.
    Any(Vec<Condition>),
    /// Does not hold.
    Not(Box<Condition>),
}

impl Condition {
    /// Whether the condition holds. A condition on an output that cannot be read is false.
    pub fn holds(&self, i: &Instance) -> bool {
        let val = |p: &OutputPath| match i.read(p) {
            Read::Value(v) => Some(v),
            _ => None,
        };
        match self {
            Condition::Equals(p, v) => val(p).is_some_and(|x| x == v.as_str()),
            Condition::OneOf(p, vs) => val(p).is_some_and(|x| vs.iter().any(|v| v == x.as_ref())),
            Condition::Matches(p, re) => val(p).is_some_and(|x| re.is_match(&x)),
            Condition::Glob(p, g, _) => val(p).is_some_and(|x| g.is_match(x.as_ref())),
            Condition::Present(p, want) => matches!(i.read(p), Read::Value(_)) == *want,
            Condition::MemberOf(p, set) => val(p).is_some_and(|x| set.values.contains(x.as_ref())),
            Condition::All(cs) => cs.iter().all(|c| c.holds(i)),
            Condition::Any(cs) => cs.iter().any(|c| c.holds(i)),
            Condition::Not(c) => !c.holds(i),
        }
    }

    /// The condition in words, for reports and `explain`.
    pub fn describe(&self) -> String {
        match self {
            Condition::Equals(p, v) => format!("{p} = \"{v}\""),
            Condition::OneOf(p, vs) => format!("{p} in [{}]", vs.join(", ")),
            Condition::Matches(p, re) => format!("{p} matches /{}/", re.as_str()),
            Condition::Glob(p, _, g) => format!("{p} like \"{g}\""),
            Condition::Present(p, true) => format!("{p} is present"),
            Condition::Present(p, false) => format!("{p} is absent"),
            Condition::MemberOf(p, s) => format!("{p} in {} ({} values)", s.name, s.values.len()),
            Condition::All(cs) => format!(
                "({})",
                cs.iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join(" and ")
            ),
            Condition::Any(cs) => format!(
                "({})",
                cs.iter()
                    .map(Condition::describe)
                    .collect::<Vec<_>>()
                    .join(" or ")
            ),
            Condition::Not(c) => format!("not {}", c.describe()),
        }
    }

    /// Every output the condition reads.
    pub fn outputs(&self, out: &mut Vec<OutputPath>) {
        match self {
            Condition::Equals(p, _)
            | Condition::OneOf(p, _)
            | Condition::Matches(p, _)
            | Condition::Glob(p, _, _)
            | Condition::Present(p, _)
            | Condition::MemberOf(p, _) => out.push(p.clone()),
            Condition::All(cs) | Condition::Any(cs) => cs.iter().for_each(|c| c.outputs(out)),
            Condition::Not(c) => c.outputs(out),
        }
    }
}

impl ContractSet {
    /// Whether the selector holds for the instance (including its provider's selector).
    pub fn selects(&self, sel: &Selector, i: &Instance) -> bool {
        sel.cloud == i.cloud()
            && sel.states.iter().any(|s| s == i.state())
            && sel.conditions.iter().all(|c| c.holds(i))
            && sel
                .provider
                .is_none_or(|p| self.selects(&self.providers[p].selector, i))
    }

    /// A selector in words.
    pub fn describe_selector(&self, sel: &Selector) -> String {
        let mut parts: Vec<String> = Vec::new();
        if let Some(p) = sel.provider {
            parts.push(format!("provider {}", self.providers[p].name));
        }
        parts.extend(sel.conditions.iter().map(Condition::describe));
        if sel.cloud != crate::output::Cloud::Ec2 {
            parts.push(format!("cloud {}", sel.cloud.name()));
        }
        if sel.states != sel.cloud.default_states() {
            parts.push(format!("state in [{}]", sel.states.join(", ")));
        }
        if parts.is_empty() {
            "every instance".into()
        } else {
            parts.join(" and ")
        }
    }

    /// Whether an output's value is particular to each instance, so that a summary of a group
    /// records whether its instances carry it and never its values: the one place this is
    /// decided. EC2's own per-instance fields ([`crate::output::Ec2Field::per_instance`]) are;
    /// a tag or user-data field is when a provider manifest that promises it says
    /// `"perInstance": true`.
    pub fn per_instance(&self, path: &OutputPath) -> bool {
        match path {
            OutputPath::Field(f) => f.per_instance(),
            _ => self
                .providers
                .iter()
                .flat_map(|p| p.outputs.iter())
                .any(|o| o.per_instance && o.path.covers(path)),
        }
    }

    /// Finds a consumer by name.
    pub fn consumer(&self, name: &str) -> Option<&Consumer> {
        self.consumers.iter().find(|c| c.name == name)
    }

    /// Every output any consumer contract reads (selectors, `when`s and clauses).
    pub fn consumer_reads(&self) -> BTreeMap<OutputPath, BTreeSet<String>> {
        let mut out: BTreeMap<OutputPath, BTreeSet<String>> = BTreeMap::new();
        for c in &self.consumers {
            for p in c.reads(self) {
                out.entry(p).or_default().insert(c.name.clone());
            }
        }
        out
    }

    /// Secret user-data paths every provider declares.
    pub fn secret_policy(&self) -> crate::fleet::SecretPolicy {
        let paths = self
            .providers
            .iter()
            .flat_map(|p| p.outputs.iter())
            .filter(|o| o.secret)
            .filter_map(|o| match &o.path {
                OutputPath::UserData(p) => Some(p.clone()),
                _ => None,
            })
            .collect();
        crate::fleet::SecretPolicy::new(paths)
    }

    /// Whether any contract (consumer or provider) reads user-data: live scans fetch it only then.
    pub fn reads_user_data(&self) -> bool {
        self.consumers
            .iter()
            .any(|c| c.reads(self).iter().any(OutputPath::is_user_data))
            || self
                .providers
                .iter()
                .any(|p| p.outputs.iter().any(|o| o.path.is_user_data() && !o.secret))
    }
}

impl Consumer {
    /// The outputs a clause depends on: what it reads itself, its `when`, and, through the facts
    /// it uses, whatever the clauses that derived them read.
    pub fn implicated(&self, clause: usize) -> BTreeSet<OutputPath> {
        let mut out = BTreeSet::new();
        let mut todo = vec![clause];
        let mut seen = BTreeSet::new();
        while let Some(k) = todo.pop() {
            if !seen.insert(k) {
                continue;
            }
            let cl = &self.clauses[k];
            let mut v = Vec::new();
            cl.check.outputs(&mut v);
            if let Some(w) = &cl.when {
                w.outputs(&mut v);
            }
            out.extend(v);
            let facts = cl.check.facts_read();
            for f in facts {
                if let Some(d) = self
                    .clauses
                    .iter()
                    .position(|c| c.check.derived_fact() == Some(f))
                {
                    todo.push(d);
                }
            }
        }
        out
    }

    /// Every output this contract reads.
    pub fn reads(&self, set: &ContractSet) -> Vec<OutputPath> {
        let mut out = Vec::new();
        self.selector
            .conditions
            .iter()
            .for_each(|c| c.outputs(&mut out));
        if let Some(p) = self.selector.provider {
            set.providers[p]
                .selector
                .conditions
                .iter()
                .for_each(|c| c.outputs(&mut out));
        }
        for cl in &self.clauses {
            if let Some(w) = &cl.when {
                w.outputs(&mut out);
            }
            cl.check.outputs(&mut out);
        }
        out.sort();
        out.dedup();
        out
    }
}

/// An accepted exception.
#[derive(Debug, Clone)]
pub struct Waiver {
    /// The consumer it waives.
    pub consumer: String,
    /// One clause, or the whole consumer.
    pub clause: Option<String>,
    /// Only for these instances.
    pub selector: Option<Selector>,
    /// Who accepted it.
    pub owner: String,
    /// Why.
    pub reason: String,
    /// Last day it applies (UTC).
    pub expires: NaiveDate,
    /// The file and pointer it came from.
    pub file: PathBuf,
    /// Its pointer.
    pub pointer: String,
}

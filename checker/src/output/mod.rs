//! Output paths: the names by which contracts refer to what a provisioner puts on an instance.
//!
//! An output is a cloud's field (EC2's `KeyName`, GCE's `machineType`, Azure's `vmSize`...), a
//! tag (`tag:Owner`: EC2 tags, GCE labels, Azure tags) or a field of the
//! instance's user-data JSON (`userData.workerType`, `userData.data.x`). Paths are parsed once,
//! when contracts load, so evaluation never compares strings to find out what to read.

use std::fmt;

pub use checker_ec2::Ec2Field;

mod azure;
mod gce;
pub use azure::{AzureField, AzureValues};
pub use gce::{GceField, GceValues};

/// A cloud whose instances checker reads. Each has its own fields ([`Field`]), its own kind of
/// scope (what owns an instance) and its own sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default, strum::EnumIter)]
pub enum Cloud {
    /// Amazon EC2 (what a contract that names no cloud is about).
    #[default]
    Ec2,
    /// Google Compute Engine.
    Gce,
    /// Azure virtual machines.
    Azure,
}

/// What owns an instance, in its cloud's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKind {
    /// An AWS account.
    Account,
    /// A GCP project.
    Project,
    /// An Azure subscription.
    Subscription,
}

impl ScopeKind {
    /// The word reports use (`account`).
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
            ScopeKind::Project => "project",
            ScopeKind::Subscription => "subscription",
        }
    }
}

impl Cloud {
    /// Its name in reports and contracts (`ec2`, `gce`, `azure`).
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Ec2 => "ec2",
            Cloud::Gce => "gce",
            Cloud::Azure => "azure",
        }
    }

    /// The cloud contracts call `name`.
    pub fn by_name(name: &str) -> Option<Cloud> {
        <Cloud as strum::IntoEnumIterator>::iter().find(|c| c.name() == name)
    }

    /// The lifecycle states a selector accepts when it does not say: an instance starting or
    /// running (EC2 `pending`/`running`; GCE `PROVISIONING`/`STAGING`/`RUNNING`; Azure's power
    /// states `VM starting`/`VM running`).
    pub fn default_states(self) -> &'static [&'static str] {
        match self {
            Cloud::Ec2 => &["pending", "running"],
            Cloud::Gce => &["PROVISIONING", "STAGING", "RUNNING"],
            Cloud::Azure => &["VM starting", "VM running"],
        }
    }

    /// The state a proposed (not yet launched) instance is in.
    pub fn launch_state(self) -> &'static str {
        self.default_states()[0]
    }

    /// What owns its instances.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Cloud::Ec2 => ScopeKind::Account,
            Cloud::Gce => ScopeKind::Project,
            Cloud::Azure => ScopeKind::Subscription,
        }
    }

    /// The field holding an instance's lifecycle state.
    pub fn state_field(self) -> Field {
        match self {
            Cloud::Ec2 => Field::Ec2(Ec2Field::State),
            Cloud::Gce => Field::Gce(GceField::Status),
            Cloud::Azure => Field::Azure(AzureField::PowerState),
        }
    }

    /// Its fields, in their order. The record's region (`region`, EC2's row) is every cloud's.
    pub fn fields(self) -> Box<dyn Iterator<Item = Field>> {
        match self {
            Cloud::Ec2 => Box::new(Ec2Field::all().map(Field::Ec2)),
            Cloud::Gce => Box::new(GceField::all().map(Field::Gce)),
            Cloud::Azure => Box::new(AzureField::all().map(Field::Azure)),
        }
    }
}

/// One row of a cloud's field table (GCE's and Azure's; EC2's rows, which also say where its
/// APIs put each field, are [`checker_ec2::Spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Row {
    /// The name contracts use.
    pub name: &'static str,
    /// What it is, for users.
    pub doc: &'static str,
    /// Every instance has its own value.
    pub per_instance: bool,
    /// An instance may lack it depending on its provisioner.
    pub provider_dependent: bool,
    /// Snapshots keep it as a pool property.
    pub snapshot: bool,
    /// `checker init` drafts it.
    pub init: bool,
    /// Set by the instance's life, not by what launched it.
    pub by_life: bool,
}

impl Row {
    const fn new(name: &'static str, doc: &'static str) -> Row {
        Row {
            name,
            doc,
            per_instance: false,
            provider_dependent: false,
            snapshot: false,
            init: false,
            by_life: false,
        }
    }
    const fn per_instance(mut self) -> Row {
        self.per_instance = true;
        self
    }
    const fn provider_dependent(mut self) -> Row {
        self.provider_dependent = true;
        self
    }
    const fn snapshot(mut self) -> Row {
        self.snapshot = true;
        self
    }
    const fn init(mut self) -> Row {
        self.init = true;
        self
    }
    const fn by_life(mut self) -> Row {
        self.by_life = true;
        self
    }
}

/// A record's values for a cloud of `N` fields, one slot per field (by its index).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Slots<const N: usize>([Option<String>; N]);

impl<const N: usize> Default for Slots<N> {
    fn default() -> Self {
        Slots(std::array::from_fn(|_| None))
    }
}

impl<const N: usize> Slots<N> {
    /// The value in slot `i`.
    pub fn get(&self, i: usize) -> Option<&str> {
        self.0.get(i).and_then(Option::as_deref)
    }

    /// Sets slot `i`.
    pub fn set(&mut self, i: usize, v: String) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = Some(v);
        }
    }
}

/// One of a cloud's own instance fields. What each is, where the cloud puts it and how checker
/// treats it is the cloud's row for it ([`Ec2Field::spec`], [`GceField::row`],
/// [`AzureField::row`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// An EC2 field.
    Ec2(Ec2Field),
    /// A GCE field.
    Gce(GceField),
    /// An Azure field.
    Azure(AzureField),
}

impl From<Ec2Field> for Field {
    fn from(f: Ec2Field) -> Self {
        Field::Ec2(f)
    }
}

impl From<GceField> for Field {
    fn from(f: GceField) -> Self {
        Field::Gce(f)
    }
}

impl From<AzureField> for Field {
    fn from(f: AzureField) -> Self {
        Field::Azure(f)
    }
}

impl Field {
    /// Every cloud's fields.
    pub fn all() -> impl Iterator<Item = Field> {
        <Cloud as strum::IntoEnumIterator>::iter().flat_map(Cloud::fields)
    }

    /// The field contracts call `name` (names are unique across clouds; `region` is EC2's row
    /// and every record's region).
    pub fn by_name(name: &str) -> Option<Field> {
        Field::all().find(|f| f.name() == name)
    }

    /// Its cloud.
    pub fn cloud(self) -> Cloud {
        match self {
            Field::Ec2(_) => Cloud::Ec2,
            Field::Gce(_) => Cloud::Gce,
            Field::Azure(_) => Cloud::Azure,
        }
    }

    /// The shared flags of its row.
    fn row(self) -> Row {
        match self {
            Field::Ec2(f) => {
                let s = f.spec();
                Row {
                    name: s.name,
                    doc: s.doc,
                    per_instance: s.per_instance,
                    provider_dependent: s.provider_dependent,
                    snapshot: s.snapshot,
                    init: s.init,
                    by_life: s.by_life,
                }
            }
            Field::Gce(f) => f.row(),
            Field::Azure(f) => f.row(),
        }
    }

    /// The name contracts use for it.
    pub fn name(self) -> &'static str {
        self.row().name
    }

    /// What it is.
    pub fn doc(self) -> &'static str {
        self.row().doc
    }

    /// Whether every instance has its own value: a public IPv4 address is assigned per
    /// instance (and changes on every stop and start), a launch time per launch. Such values
    /// say nothing about the fleet's shape; snapshots record only whether instances carry them.
    pub fn per_instance(self) -> bool {
        self.row().per_instance
    }

    /// Whether an instance may lack it depending on its provisioner.
    pub fn provider_dependent(self) -> bool {
        self.row().provider_dependent
    }

    /// Whether snapshots keep it as a pool property.
    pub fn in_snapshots(self) -> bool {
        self.row().snapshot
    }

    /// Whether `checker init` drafts it as a promise.
    pub fn drafted(self) -> bool {
        self.row().init
    }

    /// Whether a provisioner can promise it: not what the instance's life sets (state, launch
    /// time) nor the region the record is in.
    pub fn promisable(self) -> bool {
        !self.row().by_life && !self.is_region()
    }

    /// Whether it is the record's region (read from the record, not the cloud's fields).
    pub fn is_region(self) -> bool {
        matches!(self, Field::Ec2(f) if f.spec().at == checker_ec2::At::Region)
    }

    /// Whether an instance of `cloud` can have it: its cloud's field, or the region.
    pub fn of(self, cloud: Cloud) -> bool {
        self.cloud() == cloud || self.is_region()
    }
}

/// A parsed output path.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum OutputPath {
    /// One of a cloud's fields.
    Field(Field),
    /// `tag:NAME`.
    Tag(String),
    /// `userData.a.b`: the JSON path inside the decoded user-data object.
    UserData(Vec<String>),
}

/// Why a string is not an output path, with a suggestion when one is close.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BadOutputPath {
    /// What is wrong.
    pub message: String,
    /// What to write instead.
    pub hint: String,
}

impl OutputPath {
    /// Parses `KeyName`, `tag:Owner`, `userData.workerType`, ...
    pub fn parse(s: &str) -> Result<Self, BadOutputPath> {
        if let Some(tag) = s.strip_prefix("tag:") {
            if tag.is_empty() || tag.len() > 128 {
                return Err(BadOutputPath {
                    message: format!("`{s}` has an empty or over-long tag key"),
                    hint: "write tag:KEY with a key of 1 to 128 characters, e.g. tag:Owner".into(),
                });
            }
            return Ok(OutputPath::Tag(tag.to_string()));
        }
        if let Some(rest) = s.strip_prefix("userData.") {
            let parts: Vec<String> = rest.split('.').map(str::to_string).collect();
            if parts.iter().any(String::is_empty) {
                return Err(BadOutputPath {
                    message: format!("`{s}` has an empty user-data field name"),
                    hint: "write userData.FIELD or userData.FIELD.SUBFIELD".into(),
                });
            }
            return Ok(OutputPath::UserData(parts));
        }
        if let Some(field) = Field::by_name(s) {
            return Ok(OutputPath::Field(field));
        }
        let suggestion = closest(s);
        Err(BadOutputPath {
            message: format!("`{s}` is not an output checker knows"),
            hint: match suggestion {
                Some(name) => format!(
                    "did you mean `{name}`? Outputs are a cloud's fields ({}), tag:KEY or userData.FIELD",
                    field_list()
                ),
                None => format!(
                    "outputs are a cloud's fields ({}), tag:KEY or userData.FIELD",
                    field_list()
                ),
            },
        })
    }

    /// Outputs that may be missing from an instance, so that a consumer reading one that no
    /// provider promises is a real risk (tags, user-data, key pair, instance profile, ...).
    pub fn provider_dependent(&self) -> bool {
        match self {
            OutputPath::Tag(_) | OutputPath::UserData(_) => true,
            OutputPath::Field(f) => f.provider_dependent(),
        }
    }

    /// Whether a provider promising `self` promises `other` too: the same path, or a user-data
    /// field inside a promised user-data object (`userData.data` covers `userData.data.x`).
    pub fn covers(&self, other: &OutputPath) -> bool {
        match (self, other) {
            (OutputPath::UserData(a), OutputPath::UserData(b)) => b.starts_with(a),
            _ => self == other,
        }
    }

    /// True for `userData.*` paths: reading them costs a DescribeInstanceAttribute call live.
    pub fn is_user_data(&self) -> bool {
        matches!(self, OutputPath::UserData(_))
    }
}

fn field_list() -> String {
    Field::all().map(Field::name).collect::<Vec<_>>().join(", ")
}

/// The known name closest to `s` by edit distance, if it is plausibly a typo of it.
fn closest(s: &str) -> Option<&'static str> {
    let lower = s.to_ascii_lowercase();
    let mut candidates: Vec<&'static str> = Field::all().map(Field::name).collect();
    candidates.extend(["tag:Name", "tag:Owner", "userData.workerType"]);
    candidates
        .into_iter()
        .map(|c| (strsim::levenshtein(&lower, &c.to_ascii_lowercase()), c))
        .filter(|(d, c)| *d <= 2.max(c.len() / 4))
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c)
}

impl fmt::Display for OutputPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            OutputPath::Field(field) => f.write_str(field.name()),
            OutputPath::Tag(t) => write!(f, "tag:{t}"),
            OutputPath::UserData(p) => write!(f, "userData.{}", p.join(".")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_form_and_prints_it_back() {
        for s in [
            "KeyName",
            "tag:Owner",
            "userData.workerType",
            "userData.data.x",
            "region",
        ] {
            assert_eq!(
                OutputPath::parse(s).map(|p| p.to_string()),
                Ok(s.to_string())
            );
        }
    }

    #[test]
    fn suggests_the_field_a_typo_meant() {
        let err = OutputPath::parse("KeyNmae").unwrap_err();
        assert!(err.hint.contains("did you mean `KeyName`"), "{}", err.hint);
    }

    #[test]
    fn rejects_empty_tag_and_user_data_names() {
        assert!(OutputPath::parse("tag:").is_err());
        assert!(OutputPath::parse("userData.a..b").is_err());
    }

    /// docs/contracts.md lists every field contracts may name: a row added without its line
    /// there fails.
    #[test]
    fn the_contract_docs_list_every_field() {
        let docs = include_str!("../../../docs/contracts.md");
        for f in Field::all() {
            assert!(
                docs.contains(&format!("`{}`", f.name())),
                "docs/contracts.md lacks {}",
                f.name()
            );
        }
    }
}

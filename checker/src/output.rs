//! Output paths: the names by which contracts refer to what a provisioner puts on an instance.
//!
//! An output is an EC2 field (`KeyName`, `ImageId`, ...), a tag (`tag:Owner`) or a field of the
//! instance's user-data JSON (`userData.workerType`, `userData.data.x`). Paths are parsed once,
//! when contracts load, so evaluation never compares strings to find out what to read.

use std::fmt;

pub use checker_ec2::Ec2Field;

/// A cloud whose instances checker reads. Each has its own fields ([`Field`]), its own kind of
/// scope (what owns an instance) and its own sources.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, strum::EnumIter)]
pub enum Cloud {
    /// Amazon EC2.
    Ec2,
}

/// What owns an instance, in its cloud's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ScopeKind {
    /// An AWS account.
    Account,
}

impl ScopeKind {
    /// The word reports use (`account`).
    pub fn name(self) -> &'static str {
        match self {
            ScopeKind::Account => "account",
        }
    }
}

impl Cloud {
    /// Its name in reports (`ec2`).
    pub fn name(self) -> &'static str {
        match self {
            Cloud::Ec2 => "ec2",
        }
    }

    /// What owns its instances.
    pub fn scope_kind(self) -> ScopeKind {
        match self {
            Cloud::Ec2 => ScopeKind::Account,
        }
    }

    /// The field holding an instance's lifecycle state.
    pub fn state_field(self) -> Field {
        match self {
            Cloud::Ec2 => Field::Ec2(Ec2Field::State),
        }
    }

    /// Its fields, in their order.
    pub fn fields(self) -> impl Iterator<Item = Field> {
        match self {
            Cloud::Ec2 => Ec2Field::all().map(Field::Ec2),
        }
    }
}

/// One of a cloud's own instance fields. What each is, where the cloud puts it and how checker
/// treats it is the cloud's row for it ([`Ec2Field::spec`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Field {
    /// An EC2 field.
    Ec2(Ec2Field),
}

impl From<Ec2Field> for Field {
    fn from(f: Ec2Field) -> Self {
        Field::Ec2(f)
    }
}

impl Field {
    /// Every cloud's fields.
    pub fn all() -> impl Iterator<Item = Field> {
        <Cloud as strum::IntoEnumIterator>::iter().flat_map(Cloud::fields)
    }

    /// The field contracts call `name`.
    pub fn by_name(name: &str) -> Option<Field> {
        Field::all().find(|f| f.name() == name)
    }

    /// Its cloud.
    pub fn cloud(self) -> Cloud {
        match self {
            Field::Ec2(_) => Cloud::Ec2,
        }
    }

    /// The name contracts use for it.
    pub fn name(self) -> &'static str {
        match self {
            Field::Ec2(f) => f.spec().name,
        }
    }

    /// What it is.
    pub fn doc(self) -> &'static str {
        match self {
            Field::Ec2(f) => f.spec().doc,
        }
    }

    /// Whether every instance has its own value: a public IPv4 address is assigned per
    /// instance (and changes on every stop and start), a launch time per launch. Such values
    /// say nothing about the fleet's shape; snapshots record only whether instances carry them.
    pub fn per_instance(self) -> bool {
        match self {
            Field::Ec2(f) => f.spec().per_instance,
        }
    }

    /// Whether an instance may lack it depending on its provisioner.
    pub fn provider_dependent(self) -> bool {
        match self {
            Field::Ec2(f) => f.spec().provider_dependent,
        }
    }

    /// Whether snapshots keep it as a pool property.
    pub fn in_snapshots(self) -> bool {
        match self {
            Field::Ec2(f) => f.spec().snapshot,
        }
    }

    /// Whether `checker init` drafts it as a promise.
    pub fn drafted(self) -> bool {
        match self {
            Field::Ec2(f) => f.spec().init,
        }
    }

    /// Whether a provisioner can promise it: not what the instance's life sets (state, launch
    /// time) nor the region the record is in.
    pub fn promisable(self) -> bool {
        match self {
            Field::Ec2(f) => !f.spec().by_life && f.spec().at != checker_ec2::At::Region,
        }
    }

    /// Whether it is the record's region (read from the record, not the cloud's fields).
    pub fn is_region(self) -> bool {
        match self {
            Field::Ec2(f) => f.spec().at == checker_ec2::At::Region,
        }
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
                    "did you mean `{name}`? Outputs are EC2 fields ({}), tag:KEY or userData.FIELD",
                    field_list()
                ),
                None => format!(
                    "outputs are EC2 fields ({}), tag:KEY or userData.FIELD",
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
        let docs = include_str!("../../docs/contracts.md");
        for f in Field::all() {
            assert!(
                docs.contains(&format!("`{}`", f.name())),
                "docs/contracts.md lacks {}",
                f.name()
            );
        }
    }
}

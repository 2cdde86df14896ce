//! The scope a finding or a source part is about (what owns the instances: an AWS account),
//! with its kind, in one wire shape for every cloud.

use serde::Serialize;

pub use crate::output::ScopeKind;

/// What owns the instances a finding or a part is about (an AWS account), with its kind: one
/// wire shape for every cloud. Written as `scope` and `scopeKind` (checker-report 1.6,
/// checker-diff 1.4), and as `account` too (1.4, deprecated) when the kind is `account`.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, schemars::JsonSchema)]
pub struct Scope {
    /// The scope's id (an AWS account's 12 digits). Since checker-report 1.6 (checker-diff 1.4).
    #[serde(rename = "scope")]
    pub id: String,
    /// What kind of scope it is, in its cloud's words (`account`, `project`, `subscription`). Since checker-report 1.6
    /// (checker-diff 1.4).
    #[serde(rename = "scopeKind", serialize_with = "kind_name")]
    #[schemars(schema_with = "kind_schema")]
    pub kind: ScopeKind,
    /// The id again when the kind is `account`: 1.4's field, kept for readers of 1.4 and 1.5.
    /// Deprecated: read `scope` and `scopeKind`.
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
}

impl Scope {
    /// Scope `id` of kind `kind`.
    pub fn new(kind: ScopeKind, id: impl Into<String>) -> Scope {
        let id = id.into();
        Scope {
            account: (kind == ScopeKind::Account).then(|| id.clone()),
            id,
            kind,
        }
    }

    /// `account 111122223333`: the kind's word and the id.
    pub fn label(&self) -> String {
        format!("{} {}", self.kind.name(), self.id)
    }
}

impl super::SourcePart {
    /// The part in scope `scope`.
    pub fn in_scope(self, scope: Scope) -> super::SourcePart {
        super::SourcePart {
            scope: Some(scope),
            ..self
        }
    }
}

fn kind_name<S: serde::Serializer>(k: &ScopeKind, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(k.name())
}

/// The kinds every cloud's scopes can be, as an enum of their names.
fn kind_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
    use strum::IntoEnumIterator;
    let mut names: Vec<&str> = crate::output::Cloud::iter()
        .map(|c| c.scope_kind().name())
        .collect();
    names.sort_unstable();
    names.dedup();
    schemars::json_schema!({
        "description": "What kind of scope it is, in its cloud's words (`account`, `project`, `subscription`). Since checker-report 1.6 (checker-diff 1.4).",
        "type": "string",
        "enum": names
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contract::Severity;
    use crate::report::{Code, Finding, Outcome, PartKind, SourcePart};

    fn part(name: &str, account: Option<&str>, kind: PartKind) -> SourcePart {
        SourcePart {
            scope: account.map(|a| Scope::new(ScopeKind::Account, a)),
            ..SourcePart::read(name, kind, 0)
        }
    }

    /// A scope is written as its id and kind, with 1.4's `account` beside them when the kind
    /// is an account; a part without a scope writes none of the three.
    #[test]
    fn a_scope_is_written_with_its_kind_and_the_deprecated_account() {
        let json = |p: &SourcePart| serde_json::to_value(p).expect("json");
        let scoped = json(&part(
            "us-east-1",
            Some("111122223333"),
            PartKind::RegionOfAccount,
        ));
        assert_eq!(scoped["scope"], "111122223333");
        assert_eq!(scoped["scopeKind"], "account");
        assert_eq!(scoped["account"], "111122223333");
        let bare = json(&part("us-east-1", None, PartKind::Region));
        for k in ["scope", "scopeKind", "account"] {
            assert!(bare.get(k).is_none(), "{k} in {bare}");
        }
        let mut f = Finding::about(
            Code::RegionFailed,
            Outcome::Unknown,
            Severity::Error,
            "(source)",
            "m",
        );
        f.scope = Some(Scope::new(ScopeKind::Account, "111122223333"));
        let v = serde_json::to_value(&f).expect("json");
        assert_eq!(
            (&v["scope"], &v["scopeKind"], &v["account"]),
            (
                &serde_json::Value::from("111122223333"),
                &serde_json::Value::from("account"),
                &serde_json::Value::from("111122223333")
            )
        );
        assert_eq!(
            Scope::new(ScopeKind::Account, "111122223333").label(),
            "account 111122223333"
        );
    }
}

//! What `checker rules` lists: the clause kinds (each documented in its own file under
//! `clause/`) and the finding codes ([`crate::code::Code`]). Both are public API.

pub use crate::clause::RuleDoc;

/// Every clause kind, from [`crate::clause::Kind`].
pub fn rules() -> Vec<RuleDoc> {
    crate::clause::kinds()
}

/// One finding code's documentation.
#[derive(Debug, Clone, Copy, serde::Serialize, schemars::JsonSchema)]
pub struct CodeDoc {
    /// The kebab-case code, stable across versions.
    pub code: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

/// What `checker rules --format json` prints.
#[derive(Debug, Clone, serde::Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct RulesDocument {
    /// Always `checker-rules`.
    pub format: &'static str,
    /// 1.
    pub version: u32,
    /// 0.
    pub minor_version: u32,
    /// Every clause kind.
    pub clause_kinds: Vec<RuleDoc>,
    /// Every finding code.
    pub finding_codes: Vec<CodeDoc>,
}

/// The rules document.
pub fn document() -> RulesDocument {
    RulesDocument {
        format: "checker-rules",
        version: 1,
        minor_version: 0,
        clause_kinds: rules(),
        finding_codes: crate::code::Code::all()
            .map(|c| CodeDoc {
                code: c.name(),
                meaning: c.description(),
            })
            .collect(),
    }
}

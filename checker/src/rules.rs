//! The registry of clause kinds and finding codes: the single source for `checker rules`,
//! the documentation, and the snapshot test that keeps both stable (they are public API).

/// One clause kind's user-facing documentation.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct RuleDoc {
    /// The kind as contracts write it.
    pub kind: &'static str,
    /// One line.
    pub summary: &'static str,
    /// The fields it takes.
    pub fields: &'static str,
    /// When it is `unknown` rather than pass or fail.
    pub unknown_when: &'static str,
    /// A clause that uses it.
    pub example: &'static str,
}

/// Every clause kind.
pub const RULES: &[RuleDoc] = &[
    RuleDoc {
        kind: "present",
        summary: "The output exists on the instance (a tag is set, the instance has a key pair, a user-data field is there).",
        fields: "output",
        unknown_when: "the output is in user-data and the user-data is not JSON",
        example: r#"{"id": "gw-reads-worker-type", "kind": "present", "output": "userData.workerType", "why": "generic-worker cannot start without it"}"#,
    },
    RuleDoc {
        kind: "absent",
        summary: "The output does not exist on the instance.",
        fields: "output",
        unknown_when: "the output is in user-data and the user-data is not JSON",
        example: r#"{"id": "no-iam-profile", "kind": "absent", "output": "IamInstanceProfile", "why": "workers must not hold AWS credentials"}"#,
    },
    RuleDoc {
        kind: "equals",
        summary: "The output (or fact) equals one value.",
        fields: "output | fact, value",
        unknown_when: "the value cannot be read (user-data not JSON); a missing output fails",
        example: r#"{"id": "wm-managed-by", "kind": "equals", "output": "tag:ManagedBy", "value": "taskcluster", "why": "..."}"#,
    },
    RuleDoc {
        kind: "one-of",
        summary: "The output (or fact) is one of a list of values.",
        fields: "output | fact, values",
        unknown_when: "the value cannot be read; a missing output fails",
        example: r#"{"id": "cull-owner", "kind": "one-of", "output": "tag:Owner", "values": ["ec2-manager-production", "aws-provisioner-v1-managed"], "why": "..."}"#,
    },
    RuleDoc {
        kind: "matches",
        summary: "The output (or fact) matches a regular expression (Rust syntax; anchor it with ^ and $ to match whole values).",
        fields: "output | fact, pattern",
        unknown_when: "the value cannot be read; a missing output fails",
        example: r#"{"id": "occ-key-prefix", "kind": "matches", "output": "KeyName", "pattern": "^aws-provisioner-v1-managed:", "why": "..."}"#,
    },
    RuleDoc {
        kind: "derives",
        summary: "Derives a fact the consumer computes from an output: a named capture of a regex, a field of split(separator), or the value itself. Fails when the consumer's derivation would fail; later clauses read the fact.",
        fields: "fact, from {output | fact}, and pattern [+ capture] | split {separator, index} | nothing",
        unknown_when: "the source cannot be read",
        example: r#"{"id": "occ-worker-type-from-key", "kind": "derives", "fact": "workerType", "from": {"output": "KeyName"}, "split": {"separator": ":", "index": 1}, "why": "OCC: workerType = KeyName.split(':')[1]"}"#,
    },
    RuleDoc {
        kind: "member-of",
        summary: "The fact (or output) belongs to a known set: a set a provider manifest declares (e.g. its worker types) or inline values. This is what catches a derived value that has the right shape but is not a real worker type.",
        fields: "output | fact, set | values",
        unknown_when: "the value cannot be read",
        example: r#"{"id": "occ-worker-type-known", "kind": "member-of", "fact": "workerType", "set": "workerTypes", "why": "..."}"#,
    },
    RuleDoc {
        kind: "agrees-with",
        summary: "The fact (or output) equals another output, another fact, or a template over facts.",
        fields: "output | fact, with {output | fact | template}",
        unknown_when: "either side cannot be read",
        example: r#"{"id": "occ-worker-type-is-name", "kind": "agrees-with", "fact": "workerType", "with": {"output": "tag:Name"}, "why": "..."}"#,
    },
    RuleDoc {
        kind: "uniform",
        summary: "All selected instances that share the `per` values (e.g. the same worker type and region) share one value of the output. Evaluated over the group, not per instance.",
        fields: "output | fact, per [{output | fact}...]",
        unknown_when: "never: instances whose value cannot be read are left out of the group",
        example: r#"{"id": "one-ami-per-worker-type", "kind": "uniform", "output": "ImageId", "per": [{"fact": "workerType"}, {"output": "region"}], "why": "..."}"#,
    },
];

/// One finding code's documentation.
#[derive(Debug, Clone, Copy, serde::Serialize)]
pub struct CodeDoc {
    /// The kebab-case code, stable across versions.
    pub code: &'static str,
    /// What it means.
    pub meaning: &'static str,
}

/// What `checker rules --format json` prints.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RulesDocument {
    /// Every clause kind.
    pub clause_kinds: &'static [RuleDoc],
    /// Every finding code.
    pub finding_codes: Vec<CodeDoc>,
}

/// The rules document.
pub fn document() -> RulesDocument {
    RulesDocument {
        clause_kinds: RULES,
        finding_codes: crate::code::Code::ALL
            .iter()
            .map(|c| CodeDoc {
                code: c.name(),
                meaning: c.description(),
            })
            .collect(),
    }
}

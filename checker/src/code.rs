//! Finding codes: the stable, kebab-case names reports, JUnit and SARIF carry, each with its
//! documentation. Adding a code is a minor report version; renaming or removing one is major.

use serde::Serialize;

/// What a finding is.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    PartialOrd,
    Ord,
    Hash,
    Serialize,
    schemars::JsonSchema,
    strum::EnumIter,
    strum::IntoStaticStr,
)]
#[serde(rename_all = "kebab-case")]
#[strum(serialize_all = "kebab-case")]
pub enum Code {
    /// A consumer clause fails.
    ClauseViolated,
    /// A consumer clause could not be evaluated.
    ClauseUnknown,
    /// A consumer clause fails, and a waiver accepts it.
    ClauseWaived,
    /// A provider breaks its own manifest.
    ManifestViolated,
    /// A provider's promise could not be checked.
    ManifestUnknown,
    /// A waiver has expired.
    WaiverExpired,
    /// A waiver matches nothing.
    WaiverUnused,
    /// A region could not be read.
    RegionFailed,
    /// The source held no instance at all.
    SourceEmpty,
    /// A consumer selected instances before (the base, the snapshot) and selects none now.
    /// Since 1.3.
    InputLost,
    /// The provisioner would refuse to launch a proposed configuration. Since 1.3.
    LaunchRefused,
    /// A consumer selects no instance of a complete fleet (and does not say `mayBeEmpty`).
    /// Since 1.5.
    SelectsNothing,
}

impl Code {
    /// Every code, in the order `checker rules` lists them: the order of the variants.
    pub fn all() -> impl Iterator<Item = Code> {
        <Code as strum::IntoEnumIterator>::iter()
    }

    /// The name on the wire (the variant's name in kebab-case, as serde writes it).
    pub fn name(self) -> &'static str {
        self.into()
    }

    /// What it means, for `checker rules` and the docs.
    pub fn description(self) -> &'static str {
        match self {
            Code::ClauseViolated => {
                "a consumer clause fails on some instances: the consumer will misbehave there"
            }
            Code::ClauseUnknown => {
                "a consumer clause could not be evaluated (user-data not JSON, an output unreadable)"
            }
            Code::ClauseWaived => "a clause fails, but a waiver (owner, reason, expiry) accepts it",
            Code::ManifestViolated => {
                "instances a provider manifest selects do not carry what the manifest promises: the provider broke its own published interface"
            }
            Code::ManifestUnknown => "a provider's promise could not be checked on some instances",
            Code::WaiverExpired => "a waiver is past its expiry date; what it covered fails again",
            Code::WaiverUnused => {
                "a waiver matches no failing instance: remove it or fix its selector"
            }
            Code::RegionFailed => {
                "a region could not be read completely; nothing there was evaluated"
            }
            Code::SourceEmpty => {
                "the source held no instance at all (wrong region, account or credentials, or filters): nothing was checked, which is not clean"
            }
            Code::InputLost => {
                "a consumer selected instances before (in the gate's base, or in the snapshot) and selects none now: it lost its input and silently does nothing (the 2018 culling script's failure)"
            }
            Code::LaunchRefused => {
                "the provisioner would launch nothing for a proposed configuration (a tag key twice, user-data over 16384 bytes): every consumer of it loses its instances"
            }
            Code::SelectsNothing => {
                "a consumer's selector matches no instance of a complete fleet: it silently does nothing (a typo in a selector, a renamed tag: the 2018 culling script's failure class); declare \"mayBeEmpty\": true for a consumer that is legitimately idle, or waive it"
            }
        }
    }
}

/// Display as the wire name, honouring width and alignment (`{:<8}`).
macro_rules! display_as_name {
    ($($t:ty),*) => {$(
        impl std::fmt::Display for $t {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.name())
            }
        }
    )*};
}
pub(crate) use display_as_name;

display_as_name!(Code);

#[cfg(test)]
mod tests {
    use super::*;

    /// The list of codes is public interface: this is its snapshot. A change here is a report
    /// version change (docs/report-format.md).
    #[test]
    fn codes_are_unique_and_stable() {
        let names: Vec<&str> = Code::all().map(|c| c.name()).collect();
        assert_eq!(
            names,
            [
                "clause-violated",
                "clause-unknown",
                "clause-waived",
                "manifest-violated",
                "manifest-unknown",
                "waiver-expired",
                "waiver-unused",
                "region-failed",
                "source-empty",
                "input-lost",
                "launch-refused",
                "selects-nothing"
            ]
        );
        for c in Code::all() {
            assert_eq!(serde_json::to_value(c).expect("json"), c.name());
            assert!(!c.description().is_empty());
        }
    }
}

//! Which implementation a pool's `providerId` names. Worker-manager's providers are configured
//! per deployment (an id, and the implementation it runs: `aws`, `google`, `azure`, `static`,
//! `standalone`, ...); a pool names only the id. Firefox CI's ids are known by default (from
//! mozilla-releng/fxci-config a1b78fc6, see docs/firefox-ci-2026.md); `--provider ID=KIND` adds
//! or overrides one.

use std::collections::BTreeMap;
use std::fmt;

/// A worker-manager provider implementation.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub enum ProviderKind {
    /// `providers/aws.js`.
    Aws,
    /// `providers/google.js`.
    Google,
    /// `providers/azure/index.js`.
    Azure,
    /// Another implementation (`static`, `standalone`, ...): not modelled.
    Other(String),
}

impl ProviderKind {
    /// Parses `aws`, `google`, `azure`, or any other implementation name.
    pub fn parse(s: &str) -> ProviderKind {
        match s {
            "aws" => ProviderKind::Aws,
            "google" | "gcp" => ProviderKind::Google,
            "azure" => ProviderKind::Azure,
            other => ProviderKind::Other(other.to_string()),
        }
    }

    /// Its name.
    pub fn name(&self) -> &str {
        match self {
            ProviderKind::Aws => "aws",
            ProviderKind::Google => "google",
            ProviderKind::Azure => "azure",
            ProviderKind::Other(s) => s,
        }
    }
}

impl fmt::Display for ProviderKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Firefox CI's worker-manager providers and their implementations.
const FIREFOX_CI: &[(&str, &str)] = &[
    ("aws", "aws"),
    ("fxci-level1-gcp", "google"),
    ("fxci-level2-gcp", "google"),
    ("fxci-level3-gcp", "google"),
    ("fxci-test-gcp", "google"),
    ("azure2", "azure"),
    ("azure_trusted", "azure"),
];

/// `providerId` to implementation.
#[derive(Debug, Clone)]
pub struct ProviderKinds(BTreeMap<String, ProviderKind>);

impl Default for ProviderKinds {
    fn default() -> Self {
        ProviderKinds(
            FIREFOX_CI
                .iter()
                .map(|(id, k)| (id.to_string(), ProviderKind::parse(k)))
                .collect(),
        )
    }
}

impl ProviderKinds {
    /// Firefox CI's, with `given` (`ID=KIND` each) added over them.
    pub fn with(given: &[String]) -> Result<ProviderKinds, String> {
        let mut kinds = ProviderKinds::default();
        for g in given {
            let Some((id, kind)) = g
                .split_once('=')
                .filter(|(i, k)| !i.is_empty() && !k.is_empty())
            else {
                return Err(format!(
                    "--provider {g:?}: write ID=KIND, e.g. --provider community-gcp=google (KIND: aws, google, azure, or another implementation name, which is not modelled)"
                ));
            };
            kinds.0.insert(id.to_string(), ProviderKind::parse(kind));
        }
        Ok(kinds)
    }

    /// The implementation of `provider_id`, when known. A pool that names no provider is AWS's
    /// (the shape of pools before providers were named).
    pub fn kind(&self, provider_id: &str) -> Option<ProviderKind> {
        if provider_id.is_empty() {
            return Some(ProviderKind::Aws);
        }
        self.0.get(provider_id).cloned()
    }

    /// The known ids, for messages.
    pub fn describe(&self) -> String {
        self.0
            .iter()
            .map(|(id, k)| format!("{id}={k}"))
            .collect::<Vec<_>>()
            .join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn firefox_ci_ids_are_known_and_more_can_be_added() {
        let k = ProviderKinds::with(&["community-gcp=google".into(), "hw=static".into()])
            .expect("parses");
        assert_eq!(k.kind("fxci-level3-gcp"), Some(ProviderKind::Google));
        assert_eq!(k.kind("azure_trusted"), Some(ProviderKind::Azure));
        assert_eq!(k.kind("community-gcp"), Some(ProviderKind::Google));
        assert_eq!(k.kind("hw"), Some(ProviderKind::Other("static".into())));
        assert_eq!(k.kind("nobody"), None);
        assert!(ProviderKinds::with(&["=google".into()]).is_err());
    }
}

//! What binary this is: version, git commit, dirty flag and build time (from `build.rs`).

use serde::Serialize;

/// The build, as `--version` prints it and JSON reports carry it (`build`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct BuildInfo {
    /// The crate version.
    pub version: String,
    /// The git commit it was built from (`unknown` outside a checkout).
    pub commit: String,
    /// Whether the work tree had uncommitted changes (false when unknown).
    pub dirty: bool,
    /// When it was built, RFC 3339.
    pub date: String,
}

/// This binary's build.
pub fn info() -> BuildInfo {
    BuildInfo {
        version: env!("CARGO_PKG_VERSION").into(),
        commit: option_env!("VERGEN_GIT_SHA")
            .filter(|s| !s.is_empty() && !s.starts_with("VERGEN"))
            .unwrap_or("unknown")
            .into(),
        dirty: option_env!("VERGEN_GIT_DIRTY") == Some("true"),
        date: option_env!("VERGEN_BUILD_TIMESTAMP")
            .unwrap_or("unknown")
            .into(),
    }
}

/// `0.1.0 (commit 1a2b3c4d5e6f, dirty, built 2026-12-01T12:00:00Z)`.
pub fn long_version() -> &'static str {
    static V: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
        let b = info();
        format!(
            "{} (commit {}{}, built {})",
            b.version,
            b.commit,
            if b.dirty { ", dirty" } else { "" },
            b.date
        )
    });
    &V
}

static STARTED: std::sync::OnceLock<std::time::Instant> = std::sync::OnceLock::new();

/// When the process started (the first call fixes it: `main` calls this first), for logs that
/// say how far into the run something happened.
pub fn started() -> std::time::Instant {
    *STARTED.get_or_init(std::time::Instant::now)
}

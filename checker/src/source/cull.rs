//! What culling needs of a source: the instances' health, the claims tagged on them, and an
//! actor that tags, untags and acts, a location at a time. `crate::cull` plans and applies
//! through these types and never through a cloud's adapter.

use super::Fleet;
use futures::future::BoxFuture;
use serde::Serialize;

/// What to do to the chosen instances.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum Action {
    /// TerminateInstances.
    Terminate,
    /// RebootInstances.
    Reboot,
}

/// One instance's health checks, as the source reports them (EC2's status checks: other
/// clouds map their health into the same two checks and events).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Health {
    /// Instance id.
    pub id: String,
    /// The region it is in.
    pub region: String,
    /// Instance state name.
    pub state: Option<String>,
    /// The instance's own check (`ok`, `impaired`, ...).
    pub instance_status: Option<String>,
    /// The host's check.
    pub system_status: Option<String>,
    /// When the earliest failing check started failing, RFC 3339.
    pub impaired_since: Option<String>,
    /// Scheduled event codes (`instance-retirement`, `system-reboot`, ...).
    pub events: Vec<String>,
}

/// An instance and its tags (the claims of cull runs are tags).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tagged {
    /// Instance id.
    pub id: String,
    /// Its tags, key and value.
    pub tags: Vec<(String, String)>,
}

/// What culling asks of a source's read.
#[derive(Clone, Default)]
pub struct HealthRequest {
    /// Read the instances' health and the claims (false: the fleet only, as for a hook that
    /// does not cull).
    pub health: bool,
    /// Count scheduled events (retirement, system reboot) too.
    pub include_events: bool,
    /// The tag keys claims are made with (patterns: `*` is a wildcard).
    pub claim_keys: Vec<String>,
    /// Hand the fleet's records to this sink as they are read and keep none (`cull` keeps only
    /// what its scope selects); a part's records count only if the part is read completely. A
    /// source that cannot returns them in [`HealthRead::fleet`] instead.
    pub sink: Option<std::sync::Arc<dyn super::RecordSink>>,
}

impl std::fmt::Debug for HealthRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("HealthRequest")
            .field("health", &self.health)
            .field("include_events", &self.include_events)
            .field("claim_keys", &self.claim_keys)
            .field("sink", &self.sink.is_some())
            .finish()
    }
}

/// What a source read for culling.
#[derive(Default)]
pub struct HealthRead {
    /// The fleet (a location whose health could not be read is a failed part).
    pub fleet: Fleet,
    /// Health of the instances that have a failing check.
    pub health: Vec<Health>,
    /// Instances carrying a claim key.
    pub tagged: Vec<Tagged>,
    /// What could not be read, in words (its location is failed too).
    pub warnings: Vec<String>,
    /// Acts on the instances, when the source can and was read to act.
    pub actor: Option<Box<dyn Actor>>,
}

/// What an instance became when acted on.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Acted {
    /// Instance id.
    pub id: String,
    /// `shutting-down`, `terminated`, `rebooting`, `not-found`.
    pub state: String,
}

/// A call that failed, in words, and whether it surely changed nothing.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct ActError {
    /// What went wrong.
    pub message: String,
    /// The call was refused before it did anything (a timeout is not: it may have acted).
    pub surely_not_applied: bool,
}

/// Acts on instances, one location at a time.
pub trait Actor: Send + Sync {
    /// The location's actor.
    fn location<'a>(&'a self, region: &str) -> Box<dyn LocationActor + 'a>;
}

/// Acts on instances in one location.
pub trait LocationActor: Send + Sync {
    /// The location (a region).
    fn name(&self) -> &str;
    /// Sets tags on instances.
    fn tag<'a>(
        &'a self,
        ids: &'a [String],
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), ActError>>;
    /// Removes tags from instances, only where they still hold the given values.
    fn untag_if<'a>(
        &'a self,
        ids: &'a [String],
        tags: &'a [(String, String)],
    ) -> BoxFuture<'a, Result<(), ActError>>;
    /// Every instance, in any state, carrying a tag whose key matches one of `keys`.
    fn tagged<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<Vec<Tagged>, ActError>>;
    /// Acts on one batch; instances already gone are `not-found`, not an error.
    fn act<'a>(
        &'a self,
        ids: &'a [String],
        action: Action,
    ) -> BoxFuture<'a, Result<Vec<Acted>, ActError>>;
}

//! The gate's verdict per proposed worker pool (`--pools`, `--pool-id`): every pool of a bundle
//! gets one, whatever its provider, so a pool nothing models is "unknown", never passed unseen.

use super::{Deployable, Location, Reason};
use serde::Serialize;

/// One proposed pool's verdict. Since 1.6.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct PoolVerdict {
    /// The pool id.
    pub pool: String,
    /// Its `providerId`.
    pub provider_id: String,
    /// The provider implementation checker rendered it as (`aws`, `google`, `azure`); absent
    /// when it does not model the pool's provider.
    pub implementation: Option<String>,
    /// Its launch configurations.
    pub launch_configs: usize,
    /// `yes`: every consumer holds and every launch configuration launches; `no`: a consumer
    /// breaks or a launch is refused; `unknown`: something it depends on cannot be known.
    pub deployable: Deployable,
    /// Why not (or why unknown): `consumer/clause` (or `launch:ID`) and the message.
    pub reasons: Vec<Reason>,
    /// Where the pool is defined.
    pub location: Option<Location>,
}

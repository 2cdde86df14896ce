//! Culling against a source: read the fleet, the health checks and the claims of other runs
//! (as the source reads them: live, concurrently, or recorded) and make the plan;
//! [`super::apply`] acts on it through the source's actor.

use super::budget::{CLAIM_FILTER, Claim, LEGACY_CULLED_AT};
use super::{Action, Budget, Plan, PlanInput};
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::SourceInfo;
use crate::source::{Actor, Health, HealthRequest, Source};
use chrono::{DateTime, Utc};
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// How to cull: what `cull` and `hook` are told.
#[derive(Debug, Clone)]
pub struct CullSettings {
    /// Act; without it nothing is changed.
    pub apply: bool,
    /// Terminate or reboot.
    pub action: Action,
    /// Minutes an instance must have been impaired before it counts.
    pub threshold_minutes: i64,
    /// Per-group limits.
    pub budget: Budget,
    /// Count scheduled retirement / system-reboot events as impairment.
    pub include_events: bool,
    /// The cull contract, when several have role cull.
    pub cull_contract: Option<String>,
    /// Where every action is appended (JSON Lines).
    pub audit_log: Option<PathBuf>,
    /// Instances per TerminateInstances/RebootInstances call.
    pub batch: usize,
    /// The budget's window: claims of every run in it count.
    pub budget_window: chrono::Duration,
}

/// What one read of the fleet produced.
pub struct Gathered {
    /// The instances.
    pub fleet: Vec<Instance>,
    /// Where they came from.
    pub source: SourceInfo,
    /// Health checks of the instances that fail one.
    pub statuses: Vec<Health>,
    /// Acts on the instances, when the source can (a live read).
    pub actor: Option<Box<dyn Actor>>,
    /// Health checks of a region that could not be read, in words (the region is failed too).
    pub warnings: Vec<String>,
    /// Claims of earlier and concurrent runs (`checker:claim:<run>` tags, and the legacy `checker:culled-at`).
    pub claims: Vec<Claim>,
}

/// The claims an instance's tags make (one per run that claimed it).
fn claims_of(id: &str, tags: &[(String, String)]) -> Vec<Claim> {
    Claim::from_tags(id, tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
}

/// The tag keys (filter values) that find every claim (this format's and the legacy one).
pub(super) fn claim_keys() -> Vec<String> {
    vec![CLAIM_FILTER.to_string(), LEGACY_CULLED_AT.to_string()]
}

/// Refuses `--apply` when the source cannot act, in the source's words (before any read).
pub fn refuse_apply_unless_able(from: &dyn Source, opts: &CullSettings) -> Result<()> {
    match from.capabilities().act.why_not() {
        Some(why) if opts.apply => Err(Error::usage(why)),
        _ => Ok(()),
    }
}

/// Reads the fleet and, when `want_status`, the health checks and claims, as the source can.
pub async fn gather(
    set: &ContractSet,
    from: &dyn Source,
    opts: &CullSettings,
    want_status: bool,
) -> Result<Gathered> {
    let req = HealthRequest {
        health: want_status,
        include_events: opts.include_events,
        claim_keys: claim_keys(),
    };
    let read = from.read_for_cull(set, &req).await?;
    let claims = read
        .tagged
        .iter()
        .flat_map(|t| claims_of(&t.id, &t.tags))
        .collect();
    Ok(Gathered {
        fleet: read.fleet.instances,
        source: read.fleet.source,
        statuses: read.health,
        actor: read.actor,
        warnings: read.warnings,
        claims,
    })
}

/// The plan for what was gathered.
pub fn make_plan(
    set: &ContractSet,
    g: &Gathered,
    opts: &CullSettings,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let contract = super::cull_contract(set, opts.cull_contract.as_deref())?;
    let (members, problems) = super::members(set, contract, &g.fleet);
    let input = PlanInput {
        contract: contract.name.clone(),
        members,
        impaired: super::impairments(&g.statuses, opts.include_events),
        partial_regions: g.source.failed().map(|p| p.name.clone()).collect(),
        contract_problems: problems,
        now,
        threshold: chrono::Duration::minutes(opts.threshold_minutes),
        budget: opts.budget,
        action: opts.action,
        claims: g.claims.clone(),
        window: opts.budget_window,
        fleet_size: g.fleet.len(),
        may_be_empty: contract.may_be_empty,
    };
    Ok(super::plan(&input))
}

/// Set by SIGINT or SIGTERM: no new batch starts; what was started is recorded.
pub fn stop_on_signal() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    tokio::spawn(async move {
        #[cfg(unix)]
        {
            use tokio::signal::unix::{SignalKind, signal};
            let Ok(mut term) = signal(SignalKind::terminate()) else {
                return;
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
        }
        #[cfg(not(unix))]
        let _ = tokio::signal::ctrl_c().await;
        flag.store(true, Ordering::SeqCst);
    });
    stop
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::source::fake::Fake;

    /// The command line's defaults (terminate, 10 min, 10% per hour, one healthy kept).
    pub(crate) fn settings(apply: bool) -> CullSettings {
        CullSettings {
            apply,
            action: Action::Terminate,
            threshold_minutes: 10,
            budget: Budget {
                max_count: None,
                max_percent: 10,
                min_healthy: 1,
            },
            include_events: false,
            cull_contract: None,
            audit_log: None,
            batch: 50,
            budget_window: chrono::Duration::hours(1),
        }
    }

    #[test]
    fn apply_is_refused_in_the_words_of_a_source_that_cannot_act() {
        let fake = Fake::unable("the fake source holds no connection");
        let err = refuse_apply_unless_able(&fake, &settings(true)).expect_err("refused");
        assert!(matches!(err, Error::Usage(_)), "{err:?}");
        assert_eq!(
            err.to_string(),
            "error: the fake source holds no connection (act)",
            "the source's reason, not a message chosen by the source's type"
        );
        // A dry run is planned whatever the source can do.
        refuse_apply_unless_able(&fake, &settings(false)).expect("a dry run");
    }

    #[test]
    fn a_source_that_can_act_is_not_refused() {
        let mut fake = Fake::unable("unused");
        fake.caps.act = crate::source::Can::Yes;
        refuse_apply_unless_able(&fake, &settings(true)).expect("allowed");
    }
}

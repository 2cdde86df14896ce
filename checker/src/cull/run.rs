//! Culling against a source: read the fleet, the health checks and the claims of other runs
//! (as the source reads them: live, concurrently, or recorded) and make the plan;
//! [`super::apply`] acts on it through the source's actor.

use super::budget::{CLAIM_FILTER, Claim, LEGACY_CULLED_AT};
use super::collect::{InScope, ScopeSink};
use super::{Action, Budget, Plan, PlanInput};
use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::Instance;
use crate::report::SourceInfo;
use crate::source::{Actor, Fanout, Health, HealthRequest, RecordSink, Source};
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
    /// What the cull contract's scope holds, when it was kept as the records were read
    /// ([`gather_in_scope`]: `fleet` is empty then); taken by [`make_plan`].
    pub in_scope: Option<InScope>,
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

/// Reads the fleet whole and, when `want_status`, the health checks and claims, as the source
/// can: what the commands did before they kept only the cull scope ([`gather_in_scope`]); the
/// tests hold the two to the same plan.
#[cfg(test)]
pub(crate) async fn gather(
    set: &ContractSet,
    from: &dyn Source,
    opts: &CullSettings,
    want_status: bool,
) -> Result<Gathered> {
    let req = HealthRequest {
        health: want_status,
        include_events: opts.include_events,
        claim_keys: claim_keys(),
        sink: None,
    };
    Ok(gathered(from.read_for_cull(set, &req).await?, None))
}

/// For `cull`, which keeps no record the cull contract does not select: reads the health checks
/// and claims, and the fleet into a [`ScopeSink`], so only the members (id, region, group) of
/// the cull contract's scope are kept as pages arrive ([`Gathered::in_scope`]). A source that
/// cannot hand records over as it reads returns them whole; they are reduced the same way.
/// `also` (the hook's check and diff) is handed every record too.
pub async fn gather_in_scope(
    set: &ContractSet,
    from: &dyn Source,
    opts: &CullSettings,
    also: Option<Arc<dyn RecordSink>>,
) -> Result<Gathered> {
    let contract = super::cull_contract(set, opts.cull_contract.as_deref())?;
    let index = set
        .consumers
        .iter()
        .position(|c| std::ptr::eq(c, contract))
        .unwrap_or_default();
    let sink = ScopeSink::new(set, index);
    let req = HealthRequest {
        health: true,
        include_events: opts.include_events,
        claim_keys: claim_keys(),
        sink: Some(Arc::new(Fanout(
            std::iter::once(Arc::new(sink.clone()) as Arc<dyn RecordSink>)
                .chain(also.clone())
                .collect(),
        ))),
    };
    let mut read = from.read_for_cull(set, &req).await?;
    let whole = std::mem::take(&mut read.fleet.instances);
    let in_scope = if whole.is_empty() {
        sink.finish()
    } else {
        if let Some(also) = also {
            let mut part = also.part();
            part.add(&whole);
            part.keep();
        }
        let (members, problems) = super::members(set, contract, &whole);
        InScope {
            members,
            problems,
            read: whole.len(),
        }
    };
    Ok(gathered(read, Some(in_scope)))
}

/// A read for culling as [`Gathered`].
fn gathered(read: crate::source::HealthRead, in_scope: Option<InScope>) -> Gathered {
    let claims = read
        .tagged
        .iter()
        .flat_map(|t| claims_of(&t.id, &t.tags))
        .collect();
    Gathered {
        fleet: read.fleet.instances,
        source: read.fleet.source,
        statuses: read.health,
        actor: read.actor,
        warnings: read.warnings,
        claims,
        in_scope,
    }
}

/// The plan for what was gathered (the scope kept while reading is taken, not copied).
pub fn make_plan(
    set: &ContractSet,
    g: &mut Gathered,
    opts: &CullSettings,
    now: DateTime<Utc>,
) -> Result<Plan> {
    let contract = super::cull_contract(set, opts.cull_contract.as_deref())?;
    let scope = g.in_scope.take().unwrap_or_else(|| {
        let (members, problems) = super::members(set, contract, &g.fleet);
        InScope {
            members,
            problems,
            read: g.fleet.len(),
        }
    });
    let InScope {
        members,
        problems,
        read,
    } = scope;
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
        fleet_size: read,
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

    /// A bench-like instance: `owned` ones are in the cull contract's scope.
    fn instance(region: &str, n: usize, owned: bool, key: &str) -> Instance {
        let mut i =
            crate::clause::test_support::instance(key, "gecko-t-win10-64", serde_json::Value::Null);
        i.id = format!("i-{n:04}");
        i.region = region.into();
        let owner = if owned {
            "ec2-manager-production"
        } else {
            "someone-else"
        };
        i.tags.insert("Owner".into(), owner.into());
        i
    }

    #[test]
    fn cull_keeps_only_the_members_its_scope_selects_and_plans_as_from_the_whole_fleet() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../bench/contracts");
        let set = crate::load::load(&[dir]).expect("bench contracts");
        // Pages out of id order; two good keys and bad ones, so the clause's example is the
        // first instance in (region, id) order, as from the sorted whole fleet.
        let key = |n: usize| match n % 4 {
            0 => "aws-provisioner-v1-managed:gecko-t-win10-64:abc1234".to_string(),
            k => format!("bad-key-{n}-{k}"),
        };
        let region = |name: &str, ns: &[usize], ok: bool| {
            let records = ns
                .iter()
                .map(|&n| instance(name, n, n % 3 != 0, &key(n)))
                .collect();
            (records, ok)
        };
        let from = crate::source::fake::Streaming {
            regions: vec![
                region("us-west-2", &[9, 4, 7, 1, 2, 11, 10], true),
                region("eu-west-1", &[8, 5, 6, 3, 12, 13], true),
                region("us-east-1", &[20, 21, 22, 23], false),
            ],
            whole: Default::default(),
        };
        let opts = settings(false);
        let rt = tokio::runtime::Runtime::new().expect("runtime");
        let mut g = rt
            .block_on(gather_in_scope(&set, &from, &opts, None))
            .expect("gathered");
        assert!(g.fleet.is_empty(), "no record is kept whole");
        assert_eq!(
            from.whole.load(Ordering::SeqCst),
            0,
            "the records went through the sink, page by page"
        );
        let scope = g
            .in_scope
            .clone()
            .expect("the scope was kept while reading");
        let selected = [9, 4, 7, 1, 2, 11, 10, 8, 5, 6, 3, 12, 13]
            .iter()
            .filter(|n| *n % 3 != 0)
            .count();
        assert_eq!(scope.members.len(), selected, "only the selected instances");
        assert_eq!(
            scope.read, 13,
            "every record of the complete regions, none of the failed one"
        );
        let mut whole = rt
            .block_on(gather(&set, &from, &opts, true))
            .expect("whole");
        assert_eq!(whole.fleet.len(), 13);
        let now = Utc::now();
        let a = make_plan(&set, &mut g, &opts, now).expect("plan");
        let b = make_plan(&set, &mut whole, &opts, now).expect("plan");
        assert_eq!(
            serde_json::to_value(&a).expect("json"),
            serde_json::to_value(&b).expect("json")
        );
        assert!(
            a.refused.as_deref().is_some_and(|r| r.contains("e.g.")),
            "{:?}",
            a.refused
        );
        let (members, problems) = crate::cull::members(
            &set,
            crate::cull::cull_contract(&set, None).expect("cull contract"),
            &whole.fleet,
        );
        assert_eq!((scope.members, scope.problems), (members, problems));
    }
}

//! Acting on a plan: claim, confirm, act in batches, each step in the audit log before it
//! happens and its result after; every claim that was not acted on is released (only by the
//! run that made it, only while it still holds the value that run wrote), so a failed, stopped
//! or partial run leaves no claim that would hold culling back.

use super::audit::Audit;
use super::budget::{self, Claim, ClaimState};
use super::{CullSettings, Decision, Plan, PlanEntry};
use crate::error::{Error, Result};
use crate::source::{ActError, Actor, LocationActor};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, Ordering};

/// This run's name in its claims: its time and 8 random bytes (two containers started in the
/// same second have the same pid; they must not share a claim key).
pub fn run_id(now: DateTime<Utc>) -> String {
    let mut b = [0u8; 8];
    let rand = match getrandom::fill(&mut b) {
        Ok(()) => b.iter().map(|x| format!("{x:02x}")).collect::<String>(),
        // No entropy source: the pid and the clock's nanoseconds still separate most runs.
        Err(_) => format!(
            "{}{:09}",
            std::process::id(),
            Utc::now().timestamp_subsec_nanos()
        ),
    };
    format!("{}-{rand}", now.format("%Y%m%dT%H%M%SZ"))
}

/// What an apply did, counted from what EC2 answered (not from what was planned).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct Outcome {
    /// Instances the plan chose.
    pub chosen: usize,
    /// Acted on: EC2 answered with their new state.
    pub acted: usize,
    /// Given up at the re-read: another run claimed them or the group's budget first.
    pub yielded: usize,
    /// Refused by EC2 (nothing was done; their claims were released).
    pub failed: usize,
    /// The call's outcome is unknown (a timeout, a lost connection): they may have been acted
    /// on, and their claims stay.
    pub unknown: usize,
    /// Not started (a signal, an audit log that could not be written, claiming failed).
    pub not_started: usize,
    /// EC2 did not know them (already gone).
    pub not_found: usize,
    /// Claims this run released (yielded, failed, not started, not found).
    pub released: usize,
}

/// How acting went, for the plan's outcome and the exit status.
#[derive(Default)]
struct Applied {
    errors: Vec<String>,
    stopped: bool,
    outcome: Outcome,
}

/// Acts on the plan, region by region: claims the chosen instances (tags), re-reads the claims
/// and keeps what the window's budget leaves after other runs (releasing the rest), then acts in
/// batches, each recorded in the audit log before and after its call. A failed batch is
/// recorded and released and the others still run; a signal stops new batches (their claims
/// are released). Every result is in the plan, and what happened is counted in its outcome.
pub async fn apply(
    plan: &mut Plan,
    actor: &dyn Actor,
    opts: &CullSettings,
    now: DateTime<Utc>,
    stop: &AtomicBool,
) -> Result<Vec<String>> {
    plan.dry_run = false;
    let run = run_id(now);
    let (audit, warnings) = Audit::open(opts.audit_log.clone(), &run, &plan.contract, plan.action);
    let mut by_region: BTreeMap<String, Vec<usize>> = BTreeMap::new();
    for (k, e) in plan.entries.iter().enumerate() {
        if e.decision == Decision::Act {
            by_region.entry(e.region.clone()).or_default().push(k);
        }
    }
    let mut applied = Applied::default();
    applied.outcome.chosen = plan.chosen().count();
    let mut fatal = None;
    for (region, idx) in by_region {
        let client = actor.location(&region);
        let ctx = Ctx {
            client: client.as_ref(),
            opts,
            audit: &audit,
            run: &run,
            now,
        };
        if fatal.is_some() {
            not_started(
                plan,
                &ctx,
                &idx,
                "an earlier step could not be recorded in the audit log",
                &mut applied,
            )
            .await;
            continue;
        }
        if let Err(e) = apply_region(plan, &ctx, &idx, stop, &mut applied).await {
            // The audit log cannot be written: nothing more is done anywhere.
            fatal = Some(e.to_string());
        }
    }
    plan.outcome = Some(applied.outcome);
    if let Some(e) = fatal {
        applied.errors.push(e);
    }
    if applied.stopped {
        applied.errors.push(
            "stopped by a signal: no new batch was started; every started one is recorded".into(),
        );
    }
    if applied.errors.is_empty() {
        Ok(warnings)
    } else {
        Err(Error::Incomplete(applied.errors.join("; ")))
    }
}

/// What every step of one region's apply needs.
struct Ctx<'a> {
    client: &'a dyn LocationActor,
    opts: &'a CullSettings,
    audit: &'a Audit,
    run: &'a str,
    now: DateTime<Utc>,
}

impl Ctx<'_> {
    /// This run's claim on an entry's instance, in `state`.
    fn claim(&self, e: &PlanEntry, state: ClaimState) -> Claim {
        Claim::new(
            &e.instance,
            self.run,
            e.group.as_deref().unwrap_or_default(),
            self.now,
            state,
        )
    }

    /// Tags (`set`) or conditionally removes (`!set`) this run's claims on `ks`, in `state`:
    /// one call per group (the group is in the tag's value).
    async fn tag(
        &self,
        plan: &Plan,
        ks: &[usize],
        state: ClaimState,
        set: bool,
    ) -> std::result::Result<(), ActError> {
        let mut per_value: BTreeMap<(String, String), Vec<String>> = BTreeMap::new();
        for k in ks {
            let c = self.claim(&plan.entries[*k], state);
            per_value
                .entry((c.key(), c.value()))
                .or_default()
                .push(c.instance);
        }
        for ((key, value), ids) in per_value {
            let tags = [(key, value)];
            if set {
                self.client.tag(&ids, &tags).await?;
            } else {
                self.client.untag_if(&ids, &tags).await?;
            }
        }
        Ok(())
    }
}

/// Records `ks` as not started (`why`) and releases their claims.
async fn not_started(
    plan: &mut Plan,
    ctx: &Ctx<'_>,
    ks: &[usize],
    why: &str,
    applied: &mut Applied,
) {
    for k in ks {
        plan.entries[*k].result = Some(format!("not-started: {why}"));
    }
    applied.outcome.not_started += ks.len();
    let entries: Vec<&PlanEntry> = ks.iter().map(|k| &plan.entries[*k]).collect();
    // Best effort: the log may be what failed.
    let _ = ctx.audit.record(
        "not-started",
        &entries,
        |_| serde_json::json!({"reason": why}),
    );
    release(plan, ctx, ks, applied).await;
}

/// Releases this run's claims on `ks` (recorded first); a release that fails is an error of
/// the run (the claims then hold those instances back until the window ends).
async fn release(plan: &Plan, ctx: &Ctx<'_>, ks: &[usize], applied: &mut Applied) {
    if ks.is_empty() {
        return;
    }
    let entries: Vec<&PlanEntry> = ks.iter().map(|k| &plan.entries[*k]).collect();
    let _ = ctx
        .audit
        .record("release", &entries, |_| serde_json::json!({}));
    match ctx.tag(plan, ks, ClaimState::Claimed, false).await {
        Ok(()) => applied.outcome.released += ks.len(),
        Err(e) => {
            let _ = ctx.audit.record(
                "release-failed",
                &entries,
                |_| serde_json::json!({"error": e.to_string()}),
            );
            applied.errors.push(format!(
                "{}: the claims on {} instance(s) could not be released ({e}); they hold those instances back until the budget window ends",
                ctx.client.name(),
                ks.len()
            ));
        }
    }
}

/// One region: claim, confirm, act in batches. The error is the audit log's (fatal).
async fn apply_region(
    plan: &mut Plan,
    ctx: &Ctx<'_>,
    idx: &[usize],
    stop: &AtomicBool,
    applied: &mut Applied,
) -> Result<()> {
    let region = ctx.client.name().to_string();
    let kept = match claim(plan, ctx, idx, applied).await? {
        Ok(kept) => kept,
        Err(e) => {
            applied.errors.push(format!("{region}: {e}"));
            let unacted: Vec<usize> = idx.to_vec();
            not_started(
                plan,
                ctx,
                &unacted,
                &format!("claiming failed: {e}"),
                applied,
            )
            .await;
            return Ok(());
        }
    };
    let batches: Vec<&[usize]> = kept.chunks(ctx.opts.batch.max(1)).collect();
    for (n, batch) in batches.iter().enumerate() {
        if stop.load(Ordering::SeqCst) {
            applied.stopped = true;
            let rest: Vec<usize> = batches[n..].concat();
            not_started(plan, ctx, &rest, "stopped by a signal", applied).await;
            return Ok(());
        }
        let entries: Vec<&PlanEntry> = batch.iter().map(|k| &plan.entries[*k]).collect();
        if let Err(e) = ctx.audit.record(
            "intent",
            &entries,
            |e| serde_json::json!({"reason": e.reason, "impairedSince": e.impaired_since}),
        ) {
            let rest: Vec<usize> = batches[n..].concat();
            not_started(
                plan,
                ctx,
                &rest,
                "its intent could not be recorded in the audit log",
                applied,
            )
            .await;
            return Err(e);
        }
        act_batch(plan, ctx, batch, applied).await?;
    }
    Ok(())
}

/// One TerminateInstances/RebootInstances call and what follows it: the result recorded, the
/// claims marked acted; a call EC2 surely refused is released, one whose outcome is unknown
/// keeps its claims (the instances may have been acted on).
async fn act_batch(
    plan: &mut Plan,
    ctx: &Ctx<'_>,
    batch: &[usize],
    applied: &mut Applied,
) -> Result<()> {
    let region = ctx.client.name().to_string();
    let ids: Vec<String> = batch
        .iter()
        .map(|k| plan.entries[*k].instance.clone())
        .collect();
    match ctx.client.act(&ids, ctx.opts.action).await {
        Ok(results) => {
            for r in results {
                if let Some(k) = batch.iter().find(|k| plan.entries[**k].instance == r.id) {
                    plan.entries[*k].result = Some(r.state.clone());
                }
            }
            let (done, missing): (Vec<usize>, Vec<usize>) = batch.iter().partition(|k| {
                plan.entries[**k]
                    .result
                    .as_deref()
                    .is_some_and(|r| r != "not-found")
            });
            applied.outcome.acted += done.len();
            applied.outcome.not_found += missing.len();
            let entries: Vec<&PlanEntry> = batch.iter().map(|k| &plan.entries[*k]).collect();
            let logged = ctx.audit.record(
                "result",
                &entries,
                |e| serde_json::json!({"result": e.result}),
            );
            if let Err(e) = ctx.tag(plan, &done, ClaimState::Acted, true).await {
                // The claims stay `claimed`: they still count and hold the instances back.
                applied.errors.push(format!(
                    "{region}: acted, but the claims could not be marked acted: {e}"
                ));
            }
            release(plan, ctx, &missing, applied).await;
            logged
        }
        Err(e) => {
            let msg = e.to_string();
            let sure = e.surely_not_applied;
            for k in batch {
                plan.entries[*k].result = Some(if sure {
                    format!("failed: {msg}")
                } else {
                    format!("unknown: {msg}")
                });
            }
            let entries: Vec<&PlanEntry> = batch.iter().map(|k| &plan.entries[*k]).collect();
            let logged = ctx.audit.record("failed", &entries, |_| {
                serde_json::json!({"error": msg, "outcome": if sure { "not-applied" } else { "unknown" }})
            });
            applied.errors.push(format!("{region}: {msg}"));
            if sure {
                applied.outcome.failed += batch.len();
                release(plan, ctx, batch, applied).await;
            } else {
                applied.outcome.unknown += batch.len();
            }
            logged
        }
    }
}

/// Claims the chosen instances, re-reads every claim, keeps what the window leaves after other
/// runs' claims and releases the rest. The outer error is the audit log's (fatal); the inner
/// one is EC2's (this region is not acted on).
async fn claim(
    plan: &mut Plan,
    ctx: &Ctx<'_>,
    idx: &[usize],
    applied: &mut Applied,
) -> Result<std::result::Result<Vec<usize>, ActError>> {
    let entries: Vec<&PlanEntry> = idx.iter().map(|k| &plan.entries[*k]).collect();
    ctx.audit
        .record("claim", &entries, |_| serde_json::json!({}))?;
    if let Err(e) = ctx.tag(plan, idx, ClaimState::Claimed, true).await {
        return Ok(Err(e));
    }
    let visible: Vec<Claim> = match ctx.client.tagged(&super::run::claim_keys()).await {
        Ok(t) => t
            .iter()
            .flat_map(|i| {
                Claim::from_tags(&i.id, i.tags.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            })
            .collect(),
        Err(e) => return Ok(Err(e)),
    };
    let budgets: BTreeMap<String, usize> = plan
        .groups
        .iter()
        .map(|g| (g.group.clone(), g.allowed + g.used_in_window))
        .collect();
    let keep = budget::keep(&budgets, &visible, ctx.run, ctx.now, ctx.opts.budget_window);
    let (kept, released): (Vec<usize>, Vec<usize>) = idx
        .iter()
        .copied()
        .partition(|k| keep.contains(&plan.entries[*k].instance));
    for k in &released {
        let e = &mut plan.entries[*k];
        e.decision = Decision::Deferred;
        e.reason.push_str(
            "; deferred: another run claimed it or the group's budget in the window first",
        );
    }
    applied.outcome.yielded += released.len();
    release(plan, ctx, &released, applied).await;
    Ok(Ok(kept))
}

//! Consumers that select nothing. On a whole fleet read completely, a consumer whose selector
//! matches no instance does nothing, silently: a typo in a selector (`tag:ManagdBy`), a tag the
//! provisioner renamed, the 2018 culling script. That is an error finding (`selects-nothing`),
//! unless the contract says it may be idle (`"mayBeEmpty": true`) or a waiver of the whole
//! consumer accepts it.
//!
//! Not every source is a whole fleet: a gate proposal renders only the pools or manifests
//! proposed, so a consumer of another pool selecting none of them says nothing (the gate
//! compares with its base instead: `input-lost`); a failed region or an empty source may hold
//! the instances a consumer would select, and is reported as such.

use super::finding::waiver_ref;
use crate::code::Code;
use crate::contract::{ContractSet, Severity};
use crate::report::{Finding, Location, Outcome, SourceInfo, SourceKind, TallyRole};
use chrono::NaiveDate;

/// Whether a source is a whole fleet (recorded or live), read completely and not empty: only
/// there does selecting nothing mean something is wrong.
pub(super) fn judges_idle(source: &SourceInfo) -> bool {
    matches!(source.kind, SourceKind::Recorded | SourceKind::Live)
        && !source.incomplete()
        && source.instances > 0
}

/// Adds a `selects-nothing` finding per consumer that selected no instance (and has none
/// already: an `input-lost` says more), waived by a waiver of the whole consumer; that
/// waiver's `waiver-unused` notice goes.
pub(super) fn selects_nothing(
    set: &ContractSet,
    ev: &super::Evaluation,
    source: &SourceInfo,
    today: NaiveDate,
    findings: &mut Vec<Finding>,
) {
    let unseen = &ev.unseen;
    for t in ev
        .consumers
        .iter()
        .filter(|t| t.role == TallyRole::Consumer && t.selected == 0)
    {
        let Some(c) = set.consumer(&t.name) else {
            continue;
        };
        // A consumer of a cloud the source did not read (the GCP consumers on an EC2 fleet)
        // had nothing to select.
        if !ev.saw(c.selector.cloud) {
            continue;
        }
        let reported = findings
            .iter()
            .any(|f| f.consumer == c.name && f.code == Code::InputLost);
        if c.may_be_empty || reported {
            continue;
        }
        let typos: Vec<String> = unseen
            .iter()
            .filter(|u| u.in_selector && u.consumer == c.name)
            .map(|u| match &u.suggestion {
                Some(s) => format!(
                    "{} is on no instance and promised by no provider (did you mean {s}?)",
                    u.output
                ),
                None => format!("{} is on no instance and promised by no provider", u.output),
            })
            .collect();
        let because = if typos.is_empty() {
            String::new()
        } else {
            format!("; {}", typos.join("; "))
        };
        let mut f = Finding::about(
            Code::SelectsNothing,
            Outcome::Violation,
            Severity::Error,
            c.name.clone(),
            format!(
                "{} selects none of the {} instance(s) read ({}): it does nothing, and says nothing{because}",
                c.name,
                source.instances,
                set.describe_selector(&c.selector)
            ),
        );
        f.clause = Some("(selector)".into());
        f.kind = Some("selects-nothing".into());
        f.expected = Some("at least one instance (or \"mayBeEmpty\": true)".into());
        f.why = Some(
            "a consumer that selects nothing does nothing, silently: fix its selector, or declare \"mayBeEmpty\": true if it is legitimately idle".into(),
        );
        f.runbook = c.runbook.clone();
        f.location = Location::of(&c.file, "/selector");
        let waiver = set
            .waivers
            .iter()
            .find(|w| w.consumer == c.name && w.clause.is_none() && w.selector.is_none());
        if let Some(w) = waiver.filter(|w| w.expires >= today) {
            let r = waiver_ref(w);
            findings.retain(|x| !(x.code == Code::WaiverUnused && x.waiver.as_ref() == Some(&r)));
            f.outcome = Outcome::Waived;
            f.message = format!("{} selects no instance, accepted by a waiver", c.name);
            f.waiver = Some(r);
        }
        findings.push(f);
    }
}

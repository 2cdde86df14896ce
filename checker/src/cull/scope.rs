//! The cull contract's scope: which contract, which instances it selects, in which groups, and
//! whether it holds on them.

use super::Member;
use crate::clause::{ClauseOutcome, Detail, FactValue};
use crate::contract::{ContractSet, Role, Severity};
use crate::eval::eval_clause;
use crate::fleet::Instance;
use std::collections::BTreeMap;

/// The cull contract: the one consumer with role `cull` (or the one named).
pub fn cull_contract<'a>(
    set: &'a ContractSet,
    name: Option<&str>,
) -> crate::Result<&'a crate::contract::Consumer> {
    let culls: Vec<&crate::contract::Consumer> = set
        .consumers
        .iter()
        .filter(|c| c.role == Role::Cull && name.is_none_or(|n| c.name == n))
        .collect();
    match culls.as_slice() {
        [one] => Ok(one),
        [] => Err(crate::Error::Usage(match name {
            Some(n) => format!("no consumer contract named {n} has \"role\": \"cull\""),
            None => "no consumer contract has \"role\": \"cull\"; cull needs one to know its scope and grouping".into(),
        })),
        many => Err(crate::Error::Usage(format!("several cull contracts ({}); pick one with --cull-contract", many.iter().map(|c| c.name.as_str()).collect::<Vec<_>>().join(", ")))),
    }
}

/// Members and contract problems: evaluates the cull contract on the instances it selects.
pub fn members(
    set: &ContractSet,
    contract: &crate::contract::Consumer,
    fleet: &[Instance],
) -> (Vec<Member>, Vec<String>) {
    let group_fact = group_fact(contract);
    let mut members = Vec::new();
    let mut failing: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for i in fleet.iter().filter(|i| set.selects(&contract.selector, i)) {
        members.push(evaluate(contract, group_fact, i, |id, v| {
            let e = failing.entry(id.to_string()).or_insert((0, v));
            e.0 += 1;
        }));
    }
    let problems = failing
        .into_iter()
        .map(|(id, (n, example))| problem(&id, n, &example))
        .collect();
    (members, problems)
}

/// The fact the cull contract groups by: the first it derives.
pub(super) fn group_fact(contract: &crate::contract::Consumer) -> Option<usize> {
    contract
        .clauses
        .iter()
        .find_map(|cl| cl.check.derived_fact())
}

/// A contract problem in words: an error clause failing on `n` selected instances.
pub(super) fn problem(id: &str, n: usize, example: &str) -> String {
    format!("clause {id} fails on {n} instance(s), e.g. {example}")
}

/// Evaluates the cull contract on one instance it selects: the member, and `fail(clause id,
/// example)` for each error clause it fails.
pub(super) fn evaluate(
    contract: &crate::contract::Consumer,
    group_fact: Option<usize>,
    i: &Instance,
    mut fail: impl FnMut(&str, String),
) -> Member {
    let mut facts: Vec<Option<FactValue>> = vec![None; contract.facts.len()];
    for cl in &contract.clauses {
        if let ClauseOutcome::Fail(v) = eval_clause(contract, cl, i, &mut facts, Detail::Failures)
            && cl.severity == Severity::Error
        {
            fail(&cl.id, v);
        }
    }
    let group = group_fact.and_then(|f| facts[f].as_ref().map(|fv| fv.value.clone()));
    Member {
        id: i.id.clone(),
        region: i.region.clone(),
        group,
    }
}

//! Waiver files: each waiver names a consumer (and maybe a clause), an owner, a reason and an
//! expiry date, optionally for the instances a selector picks.

use super::compile::Compiler;
use super::str_at;
use crate::contract::*;
use chrono::NaiveDate;
use serde_json::Value;
use std::collections::BTreeSet;
use std::sync::Arc;

impl Compiler<'_> {
    pub(super) fn waivers(&mut self, v: &Value, set: &ContractSet) -> Vec<Waiver> {
        let mut out = Vec::new();
        let union = |name: &str| -> Option<SetRef> {
            let mut u = BTreeSet::new();
            let mut found = false;
            for p in &set.providers {
                if let Some(s) = p.sets.get(name) {
                    found = true;
                    u.extend(s.iter().cloned());
                }
            }
            found.then(|| SetRef {
                name: name.into(),
                values: Arc::new(u),
            })
        };
        for (i, w) in v
            .get("waivers")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let ptr = format!("/waivers/{i}");
            let consumer = str_at(w, "consumer").unwrap_or_default();
            let clause = str_at(w, "clause");
            match set.consumer(&consumer) {
                None => {
                    let known = set
                        .consumers
                        .iter()
                        .map(|c| c.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ");
                    self.err(
                        format!("{ptr}/consumer"),
                        format!("no consumer contract is named \"{consumer}\""),
                        format!("known consumers: [{known}]"),
                    );
                    continue;
                }
                Some(c) => {
                    if let Some(id) = &clause
                        && !c.clauses.iter().any(|cl| &cl.id == id)
                    {
                        let ids = c
                            .clauses
                            .iter()
                            .map(|cl| cl.id.as_str())
                            .collect::<Vec<_>>()
                            .join(", ");
                        self.err(
                            format!("{ptr}/clause"),
                            format!("consumer {consumer} has no clause \"{id}\""),
                            format!("its clauses: [{ids}]"),
                        );
                        continue;
                    }
                }
            }
            let expires_s = str_at(w, "expires").unwrap_or_default();
            let Ok(expires) = NaiveDate::parse_from_str(&expires_s, "%Y-%m-%d") else {
                self.err(
                    format!("{ptr}/expires"),
                    format!("\"{expires_s}\" is not a calendar date"),
                    "write the last day the waiver applies as YYYY-MM-DD",
                );
                continue;
            };
            // A waiver's selector is about its consumer's cloud.
            if let Some(c) = set.consumer(&consumer) {
                self.cloud = c.selector.cloud;
            }
            let selector = match w.get("selector") {
                Some(s) => match self.selector(s, &format!("{ptr}/selector"), Some(set), &union) {
                    Some(s) => Some(s),
                    None => continue,
                },
                None => None,
            };
            out.push(Waiver {
                consumer,
                clause,
                selector,
                owner: str_at(w, "owner").unwrap_or_default(),
                reason: str_at(w, "reason").unwrap_or_default(),
                expires,
                file: self.file.clone(),
                pointer: ptr,
            });
        }
        out
    }
}

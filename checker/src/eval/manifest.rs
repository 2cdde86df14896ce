//! A provider manifest's own promises, checked on one instance: every promised output is there
//! (unless optional) and fits its template, whose variables agree across outputs and belong to
//! their sets.

use crate::clause::{ClauseOutcome, Detail, pass};
use crate::contract::Provider;
use crate::fleet::{Instance, Read};
use crate::output::OutputPath;
use std::borrow::Cow;

/// The synthetic clause id of a manifest promise.
pub fn manifest_clause_id(p: &Provider, o: &OutputPath) -> String {
    format!("manifest:{}:{o}", p.name)
}

/// Checks one instance against everything its provider promises, one outcome per output.
pub fn check_manifest(p: &Provider, i: &Instance) -> Vec<ClauseOutcome> {
    check_manifest_with(p, i, Detail::All)
}

/// [`check_manifest`] with the detail asked for.
pub fn check_manifest_with(p: &Provider, i: &Instance, detail: Detail) -> Vec<ClauseOutcome> {
    // (variable, value, the output it came from)
    let mut bound: Vec<(&str, String, Cow<'_, str>)> = Vec::new();
    for (name, var) in &p.variables {
        if let Some(b) = var.builtin
            && let Some(v) = b.read(i)
        {
            bound.push((name, v.to_string(), Cow::Borrowed("the instance")));
        }
    }
    let mut out = Vec::with_capacity(p.outputs.len());
    for o in &p.outputs {
        let v = match i.read(&o.path) {
            Read::Value(v) => v,
            Read::Missing if o.optional => {
                out.push(pass(detail, || "absent (optional)".into()));
                continue;
            }
            Read::Missing => {
                out.push(ClauseOutcome::Fail("absent".into()));
                continue;
            }
            Read::Unknown(r) => {
                out.push(ClauseOutcome::Unknown(format!("{}: {r}", o.path)));
                continue;
            }
            Read::NotSampled => {
                out.push(ClauseOutcome::Skipped("user-data not sampled".into()));
                continue;
            }
        };
        let (Some(t), Some(re)) = (&o.template, &o.regex) else {
            out.push(pass(detail, || {
                if o.secret {
                    "present (secret)".into()
                } else {
                    format!("\"{v}\"")
                }
            }));
            continue;
        };
        let Some(caps) = re.captures(&v) else {
            out.push(ClauseOutcome::Fail(format!(
                "\"{v}\" does not fit the template \"{}\"",
                t.source
            )));
            continue;
        };
        let mut problem = None;
        for name in re.capture_names().flatten() {
            let Some(m) = caps.name(name) else { continue };
            // `var__2` is a second capture of `var` (a `&str` pattern would build a searcher
            // per instance: 1% of a scan's instructions).
            let var = name
                .as_bytes()
                .windows(2)
                .position(|w| w == b"__")
                .and_then(|at| name.get(..at))
                .unwrap_or(name);
            let val = m.as_str();
            if let Some(set_name) = p.variables.get(var).and_then(|x| x.set.as_ref())
                && let Some(members) = p.sets.get(set_name)
                && !members.contains(val)
            {
                problem = Some(format!(
                    "\"{v}\" gives {var} \"{val}\", which is not in {set_name}"
                ));
                break;
            }
            if let Some((_, prev, from)) = bound.iter().find(|(n, _, _)| *n == var) {
                if prev != val {
                    problem = Some(format!(
                        "\"{v}\" gives {var} \"{val}\" but {from} gives \"{prev}\""
                    ));
                    break;
                }
            } else {
                bound.push((var, val.to_string(), Cow::Owned(o.path.to_string())));
            }
        }
        out.push(match problem {
            Some(p) => ClauseOutcome::Fail(p),
            None => pass(detail, || format!("\"{v}\"")),
        });
    }
    out
}

//! A provider manifest's own promises, checked on one instance: every promised output is there
//! (unless optional) and fits its template, whose variables agree across outputs and belong to
//! their sets.

use crate::clause::{ClauseOutcome, Detail, pass};
use crate::contract::Provider;
use crate::fleet::{Instance, Read};
use crate::output::OutputPath;
use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::HashMap;
use std::rc::Rc;

/// Where each capture group of a template matched in a value: `None` for a group that did not.
type Spans = Rc<[Option<(usize, usize)>]>;

/// A template's remembered matches, by value.
type Remembered = HashMap<String, Option<Spans>, foldhash::fast::RandomState>;

/// Values each thread remembers per template, at most; then that template's memory starts over.
const REMEMBERED: usize = 4096;

/// Longer values are matched each time, so what a thread remembers stays within about 1 MiB a
/// template (a user-data field can be kilobytes).
const REMEMBERED_LEN: usize = 256;

thread_local! {
    /// Template matches by pattern and value. A fleet's values repeat (a pool's instances share
    /// their key name, image, profile), and matching with captures was about 2,400 instructions
    /// a value, 9% of a `diff`. Only this thread's evaluations read it; secrets are not kept.
    static MATCHES: RefCell<HashMap<String, Remembered>> = RefCell::new(HashMap::new());
}

/// The capture spans of `re` on `v` (`None`: no match), remembered when `remember`.
fn template_spans(re: &regex::Regex, v: &str, remember: bool) -> Option<Spans> {
    let compute = || {
        re.captures(v).map(|c| {
            c.iter()
                .map(|m| m.map(|m| (m.start(), m.end())))
                .collect::<Spans>()
        })
    };
    if !remember || v.len() > REMEMBERED_LEN {
        return compute();
    }
    MATCHES.with_borrow_mut(|all| {
        let values = match all.get_mut(re.as_str()) {
            Some(values) => values,
            None => all.entry(re.as_str().to_string()).or_default(),
        };
        if let Some(known) = values.get(v) {
            return known.clone();
        }
        if values.len() >= REMEMBERED {
            values.clear();
        }
        let spans = compute();
        values.insert(v.to_string(), spans.clone());
        spans
    })
}

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
        let Some(spans) = template_spans(re, &v, !o.secret) else {
            out.push(ClauseOutcome::Fail(format!(
                "\"{v}\" does not fit the template \"{}\"",
                t.source
            )));
            continue;
        };
        let mut problem = None;
        for (group, name) in re.capture_names().enumerate() {
            let (Some(name), Some(Some((start, end)))) = (name, spans.get(group)) else {
                continue;
            };
            let Some(val) = v.get(*start..*end) else {
                continue;
            };
            // `var__2` is a second capture of `var` (a `&str` pattern would build a searcher
            // per instance: 1% of a scan's instructions).
            let var = name
                .as_bytes()
                .windows(2)
                .position(|w| w == b"__")
                .and_then(|at| name.get(..at))
                .unwrap_or(name);
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

#[cfg(test)]
mod tests {
    use super::*;

    fn fresh(re: &regex::Regex, v: &str) -> Option<Vec<Option<(usize, usize)>>> {
        re.captures(v)
            .map(|c| c.iter().map(|m| m.map(|m| (m.start(), m.end()))).collect())
    }

    #[test]
    fn a_remembered_match_is_the_match_of_its_own_template() {
        let prefix = regex::Regex::new(r"^(?P<a>[^:]+):(?P<b>.*)$").expect("pattern");
        let other = regex::Regex::new(r"^x-(?P<a>\d+)$").expect("pattern");
        for round in 0..3 {
            for v in ["aws-provisioner-v1-managed:ffe27db", "x-12", "x-", ""] {
                for re in [&prefix, &other] {
                    let got = template_spans(re, v, true).map(|s| s.to_vec());
                    assert_eq!(got, fresh(re, v), "{} on {v:?}, round {round}", re.as_str());
                }
            }
        }
        // Past what a thread remembers, the answers stay right.
        for k in 0..REMEMBERED + 10 {
            let v = format!("p{k}:q");
            let got = template_spans(&prefix, &v, true).map(|s| s.to_vec());
            assert_eq!(got, fresh(&prefix, &v));
        }
        assert!(MATCHES.with_borrow(|m| m[prefix.as_str()].len()) <= REMEMBERED);
    }

    #[test]
    fn a_long_value_is_matched_but_not_remembered() {
        let re = regex::Regex::new(r"^(?P<all>x+)$").expect("pattern");
        let long = "x".repeat(REMEMBERED_LEN + 1);
        let got = template_spans(&re, &long, true).map(|s| s.to_vec());
        assert_eq!(got, fresh(&re, &long));
        let kept =
            MATCHES.with_borrow(|m| m.get(re.as_str()).is_some_and(|v| v.contains_key(&long)));
        assert!(!kept);
    }

    #[test]
    fn a_secret_value_is_not_remembered() {
        let re = regex::Regex::new(r"^(?P<token>tok-[a-z]+)$").expect("pattern");
        assert!(template_spans(&re, "tok-secretvalue", false).is_some());
        let kept = MATCHES.with_borrow(|m| {
            m.get(re.as_str())
                .is_some_and(|values| values.contains_key("tok-secretvalue"))
        });
        assert!(!kept);
    }
}

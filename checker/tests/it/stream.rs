//! Evaluation in parts (pages, regions, merged in any order) is the evaluation of the whole.

use crate::support::*;
use checker::eval::{Evaluator, evaluate};
use std::path::PathBuf;

fn case(contracts: &[&str], fleet: &str) {
    let paths: Vec<PathBuf> = contracts.iter().map(|c| root().join(c)).collect();
    let set = checker::load::load(&paths).expect("contracts");
    let fleet =
        checker::fleet::read_recorded(&root().join(fleet), &set.secret_policy()).expect("fleet");
    let now = chrono::DateTime::parse_from_rfc3339(NOW)
        .expect("now")
        .with_timezone(&chrono::Utc);
    let whole = evaluate(&set, &fleet, now);
    assert!(whole.evaluations > 0);
    for size in [1, 2, 5, 7] {
        // Parts of `size` instances, each its own evaluator, merged last part first.
        let mut parts: Vec<Evaluator> = fleet
            .chunks(size)
            .map(|chunk| {
                let mut e = Evaluator::new(&set, now);
                e.add(&set, chunk);
                e
            })
            .collect();
        let mut all = Evaluator::new(&set, now);
        while let Some(p) = parts.pop() {
            all.merge(p);
        }
        let merged = all.finish(&set);
        assert_eq!(merged.findings, whole.findings, "parts of {size}");
        assert_eq!(merged.consumers, whole.consumers, "parts of {size}");
        assert_eq!(merged.evaluations, whole.evaluations);
        assert_eq!(merged.unknown_evaluations, whole.unknown_evaluations);
        // One evaluator fed page after page is the same too.
        let mut fed = Evaluator::new(&set, now);
        for chunk in fleet.chunks(size) {
            fed.add(&set, chunk);
        }
        assert_eq!(fed.finish(&set).findings, whole.findings);
    }
}

#[test]
fn an_evaluation_in_parts_is_the_evaluation_of_the_whole() {
    case(
        &[
            &format!("{R}/provider-after"),
            &format!("{R}/consumers-prefix"),
        ],
        &format!("{R}/fleet-2018-02-14.json"),
    );
    case(
        &[
            &format!("{R}/provider-before"),
            &format!("{R}/consumers-postfix"),
        ],
        &format!("{R}/fleet-2018-02-14.json"),
    );
    case(&["contracts"], "examples/firefox-ci-2021/fleet.json");
}

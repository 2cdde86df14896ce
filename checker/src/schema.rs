//! The published JSON Schemas of the report family, generated from the wire types themselves
//! (so they cannot drift: a test compares them with `docs/schema/`, and every JSON the golden
//! tests record is validated against them).

use serde_json::Value;

/// Every document checker prints as JSON: (format name, its schema).
pub fn all() -> Vec<(&'static str, Value)> {
    vec![
        (
            crate::report::FORMAT,
            doc::<crate::report::Report>(crate::report::FORMAT),
        ),
        (
            crate::snapshot::DIFF_FORMAT,
            doc::<crate::snapshot::DiffReport>(crate::snapshot::DIFF_FORMAT),
        ),
        (
            crate::cull::PLAN_FORMAT,
            doc::<crate::cull::Plan>(crate::cull::PLAN_FORMAT),
        ),
        (
            crate::history::FORMAT,
            doc::<crate::history::Record>(crate::history::FORMAT),
        ),
        (
            crate::history::VIEW_FORMAT,
            doc::<crate::history::View>(crate::history::VIEW_FORMAT),
        ),
        (
            "checker-rules",
            doc::<crate::rules::RulesDocument>("checker-rules"),
        ),
    ]
}

fn doc<T: schemars::JsonSchema>(format: &str) -> Value {
    let mut s = schemars::schema_for!(T).to_value();
    if let Some(o) = s.as_object_mut() {
        o.insert(
            "$id".into(),
            Value::String(format!(
                "https://checker.invalid/schema/{format}.schema.json"
            )),
        );
        // The format name is a constant: a reader can tell the documents apart by it.
        if let Some(f) = o
            .get_mut("properties")
            .and_then(|p| p.get_mut("format"))
            .and_then(Value::as_object_mut)
        {
            f.insert("const".into(), Value::String(format.to_string()));
        }
    }
    s
}

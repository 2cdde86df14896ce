//! PostgreSQL's `jsonb` text form, which worker-manager hashes to name a launch configuration.
//!
//! worker-manager stores each launch configuration as `jsonb` and, when it has no
//! `workerManager.launchConfigId`, names it `'lc-' || left(md5(worker_pool_id ||
//! cfg_without_wm::text), 20)` (taskcluster/taskcluster `db/versions/0105-migration.sql`,
//! `get_or_create_launch_config_id`, commit 9d59eb59f6fd0912075c194100d8910f2da40f52). The
//! `::text` of a `jsonb` value is PostgreSQL's own rendering, not the input text: object keys
//! sorted shorter first, then bytewise; `", "` and `": "` between items; strings escaped as
//! `escape_json` does (PostgreSQL `src/backend/utils/adt/json.c`).

use md5::{Digest, Md5};
use serde_json::Value;
use std::fmt::Write;

/// `value::jsonb::text`.
pub fn text(value: &Value) -> String {
    let mut out = String::new();
    write(&mut out, value);
    out
}

/// The launch configuration id worker-manager gives `lc` in pool `pool`.
pub fn launch_config_id(pool: &str, lc: &Value) -> String {
    if let Some(id) = lc
        .get("workerManager")
        .and_then(|w| w.get("launchConfigId"))
        .and_then(Value::as_str)
    {
        return id.to_string();
    }
    let without_wm = match lc {
        Value::Object(m) => {
            let mut m = m.clone();
            m.shift_remove("workerManager");
            Value::Object(m)
        }
        other => other.clone(),
    };
    let digest = Md5::digest(format!("{pool}{}", text(&without_wm)).as_bytes());
    let hex: String = digest.iter().map(|b| format!("{b:02x}")).collect();
    format!("lc-{}", &hex[..20])
}

fn write(out: &mut String, v: &Value) {
    match v {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        // Integers render as PostgreSQL's numeric does; a decimal keeps serde_json's digits,
        // which match numeric's for plain decimals (not for exponents, which numeric expands).
        Value::Number(n) => out.push_str(&n.to_string()),
        Value::String(s) => escape(out, s),
        Value::Array(a) => {
            out.push('[');
            for (i, x) in a.iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                write(out, x);
            }
            out.push(']');
        }
        Value::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            keys.sort_by(|a, b| {
                a.len()
                    .cmp(&b.len())
                    .then_with(|| a.as_bytes().cmp(b.as_bytes()))
            });
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push_str(", ");
                }
                escape(out, k);
                out.push_str(": ");
                write(out, &m[k]);
            }
            out.push('}');
        }
    }
}

fn escape(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\u{8}' => out.push_str("\\b"),
            '\u{c}' => out.push_str("\\f"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn keys_sort_shorter_first_then_bytewise_with_postgres_spacing() {
        let v = json!({"region": "us-east-1", "b": [1, true, null], "aa": {"x\"y": "a\nb"}});
        assert_eq!(
            text(&v),
            r#"{"b": [1, true, null], "aa": {"x\"y": "a\nb"}, "region": "us-east-1"}"#
        );
    }

    #[test]
    fn an_explicit_id_wins_and_worker_manager_settings_do_not_change_the_hash() {
        let lc = json!({"region": "us-east-1", "launchConfig": {"ImageId": "ami-1"}});
        let id = launch_config_id("p/w", &lc);
        assert!(id.starts_with("lc-") && id.len() == 23, "{id}");
        let mut with_wm = lc.clone();
        with_wm["workerManager"] = json!({"capacityPerInstance": 4});
        assert_eq!(launch_config_id("p/w", &with_wm), id);
        assert_ne!(launch_config_id("p/x", &lc), id);
        with_wm["workerManager"]["launchConfigId"] = json!("mine");
        assert_eq!(launch_config_id("p/w", &with_wm), "mine");
    }

    #[test]
    fn the_hash_is_postgres_md5_of_the_pool_id_and_the_jsonb_text() {
        // md5('p/w{"region": "r"}'), computed independently with coreutils md5sum.
        let lc = json!({"region": "r"});
        assert_eq!(text(&lc), r#"{"region": "r"}"#);
        assert_eq!(
            launch_config_id("p/w", &lc),
            format!("lc-{}", &EXPECTED[..20])
        );
    }

    const EXPECTED: &str = "2dc0d172232d741bb12b64ed6800eeff";
}

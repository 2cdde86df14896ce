//! Secret redaction: one policy every user-data string goes through, at any depth, before a
//! record exists. Nothing downstream (reports, snapshots, diffs, `explain`, `fleet record`, the
//! hook's artifacts, logs) can print what the process never kept.
//!
//! A value is secret when its key looks like a credential (`token`, `password`, `apiKey`,
//! `Authorization`, `cookie`, ...), when a provider manifest marks its path secret, or when the
//! value itself has a credential's shape (an AWS access key id, a PEM private key, a JWT). The
//! policy looks inside arrays, inside strings that hold JSON (with or without a byte-order
//! mark), and inside strings that hold base64 (standard or URL-safe, padded or not, wrapped over
//! lines or not) of JSON or of gzip: a secret found in such a string replaces the whole string.
//! A gzip member that cannot be read whole (it inflates past 1 MiB, or is corrupt) cannot be
//! inspected, so it is treated as opaque and redacted: it is never passed through.
//!
//! Tags go through the same policy ([`redact_tags`]): a tag whose key looks like a credential,
//! or whose value has a credential's shape (or holds one as JSON, base64 or gzip), keeps only
//! its marker.
//!
//! The marker is `<redacted hmac:…>`, an HMAC-SHA256 under a key drawn at random for each run:
//! within a run two equal secrets have equal markers (so "changed / unchanged" still shows), but
//! a guessed secret cannot be confirmed offline from a report (an unsalted hash could be).

use base64::Engine;
use base64::alphabet;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use hmac::{Hmac, Mac};
use regex::Regex;
use serde_json::{Map, Value};
use sha2::Sha256;
use std::borrow::Cow;
use std::collections::BTreeMap;
use std::io::Read as _;
use std::sync::{Arc, LazyLock};

/// The marker's prefix.
pub const REDACTED_PREFIX: &str = "<redacted hmac:";

/// The most a gzip member inside user-data may inflate to before it is refused (a bomb).
const MAX_INFLATED: u64 = 1 << 20;

/// Key names that hold credentials, matched anywhere in the name, case-insensitively.
static SECRET_NAME: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?i)(token|secret|password|passwd|pwd|passphrase|credential|private[_-]?key|access[_-]?key|api[_-]?key|authorization|auth|session|cookie|signature|certificate|cert)",
    )
    .expect("static regex")
});

/// Values that are credentials whatever their key: AWS access key ids, PEM private keys, JWTs.
static SECRET_VALUE: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(\b(AKIA|ASIA|AROA|AIDA)[A-Z0-9]{16}\b|-----BEGIN [A-Z ]*PRIVATE KEY-----|\beyJ[A-Za-z0-9_-]{8,}\.eyJ[A-Za-z0-9_-]{8,}\.)",
    )
    .expect("static regex")
});

/// Which user-data values are secret, and the run's marker key.
#[derive(Debug, Clone)]
pub struct SecretPolicy {
    /// Paths (key names from the user-data root, array levels skipped) manifests mark secret.
    pub paths: Vec<Vec<String>>,
    key: Arc<[u8; 32]>,
}

impl Default for SecretPolicy {
    fn default() -> Self {
        SecretPolicy::new(Vec::new())
    }
}

/// The run's marker key: random, drawn once per process.
static RUN_KEY: LazyLock<Arc<[u8; 32]>> = LazyLock::new(|| {
    let mut k = [0u8; 32];
    if getrandom::fill(&mut k).is_err() {
        // No OS randomness: a key from the clock and the process id still differs per run.
        let t = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or(0);
        k[..16].copy_from_slice(&t.to_le_bytes());
        k[16..20].copy_from_slice(&std::process::id().to_le_bytes());
    }
    Arc::new(k)
});

impl SecretPolicy {
    /// The policy with the paths manifests mark secret, and this run's key.
    pub fn new(paths: Vec<Vec<String>>) -> Self {
        SecretPolicy {
            paths,
            key: RUN_KEY.clone(),
        }
    }

    fn is_secret_path(&self, path: &[String]) -> bool {
        path.last().is_some_and(|k| SECRET_NAME.is_match(k)) || self.paths.iter().any(|p| p == path)
    }

    /// `<redacted hmac:0123456789ab>` for a value.
    pub fn marker(&self, v: &Value) -> String {
        let text = match v {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let mut mac = <Hmac<Sha256> as Mac>::new_from_slice(self.key.as_slice())
            .expect("HMAC takes any key length");
        mac.update(text.as_bytes());
        let digest = mac.finalize().into_bytes();
        let hex: String = digest.iter().take(6).map(|b| format!("{b:02x}")).collect();
        format!("{REDACTED_PREFIX}{hex}>")
    }

    /// Redacts an object in place.
    pub fn redact_object(&self, map: &mut Map<String, Value>) {
        self.object(map, &mut Vec::new());
    }

    fn object(&self, map: &mut Map<String, Value>, path: &mut Vec<String>) -> bool {
        let mut found = false;
        for (k, v) in map.iter_mut() {
            path.push(k.clone());
            if self.is_secret_path(path) {
                *v = Value::String(self.marker(v));
                found = true;
            } else {
                found |= self.value(v, path);
            }
            path.pop();
        }
        found
    }

    /// Redacts one value; whether it held a secret.
    fn value(&self, v: &mut Value, path: &mut Vec<String>) -> bool {
        match v {
            Value::Object(m) => self.object(m, path),
            Value::Array(a) => a.iter_mut().fold(false, |f, x| self.value(x, path) | f),
            Value::String(s) if self.string_holds_secret(s, path) => {
                *v = Value::String(self.marker(v));
                true
            }
            _ => false,
        }
    }

    /// Whether a string is a credential, or holds one as JSON, base64 of JSON, or gzip.
    fn string_holds_secret(&self, s: &str, path: &mut Vec<String>) -> bool {
        if SECRET_VALUE.is_match(s) {
            return true;
        }
        let t = s.trim().trim_start_matches('\u{feff}').trim_start();
        if (t.starts_with('{') || t.starts_with('[') || t.starts_with('"'))
            && let Ok(mut inner) = serde_json::from_str::<Value>(t)
        {
            // A JSON document, or a JSON string literal (JSON encoded twice).
            return match &inner {
                Value::String(s) => self.string_holds_secret(s, path),
                _ => self.value(&mut inner, path),
            };
        }
        if let Some(bytes) = base64_bytes(t) {
            return match decode(&bytes) {
                Decoded::Text(text) => self.string_holds_secret(&text, path),
                Decoded::Opaque(_) => true,
                Decoded::Binary => false,
            };
        }
        false
    }

    /// Redacts tags in place: a credential-like key, or a value holding a credential.
    pub fn redact_tags(&self, tags: &mut BTreeMap<String, String>) {
        for (k, v) in tags.iter_mut() {
            self.redact_tag(k, v);
        }
    }

    /// Redacts one tag's value in place; whether it did.
    fn redact_tag(&self, k: &str, v: &mut String) -> bool {
        let path = &mut vec![k.to_string()];
        let secret = SECRET_NAME.is_match(k) || self.string_holds_secret(v, path);
        if secret {
            *v = self.marker(&Value::String(std::mem::take(v)));
        }
        secret
    }
}

/// `text` with every marker replaced by `<redacted>`: what a secret looks like in a file kept
/// across runs (a snapshot). The marker's HMAC is keyed per run, so it would change on every
/// run; a key stored beside the file would let anyone holding the file confirm a guessed secret.
pub fn presence_only(text: &str) -> Cow<'_, str> {
    static MARKER: LazyLock<Regex> = LazyLock::new(|| {
        Regex::new(&format!("{}[0-9a-f]*>", regex::escape(REDACTED_PREFIX))).expect("static regex")
    });
    // Most values hold no secret: the regex is run only on those that hold a marker.
    if !text.contains(REDACTED_PREFIX) {
        return Cow::Borrowed(text);
    }
    MARKER.replace_all(text, REDACTED)
}

/// A secret in a snapshot: presence only.
pub const REDACTED: &str = "<redacted>";

/// Tag pairs remembered as clean per thread, at most.
const CLEAN_MAX: usize = 4096;
/// The longest tag pair (key and value, bytes) remembered as clean.
const CLEAN_LEN: usize = 512;

/// Redacts tags under the run's key (tags have no manifest paths).
///
/// A fleet repeats its tags (owner, worker type, pool...), and looking into each value (a
/// credential's shape, JSON, base64 of it, gzip) was a quarter of a live EC2 scan's CPU
/// (callgrind of `check` at 100,000 instances, bench/RESULTS-eval.md): a pair this thread found
/// clean already is not looked into again. Only clean pairs are remembered, never a secret, at
/// most [`CLEAN_MAX`] of at most [`CLEAN_LEN`] bytes.
pub fn redact_tags(tags: &mut BTreeMap<String, String>) {
    use foldhash::fast::FixedState;
    use std::collections::{HashMap, HashSet};
    static POLICY: LazyLock<SecretPolicy> = LazyLock::new(SecretPolicy::default);
    type Clean = (
        HashMap<String, HashSet<String, FixedState>, FixedState>,
        usize,
    );
    thread_local! {
        static CLEAN: std::cell::RefCell<Clean> = std::cell::RefCell::default();
    }
    CLEAN.with_borrow_mut(|(clean, n)| {
        for (k, v) in tags.iter_mut() {
            if clean.get(k).is_some_and(|vs| vs.contains(v.as_str())) {
                continue;
            }
            if !POLICY.redact_tag(k, v) && *n < CLEAN_MAX && k.len() + v.len() <= CLEAN_LEN {
                clean.entry(k.clone()).or_default().insert(v.clone());
                *n += 1;
            }
        }
    });
}

/// Base64 as people and tools write it: the standard or URL-safe alphabet, with or without
/// padding, possibly wrapped over lines (as `base64` without `-w0` does). `None` when `t` is
/// not base64 of at least 12 bytes (shorter strings are words, not encoded documents).
fn base64_bytes(t: &str) -> Option<Vec<u8>> {
    static ENGINES: LazyLock<[GeneralPurpose; 2]> = LazyLock::new(|| {
        let config = GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::Indifferent)
            .with_decode_allow_trailing_bits(true);
        [
            GeneralPurpose::new(&alphabet::STANDARD, config),
            GeneralPurpose::new(&alphabet::URL_SAFE, config),
        ]
    });
    let compact: Cow<'_, str> = if t.contains(|c: char| c.is_ascii_whitespace()) {
        Cow::Owned(t.chars().filter(|c| !c.is_ascii_whitespace()).collect())
    } else {
        Cow::Borrowed(t)
    };
    if compact.len() < 16 {
        return None;
    }
    ENGINES
        .iter()
        .find_map(|e| e.decode(compact.as_bytes()).ok())
}

/// What decoded bytes are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Decoded {
    /// UTF-8 text (gzip inflated first), a byte-order mark removed.
    Text(String),
    /// gzip that cannot be read whole: it inflates past 1 MiB, or is corrupt. Why, in words.
    Opaque(String),
    /// Neither gzip nor UTF-8.
    Binary,
}

/// Bytes as text: gzip inflated (bounded), then UTF-8.
pub fn decode(bytes: &[u8]) -> Decoded {
    if bytes.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        let read = flate2::read::GzDecoder::new(bytes)
            .take(MAX_INFLATED + 1)
            .read_to_end(&mut out);
        return match read {
            Err(e) => Decoded::Opaque(format!("gzip that cannot be inflated ({e})")),
            Ok(n) if n as u64 > MAX_INFLATED => {
                Decoded::Opaque("gzip that inflates past 1 MiB".to_string())
            }
            Ok(_) => match String::from_utf8(out) {
                Ok(text) => Decoded::Text(without_bom(text)),
                Err(_) => Decoded::Opaque("gzip of bytes that are not UTF-8 text".to_string()),
            },
        };
    }
    match std::str::from_utf8(bytes) {
        Ok(text) => Decoded::Text(without_bom(text.to_string())),
        Err(_) => Decoded::Binary,
    }
}

fn without_bom(text: String) -> String {
    match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    }
}

/// Bytes as text, as [`decode`] reads them; `None` when they are not text.
pub fn decoded_text(bytes: &[u8]) -> Option<String> {
    match decode(bytes) {
        Decoded::Text(t) => Some(t),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn redacted(v: Value, p: &SecretPolicy) -> String {
        let Value::Object(mut m) = v else {
            panic!("object")
        };
        p.redact_object(&mut m);
        Value::Object(m).to_string()
    }

    /// Base64 wrapped at 76 columns, as `base64` writes it without `-w0`.
    fn wrapped(b64: &str) -> String {
        b64.as_bytes()
            .chunks(76)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("\n")
    }

    fn gzip(s: &str) -> Vec<u8> {
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(s.as_bytes()).expect("gzip");
        e.finish().expect("gzip")
    }

    #[test]
    fn secrets_in_arrays_json_strings_base64_and_gzip_are_all_redacted() {
        let p = SecretPolicy::default();
        let b64 = |s: &[u8]| base64::engine::general_purpose::STANDARD.encode(s);
        let inner = json!({"apiKey": "k-planted-1"}).to_string();
        let out = redacted(
            json!({
                "creds": [{"token": "planted-0"}],
                "config": inner,
                "blob": b64(json!({"Authorization": "Bearer planted-2"}).to_string().as_bytes()),
                "zipped": b64(&gzip(&json!({"cookie": "planted-3"}).to_string())),
                "aws": "AKIAABCDEFGHIJKLMNOP",
                "pem": "-----BEGIN RSA PRIVATE KEY-----\nMIIE",
                "workerType": "gecko-t-win10-64",
            }),
            &p,
        );
        for planted in [
            "planted-0",
            "planted-1",
            "planted-2",
            "planted-3",
            "AKIAABCD",
            "MIIE",
        ] {
            assert!(!out.contains(planted), "{planted} in {out}");
        }
        assert!(out.contains("gecko-t-win10-64"), "{out}");
        assert_eq!(out.matches(REDACTED_PREFIX).count(), 6, "{out}");
    }

    #[test]
    fn unpadded_url_safe_wrapped_bom_and_oversized_gzip_shapes_are_redacted() {
        use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD, URL_SAFE_NO_PAD};
        let p = SecretPolicy::default();
        let doc = |n: u32| json!({"token": format!("planted-{n}"), "why": "???>>>"}).to_string();
        let url_safe = URL_SAFE_NO_PAD.encode(doc(2));
        assert!(url_safe.contains(['-', '_']), "{url_safe} is URL-safe only");
        // More than 1 MiB once inflated, the secret at the end: it cannot be read whole.
        let big = json!({"pad": "x".repeat(2 << 20), "token": "planted-5"}).to_string();
        let mut corrupt = gzip(&doc(6));
        corrupt.truncate(corrupt.len() / 2);
        let out = redacted(
            json!({
                "unpadded": STANDARD_NO_PAD.encode(doc(1)),
                "urlSafe": url_safe,
                "wrapped": wrapped(&STANDARD.encode(format!("{}{}", doc(3), " ".repeat(80)))),
                "bom": format!("\u{feff}{}", doc(4)),
                "bomBase64": STANDARD.encode(format!("\u{feff}{}", doc(7))),
                "bomb": STANDARD.encode(gzip(&big)),
                "corrupt": STANDARD.encode(&corrupt),
                "workerType": "gecko-t-win10-64",
            }),
            &p,
        );
        assert!(!out.contains("planted"), "{out}");
        for key in ["bomb", "corrupt"] {
            let Value::Object(m) = serde_json::from_str::<Value>(&out).expect("json") else {
                panic!("object")
            };
            assert!(
                m[key]
                    .as_str()
                    .is_some_and(|s| s.starts_with(REDACTED_PREFIX)),
                "{key}: {out:.300}"
            );
        }
        assert_eq!(out.matches(REDACTED_PREFIX).count(), 7, "{out:.2000}");
        assert!(out.contains("gecko-t-win10-64"), "{out:.2000}");
    }

    #[test]
    fn tags_go_through_the_same_policy() {
        let b64 = |s: String| base64::engine::general_purpose::STANDARD.encode(s);
        let mut tags: BTreeMap<String, String> = [
            ("Name", "gecko-t-win10-64".to_string()),
            ("Owner", "relops@example.com".to_string()),
            ("ApiToken", "planted-1".to_string()),
            ("Config", b64(json!({"password": "planted-2"}).to_string())),
            ("Deployer", "AKIAABCDEFGHIJKLMNOP".to_string()),
            (
                "Blob",
                json!({"nested": {"secret": "planted-3"}}).to_string(),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v))
        .collect();
        redact_tags(&mut tags);
        let all = format!("{tags:?}");
        assert!(!all.contains("planted") && !all.contains("AKIA"), "{all}");
        assert_eq!(tags["Name"], "gecko-t-win10-64");
        assert_eq!(tags["Owner"], "relops@example.com");
        assert_eq!(all.matches(REDACTED_PREFIX).count(), 4, "{all}");
    }

    /// Pairs found clean are remembered per thread; a secret never is, and a key seen clean with
    /// one value is still looked into with another. (A guard of the cache: the old code had
    /// none, so this also passes there.)
    #[test]
    fn a_remembered_clean_tag_never_hides_a_secret() {
        let tags = |owner: &str| -> BTreeMap<String, String> {
            [("Owner", owner), ("ApiToken", "planted-4"), ("Name", "w-1")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        for round in 0..3 {
            let mut t = tags("relops@example.com");
            redact_tags(&mut t);
            assert_eq!(t["Owner"], "relops@example.com", "round {round}");
            assert_eq!(t["Name"], "w-1", "round {round}");
            assert!(
                t["ApiToken"].starts_with(REDACTED_PREFIX),
                "round {round}: {t:?}"
            );
        }
        let mut t = tags("AKIAABCDEFGHIJKLMNOP");
        redact_tags(&mut t);
        assert!(t["Owner"].starts_with(REDACTED_PREFIX), "{t:?}");
    }

    #[test]
    fn presence_only_is_the_same_in_every_run() {
        let p = SecretPolicy::default();
        let text = json!(["a", p.marker(&json!("s3cret"))]).to_string();
        assert_eq!(presence_only(&text), r#"["a","<redacted>"]"#);
        assert_eq!(presence_only("plain"), "plain");
    }

    #[test]
    fn the_marker_is_keyed_per_run_and_stable_within_it() {
        let p = SecretPolicy::default();
        let q = SecretPolicy::default();
        assert_eq!(p.marker(&json!("x")), q.marker(&json!("x")));
        assert_ne!(p.marker(&json!("x")), p.marker(&json!("y")));
        // Not the unsalted sha256 of the value, which anyone could compute.
        use sha2::Digest;
        let plain: String = sha2::Sha256::digest(b"x")
            .iter()
            .take(6)
            .map(|b| format!("{b:02x}"))
            .collect();
        assert!(!p.marker(&json!("x")).contains(&plain));
    }

    #[test]
    fn manifest_paths_reach_through_arrays() {
        let p = SecretPolicy::new(vec![vec!["workers".into(), "sig".into()]]);
        let out = redacted(json!({"workers": [{"sig": "planted"}]}), &p);
        assert!(!out.contains("planted"), "{out}");
    }

    /// A user-data shape: nested objects and arrays, JSON and base64 in strings, with one secret
    /// planted under a credential-like key somewhere.
    fn arb_shape(secret: String) -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(json!("plain")),
            Just(json!(42)),
            Just(json!(null)),
            Just(json!(["a", 1]))
        ];
        let key = prop_oneof![
            Just("token"),
            Just("Authorization"),
            Just("api_key"),
            Just("clientSecret"),
            Just("sessionCookie"),
            Just("pwd"),
        ];
        (
            leaf.clone(),
            key,
            0usize..4,
            proptest::collection::vec(0u8..9, 0..5),
        )
            .prop_map(move |(filler, key, wrap_top, path)| {
                let mut v = json!({ key: secret.clone() });
                for step in path {
                    v = match step {
                        0 => json!({"nested": v, "other": filler.clone()}),
                        1 => json!([filler.clone(), v]),
                        2 => Value::String(v.to_string()),
                        3 => Value::String(
                            base64::engine::general_purpose::STANDARD.encode(v.to_string()),
                        ),
                        // The shapes of issue 28 item 6: unpadded, URL-safe, wrapped over
                        // lines, with a byte-order mark, gzip.
                        4 => Value::String(
                            base64::engine::general_purpose::STANDARD_NO_PAD.encode(v.to_string()),
                        ),
                        5 => Value::String(
                            base64::engine::general_purpose::URL_SAFE
                                .encode(json!({"pad": "???>>>", "inner": v}).to_string()),
                        ),
                        6 => Value::String(wrapped(&base64::engine::general_purpose::STANDARD.encode(v.to_string()))),
                        7 => Value::String(format!("\u{feff}{v}")),
                        _ => Value::String(
                            base64::engine::general_purpose::STANDARD.encode(gzip(&v.to_string())),
                        ),
                    };
                }
                match wrap_top {
                    0 => json!({"workerType": "w", "data": v}),
                    1 => json!({"list": [v, filler]}),
                    2 => json!({"s": v.to_string()}),
                    _ => json!({"b": base64::engine::general_purpose::STANDARD.encode(v.to_string())}),
                }
            })
    }

    /// Whether `needle` is anywhere in `v`: in a string, or in what a string decodes to (JSON,
    /// with or without a byte-order mark; base64 in either alphabet, padded or not, wrapped or
    /// not; gzip), at any depth.
    fn contains_deep(v: &Value, needle: &str) -> bool {
        match v {
            Value::String(s) => {
                let t = s.trim().trim_start_matches('\u{feff}');
                s.contains(needle)
                    || serde_json::from_str::<Value>(t).is_ok_and(|x| contains_deep(&x, needle))
                    || base64_bytes(t.trim())
                        .and_then(|b| decoded_text(&b))
                        .is_some_and(|t| contains_deep(&Value::String(t), needle))
            }
            Value::Array(a) => a.iter().any(|x| contains_deep(x, needle)),
            Value::Object(m) => m
                .iter()
                .any(|(k, x)| k.contains(needle) || contains_deep(x, needle)),
            _ => false,
        }
    }

    proptest! {
        #[test]
        fn no_planted_secret_survives_any_shape(
            (secret, shape) in "[a-z0-9]{12,20}".prop_flat_map(|s| {
                arb_shape(s.clone()).prop_map(move |v| (s.clone(), v))
            }),
        ) {
            prop_assert!(contains_deep(&shape, &secret), "the strategy planted it");
            let p = SecretPolicy::default();
            let Value::Object(mut m) = shape else { panic!("object") };
            p.redact_object(&mut m);
            let out = Value::Object(m);
            prop_assert!(!contains_deep(&out, &secret), "{} survives in {}", secret, out);
        }
    }
}

//! Validation against Taskcluster's own JSON Schemas (worker pools, aws-provisioner worker
//! types, hooks, tasks). They are Taskcluster's files, not ours: checker reads them from a folder
//! (`--taskcluster-schemas`, or `CHECKER_TASKCLUSTER_SCHEMAS`), or fetches them from the
//! deployment itself (`<rootUrl>/schemas/...`) into a cache folder, resolving their
//! `/schemas/...` references the same way. YAML sources (aws-provisioner's) are read too.

use crate::diag::{Diagnostic, Place};
use serde_json::Value;
use std::path::{Path, PathBuf};

const BASE: &str = "https://taskcluster.invalid";

/// What to say when a schema checker does not build in is needed.
const NEEDED: &str = "Taskcluster's JSON Schemas are needed to validate it: pass --root-url URL (or set TASKCLUSTER_ROOT_URL) to fetch them from your deployment's /schemas/ (cached), or --taskcluster-schemas DIR (or CHECKER_TASKCLUSTER_SCHEMAS) for a folder of them, offline";

/// Where Taskcluster's schemas come from.
#[derive(Debug, Clone)]
pub enum SchemaSource {
    /// A folder laid out as `<service>/v1/<name>.json` (offline).
    Dir(PathBuf),
    /// The deployment at `root_url` serves them at `<rootUrl>/schemas/...`; fetched copies are
    /// kept in `cache` and fetched again after a day.
    Deployment {
        /// `https://firefox-ci-tc.services.mozilla.com`.
        root_url: String,
        /// The cache folder for this deployment.
        cache: PathBuf,
    },
    /// The copies built into checker (worker-manager's pool schemas, structure only, from
    /// taskcluster/taskcluster 9d59eb59: `checker/taskcluster-schemas/`), for the gate offline.
    BuiltIn,
}

/// The schemas built in, by their path under `/schemas/`.
const BUILT_IN: &[(&str, &str)] = &[
    (
        "worker-manager/v1/create-worker-pool-request.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/create-worker-pool-request.json"),
    ),
    (
        "worker-manager/v1/worker-pool-full.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/worker-pool-full.json"),
    ),
    (
        "worker-manager/v1/worker-lifecycle.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/worker-lifecycle.json"),
    ),
    (
        "worker-manager/v1/config-aws.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/config-aws.json"),
    ),
    (
        "worker-manager/v1/config-google.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/config-google.json"),
    ),
    (
        "worker-manager/v1/config-azure.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/config-azure.json"),
    ),
    (
        "worker-manager/v1/azure-arm-templates.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/azure-arm-templates.json"),
    ),
    (
        "worker-manager/v1/azure-deployment-resources.json",
        include_str!("../taskcluster-schemas/worker-manager/v1/azure-deployment-resources.json"),
    ),
];

/// The cache folder of the deployment at `root` under `base`: one per scheme, host and port, so
/// what was fetched over plain http (which anyone on the path could have answered) is never
/// read for an https deployment of the same name.
fn cache_folder(base: &Path, root: &str) -> PathBuf {
    let root = root.trim().trim_end_matches('/');
    let (scheme, rest) = root.split_once("://").unwrap_or(("none", root));
    let name: String = format!("{}-{rest}", scheme.to_ascii_lowercase())
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '.' || c == '-' {
                c
            } else {
                '_'
            }
        })
        .collect();
    base.join("taskcluster-schemas").join(name)
}

/// Whether `v` is Taskcluster's schema `rel`: a JSON object, and for a `.json` schema, one
/// whose `$id` names `rel` (Taskcluster's rendered schemas carry `"$id":
/// "/schemas/<service>/v1/<name>.json#"`: taskcluster/taskcluster 9d59eb59
/// `generated/references.json`). A cached `{}` or `true` would accept everything: validation
/// switched off without a word.
fn is_schema_of(v: &Value, rel: &str) -> Result<(), String> {
    let Some(o) = v.as_object() else {
        return Err("it is not a JSON object".into());
    };
    if !rel.ends_with(".json") {
        return if ["type", "properties", "$ref", "oneOf", "anyOf", "allOf"]
            .iter()
            .any(|k| o.contains_key(*k))
        {
            Ok(())
        } else {
            Err("it constrains nothing (no type, properties or $ref)".into())
        };
    }
    let id = o.get("$id").and_then(Value::as_str).unwrap_or("");
    let want = format!("/schemas/{rel}");
    if id.trim_end_matches('#').ends_with(&want) {
        Ok(())
    } else {
        Err(format!("its $id is {id:?}, not {want}#"))
    }
}

/// How long a fetched schema is used before it is fetched again.
const CACHE_TTL: std::time::Duration = std::time::Duration::from_secs(24 * 3600);

impl SchemaSource {
    /// `--taskcluster-schemas DIR` (or `CHECKER_TASKCLUSTER_SCHEMAS`), else the deployment at
    /// `root_url` (`--root-url` or `TASKCLUSTER_ROOT_URL`) with its cache, else the copies built
    /// into checker (worker pools only; other schemas then say how to give them).
    pub fn resolve(dir: Option<PathBuf>, root_url: Option<&str>) -> Result<SchemaSource, String> {
        let from_env = std::env::var_os("CHECKER_TASKCLUSTER_SCHEMAS")
            .filter(|d| !d.is_empty())
            .map(PathBuf::from);
        if let Some(d) = dir.or(from_env) {
            return Ok(SchemaSource::Dir(d));
        }
        Ok(Self::deployment(root_url).unwrap_or(SchemaSource::BuiltIn))
    }

    fn deployment(root_url: Option<&str>) -> Option<SchemaSource> {
        if let Some(root) = root_url.filter(|r| !r.trim().is_empty()) {
            let base = std::env::var_os("CHECKER_CACHE_DIR")
                .map(PathBuf::from)
                .or_else(|| dirs::cache_dir().map(|d| d.join("checker")))
                .unwrap_or_else(|| std::env::temp_dir().join("checker-cache"));
            return Some(SchemaSource::Deployment {
                root_url: root.trim_end_matches('/').to_string(),
                cache: cache_folder(&base, root),
            });
        }
        None
    }

    /// Schema `rel`, parsed: a built-in copy, or the file of [`SchemaSource::file`]. A
    /// deployment that cannot be reached, with nothing cached, falls back to the built-in copy
    /// when there is one (and says so at -v).
    pub fn value(&self, rel: &str) -> Result<Value, String> {
        let built_in = || {
            BUILT_IN.iter().find(|(r, _)| *r == rel).map(|(_, text)| {
                serde_json::from_str(text).map_err(|e| format!("the built-in schema {rel}: {e}"))
            })
        };
        match self {
            SchemaSource::BuiltIn => built_in()
                .unwrap_or_else(|| Err(format!("{rel} is not built into checker; {NEEDED}"))),
            SchemaSource::Deployment { cache, .. } => match self.file(rel) {
                Ok(path) => read_schema(&path),
                // A cached copy that is not the schema is refused, not replaced: it names
                // the file to delete.
                Err(e) if cache.join(rel).exists() => Err(e),
                Err(e) => match built_in() {
                    Some(v) => {
                        tracing::warn!(error = %e, schema = rel, "using checker's built-in copy of the schema");
                        v
                    }
                    None => Err(e),
                },
            },
            SchemaSource::Dir(_) => read_schema(&self.file(rel)?),
        }
    }

    /// The local path of `rel`, fetching it first from a deployment when needed.
    pub fn file(&self, rel: &str) -> Result<PathBuf, String> {
        match self {
            SchemaSource::Dir(d) => Ok(d.join(rel)),
            SchemaSource::BuiltIn => Err(format!("{rel} is built in: it has no file")),
            SchemaSource::Deployment { root_url, cache } => {
                let path = cache.join(rel);
                let fresh = std::fs::metadata(&path)
                    .and_then(|m| m.modified())
                    .ok()
                    .and_then(|t| t.elapsed().ok())
                    .is_some_and(|age| age < CACHE_TTL);
                // A cached copy is used only when it is still the schema it is named for.
                let cached = || -> Result<(), String> {
                    is_schema_of(&read_schema(&path)?, rel).map_err(|why| {
                        format!(
                            "the cached schema {} is not Taskcluster's {rel} ({why}); delete it (or the folder {}) and run again",
                            path.display(),
                            cache.display()
                        )
                    })
                };
                if fresh && cached().is_ok() {
                    return Ok(path);
                }
                let url = format!("{root_url}/schemas/{rel}");
                let fetched = crate::taskcluster::get_json(&url).and_then(|v| {
                    is_schema_of(&v, rel)
                        .map(|()| v)
                        .map_err(|why| format!("GET {url}: the answer is not the schema ({why})"))
                });
                match fetched {
                    Ok(v) => {
                        let text = serde_json::to_string_pretty(&v).map_err(|e| e.to_string())?;
                        if let Some(dir) = path.parent() {
                            std::fs::create_dir_all(dir)
                                .map_err(|e| format!("cannot create {}: {e}", dir.display()))?;
                        }
                        crate::fsio::write_output(&text, Some(&path)).map_err(|e| e.to_string())?;
                        Ok(path)
                    }
                    Err(e) if path.exists() => {
                        cached().map_err(|bad| format!("{e}; and {bad}"))?;
                        tracing::warn!(%url, error = %e, "using the cached copy");
                        Ok(path)
                    }
                    Err(e) => Err(format!(
                        "{e}: cannot fetch Taskcluster's schema {rel}; check --root-url, or pass --taskcluster-schemas DIR"
                    )),
                }
            }
        }
    }

    /// For messages.
    pub fn describe(&self) -> String {
        match self {
            SchemaSource::Dir(d) => d.display().to_string(),
            SchemaSource::Deployment { root_url, .. } => format!("{root_url}/schemas"),
            SchemaSource::BuiltIn => {
                "checker's built-in Taskcluster schemas (taskcluster/taskcluster 9d59eb59)".into()
            }
        }
    }
}

/// Reads a schema file, JSON or YAML.
pub fn read_schema(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read {}: {e}", path.display()))?;
    if path.extension().is_some_and(|e| e == "yml" || e == "yaml") {
        serde_yaml_ng::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    } else {
        serde_json::from_str(&text).map_err(|e| format!("{}: {e}", path.display()))
    }
}

struct Folder(SchemaSource);

impl jsonschema::Retrieve for Folder {
    fn retrieve(
        &self,
        uri: &jsonschema::Uri<String>,
    ) -> Result<Value, Box<dyn std::error::Error + Send + Sync>> {
        let s = uri.as_str();
        let rel = s.strip_prefix(BASE).unwrap_or(s);
        let rel = rel
            .strip_prefix("/schemas/")
            .unwrap_or(rel.trim_start_matches('/'));
        let rel = rel.split('#').next().unwrap_or(rel);
        let mut v = self.0.value(rel)?;
        // Taskcluster's metaschema is draft-06 based; the validator is told the draft.
        if let Some(o) = v.as_object_mut() {
            o.remove("$schema");
        }
        Ok(v)
    }
}

/// A compiled Taskcluster schema.
pub struct TcSchema {
    validator: jsonschema::Validator,
    /// The schema file, for messages.
    pub name: String,
}

impl TcSchema {
    /// Compiles `dir/rel` (e.g. `worker-manager/v1/config-aws.json`).
    pub fn load(source: &SchemaSource, rel: &str) -> Result<TcSchema, String> {
        let mut schema = source.value(rel).map_err(|e| format!("{e}; pass --taskcluster-schemas DIR (a folder with Taskcluster's schemas) or --root-url URL (your deployment serves them)"))?;
        // Their `$schema` is Taskcluster's own metaschema (draft-06 based; aws-provisioner's is
        // draft-04): validate with draft 6 and give every schema an absolute id to resolve against.
        let draft = if rel.starts_with("aws-provisioner") {
            jsonschema::Draft::Draft4
        } else {
            jsonschema::Draft::Draft6
        };
        if let Some(o) = schema.as_object_mut() {
            o.remove("$schema");
            o.insert("$id".into(), Value::String(format!("{BASE}/schemas/{rel}")));
        }
        let validator = jsonschema::options()
            .with_draft(draft)
            .with_retriever(Folder(source.clone()))
            .build(&schema)
            .map_err(|e| format!("cannot compile {rel} of {}: {e}", source.describe()))?;
        Ok(TcSchema {
            validator,
            name: rel.to_string(),
        })
    }

    /// Every violation, as diagnostics at their pointers (prefixed with `base`).
    pub fn check(&self, file: &Path, base: &str, value: &Value) -> Vec<Diagnostic> {
        self.validator
            .iter_errors(value)
            .map(|e| {
                let mut msg = e.to_string();
                if msg.len() > 240 {
                    let mut cut = 240;
                    while !msg.is_char_boundary(cut) {
                        cut -= 1;
                    }
                    msg.truncate(cut);
                    msg.push('…');
                }
                Diagnostic {
                    file: file.to_path_buf(),
                    place: Place::Pointer(format!("{base}{}", e.instance_path().as_str())),
                    message: msg,
                    hint: Some(format!(
                        "the Taskcluster schema {} does not accept this",
                        self.name
                    )),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// http and https deployments of one name have caches of their own.
    #[test]
    fn the_cache_separates_http_from_https() {
        let base = Path::new("/c");
        let https = cache_folder(base, "https://tc.example.com/");
        let http = cache_folder(base, "http://tc.example.com");
        assert_ne!(https, http);
        assert_eq!(
            https,
            Path::new("/c/taskcluster-schemas/https-tc.example.com")
        );
        assert_ne!(
            cache_folder(base, "https://tc.example.com:8443"),
            https,
            "the port is part of it"
        );
    }

    /// A poisoned cache (`{}` accepts everything, or another schema) is refused with the file
    /// to delete, not used to switch validation off; a good copy is still used offline.
    #[test]
    fn a_poisoned_cached_schema_is_refused_not_used() {
        let dir = tempfile::tempdir().expect("tmp");
        let rel = "worker-manager/v1/config-aws.json";
        let source = SchemaSource::Deployment {
            // Nothing listens there: the fetch fails at once and the cache must answer.
            root_url: "http://127.0.0.1:9".into(),
            cache: dir.path().to_path_buf(),
        };
        let file = dir.path().join(rel);
        std::fs::create_dir_all(file.parent().expect("parent")).expect("mkdir");
        for poison in [
            "{}",
            "true",
            r#"{"$id": "/schemas/common/metaschema.json#"}"#,
        ] {
            std::fs::write(&file, poison).expect("write");
            let e = TcSchema::load(&source, rel)
                .err()
                .unwrap_or_else(|| panic!("{poison} was used as the schema"));
            assert!(
                e.contains("is not Taskcluster's worker-manager/v1/config-aws.json")
                    && e.contains("delete it"),
                "{e}"
            );
        }
        std::fs::write(
            &file,
            r#"{"$id": "/schemas/worker-manager/v1/config-aws.json#", "type": "object", "required": ["launchConfigs"]}"#,
        )
        .expect("write");
        let s = TcSchema::load(&source, rel).expect("a good cached copy is used");
        assert_eq!(s.check(Path::new("p"), "", &serde_json::json!({})).len(), 1);
    }
}

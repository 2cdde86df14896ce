//! Validation against Taskcluster's own JSON Schemas (worker pools, aws-provisioner worker
//! types, hooks, tasks). They are Taskcluster's files, not ours: checker reads them from a folder
//! (`--taskcluster-schemas`, or `CHECKER_TASKCLUSTER_SCHEMAS`), resolving their `/schemas/...`
//! references inside it. YAML sources (aws-provisioner's) are read too.

use crate::diag::{Diagnostic, Place};
use serde_json::Value;
use std::path::{Path, PathBuf};

const BASE: &str = "https://taskcluster.invalid";

/// The default folder: `../shared/taskcluster-schemas` from the working directory, as in the
/// project's own checkout layout.
pub fn default_dir() -> PathBuf {
    std::env::var_os("CHECKER_TASKCLUSTER_SCHEMAS")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("../shared/taskcluster-schemas"))
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

struct Folder(PathBuf);

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
        let mut v = read_schema(&self.0.join(rel))?;
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
    pub fn load(dir: &Path, rel: &str) -> Result<TcSchema, String> {
        let path = dir.join(rel);
        let mut schema = read_schema(&path).map_err(|e| format!("{e}; pass --taskcluster-schemas DIR (a folder with Taskcluster's schemas, e.g. a taskcluster checkout's generated schemas)"))?;
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
            .with_retriever(Folder(dir.to_path_buf()))
            .build(&schema)
            .map_err(|e| format!("cannot compile {}: {e}", path.display()))?;
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

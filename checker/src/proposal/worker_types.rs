//! 2018 aws-provisioner worker type definitions, rendered with a provider manifest's naming rules.

use super::{json_files, read_value, render_one};
use crate::contract::Provider;
use crate::diag::{Diagnostic, Diagnostics};
use crate::fleet::{Instance, SecretPolicy};
use crate::tcschema::TcSchema;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// Reads 2018 aws-provisioner worker type definitions (create-worker-type-request, JSON or YAML,
/// with `workerType` added or named by the file), validates them against aws-provisioner's
/// schema, and renders them with the manifest's naming rules: one record per region and
/// instance type.
pub fn render_worker_types(
    paths: &[PathBuf],
    schemas: &crate::tcschema::SchemaSource,
    manifest: &Provider,
    secrets: &SecretPolicy,
) -> Result<Vec<Instance>, Diagnostics> {
    let mut diags = Vec::new();
    let schema = match TcSchema::load(schemas, "aws-provisioner/create-worker-type-request.yml") {
        Ok(s) => s,
        Err(e) => {
            return Err(Diagnostics(vec![Diagnostic::file(
                Path::new(&schemas.describe()),
                e,
            )]));
        }
    };
    let mut out = Vec::new();
    for path in paths {
        for f in json_files(path, &mut diags) {
            let Some(mut v) = read_value(&f, &mut diags) else {
                continue;
            };
            let name = v
                .as_object_mut()
                .and_then(|o| o.remove("workerType"))
                .and_then(|n| n.as_str().map(str::to_string))
                .or_else(|| {
                    f.file_stem()
                        .and_then(|s| s.to_str())
                        .map(|s| s.trim_end_matches(".json").to_string())
                })
                .unwrap_or_default();
            if let Some(o) = v.as_object_mut() {
                o.remove("lastModified");
            }
            let before = diags.len();
            diags.extend(schema.check(&f, "", &v));
            if diags.len() > before {
                continue;
            }
            let data = v.get("userData").cloned();
            for (ri, r) in v
                .get("regions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .enumerate()
            {
                let region = r
                    .get("region")
                    .and_then(Value::as_str)
                    .unwrap_or("us-east-1");
                let image = r
                    .get("launchSpec")
                    .and_then(|l| l.get("ImageId"))
                    .and_then(Value::as_str);
                for it in v
                    .get("instanceTypes")
                    .and_then(Value::as_array)
                    .into_iter()
                    .flatten()
                {
                    let mut ov = BTreeMap::new();
                    if let Some(t) = it.get("instanceType").and_then(Value::as_str) {
                        ov.insert("instanceType".to_string(), t.to_string());
                    }
                    if let Some(i) = image {
                        ov.insert("imageId".to_string(), i.to_string());
                    }
                    match render_one(manifest, &name, region, &ov, data.as_ref(), secrets) {
                        Ok(mut inst) => {
                            inst.id = format!(
                                "proposed:{name}:{region}:{}",
                                ov.get("instanceType").map(String::as_str).unwrap_or("?")
                            );
                            out.push(inst);
                        }
                        Err(e) => diags.push(Diagnostic::at(&f, format!("/regions/{ri}"), e)),
                    }
                }
            }
        }
    }
    if diags.is_empty() {
        Ok(out)
    } else {
        Err(Diagnostics(diags))
    }
}

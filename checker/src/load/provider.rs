//! Provider manifests: sets (inline or from a data file), variables, the selector, and the
//! promised outputs with their templates.

use super::compile::Compiler;
use super::{str_at, strings};
use crate::contract::*;
use crate::diag::{Diagnostic, pointer_push};
use crate::template::Template;
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

impl Compiler<'_> {
    pub(super) fn provider(&mut self, v: &Value) -> Option<Provider> {
        let name = str_at(v, "name");
        let before = self.diags.len();
        self.set_cloud(v, None);
        // Sets first: variables and the selector refer to them.
        let sets = self.named_sets(v);
        let own_sets = |n: &str| {
            sets.get(n).map(|s| SetRef {
                name: n.to_string(),
                values: s.clone(),
            })
        };
        let selector = self.selector(
            v.get("selector").unwrap_or(&Value::Null),
            "/selector",
            None,
            &own_sets,
        );
        let variables = self.provider_variables(v, &sets);
        let group_by = str_at(v, "groupBy").unwrap_or_default();
        if !variables.contains_key(&group_by) {
            self.err(
                "/groupBy",
                format!("groupBy names \"{group_by}\", which is not a variable"),
                "groupBy is the variable that names a group, e.g. workerType",
            );
        }
        let outputs = self.provider_outputs(v, &variables);
        let launch = self.launch_defaults(v, &sets);
        let arm_templates = self.arm_templates(v);
        if self.diags.len() > before {
            return None;
        }
        Some(Provider {
            name: name.unwrap_or_default(),
            description: str_at(v, "description").unwrap_or_default(),
            owner: str_at(v, "owner"),
            file: self.file.clone(),
            selector: selector?,
            group_by,
            variables,
            sets,
            outputs,
            launch,
            cloud: self.cloud,
            arm_templates,
        })
    }

    /// `armTemplates`: what the ARM templates the provider's Azure pools deploy do.
    fn arm_templates(&mut self, v: &Value) -> Vec<crate::contract::ArmTemplate> {
        let mut out = Vec::new();
        for (i, t) in v
            .get("armTemplates")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .enumerate()
        {
            let spec = str_at(t, "templateSpec").unwrap_or_default();
            if let Err(e) = globset::Glob::new(&spec) {
                self.err(
                    format!("/armTemplates/{i}/templateSpec"),
                    format!("\"{spec}\" is not a usable pattern: {e}"),
                    "write the template's id; `*` matches any run of characters",
                );
                continue;
            }
            let flag = |k: &str| t.get(k).and_then(Value::as_bool).unwrap_or(false);
            out.push(crate::contract::ArmTemplate {
                template_spec: spec,
                applies_tags: flag("appliesTags"),
                custom_data: flag("customData"),
                public_ip: flag("publicIp"),
                source: str_at(t, "source").unwrap_or_default(),
            });
        }
        out
    }

    /// `launchDefaults`: the subnets that map a public IPv4 (a set name) and the account's
    /// `MetadataOptions` defaults.
    fn launch_defaults(
        &mut self,
        v: &Value,
        sets: &BTreeMap<String, Arc<BTreeSet<String>>>,
    ) -> Option<LaunchDefaults> {
        let d = v.get("launchDefaults")?;
        let public_ip_subnets = match d.get("publicIpSubnets").and_then(Value::as_str) {
            Some(name) => match sets.get(name) {
                Some(s) => Some(s.clone()),
                None => {
                    let known = sets.keys().cloned().collect::<Vec<_>>().join(", ");
                    self.err(
                        "/launchDefaults/publicIpSubnets",
                        format!("no set named \"{name}\" in this manifest"),
                        format!("declare the subnets under \"sets\"; declared: [{known}]"),
                    );
                    None
                }
            },
            None => None,
        };
        let m = d.get("metadataOptions");
        let text = |k: &str| {
            m.and_then(|m| m.get(k)).map(|x| match x {
                Value::String(s) => s.clone(),
                other => other.to_string(),
            })
        };
        Some(LaunchDefaults {
            public_ip_subnets,
            public_ip: d.get("publicIpv4").and_then(Value::as_bool),
            metadata: crate::fleet::MetadataOptions {
                http_tokens: text("HttpTokens"),
                http_endpoint: text("HttpEndpoint"),
                hop_limit: text("HttpPutResponseHopLimit"),
            },
        })
    }

    /// A contract's named sets, inline or read from their data files.
    pub(super) fn named_sets(&mut self, v: &Value) -> BTreeMap<String, Arc<BTreeSet<String>>> {
        let mut sets: BTreeMap<String, Arc<BTreeSet<String>>> = BTreeMap::new();
        for (k, s) in v
            .get("sets")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/sets", k);
            let values = match s {
                Value::Array(a) => Some(strings(a)),
                other => other
                    .get("file")
                    .and_then(Value::as_str)
                    .and_then(|rel| self.read_set_file(rel, &format!("{ptr}/file"))),
            };
            if let Some(vals) = values {
                sets.insert(k.clone(), Arc::new(vals.into_iter().collect()));
            }
        }
        sets
    }

    /// The template variables: each takes its values from a pattern, a set or the instance.
    fn provider_variables(
        &mut self,
        v: &Value,
        sets: &BTreeMap<String, Arc<BTreeSet<String>>>,
    ) -> BTreeMap<String, Variable> {
        let mut variables = BTreeMap::new();
        for (k, var) in v
            .get("variables")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/variables", k);
            let pattern = var
                .get("pattern")
                .and_then(Value::as_str)
                .map(str::to_string);
            if let Some(p) = &pattern
                && self
                    .regex(&format!("^(?:{p})$"), &format!("{ptr}/pattern"))
                    .is_none()
            {
                continue;
            }
            let set_name = var.get("set").and_then(Value::as_str).map(str::to_string);
            if let Some(s) = &set_name
                && !sets.contains_key(s)
            {
                let known = sets.keys().cloned().collect::<Vec<_>>().join(", ");
                self.err(
                    format!("{ptr}/set"),
                    format!("variable {k} names set \"{s}\", which this manifest does not declare"),
                    format!("declare it under \"sets\"; declared: [{known}]"),
                );
            }
            let builtin = var.get("builtin").and_then(Value::as_str).map(|b| match b {
                "region" => Builtin::Region,
                "availabilityZone" => Builtin::AvailabilityZone,
                "instanceType" => Builtin::InstanceType,
                "account" => Builtin::Account,
                _ => Builtin::ImageId,
            });
            if pattern.is_none() && set_name.is_none() && builtin.is_none() {
                self.err(
                    ptr.clone(),
                    format!("variable {k} has no pattern, set or builtin"),
                    "say what values it takes: \"pattern\", \"set\" or \"builtin\"",
                );
            }
            variables.insert(
                k.clone(),
                Variable {
                    description: str_at(var, "description"),
                    pattern,
                    set: set_name,
                    example: str_at(var, "example"),
                    builtin,
                },
            );
        }
        variables
    }

    /// The promised outputs, each with its template compiled to an anchored regex.
    fn provider_outputs(
        &mut self,
        v: &Value,
        variables: &BTreeMap<String, Variable>,
    ) -> Vec<ProviderOutput> {
        let patterns: BTreeMap<String, String> = variables
            .iter()
            .map(|(k, var)| {
                let pat = match (&var.pattern, var.builtin) {
                    (Some(p), _) => p.clone(),
                    (None, Some(Builtin::Account)) => "[0-9]{12}".to_string(),
                    (None, Some(_)) => "[^:/]+".to_string(),
                    (None, None) => ".+?".to_string(),
                };
                (k.clone(), pat)
            })
            .collect();
        let mut outputs = Vec::new();
        for (k, o) in v
            .get("outputs")
            .and_then(Value::as_object)
            .into_iter()
            .flatten()
        {
            let ptr = pointer_push("/outputs", k);
            let Some(path) = self.output(Some(&Value::String(k.clone())), &ptr) else {
                continue;
            };
            let secret = o.get("secret").and_then(Value::as_bool).unwrap_or(false);
            let mut template = None;
            let mut regex = None;
            if let Some(t) = o.get("template").and_then(Value::as_str) {
                if secret {
                    self.err(
                        format!("{ptr}/template"),
                        "a secret output cannot have a template",
                        "secrets are never compared; remove the template",
                    );
                }
                (template, regex) = self.output_template(t, &ptr, variables, &patterns);
            }
            outputs.push(ProviderOutput {
                path,
                template,
                regex,
                secret,
                optional: o.get("optional").and_then(Value::as_bool).unwrap_or(false),
                per_instance: o.get("perInstance").and_then(Value::as_bool) == Some(true),
                description: str_at(o, "description"),
                location: self.locate(&ptr),
            });
        }
        outputs
    }

    /// A template and its regex (both `None` when it is bad; the problem is recorded).
    fn output_template(
        &mut self,
        t: &str,
        ptr: &str,
        variables: &BTreeMap<String, Variable>,
        patterns: &BTreeMap<String, String>,
    ) -> (Option<Template>, Option<regex::Regex>) {
        let mut template = None;
        let mut regex = None;
        match Template::parse(t) {
            Err(e) => self.err(
                format!("{ptr}/template"),
                format!("bad template: {e}"),
                "templates are text with {variable} placeholders",
            ),
            Ok(tpl) => {
                let unknown: Vec<&str> = tpl
                    .variables()
                    .into_iter()
                    .filter(|v| !variables.contains_key(*v))
                    .collect();
                if unknown.is_empty() {
                    match tpl.to_regex(patterns) {
                        Ok(r) => regex = Some(r),
                        Err(e) => self.err(
                            format!("{ptr}/template"),
                            format!("the template does not make a valid regex: {e}"),
                            "check the patterns of the variables it uses",
                        ),
                    }
                    template = Some(tpl);
                } else {
                    let known = variables.keys().cloned().collect::<Vec<_>>().join(", ");
                    self.err(
                        format!("{ptr}/template"),
                        format!(
                            "the template uses unknown variable(s) {}",
                            unknown
                                .iter()
                                .map(|u| format!("{{{u}}}"))
                                .collect::<Vec<_>>()
                                .join(", ")
                        ),
                        format!("declare them under \"variables\"; known: [{known}]"),
                    );
                }
            }
        }
        (template, regex)
    }

    fn read_set_file(&mut self, rel: &str, ptr: &str) -> Option<Vec<String>> {
        let path = self.file.parent().unwrap_or(Path::new(".")).join(rel);
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                self.err(
                    ptr,
                    format!("cannot read set file {}: {e}", path.display()),
                    "the path is relative to the manifest",
                );
                return None;
            }
        };
        if rel.ends_with(".json") {
            match crate::diag::parse_json::<Value>(&path, text.as_bytes()) {
                Ok(Value::Array(a)) if a.iter().all(Value::is_string) => Some(strings(&a)),
                Ok(_) => {
                    let d = Diagnostic::at(&path, "", "a set file must be a JSON array of strings")
                        .hint(format!("referenced from {} {ptr}", self.file.display()));
                    self.diags.push(d);
                    None
                }
                Err(d) => {
                    self.diags.push(d);
                    None
                }
            }
        } else {
            Some(
                text.lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty() && !l.starts_with('#'))
                    .map(str::to_string)
                    .collect(),
            )
        }
    }
}

//! Many AWS accounts, GCP projects and Azure subscriptions: Cloud Custodian's c7n-org accounts
//! file read as it is (YAML or JSON), the accounts of an AWS Organization, and the choice among
//! them (`--account`, `--account-tag`, `--not-account`, as c7n-org's `-a`, `-t`,
//! `--not-accounts`).
//!
//! c7n-org's `projects: [{project_id, name, tags, vars}]` and `subscriptions: [{subscription_id,
//! name, region, tags, vars}]` (the same CONFIG_SCHEMA, cloud-custodian 00f0038b
//! `tools/c7n_org/c7n_org/cli.py` 1504-1590, where unknown keys are refused) are read beside
//! `accounts`. c7n-org takes one section a file; checker also reads a file with several.
//!
//! The file's shape is c7n-org's CONFIG_SCHEMA (cloud-custodian df800e9e,
//! `tools/c7n_org/c7n_org/cli.py` 68-160): `accounts: [{account_id, name, role (an ARN, a role
//! name, or a list: a chain), external_id, profile, regions, tags, vars}]`. As c7n-org does
//! (`accounts_iterator`, 1156-1165), a role that is not an ARN names a role in the account
//! (`arn:aws:iam::{account_id}:role/NAME`), and `{account_id}` / `{name}` in a role are the
//! account's (c7n-org's test fixture `tests/fixtures/test-accounts.yml` writes roles so).

use crate::diag::{Diagnostic, Diagnostics, Place};
use crate::source::Regions;
use serde_json::Value;
use std::path::Path;
use std::sync::LazyLock;

/// One account to scan.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account {
    /// The 12-digit account id.
    pub id: String,
    /// Its name (the id when the file gives none).
    pub name: String,
    /// Role ARNs assumed one after the other (empty: `profile`, or the default credentials).
    pub roles: Vec<String>,
    /// `sts:ExternalId` for every hop.
    pub external_id: Option<String>,
    /// A shared-config profile whose credentials are the account's (c7n-org's `profile`).
    pub profile: Option<String>,
    /// The account's regions (`Default`: `--region`, or the default region).
    pub regions: Regions,
    /// c7n-org tags (`type:prod`, `path:/Workers`): what `--account-tag` selects by.
    pub tags: Vec<String>,
}

impl Account {
    /// `name (id)`, for messages and reports.
    pub fn label(&self) -> String {
        if self.name == self.id {
            self.id.clone()
        } else {
            format!("{} ({})", self.name, self.id)
        }
    }
}

static SCHEMA: LazyLock<Result<jsonschema::Validator, String>> = LazyLock::new(|| {
    let schema: Value = serde_json::from_str(include_str!("schema.json"))
        .map_err(|e| format!("the embedded accounts schema is not JSON: {e}"))?;
    jsonschema::validator_for(&schema).map_err(|e| format!("the accounts schema: {e}"))
});

const HINT: &str = "an accounts file is c7n-org's: `accounts:` then, per account, `account_id: \"123456789012\"`, `name`, and `role` (an ARN, a role name, or a list of ARNs for a chain) or `profile`; `projects:` with `project_id` (GCP); `subscriptions:` with `subscription_id` (Azure); see docs/accounts.md";

/// One GCP project to scan (c7n-org's `projects:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Project {
    /// The project id (`fxci-level1-gcp`).
    pub id: String,
    /// Its name (the id when the file gives none).
    pub name: String,
    /// c7n-org tags: what `--account-tag` selects by.
    pub tags: Vec<String>,
}

/// One Azure subscription to scan (c7n-org's `subscriptions:`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The subscription id (a GUID).
    pub id: String,
    /// Its name (the id when the file gives none).
    pub name: String,
    /// c7n-org's `region` (a location), when the file gives one.
    pub region: Option<String>,
    /// c7n-org tags: what `--account-tag` selects by.
    pub tags: Vec<String>,
}

/// Everything an accounts file lists, per cloud.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountsFile {
    /// AWS accounts (`accounts:`).
    pub accounts: Vec<Account>,
    /// GCP projects (`projects:`).
    pub projects: Vec<Project>,
    /// Azure subscriptions (`subscriptions:`).
    pub subscriptions: Vec<Subscription>,
}

/// A scope of an accounts file, chosen by name, id and tags.
pub trait Named {
    /// Its id.
    fn id(&self) -> &str;
    /// Its name.
    fn name(&self) -> &str;
    /// Its c7n-org tags.
    fn tags(&self) -> &[String];
}

macro_rules! named {
    ($($t:ty),*) => {$(
        impl Named for $t {
            fn id(&self) -> &str { &self.id }
            fn name(&self) -> &str { &self.name }
            fn tags(&self) -> &[String] { &self.tags }
        }
    )*};
}
named!(Account, Project, Subscription);

/// Reads an accounts file's AWS accounts (YAML or JSON), reporting every problem with its
/// place; a file that lists no AWS account (only projects or subscriptions) is an error.
pub fn read(path: &Path) -> Result<Vec<Account>, Diagnostics> {
    aws_accounts(path, &read_file(path)?)
}

/// The AWS accounts of `file`, read from `path`: none (only projects or subscriptions) is an
/// error naming the file.
pub fn aws_accounts(path: &Path, file: &AccountsFile) -> Result<Vec<Account>, Diagnostics> {
    if file.accounts.is_empty() {
        return Err(Diagnostics(vec![
            Diagnostic::file(
                path,
                format!(
                    "the accounts file lists no AWS account (it has {} GCP project(s) and {} Azure subscription(s))",
                    file.projects.len(),
                    file.subscriptions.len()
                ),
            )
            .hint("add an `accounts:` list, or scan its projects and subscriptions with the GCP and Azure sources"),
        ]));
    }
    Ok(file.accounts.clone())
}

/// Reads an accounts file (YAML or JSON): accounts, projects and subscriptions, reporting every
/// problem with its place.
pub fn read_file(path: &Path) -> Result<AccountsFile, Diagnostics> {
    let one = |d: Diagnostic| Diagnostics(vec![d]);
    let text = std::fs::read_to_string(path).map_err(|e| {
        one(
            Diagnostic::file(path, format!("cannot read the accounts file: {e}"))
                .hint("pass the c7n-org accounts file (YAML or JSON) you run c7n-org with"),
        )
    })?;
    let value: Value = serde_yaml_ng::from_str(&text).map_err(|e| {
        let place = e
            .location()
            .map(|l| Place::LineColumn(l.line(), l.column()))
            .unwrap_or(Place::File);
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        one(Diagnostic {
            file: path.to_path_buf(),
            place,
            message: format!("this is not valid YAML or JSON: {msg}"),
            hint: Some(HINT.into()),
        })
    })?;
    if let Some(d) = duplicate_key(path, &text) {
        return Err(one(d));
    }
    let mut diags = Vec::new();
    match &*SCHEMA {
        Ok(v) => {
            for e in v.iter_errors(&value) {
                let ptr = e.instance_path().as_str().to_string();
                let keyword = e
                    .schema_path()
                    .as_str()
                    .rsplit('/')
                    .next()
                    .unwrap_or("")
                    .to_string();
                let (message, hint) = match keyword.as_str() {
                    // YAML reads an unquoted id as a number (and drops its leading zeros).
                    "type" if ptr.ends_with("/account_id") => (
                        format!("account_id is {}, not a string of 12 digits", e.instance()),
                        "quote it: account_id: '012345678901' (unquoted, YAML reads a number and drops leading zeros)".to_string(),
                    ),
                    "anyOf" => (
                        "the account has neither `role` nor `profile`: there is no way into it".to_string(),
                        "add `role: ROLE-NAME-OR-ARN` (assumed with the base credentials) or `profile: NAME` (a shared-config profile)".to_string(),
                    ),
                    _ => (e.to_string(), HINT.to_string()),
                };
                diags.push(Diagnostic {
                    file: path.to_path_buf(),
                    place: Place::Pointer(ptr),
                    message,
                    hint: Some(hint),
                });
            }
        }
        Err(e) => diags.push(Diagnostic::file(path, e.clone())),
    }
    let file = if diags.is_empty() {
        AccountsFile {
            accounts: accounts_of(path, &value, &mut diags),
            projects: others_of(path, &value, "projects", "project_id", &mut diags)
                .into_iter()
                .map(|(id, name, tags, _)| Project { id, name, tags })
                .collect(),
            subscriptions: others_of(path, &value, "subscriptions", "subscription_id", &mut diags)
                .into_iter()
                .map(|(id, name, tags, region)| Subscription {
                    id,
                    name,
                    region,
                    tags,
                })
                .collect(),
        }
    } else {
        AccountsFile::default()
    };
    if diags.is_empty() {
        Ok(file)
    } else {
        Err(Diagnostics(locate(&text, diags)))
    }
}

/// The accounts of a schema-valid file; roles expanded, names and ids unique.
fn accounts_of(path: &Path, value: &Value, diags: &mut Vec<Diagnostic>) -> Vec<Account> {
    let list = value
        .get("accounts")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let mut out: Vec<Account> = Vec::new();
    for (n, a) in list.iter().enumerate() {
        let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
        let strings = |k: &str| -> Vec<String> {
            a.get(k)
                .and_then(Value::as_array)
                .map(|v| {
                    v.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default()
        };
        let id = s("account_id").unwrap_or_default();
        let name = s("name").unwrap_or_else(|| id.clone());
        let raw_roles: Vec<String> = match a.get("role") {
            Some(Value::String(r)) => vec![r.clone()],
            Some(Value::Array(_)) => strings("role"),
            _ => vec![],
        };
        let mut roles = Vec::new();
        for (k, r) in raw_roles.iter().enumerate() {
            let ptr = if matches!(a.get("role"), Some(Value::Array(_))) {
                format!("/accounts/{n}/role/{k}")
            } else {
                format!("/accounts/{n}/role")
            };
            match expand_role(r, &id, &name, raw_roles.len() == 1) {
                Ok(r) => roles.push(r),
                Err(m) => diags.push(Diagnostic::at(path, ptr, m).hint(
                    "a role is an ARN (arn:aws:iam::123456789012:role/NAME), a role name, and may use {account_id} and {name}",
                )),
            }
        }
        for (k, prev) in out.iter().enumerate() {
            if prev.id == id {
                diags.push(
                    Diagnostic::at(
                        path,
                        format!("/accounts/{n}/account_id"),
                        format!("account {id} is already listed at /accounts/{k}"),
                    )
                    .hint("list each account once; c7n-org would run it twice"),
                );
            } else if prev.name == name {
                diags.push(
                    Diagnostic::at(path, format!("/accounts/{n}/name"), format!("the name `{name}` is already used by /accounts/{k} ({})", prev.id))
                        .hint("names choose accounts (--account NAME) and label findings: make them unique"),
                );
            }
        }
        out.push(Account {
            id,
            name,
            roles,
            external_id: s("external_id"),
            profile: s("profile"),
            regions: Regions::parse(&strings("regions")),
            tags: strings("tags"),
        });
    }
    out
}

/// The projects or subscriptions of a schema-valid file (`section`, ids under `id_key`) as
/// (id, name, tags, region), names and ids unique within the section.
fn others_of(
    path: &Path,
    value: &Value,
    section: &str,
    id_key: &str,
    diags: &mut Vec<Diagnostic>,
) -> Vec<(String, String, Vec<String>, Option<String>)> {
    let list = value.get(section).and_then(Value::as_array);
    let mut out: Vec<(String, String, Vec<String>, Option<String>)> = Vec::new();
    for (n, a) in list.into_iter().flatten().enumerate() {
        let s = |k: &str| a.get(k).and_then(Value::as_str).map(str::to_string);
        let id = s(id_key).unwrap_or_default();
        let name = s("name").unwrap_or_else(|| id.clone());
        let tags = a
            .get("tags")
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_string)
                    .collect()
            })
            .unwrap_or_default();
        if let Some(k) = out.iter().position(|o| o.0 == id || o.1 == name) {
            let (key, what) = if out[k].0 == id {
                (
                    id_key,
                    format!("`{id}` is already listed at /{section}/{k}"),
                )
            } else {
                (
                    "name",
                    format!("the name `{name}` is already used by /{section}/{k}"),
                )
            };
            diags.push(
                Diagnostic::at(path, format!("/{section}/{n}/{key}"), what).hint(
                    "list each once, with a unique name: names choose them and label findings",
                ),
            );
        }
        out.push((id, name, tags, s("region")));
    }
    out
}

/// A role as c7n-org reads it: a bare name is a role of the account itself; `{account_id}`
/// and `{name}` are the account's.
fn expand_role(r: &str, id: &str, name: &str, single: bool) -> Result<String, String> {
    let r = if single && !r.starts_with("arn") {
        format!("arn:aws:iam::{id}:role/{r}")
    } else {
        r.to_string()
    };
    // `{Id}` is what c7n-org's orgaccounts templates use (`ROLE_TEMPLATE`, orgaccounts.py 10).
    let r = r
        .replace("{account_id}", id)
        .replace("{Id}", id)
        .replace("{name}", name);
    if let Some(start) = r.find('{') {
        let var: String = r[start..].chars().take_while(|c| *c != '}').collect();
        return Err(format!(
            "the role `{r}` uses {var}}}, which checker does not know (it fills in {{account_id}}, {{Id}} and {{name}})"
        ));
    }
    static ARN: LazyLock<regex::Regex> = LazyLock::new(|| {
        regex::Regex::new(r"^arn:aws[a-z-]*:iam::[0-9]{12}:role/[\w+=,.@/-]+$")
            .expect("static regex")
    });
    if !ARN.is_match(&r) {
        return Err(format!("`{r}` is not an IAM role ARN"));
    }
    Ok(r)
}

/// A key written twice in one mapping (YAML or JSON): the parser keeps the last, so a second
/// `accounts:` list, or an account's second `role:`, would silently replace the first.
fn duplicate_key(path: &Path, text: &str) -> Option<Diagnostic> {
    let options = marked_yaml::LoaderOptions::default().error_on_duplicate_keys(true);
    let Err(marked_yaml::LoadError::DuplicateKey(dup)) =
        marked_yaml::parse_yaml_with_options(0, text, options)
    else {
        return None;
    };
    let at =
        |k: &marked_yaml::types::MarkedScalarNode| k.span().start().map(|m| (m.line(), m.column()));
    let (line, column) = at(&dup.key)?;
    let first = at(&dup.prev_key)
        .map(|(l, c)| format!(" (first at line {l}, column {c})"))
        .unwrap_or_default();
    Some(Diagnostic {
        file: path.to_path_buf(),
        place: Place::LineColumn(line, column),
        message: format!(
            "the key `{}` is written twice in one mapping{first}; only the last would be read, and what the first holds (an account, say) would be dropped without a word",
            dup.key.as_str()
        ),
        hint: Some(
            "merge the two into one key (one `accounts:` list holding every account)".into(),
        ),
    })
}

/// Adds line and column to every pointer diagnostic: through the JSON parser for JSON text,
/// else through a YAML parser that keeps marks (a file it cannot read keeps its pointers).
fn locate(text: &str, diags: Vec<Diagnostic>) -> Vec<Diagnostic> {
    let yaml = marked_yaml::parse_yaml(0, text).ok();
    diags
        .into_iter()
        .map(|mut d| {
            if let Place::Pointer(p) = &d.place {
                let at = crate::diag::locate(text, p)
                    .or_else(|| yaml.as_ref().and_then(|y| yaml_locate(y, p)));
                if let Some((l, c)) = at {
                    d.place = Place::Located(p.clone(), l, c);
                }
            }
            d
        })
        .collect()
}

/// Where a JSON pointer's value starts in a YAML document; the deepest existing node when the
/// pointer goes past what the document holds.
fn yaml_locate(root: &marked_yaml::Node, pointer: &str) -> Option<(usize, usize)> {
    let mut node = root;
    let mark = |n: &marked_yaml::Node| n.span().start().map(|m| (m.line(), m.column()));
    let mut at = mark(node);
    for t in pointer.split('/').skip(1) {
        let t = t.replace("~1", "/").replace("~0", "~");
        let next = match node {
            marked_yaml::Node::Mapping(m) => m.get_node(&t),
            marked_yaml::Node::Sequence(s) => t.parse().ok().and_then(|i| s.get_node(i)),
            marked_yaml::Node::Scalar(_) => None,
        };
        match next {
            Some(n) => {
                node = n;
                at = mark(n).or(at);
            }
            None => break,
        }
    }
    at
}

/// Which accounts to scan: by name or id (`only`), by every tag in `tags`, minus `exclude`;
/// a name in `only` or `exclude` that is no account is an error (a typo must not scan the
/// wrong set and look clean).
pub fn select<T: Named>(
    accounts: Vec<T>,
    only: &[String],
    tags: &[String],
    exclude: &[String],
) -> Result<Vec<T>, String> {
    select_as(accounts, only, tags, exclude, "account")
}

/// [`select`] for scopes of another kind (`what`: "project", "subscription"), so messages name
/// them.
pub fn select_as<T: Named>(
    scopes: Vec<T>,
    only: &[String],
    tags: &[String],
    exclude: &[String],
    what: &str,
) -> Result<Vec<T>, String> {
    let is = |a: &T, k: &String| a.name() == k || a.id() == k;
    if let Some(k) = only
        .iter()
        .chain(exclude)
        .find(|k| !scopes.iter().any(|a| is(a, k)))
    {
        let names: Vec<&str> = scopes.iter().map(Named::name).collect();
        return Err(format!(
            "no {what} is named `{k}` (the file has: {})",
            names.join(", ")
        ));
    }
    let picked: Vec<T> = scopes
        .into_iter()
        .filter(|a| only.is_empty() || only.iter().any(|k| is(a, k)))
        .filter(|a| tags.iter().all(|t| a.tags().contains(t)))
        .filter(|a| !exclude.iter().any(|k| is(a, k)))
        .collect();
    if picked.is_empty() {
        return Err(format!(
            "no {what} is left to scan after --account, --account-tag and --not-account"
        ));
    }
    Ok(picked)
}

/// The accounts of an organization as c7n-org's `orgaccounts` writes them (cloud-custodian
/// df800e9e `tools/c7n_org/c7n_org/orgaccounts.py` 53-85): only active ones; the role from a
/// template (a role name, or an ARN with `{account_id}`); tags `path:/OU/...` for each level.
pub fn from_org(
    org: Vec<checker_ec2::OrgAccount>,
    role: &str,
    regions: &Regions,
) -> Result<Vec<Account>, String> {
    let mut out = Vec::new();
    for a in org.into_iter().filter(|a| a.active) {
        let parts: Vec<&str> = a
            .path
            .trim_matches('/')
            .split('/')
            .filter(|s| !s.is_empty())
            .collect();
        let tags = (1..=parts.len())
            .map(|k| format!("path:/{}", parts[..k].join("/")))
            .collect();
        let role =
            expand_role(role, &a.id, &a.name, true).map_err(|e| format!("--org-role: {e}"))?;
        out.push(Account {
            id: a.id.clone(),
            name: a.name.clone(),
            roles: vec![role],
            external_id: None,
            profile: None,
            regions: regions.clone(),
            tags,
        });
    }
    Ok(out)
}

/// The session name CloudTrail shows for every call checker makes in a member account:
/// `checker-<TASK_ID>-<run>` in a Taskcluster task, else `checker-<user>-<unix time>`.
pub fn default_session_name(now: chrono::DateTime<chrono::Utc>) -> String {
    let who = std::env::var("TASK_ID")
        .map(|t| {
            let run = std::env::var("RUN_ID").unwrap_or_else(|_| "0".into());
            format!("{t}-{run}")
        })
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "run".into());
    checker_ec2::session_name(&format!("checker-{who}-{}", now.timestamp()))
}

#[cfg(test)]
mod tests;

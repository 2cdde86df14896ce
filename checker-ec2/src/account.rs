//! Other accounts: credentials through a chain of assumed roles (aws-config's
//! [`AssumeRoleProvider`], kept as a provider so the SDK's identity cache refreshes it; chained
//! sessions last at most an hour), who the credentials belong to (STS GetCallerIdentity), and
//! the accounts of an AWS Organization (ListRoots, ListOrganizationalUnitsForParent,
//! ListAccountsForParent), as Cloud Custodian's c7n-org `orgaccounts` walks them.

use crate::error::{Ec2Error, classify};
use aws_config::SdkConfig;
use aws_config::sts::AssumeRoleProvider;
use aws_sdk_ec2::config::SharedCredentialsProvider;

/// How to reach another account: roles assumed one after the other (a chain), the first with
/// the base credentials.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AssumeRole {
    /// Role ARNs, in the order they are assumed.
    pub roles: Vec<String>,
    /// `sts:ExternalId`, sent with every hop (as c7n-org does).
    pub external_id: Option<String>,
    /// `RoleSessionName`: what CloudTrail shows as the session of every call.
    pub session_name: String,
}

/// The longest `RoleSessionName` STS accepts.
pub const MAX_SESSION_NAME: usize = 64;

/// A session name STS accepts (`[\w+=,.@-]{2,64}`): other characters become `-`.
pub fn session_name(raw: &str) -> String {
    let mut s: String = raw
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_+=,.@-".contains(c) {
                c
            } else {
                '-'
            }
        })
        .take(MAX_SESSION_NAME)
        .collect();
    while s.len() < 2 {
        s.push('-');
    }
    s
}

/// `base` with its credentials replaced by the role chain's. STS is called lazily (on the first
/// request, and again when the credentials near expiry), in `sts_region`.
pub(crate) async fn assume(base: SdkConfig, chain: &AssumeRole, sts_region: &str) -> SdkConfig {
    let mut conf = base;
    for role in &chain.roles {
        let mut b = AssumeRoleProvider::builder(role.clone())
            .session_name(chain.session_name.clone())
            .region(aws_config::Region::new(sts_region.to_string()))
            .configure(&conf);
        if let Some(x) = &chain.external_id {
            b = b.external_id(x.clone());
        }
        let provider = b.build().await;
        conf = conf
            .into_builder()
            .credentials_provider(SharedCredentialsProvider::new(provider))
            .build();
    }
    conf
}

/// The account the configuration's credentials belong to (STS GetCallerIdentity). The first
/// call through a role chain assumes every role in it, so a role that cannot be assumed fails
/// here, before any EC2 call.
pub async fn caller_account(sdk: &SdkConfig, region: &str) -> Result<String, Ec2Error> {
    let conf = aws_sdk_sts::config::Builder::from(sdk)
        .region(aws_sdk_sts::config::Region::new(region.to_string()))
        .build();
    let out = aws_sdk_sts::Client::from_conf(conf)
        .get_caller_identity()
        .send()
        .await
        .map_err(classify)?;
    out.account()
        .map(str::to_string)
        .ok_or_else(|| Ec2Error::Malformed("GetCallerIdentity returned no Account".into()))
}

/// An account of an AWS Organization.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgAccount {
    /// The 12-digit id.
    pub id: String,
    /// The account's name.
    pub name: String,
    /// The OU path it sits under (`/`, `/Prod`, `/Prod/Workers`).
    pub path: String,
    /// Whether it is active (not suspended, closed or pending closure).
    pub active: bool,
}

fn org_client(sdk: &SdkConfig, region: &str) -> aws_sdk_organizations::Client {
    let conf = aws_sdk_organizations::config::Builder::from(sdk)
        .region(aws_sdk_organizations::config::Region::new(
            region.to_string(),
        ))
        .build();
    aws_sdk_organizations::Client::from_conf(conf)
}

/// The OUs directly under `parent`: (id, name).
async fn child_ous(
    client: &aws_sdk_organizations::Client,
    parent: &str,
) -> Result<Vec<(String, String)>, Ec2Error> {
    let mut out = Vec::new();
    let mut pages = client
        .list_organizational_units_for_parent()
        .parent_id(parent)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        for ou in page.map_err(classify)?.organizational_units() {
            if let (Some(id), Some(name)) = (ou.id(), ou.name()) {
                out.push((id.to_string(), name.to_string()));
            }
        }
    }
    out.sort_by(|a, b| a.1.cmp(&b.1));
    Ok(out)
}

/// Every account under the OU subtrees named by `include` (paths such as `/` or `/Prod/Workers`),
/// leaving out the subtrees named by `exclude`, sorted by id. An include path that names no OU is
/// an error (a typo must not scan nothing and look clean).
pub async fn org_accounts(
    sdk: &SdkConfig,
    region: &str,
    include: &[String],
    exclude: &[String],
) -> Result<Vec<OrgAccount>, Ec2Error> {
    let client = org_client(sdk, region);
    let roots = client.list_roots().send().await.map_err(classify)?;
    let root = roots
        .roots()
        .first()
        .and_then(|r| r.id())
        .ok_or_else(|| Ec2Error::Malformed("ListRoots returned no root".into()))?
        .to_string();
    let norm = |p: &str| format!("/{}", p.trim_matches('/'));
    let exclude: Vec<String> = exclude.iter().map(|p| norm(p)).collect();
    let mut accounts: std::collections::BTreeMap<String, OrgAccount> = Default::default();
    for path in include {
        let path = norm(path);
        // Walk down from the root to the OU the path names.
        let mut id = root.clone();
        for part in path.split('/').filter(|s| !s.is_empty()) {
            id = child_ous(&client, &id)
                .await?
                .into_iter()
                .find(|(_, name)| name == part)
                .map(|(id, _)| id)
                .ok_or_else(|| {
                    Ec2Error::Other(format!(
                        "the organization has no OU {path} (no `{part}` there): check --org-ou"
                    ))
                })?;
        }
        // Then everything beneath it, depth first.
        let mut todo = vec![(id, path)];
        while let Some((ou, ou_path)) = todo.pop() {
            if exclude.contains(&ou_path) {
                continue;
            }
            let mut pages = client
                .list_accounts_for_parent()
                .parent_id(&ou)
                .into_paginator()
                .send();
            while let Some(page) = pages.next().await {
                for a in page.map_err(classify)?.accounts() {
                    let Some(aid) = a.id() else { continue };
                    let active = match a.state() {
                        Some(s) => *s == aws_sdk_organizations::types::AccountState::Active,
                        None => {
                            #[allow(deprecated)]
                            let st = a.status();
                            st == Some(&aws_sdk_organizations::types::AccountStatus::Active)
                        }
                    };
                    accounts.insert(
                        aid.to_string(),
                        OrgAccount {
                            id: aid.to_string(),
                            name: a.name().unwrap_or(aid).to_string(),
                            path: ou_path.clone(),
                            active,
                        },
                    );
                }
            }
            for (child, name) in child_ous(&client, &ou).await? {
                let p = if ou_path == "/" {
                    format!("/{name}")
                } else {
                    format!("{ou_path}/{name}")
                };
                todo.push((child, p));
            }
        }
    }
    Ok(accounts.into_values().collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Session names keep what STS accepts and are cut to its 64 characters.
    #[test]
    fn session_names_are_what_sts_accepts() {
        assert_eq!(session_name("checker@task/abc d"), "checker@task-abc-d");
        assert_eq!(session_name(&"x".repeat(80)).len(), 64);
        assert_eq!(session_name("a"), "a-");
    }
}

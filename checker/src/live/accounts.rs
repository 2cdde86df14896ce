//! Scanning several accounts: each through its own role chain (credentials that refresh, never
//! frozen), checked to be the account it claims (STS GetCallerIdentity) before any EC2 call,
//! with its own API budget. Accounts are the live driver's scopes (`crate::source::driver`):
//! it reads a few at once, and an account that fails is a failed part named by its label while
//! the others are still read.

use super::{LiveFleet, LiveOptions, ScanPlan, region::Ec2Region, resolve_regions};
use crate::accounts::Account;
use crate::output::ScopeKind;
use crate::source::Regions;
use crate::source::driver::{self, Location, ReadPlan};
use futures::future::BoxFuture;
use std::sync::Arc;

/// Which accounts a live scan reads.
#[derive(Debug, Clone, Default)]
pub enum Accounts {
    /// The credentials' own account (no `--accounts`, no `--org`).
    #[default]
    Own,
    /// The accounts of an accounts file, already chosen.
    Listed(Vec<Account>),
    /// The active accounts of the organization the credentials manage.
    Org(OrgScope),
}

/// `--org`: where in the organization, and how to get into each account.
#[derive(Debug, Clone)]
pub struct OrgScope {
    /// The role to assume in each account: a name, or an ARN with `{account_id}`.
    pub role: String,
    /// OU paths whose subtrees are read (`/` = all).
    pub include: Vec<String>,
    /// OU paths whose subtrees are left out.
    pub exclude: Vec<String>,
    /// `--account`, `--account-tag`, `--not-account` applied to what the organization lists.
    pub only: Vec<String>,
    /// Tags to require (`path:/Prod`).
    pub tags: Vec<String>,
    /// Names or ids to leave out.
    pub not: Vec<String>,
}

/// The accounts to scan: the file's, or the organization's (ListAccountsForParent and friends,
/// with the base credentials). `None` for the credentials' own account.
pub async fn resolve_accounts(opts: &LiveOptions) -> crate::Result<Option<Vec<Account>>> {
    match &opts.accounts {
        Accounts::Own => Ok(None),
        Accounts::Listed(a) => Ok(Some(a.clone())),
        Accounts::Org(scope) => {
            let base = checker_ec2::Connection {
                assume_role: None,
                ..opts.connection.clone()
            };
            let sdk = checker_ec2::load_config(&base).await;
            let region = sdk
                .region()
                .map(|r| r.to_string())
                .unwrap_or_else(|| "us-east-1".into());
            let org = checker_ec2::org_accounts(&sdk, &region, &scope.include, &scope.exclude)
                .await
                .map_err(|e| {
                    crate::Error::Incomplete(format!(
                        "could not list the organization's accounts: {e} (the credentials need organizations:ListRoots, ListOrganizationalUnitsForParent and ListAccountsForParent; hooks/iam-hub-policy.json grants them; docs/accounts.md)"
                    ))
                })?;
            let all = crate::accounts::from_org(org, &scope.role, &opts.regions)
                .map_err(crate::Error::Usage)?;
            if all.is_empty() {
                return Err(crate::Error::Incomplete(
                    "the organization lists no active account under --org-ou: nothing to scan"
                        .into(),
                ));
            }
            crate::accounts::select(all, &scope.only, &scope.tags, &scope.not)
                .map(Some)
                .map_err(crate::Error::Usage)
        }
    }
}

/// The options of account `a` alone (its role chain or profile in the connection, its
/// regions), and its SDK configuration, checked to be that account's (STS GetCallerIdentity:
/// a role that cannot be assumed fails here, before any EC2 call). The error says why, in words.
async fn enter(
    a: &Account,
    opts: &LiveOptions,
) -> Result<(LiveOptions, checker_ec2::SdkConfig), String> {
    let mut o = opts.clone();
    if a.profile.is_some() {
        o.connection.profile = a.profile.clone();
    }
    o.connection.assume_role = (!a.roles.is_empty()).then(|| checker_ec2::AssumeRole {
        roles: a.roles.clone(),
        external_id: a.external_id.clone(),
        session_name: opts.session_name.clone(),
    });
    if a.regions != Regions::Default {
        o.regions = a.regions.clone();
    }
    o.accounts = Accounts::Own;
    let sdk = checker_ec2::load_config(&o.connection).await;
    let via = match a.roles.as_slice() {
        [] => "its credentials".to_string(),
        [r] => format!("role {r}"),
        chain => format!("the role chain {}", chain.join(" -> ")),
    };
    let sts_region = a
        .regions
        .first()
        .map(str::to_string)
        .or_else(|| sdk.region().map(|r| r.to_string()))
        .unwrap_or_else(|| "us-east-1".into());
    match checker_ec2::caller_account(&sdk, &sts_region).await {
        Err(e) => Err(format!(
            "could not get into account {} through {via}: {e}",
            a.label()
        )),
        Ok(id) if id != a.id => Err(format!(
            "{via} gave credentials for account {id}, not {}: fix the accounts file",
            a.id
        )),
        Ok(_) => Ok((o, sdk)),
    }
}

/// The accounts as the driver's scopes: each opened by entering it and listing its regions.
struct Ec2Accounts<'p> {
    opts: &'p LiveOptions,
    plan: &'p ScanPlan<'p>,
}

impl driver::Scopes for Ec2Accounts<'_> {
    type Scope = Account;

    fn kind(&self) -> ScopeKind {
        crate::output::Cloud::Ec2.scope_kind()
    }

    fn id(&self, a: &Account) -> String {
        a.id.clone()
    }

    fn label(&self, a: &Account) -> String {
        a.label()
    }

    /// Into the account, its regions, a location per region with the account's own budget.
    fn open<'a>(&'a self, a: &'a Account) -> BoxFuture<'a, Result<Vec<Arc<dyn Location>>, String>> {
        Box::pin(async move {
            let (o, sdk) = enter(a, self.opts).await?;
            let regions = resolve_regions(&o, &sdk).await.map_err(|e| e.to_string())?;
            Ok(Ec2Region::all(&sdk, &a.id, &regions, &o, self.plan.filters))
        })
    }
}

/// Scans every account, a few at a time; one account's failure is its own failed part.
pub async fn scan_accounts(
    accounts: &[Account],
    opts: &LiveOptions,
    plan: &ScanPlan<'_>,
) -> LiveFleet {
    let read = ReadPlan {
        extra: plan.user_data.map(|s| (opts.user_data_sample, s.clone())),
        sink: plan.sink.clone(),
    };
    driver::read_scopes(&Ec2Accounts { opts, plan }, accounts, &read).await
}

/// For commands that act (cull, the hook's cull): the options of exactly one account, its
/// role chain or profile and regions folded into the connection, its identity checked. Acting
/// in several accounts in one run is refused: budgets are per account, never across accounts.
pub async fn one_account(opts: &LiveOptions) -> crate::Result<LiveOptions> {
    let Some(accounts) = resolve_accounts(opts).await? else {
        return Ok(opts.clone());
    };
    let [a] = accounts.as_slice() else {
        let names: Vec<String> = accounts.iter().map(Account::label).collect();
        return Err(crate::Error::usage(format!(
            "culling acts in one account per run, so that its budgets never span accounts; {} accounts are chosen ({}): add --account NAME and run once per account",
            accounts.len(),
            names.join(", ")
        )));
    };
    enter(a, opts)
        .await
        .map(|(o, _)| o)
        .map_err(crate::Error::Incomplete)
}

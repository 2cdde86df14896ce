//! One EC2 region as a location of the live driver (`crate::source::driver`): what is EC2's
//! alone. Its read is DescribeInstances, sharded by zone and pipelined (`checker_ec2`), each
//! page's instances turned into records; its extra field is user-data (DescribeInstanceAttribute);
//! its sample groups are what the provisioner's launch configuration varies by. The fan-out,
//! parts, progress, counts, streaming and the sample itself are the driver's.

use super::{Filters, from_raw};
use crate::fleet::{Instance, Interner, SecretPolicy, UserData};
use crate::output::Ec2Field;
use crate::source::driver::{Emit, Location, LocationStats};
use checker_ec2::{RawInstance, RegionClient};
use futures::future::BoxFuture;
use std::collections::BTreeMap;
use std::sync::Arc;

/// A region of the scan, read through its client.
pub(super) struct Ec2Region {
    pub client: RegionClient,
    pub filters: Filters,
    pub shard: bool,
    pub user_data_concurrency: usize,
}

impl Ec2Region {
    /// A location per region of `account` (`""`: the credentials' own), each client with the
    /// account's own API budget (`sdk` holds its credentials).
    pub(super) fn all(
        sdk: &checker_ec2::SdkConfig,
        account: &str,
        regions: &[String],
        args: &super::LiveOptions,
        filters: &Filters,
    ) -> Vec<Arc<dyn Location>> {
        let ud = args.connection.user_data_concurrency;
        regions
            .iter()
            .map(|r| {
                let client = RegionClient::in_account(sdk, account, r, args.concurrency())
                    .with_user_data_concurrency(ud);
                Arc::new(Ec2Region {
                    client,
                    filters: filters.clone(),
                    shard: args.shard,
                    user_data_concurrency: ud,
                }) as Arc<dyn Location>
            })
            .collect()
    }
}

impl Location for Ec2Region {
    fn name(&self) -> &str {
        &self.client.region
    }

    fn scan<'a>(&'a self, emit: Emit<'a>) -> BoxFuture<'a, Result<LocationStats, String>> {
        Box::pin(async move {
            // One shared copy of each owner account id per region.
            let owners = std::sync::Mutex::new(Interner::default());
            let region = self.client.region.as_str();
            let sink = |page: Vec<RawInstance>| {
                let records: Vec<Instance> = {
                    let mut owners = owners.lock().unwrap_or_else(|e| e.into_inner());
                    page.into_iter()
                        .map(|raw| from_raw(raw, region, &mut owners))
                        .collect()
                };
                emit(records);
            };
            let stats = self
                .client
                .scan(&self.filters, self.shard, &sink)
                .await
                .map_err(|e| e.to_string())?;
            Ok(LocationStats {
                shards: stats.shards,
                pages: stats.pages,
                max_sequential_pages: stats.max_sequential_pages,
                instances: stats.instances,
                elapsed: stats.elapsed,
                note: stats.note,
            })
        })
    }

    fn extra<'a>(&'a self, id: &'a str, secrets: &'a SecretPolicy) -> BoxFuture<'a, UserData> {
        Box::pin(async move {
            match self.client.user_data(id).await {
                Ok(Some(b64)) => UserData::from_base64(&b64, secrets),
                Ok(None) => UserData::Absent,
                Err(e) => UserData::Invalid(format!("could not fetch user-data: {e}")),
            }
        })
    }

    /// Name or WorkerPoolId, region, AMI, instance type, NUL-separated.
    fn sample_group(&self, i: &Instance, key: &mut String) {
        for part in [
            i.tags
                .get("Name")
                .or_else(|| i.tags.get("WorkerPoolId"))
                .map(String::as_str)
                .unwrap_or_default(),
            i.region.as_str(),
            i.field(Ec2Field::ImageId).unwrap_or_default(),
            i.field(Ec2Field::InstanceType).unwrap_or_default(),
        ] {
            key.push_str(part);
            key.push('\0');
        }
    }

    fn extra_concurrency(&self) -> usize {
        self.user_data_concurrency
    }

    fn calls(&self) -> (usize, BTreeMap<String, usize>) {
        (self.client.calls(), self.client.calls_by_action())
    }
}

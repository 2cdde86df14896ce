//! DescribeInstances: sharded, pipelined pagination with the fast reader, records converted as
//! pages arrive; and one instance's user-data.

use super::*;

impl RegionClient {
    /// Fetches one page of DescribeInstances: the SDK signs, sends and retries. A body that
    /// cannot be read, or is not read within the call's timeout (the SDK's own timeouts end when
    /// the headers arrive, and a stalled body would hold its share of the page-body budget, and
    /// its region, forever), is fetched again, up to three times.
    async fn fetch(
        &self,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        token: Option<String>,
    ) -> Result<Fetched, Ec2Error> {
        let mut last = None;
        for _ in 0..3 {
            let slot = Arc::new(std::sync::Mutex::new(None));
            let req = self
                .client
                .describe_instances()
                .max_results(page_size)
                .set_filters(Some(to_filters(filters)))
                .set_next_token(token.clone());
            let sent = Instant::now();
            let out = {
                let _p = self.permit("DescribeInstances").await;
                req.customize()
                    .interceptor(StashBody(slot.clone()))
                    .send()
                    .await
                    .map_err(classify)?
            };
            let answered = sent.elapsed();
            let stashed = slot.lock().ok().and_then(|mut s| s.take());
            let Some(Stashed {
                body,
                content_length,
            }) = stashed
            else {
                // The interceptor did not see a body (cannot happen for a successful call): use the SDK's parse.
                let page = out
                    .reservations()
                    .iter()
                    .flat_map(|r| {
                        r.instances().iter().map(|i| RawInstance {
                            owner_id: r.owner_id().map(str::to_string),
                            ..convert(i)
                        })
                    })
                    .collect();
                let next = out
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                return Ok(Fetched::Parsed(page, next));
            };
            // Read only when the body fits in the process's budget; until then it waits unread.
            let share = body_share(content_length).await;
            let waited = sent.elapsed().saturating_sub(answered);
            let limit = self
                .client
                .config()
                .timeout_config()
                .and_then(|t| t.operation_attempt_timeout())
                .unwrap_or(Duration::from_secs(30));
            let read = match tokio::time::timeout(limit, read_body(body, content_length)).await {
                Ok(read) => read.map_err(|e| e.to_string()),
                Err(_) => Err(format!("not received within {} s", limit.as_secs_f64())),
            };
            match read {
                Ok(bytes) => {
                    debug!(region = %self.region, bytes = bytes.len(), answered_ms = answered.as_millis() as u64, budget_wait_ms = waited.as_millis() as u64, received_ms = sent.elapsed().as_millis() as u64, "DescribeInstances page received");
                    return Ok(Fetched::Body(bytes, share));
                }
                Err(e) => last = Some(e),
            }
        }
        Err(Ec2Error::Unreachable(format!(
            "the response body could not be read: {}",
            last.unwrap_or_default()
        )))
    }

    /// [`RegionClient::fetch`] in a task of its own, so the request is in flight while the
    /// caller reads the previous page.
    fn spawn_fetch(
        &self,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        token: Option<String>,
    ) -> InFlight {
        let client = self.clone();
        let filters = filters.to_vec();
        InFlight(tokio::spawn(async move {
            client.fetch(&filters, page_size, token).await
        }))
    }

    /// One paginated DescribeInstances with `filters`, each page converted and passed to `sink`.
    ///
    /// Pages are pipelined: the next page's token is looked up at the end of the body
    /// ([`fastxml::next_token_hint`]) and its request sent before this page is read, so reading
    /// overlaps the next call's latency. The hint is checked against the token the full read
    /// finds; if they ever differ the early request is dropped and the right one sent.
    async fn paginate(
        &self,
        shard: &str,
        filters: &[(String, Vec<String>)],
        page_size: i32,
        sink: &(dyn Fn(Vec<RawInstance>) + Send + Sync),
    ) -> Result<usize, Ec2Error> {
        let mut pages = 0usize;
        let mut guard = crate::PageGuard::default();
        let mut pending = self.spawn_fetch(filters, page_size, None);
        loop {
            let t = Instant::now();
            let fetched = pending.join().await?;
            let read = Instant::now();
            let (page, next, early) = match fetched {
                Fetched::Parsed(page, next) => (page, next, None),
                Fetched::Body(bytes, _share) => {
                    let early = fastxml::next_token_hint(&bytes).map(|hint| {
                        let req = self.spawn_fetch(filters, page_size, Some(hint.clone()));
                        (hint, req)
                    });
                    let (page, next) =
                        fastxml::describe_instances(&bytes).map_err(Ec2Error::Malformed)?;
                    (page, next, early)
                }
            };
            pages += 1;
            debug!(region = %self.region, shard, page = pages, instances = page.len(), ms = t.elapsed().as_millis() as u64, parse_ms = read.elapsed().as_millis() as u64, "DescribeInstances");
            sink(page);
            let Some(next) = next else {
                // An early request for a page that does not exist is aborted when dropped.
                return Ok(pages);
            };
            guard.next(&next, "DescribeInstances")?;
            pending = match early {
                Some((hint, req)) if hint == next => req,
                _ => self.spawn_fetch(filters, page_size, Some(next)),
            };
        }
    }

    /// Whether the endpoint honours wildcards in filter values, as EC2 does: one small page
    /// filtered to `availability-zone` `*`, which every instance matches under EC2's wildcard
    /// rules and none under exact matching (no zone is named `*`). Instances back: it does. None
    /// back: it does not, or the region holds nothing the filters select; either way the region
    /// is read as one chain, which is complete under both rules.
    async fn honours_wildcards(&self, filters: &[(String, Vec<String>)]) -> Result<bool, Ec2Error> {
        let mut f = filters.to_vec();
        f.push(("availability-zone".into(), vec!["*".into()]));
        Ok(match self.fetch(&f, 5, None).await? {
            Fetched::Parsed(page, _) => !page.is_empty(),
            Fetched::Body(bytes, _share) => !fastxml::describe_instances(&bytes)
                .map_err(Ec2Error::Malformed)?
                .0
                .is_empty(),
        })
    }

    /// Scans the region: one paginator per shard of [`shard_plan`], concurrently, de-duplicated
    /// by instance id. Pages are handed to `sink` as they arrive.
    ///
    /// The shards cover every instance by construction, whatever the zone listing says: a zone
    /// it leaves out still ends in some character, and every character has its shard. The
    /// listing only decides which endings get a paginator of their own. When the endpoint does
    /// not honour wildcards, or the zones cannot be listed for want of permission, the region is
    /// read as one chain; any other failure of the listing (an endpoint that does not answer)
    /// fails the region at once instead of spending the retry budget a second time.
    pub async fn scan(
        &self,
        filters: &[(String, Vec<String>)],
        shard_by_zone: bool,
        sink: &(dyn Fn(Vec<RawInstance>) + Send + Sync),
    ) -> Result<ScanStats, Ec2Error> {
        let started = Instant::now();
        let mut note = None;
        let plan = if shard_by_zone {
            let (zones, wildcards) = futures::join!(self.zones(), self.honours_wildcards(filters));
            match (zones, wildcards?) {
                (Ok(zones), true) => shard_plan(&zones),
                (Ok(_), false) => Vec::new(),
                (Err(e @ Ec2Error::Denied { .. }), _) => {
                    // Sharding is an optimisation: a policy that allows DescribeInstances only
                    // reads the region as one chain, and the report says so.
                    note = Some(format!(
                        "its zones could not be listed ({e}); read as one chain, not sharded"
                    ));
                    Vec::new()
                }
                (Err(e), _) => return Err(e),
            }
        } else {
            Vec::new()
        };
        let seen = std::sync::Mutex::new(crate::seen::Seen::default());
        let dedup = |page: Vec<RawInstance>| {
            let fresh: Vec<RawInstance> = match seen.lock() {
                Ok(mut s) => page.into_iter().filter(|i| s.insert(&i.id)).collect(),
                Err(_) => page,
            };
            if !fresh.is_empty() {
                sink(fresh);
            }
        };
        let mut shard_pages = Vec::new();
        if plan.is_empty() {
            shard_pages.push(self.paginate("all", filters, 1000, &dedup).await?);
        } else {
            let mut jobs: FuturesUnordered<_> = plan
                .iter()
                .map(|(name, patterns)| {
                    let mut f = filters.to_vec();
                    f.push(("availability-zone".into(), patterns.clone()));
                    let dedup = &dedup;
                    async move { self.paginate(name, &f, 1000, dedup).await }
                })
                .collect();
            while let Some(r) = jobs.next().await {
                shard_pages.push(r?);
            }
        }
        let instances = seen.lock().map(|s| s.len()).unwrap_or(0);
        Ok(ScanStats {
            shards: shard_pages.len(),
            max_sequential_pages: shard_pages.iter().copied().max().unwrap_or(0)
                + usize::from(shard_by_zone),
            pages: shard_pages.iter().sum(),
            note,
            instances,
            elapsed: started.elapsed(),
        })
    }

    /// The base64 user-data of one instance (DescribeInstanceAttribute), `None` when it has none.
    pub async fn user_data(&self, instance_id: &str) -> Result<Option<String>, Ec2Error> {
        let _p = self.permit("DescribeInstanceAttribute").await;
        let t = Instant::now();
        let out = self
            .client
            .describe_instance_attribute()
            .instance_id(instance_id)
            .attribute(InstanceAttributeName::UserData)
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instance = instance_id, ms = t.elapsed().as_millis() as u64, "DescribeInstanceAttribute userData");
        Ok(out
            .user_data()
            .and_then(|v| v.value())
            .filter(|v| !v.is_empty())
            .map(str::to_string))
    }
}

/// An instance as DescribeInstances returned it, reduced to what checker reads: its id, owner,
/// tags and the fields of [`Ec2Field`], each in its slot.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawInstance {
    /// Instance id.
    pub id: String,
    /// The fields, by [`Ec2Field`] (`SecurityGroups` already as [`group_list`] writes it).
    pub fields: Values,
    /// Tags.
    pub tags: Vec<(String, String)>,
    /// The reservation's `ownerId`: the account that owns the instance.
    pub owner_id: Option<String>,
}

/// One field of the SDK's typed instance. The one reader that cannot follow the rows of
/// [`Ec2Field::spec`]: a new field is a new arm here, which the compiler asks for.
fn sdk_field(i: &aws_sdk_ec2::types::Instance, f: Ec2Field) -> Option<String> {
    let s = |v: Option<&str>| v.map(str::to_string);
    let placement = i.placement();
    let metadata = i.metadata_options();
    match f {
        Ec2Field::KeyName => s(i.key_name()),
        Ec2Field::ImageId => s(i.image_id()),
        Ec2Field::InstanceType => i.instance_type().map(|t| t.as_str().to_string()),
        Ec2Field::Region => None,
        Ec2Field::AvailabilityZone => s(placement.and_then(|p| p.availability_zone())),
        Ec2Field::State => i
            .state()
            .and_then(|s| s.name())
            .map(|n| n.as_str().to_string()),
        Ec2Field::LaunchTime => i
            .launch_time()
            .and_then(|t| t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()),
        Ec2Field::IamInstanceProfile => s(i.iam_instance_profile().and_then(|p| p.arn())),
        Ec2Field::SubnetId => s(i.subnet_id()),
        Ec2Field::VpcId => s(i.vpc_id()),
        Ec2Field::InstanceLifecycle => i.instance_lifecycle().map(|l| l.as_str().to_string()),
        Ec2Field::HttpTokens => metadata
            .and_then(|m| m.http_tokens())
            .map(|t| t.as_str().to_string()),
        Ec2Field::HttpEndpoint => metadata
            .and_then(|m| m.http_endpoint())
            .map(|t| t.as_str().to_string()),
        Ec2Field::HopLimit => metadata
            .and_then(|m| m.http_put_response_hop_limit())
            .map(|n| n.to_string()),
        Ec2Field::PublicIp => s(i.public_ip_address()),
        Ec2Field::SecurityGroups => {
            group_list(i.security_groups().iter().filter_map(|g| g.group_id()))
        }
        Ec2Field::Tenancy => placement
            .and_then(|p| p.tenancy())
            .map(|t| t.as_str().to_string()),
    }
}

pub(crate) fn convert(i: &aws_sdk_ec2::types::Instance) -> RawInstance {
    let mut fields = Values::default();
    for f in Ec2Field::all() {
        fields.put(f, sdk_field(i, f));
    }
    RawInstance {
        id: i.instance_id().unwrap_or_default().to_string(),
        fields,
        tags: i
            .tags()
            .iter()
            .filter_map(|t| {
                Some((
                    t.key()?.to_string(),
                    t.value().unwrap_or_default().to_string(),
                ))
            })
            .collect(),
        owner_id: None,
    }
}

/// The characters a zone name can end in. Availability Zones are named by their Region code and
/// a letter (`us-east-1a`), Local Zones and Wavelength Zones by more lower-case letters, digits
/// and dashes (`us-west-2-lax-1a`, `us-east-1-wl1-bos-wlz-1`): AWS EC2 User Guide, "Regions
/// and Zones"; upper case is added at no cost in case a name ever uses it.
pub const ZONE_NAME_ENDINGS: &str =
    "abcdefghijklmnopqrstuvwxyz0123456789-ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// The shards of a region, each a name and its `availability-zone` filter values: one shard
/// per character a listed zone's name ends in (`*a` reads every zone ending in `a`), then one
/// shard for every other ending. Each zone name ending in [`ZONE_NAME_ENDINGS`] matches exactly
/// one shard whether the listing named its zone or not, so no instance is read twice and none
/// is left out (`*` matches zero or more characters in EC2 filter values).
pub fn shard_plan(zones: &[String]) -> Vec<(String, Vec<String>)> {
    let ends: std::collections::BTreeSet<char> = zones
        .iter()
        .filter_map(|z| z.chars().last())
        .filter(|c| ZONE_NAME_ENDINGS.contains(*c))
        .collect();
    let mut plan: Vec<(String, Vec<String>)> = ends
        .iter()
        .map(|c| (format!("*{c}"), vec![format!("*{c}")]))
        .collect();
    let rest: Vec<String> = ZONE_NAME_ENDINGS
        .chars()
        .filter(|c| !ends.contains(c))
        .map(|c| format!("*{c}"))
        .collect();
    if !rest.is_empty() {
        plan.push(("other endings".into(), rest));
    }
    plan
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// `*c` as EC2 reads it: any name ending in `c`.
    fn matches(pattern: &str, zone: &str) -> bool {
        pattern
            .strip_prefix('*')
            .is_some_and(|end| zone.ends_with(end))
    }

    proptest! {
        /// Whatever the listing names (some zones, none, names it never should), every zone
        /// name, listed or not, is read by exactly one shard.
        #[test]
        fn every_zone_listed_or_not_is_read_by_exactly_one_shard(
            listed in proptest::collection::vec("[a-z0-9-]{1,3}[a-zA-Z0-9-]", 0..8),
            zone in "[a-z]{2}-[a-z]{4,9}-[0-9][a-z0-9-]{0,12}[a-zA-Z0-9-]",
        ) {
            let plan = shard_plan(&listed);
            let hits = plan
                .iter()
                .filter(|(_, ps)| ps.iter().any(|p| matches(p, &zone)))
                .count();
            prop_assert_eq!(hits, 1, "{} in {:?}", zone, plan);
            let distinct: std::collections::BTreeSet<char> =
                listed.iter().filter_map(|z| z.chars().last()).collect();
            prop_assert!(plan.len() <= distinct.len() + 1);
        }
    }

    /// The SDK's typed instance with every field the rows name set: a row added without its
    /// arm in `sdk_field` (or without a line here) fails.
    #[test]
    fn the_sdk_conversion_reads_every_field_of_the_rows() {
        use aws_sdk_ec2::types as t;
        let i = t::Instance::builder()
            .instance_id("i-1")
            .key_name("k")
            .image_id("ami-1")
            .instance_type(t::InstanceType::C5Large)
            .placement(
                t::Placement::builder()
                    .availability_zone("us-east-1a")
                    .tenancy(t::Tenancy::Dedicated)
                    .build(),
            )
            .state(
                t::InstanceState::builder()
                    .name(t::InstanceStateName::Running)
                    .build(),
            )
            .launch_time(aws_smithy_types::DateTime::from_secs(1_518_570_000))
            .iam_instance_profile(t::IamInstanceProfile::builder().arn("arn:p").build())
            .subnet_id("subnet-1")
            .vpc_id("vpc-1")
            .instance_lifecycle(t::InstanceLifecycleType::Spot)
            .metadata_options(
                t::InstanceMetadataOptionsResponse::builder()
                    .http_tokens(t::HttpTokensState::Required)
                    .http_endpoint(t::InstanceMetadataEndpointState::Enabled)
                    .http_put_response_hop_limit(2)
                    .build(),
            )
            .public_ip_address("3.4.5.6")
            .security_groups(t::GroupIdentifier::builder().group_id("sg-2").build())
            .security_groups(t::GroupIdentifier::builder().group_id("sg-1").build())
            .build();
        let r = convert(&i);
        for f in Ec2Field::all().filter(|f| f.spec().at != At::Region) {
            assert!(
                r.fields.get(f).is_some(),
                "{} not read from the SDK",
                f.name()
            );
        }
        assert_eq!(r.fields.get(Ec2Field::Tenancy), Some("dedicated"));
        assert_eq!(r.fields.get(Ec2Field::SecurityGroups), Some("sg-1,sg-2"));
        assert_eq!(r.fields.get(Ec2Field::HopLimit), Some("2"));
        assert_eq!(
            r.fields.get(Ec2Field::LaunchTime),
            Some("2018-02-14T01:00:00Z")
        );
    }

    #[test]
    fn listed_endings_get_a_shard_each_and_the_rest_share_one() {
        let plan = shard_plan(&[
            "us-west-2a".into(),
            "us-west-2b".into(),
            "us-west-2-lax-1a".into(),
        ]);
        let names: Vec<&str> = plan.iter().map(|(n, _)| n.as_str()).collect();
        assert_eq!(names, ["*a", "*b", "other endings"]);
        assert_eq!(plan[2].1.len(), ZONE_NAME_ENDINGS.len() - 2);
        assert!(plan[2].1.contains(&"*c".to_string()));
    }
}

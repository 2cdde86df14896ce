//! DescribeInstanceStatus (impaired instances) and TerminateInstances / RebootInstances.

use super::*;

/// One instance's status checks, as DescribeInstanceStatus reports them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RawStatus {
    /// Instance id.
    pub id: String,
    /// Availability zone.
    pub availability_zone: Option<String>,
    /// Instance state name.
    pub state: Option<String>,
    /// The instance status check (`ok`, `impaired`, ...).
    pub instance_status: Option<String>,
    /// The system status check.
    pub system_status: Option<String>,
    /// The earliest ImpairedSince of any detail, RFC 3339.
    pub impaired_since: Option<String>,
    /// Scheduled event codes (instance-retirement, system-maintenance, ...).
    pub events: Vec<String>,
}

/// What to do to instances: the call [`RegionClient::act_chunk`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum InstanceAction {
    /// TerminateInstances.
    Terminate,
    /// RebootInstances.
    Reboot,
}

/// What one TerminateInstances/RebootInstances call did to an instance.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ActionResult {
    /// Instance id.
    pub id: String,
    /// `shutting-down`, `terminated`, `rebooting`, `not-found`.
    pub state: String,
}

impl RegionClient {
    /// DescribeInstanceStatus, once per filter set (EC2 ANDs filter names, so each condition is
    /// its own call set), every page followed, de-duplicated by instance id.
    pub async fn statuses(
        &self,
        condition_sets: &[(String, Vec<String>)],
    ) -> Result<Vec<RawStatus>, Ec2Error> {
        let mut seen: std::collections::BTreeMap<String, RawStatus> =
            std::collections::BTreeMap::new();
        for (name, values) in condition_sets {
            let mut token: Option<String> = None;
            let mut guard = crate::PageGuard::default();
            loop {
                let req = self
                    .client
                    .describe_instance_status()
                    .max_results(1000)
                    .filters(
                        Filter::builder()
                            .name(name)
                            .set_values(Some(values.clone()))
                            .build(),
                    )
                    .set_next_token(token.clone());
                let t = Instant::now();
                let out = {
                    let _p = self.permit("DescribeInstanceStatus").await;
                    req.send().await.map_err(classify)?
                };
                debug!(region = %self.region, filter = %name, statuses = out.instance_statuses().len(), ms = t.elapsed().as_millis() as u64, "DescribeInstanceStatus");
                for s in out.instance_statuses() {
                    let id = s.instance_id().unwrap_or_default().to_string();
                    let mut since: Vec<String> = Vec::new();
                    let summary = |x: Option<&aws_sdk_ec2::types::InstanceStatusSummary>,
                                   since: &mut Vec<String>| {
                        let x = x?;
                        for d in x.details() {
                            if let Some(t) = d.impaired_since().and_then(|t| {
                                t.fmt(aws_smithy_types::date_time::Format::DateTime).ok()
                            }) {
                                since.push(t);
                            }
                        }
                        x.status().map(|st| st.as_str().to_string())
                    };
                    let instance_status = summary(s.instance_status(), &mut since);
                    let system_status = summary(s.system_status(), &mut since);
                    since.sort();
                    seen.entry(id.clone()).or_insert(RawStatus {
                        id,
                        availability_zone: s.availability_zone().map(str::to_string),
                        state: s
                            .instance_state()
                            .and_then(|x| x.name())
                            .map(|n| n.as_str().to_string()),
                        instance_status,
                        system_status,
                        impaired_since: since.into_iter().next(),
                        events: s
                            .events()
                            .iter()
                            .filter_map(|e| e.code().map(|c| c.as_str().to_string()))
                            .collect(),
                    });
                }
                token = out
                    .next_token()
                    .filter(|t| !t.is_empty())
                    .map(str::to_string);
                match &token {
                    None => break,
                    Some(t) => guard.next(t, "DescribeInstanceStatus")?,
                }
            }
        }
        Ok(seen.into_values().collect())
    }

    /// Terminates (or reboots) one batch of instances. Instances already gone are reported as
    /// `not-found`, not as errors, so a re-run is idempotent; the caller records each batch
    /// before and after this call (the audit log is write-ahead).
    pub async fn act_chunk(
        &self,
        chunk: &[String],
        action: InstanceAction,
    ) -> Result<Vec<ActionResult>, Ec2Error> {
        let not_found = |id: &String| ActionResult {
            id: id.clone(),
            state: "not-found".into(),
        };
        match self.act_batch(chunk, action).await {
            Ok(r) => Ok(r),
            // One unknown id fails the whole call: retry one by one to find it.
            Err(Ec2Error::Service { code, .. })
                if code.starts_with("InvalidInstanceID") && chunk.len() > 1 =>
            {
                let mut out = Vec::new();
                for id in chunk {
                    match self.act_batch(std::slice::from_ref(id), action).await {
                        Ok(mut r) => out.append(&mut r),
                        Err(Ec2Error::Service { code, .. })
                            if code.starts_with("InvalidInstanceID") =>
                        {
                            out.push(not_found(id))
                        }
                        Err(e) => return Err(e),
                    }
                }
                Ok(out)
            }
            Err(Ec2Error::Service { code, .. }) if code.starts_with("InvalidInstanceID") => {
                Ok(chunk.iter().map(not_found).collect())
            }
            Err(e) => Err(e),
        }
    }

    /// Sets tags on instances (CreateTags).
    pub async fn tag(&self, ids: &[String], tags: &[(String, String)]) -> Result<(), Ec2Error> {
        let _p = self.permit("CreateTags").await;
        let t = Instant::now();
        self.client
            .create_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "CreateTags");
        Ok(())
    }

    /// Removes tags from instances only where they still hold the given values (DeleteTags
    /// with each tag's value: EC2 deletes a tag given with a value only when the value matches,
    /// so a tag someone else has since changed is left alone).
    pub async fn untag_if(
        &self,
        ids: &[String],
        tags: &[(String, String)],
    ) -> Result<(), Ec2Error> {
        let _p = self.permit("DeleteTags").await;
        let t = Instant::now();
        self.client
            .delete_tags()
            .set_resources(Some(ids.to_vec()))
            .set_tags(Some(
                tags.iter()
                    .map(|(k, v)| aws_sdk_ec2::types::Tag::builder().key(k).value(v).build())
                    .collect(),
            ))
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "DeleteTags");
        Ok(())
    }

    /// Every instance carrying a tag whose key matches one of `keys` (EC2 filter values: `*` is
    /// a wildcard), in any state (terminated instances stay visible for about an hour, with
    /// their tags).
    pub async fn tagged(&self, keys: &[&str]) -> Result<Vec<RawInstance>, Ec2Error> {
        let found = std::sync::Mutex::new(Vec::new());
        let sink = |page: Vec<RawInstance>| {
            if let Ok(mut f) = found.lock() {
                f.extend(page);
            }
        };
        self.scan(
            &[(
                "tag-key".to_string(),
                keys.iter().map(|k| (*k).to_string()).collect(),
            )],
            false,
            &sink,
        )
        .await?;
        Ok(found.into_inner().unwrap_or_default())
    }

    async fn act_batch(
        &self,
        ids: &[String],
        action: InstanceAction,
    ) -> Result<Vec<ActionResult>, Ec2Error> {
        let _p = self
            .permit(match action {
                InstanceAction::Reboot => "RebootInstances",
                InstanceAction::Terminate => "TerminateInstances",
            })
            .await;
        let t = Instant::now();
        if action == InstanceAction::Reboot {
            self.client
                .reboot_instances()
                .set_instance_ids(Some(ids.to_vec()))
                .send()
                .await
                .map_err(classify)?;
            debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "RebootInstances");
            return Ok(ids
                .iter()
                .map(|id| ActionResult {
                    id: id.clone(),
                    state: "rebooting".into(),
                })
                .collect());
        }
        let out = self
            .client
            .terminate_instances()
            .set_instance_ids(Some(ids.to_vec()))
            .send()
            .await
            .map_err(classify)?;
        debug!(region = %self.region, instances = ids.len(), ms = t.elapsed().as_millis() as u64, "TerminateInstances");
        Ok(out
            .terminating_instances()
            .iter()
            .map(|c| ActionResult {
                id: c.instance_id().unwrap_or_default().to_string(),
                state: c
                    .current_state()
                    .and_then(|s| s.name())
                    .map(|n| n.as_str().to_string())
                    .unwrap_or_else(|| "shutting-down".into()),
            })
            .collect())
    }
}

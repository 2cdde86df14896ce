//! EC2's status checks: recorded `describe-instance-status` files (culling offline) and the
//! DescribeInstanceStatus filter sets of a live read.

use crate::source::Health;

/// Parses `aws ec2 describe-instance-status --output json` (recorded statuses for offline runs).
pub fn read_status_file(path: &std::path::Path) -> Result<Vec<Health>, crate::diag::Diagnostics> {
    use crate::diag::{Diagnostic, Diagnostics};
    use serde_json::Value;
    let text = std::fs::read(path).map_err(|e| {
        Diagnostics(vec![
            Diagnostic::file(path, format!("cannot read the status file: {e}"))
                .hint("pass what `aws ec2 describe-instance-status --output json` prints"),
        ])
    })?;
    let v: Value = crate::diag::parse_json(path, &text).map_err(|d| Diagnostics(vec![d]))?;
    let Some(list) = v.get("InstanceStatuses").and_then(Value::as_array) else {
        return Err(Diagnostics(vec![
            Diagnostic::at(
                path,
                "",
                "this is not describe-instance-status output: no \"InstanceStatuses\" array",
            )
            .hint("record it with `aws ec2 describe-instance-status --output json`"),
        ]));
    };
    let mut out = Vec::new();
    for (k, s) in list.iter().enumerate() {
        let ptr = format!("/InstanceStatuses/{k}");
        let Some(id) = s.get("InstanceId").and_then(Value::as_str) else {
            return Err(Diagnostics(vec![Diagnostic::at(
                path,
                ptr,
                "a status has no \"InstanceId\"",
            )]));
        };
        let az = s
            .get("AvailabilityZone")
            .and_then(Value::as_str)
            .map(str::to_string);
        let Some(region) = az.as_deref().and_then(crate::fleet::region_from_az) else {
            return Err(Diagnostics(vec![Diagnostic::at(
                path,
                format!("{ptr}/AvailabilityZone"),
                "missing or not an availability zone, so the region is unknown",
            )]));
        };
        let mut since: Vec<String> = Vec::new();
        let mut summary = |key: &str| -> Option<String> {
            let x = s.get(key)?;
            for d in x
                .get("Details")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                if let Some(t) = d.get("ImpairedSince").and_then(Value::as_str) {
                    since.push(t.to_string());
                }
            }
            x.get("Status").and_then(Value::as_str).map(str::to_string)
        };
        let instance_status = summary("InstanceStatus");
        let system_status = summary("SystemStatus");
        since.sort();
        out.push(Health {
            id: id.to_string(),
            region,
            state: s
                .get("InstanceState")
                .and_then(|x| x.get("Name"))
                .and_then(Value::as_str)
                .map(str::to_string),
            instance_status,
            system_status,
            impaired_since: since.into_iter().next(),
            events: s
                .get("Events")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|e| e.get("Code").and_then(Value::as_str).map(str::to_string))
                .collect(),
        });
    }
    Ok(out)
}

/// The DescribeInstanceStatus filter sets: one call set per condition.
pub fn status_conditions(include_events: bool) -> Vec<(String, Vec<String>)> {
    let mut c = vec![
        (
            "instance-status.status".to_string(),
            vec!["impaired".to_string()],
        ),
        (
            "system-status.status".to_string(),
            vec!["impaired".to_string()],
        ),
    ];
    if include_events {
        c.push((
            "event.code".to_string(),
            vec!["instance-retirement".into(), "system-reboot".into()],
        ));
    }
    c
}

//! Health checks: the client-side re-check of what counts as impaired (the source reads the
//! checks: `crate::cloud::ec2` from DescribeInstanceStatus or a recorded file).

use super::Impairment;
use crate::source::Health;
use chrono::{DateTime, Utc};

/// Client-side re-check of the status fields (server-side filters are only an optimization:
/// moto, for one, ignores them).
pub fn impairments(statuses: &[Health], include_events: bool) -> Vec<Impairment> {
    let mut out = Vec::new();
    for s in statuses {
        let mut why = Vec::new();
        if s.instance_status.as_deref() == Some("impaired") {
            why.push("instance-status impaired".to_string());
        }
        if s.system_status.as_deref() == Some("impaired") {
            why.push("system-status impaired".to_string());
        }
        if include_events {
            why.extend(
                s.events
                    .iter()
                    .filter(|e| e.contains("retirement") || e.contains("system-reboot"))
                    .map(|e| format!("scheduled {e}")),
            );
        }
        if why.is_empty() || !matches!(s.state.as_deref(), None | Some("running") | Some("pending"))
        {
            continue;
        }
        let since = s
            .impaired_since
            .as_deref()
            .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
            .map(|t| t.with_timezone(&Utc));
        out.push(Impairment {
            id: s.id.clone(),
            region: s.region.clone(),
            reason: why.join(", "),
            since,
        });
    }
    out
}

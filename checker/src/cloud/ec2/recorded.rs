//! Recorded EC2: `aws ec2 describe-instances` JSON files (user-data inline when recorded with
//! `checker fleet record`), and for culling offline `describe-instance-status` files.

use crate::contract::ContractSet;
use crate::error::{Error, Result};
use crate::fleet::{SecretPolicy, UserData};
use crate::report::{PartKind, SourceInfo, SourceKind, SourcePart};
use crate::source::{Can, Capabilities, Fleet, HealthRead, HealthRequest, Source, Tagged};
use futures::future::BoxFuture;
use std::path::PathBuf;

/// `describe-instances` JSON files, and the status checks recorded beside them.
#[derive(Debug, Clone)]
pub struct Recorded {
    /// The fleet files (`-` is standard input).
    pub files: Vec<PathBuf>,
    /// `aws ec2 describe-instance-status --output json`, for culling offline.
    pub status: Option<PathBuf>,
}

impl Recorded {
    /// The files, without status checks.
    pub fn new(files: Vec<PathBuf>) -> Recorded {
        Recorded {
            files,
            status: None,
        }
    }

    /// Reads the files; every bad instance in every file is reported at once.
    pub fn read_with(&self, secrets: &SecretPolicy) -> Result<Fleet> {
        let mut instances = Vec::new();
        let mut parts = Vec::new();
        let mut diags = Vec::new();
        for f in &self.files {
            match crate::fleet::read_recorded(f, secrets) {
                Ok(v) => {
                    parts.push(SourcePart::read(
                        f.display().to_string(),
                        PartKind::File,
                        v.len(),
                    ));
                    instances.extend(v);
                }
                Err(d) => diags.extend(d.0),
            }
        }
        if !diags.is_empty() {
            return Err(Error::Input(crate::diag::Diagnostics(diags)));
        }
        let user_data_sampled = instances
            .iter()
            .filter(|i| !matches!(i.user_data, UserData::NotFetched))
            .count();
        let source = SourceInfo {
            kind: SourceKind::Recorded,
            instances: instances.len(),
            user_data_sampled,
            parts,
        };
        Ok(Fleet { instances, source })
    }
}

impl Source for Recorded {
    fn describe(&self) -> String {
        let files: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
        format!("recorded fleet files {}", files.join(", "))
    }

    fn capabilities(&self) -> Capabilities {
        Capabilities {
            reads_recorded: true,
            scans_live: false,
            samples_extra_field: None,
            server_filters: false,
            health: match self.status {
                Some(_) => Can::Yes,
                None => Can::No(
                    "the recorded fleet (--fleet) has no instance-status data, so impaired \
                     instances cannot be told apart; no cull plan was made. Pass --status FILE \
                     (DescribeInstanceStatus output), or run against live EC2 (no --fleet)"
                        .into(),
                ),
            },
            act: Can::No(
                "--apply acts on live EC2; recorded --fleet files can only be planned (drop --apply)"
                    .into(),
            ),
            concurrency: 1,
        }
    }

    fn read(&self, set: &ContractSet) -> Result<Fleet> {
        self.read_with(&set.secret_policy())
    }

    fn read_for_cull<'a>(
        &'a self,
        set: &'a ContractSet,
        req: &'a HealthRequest,
    ) -> BoxFuture<'a, Result<HealthRead>> {
        Box::pin(async move {
            let fleet = self.read(set)?;
            let health = match (&self.status, req.health) {
                (Some(p), _) => super::read_status_file(p)?,
                (None, true) => {
                    return Err(Error::usage(
                        "with recorded --fleet files, cull needs recorded status checks: pass --status FILE (aws ec2 describe-instance-status --output json)",
                    ));
                }
                (None, false) => Vec::new(),
            };
            // Claims recorded on the instances are read off their tags.
            let tagged = fleet
                .instances
                .iter()
                .map(|i| Tagged {
                    id: i.id.clone(),
                    tags: i.tags.iter().map(|(k, v)| (k.clone(), v.clone())).collect(),
                })
                .collect();
            Ok(HealthRead {
                fleet,
                health,
                tagged,
                warnings: Vec::new(),
                actor: None,
            })
        })
    }
}

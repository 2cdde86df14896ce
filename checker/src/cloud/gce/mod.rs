//! GCE (Compute Engine), live: every project of `--project`/`--accounts` (c7n-org `projects:`)
//! is a scope of the live driver (`crate::source::driver`) with one location, all its zones,
//! read with Compute's `instances.aggregatedList` in pages of 500, the next page fetched while
//! one is read, through the driver's `PageGuard` (a page token given twice fails the project)
//! and `Budget`. Each page is read by the recorded
//! reader (`fleet::read_gce_page`, which turns each instance into its record with
//! `fleet::gce::parse_instance`), so a live and a recorded fleet read the same; `unreachables`
//! or a zone's warning other than `NO_RESULTS_ON_PAGE` fails the project's part (exit 3).
//!
//! Tokens come from Google's official `google-cloud-auth` (Application Default Credentials:
//! `GOOGLE_APPLICATION_CREDENTIALS`, gcloud's ADC file, the metadata server, workload identity
//! federation); the listing is plain REST over the `reqwest` client that crate brings, not
//! Google's `google-cloud-compute-v1`, because (measured 2026-12-06, a scratch crate on this
//! project's 2-core machine, `cargo build`, debug, cold):
//! - its `instances` request cannot ask for `returnPartialSuccess`: the
//!   `instances::AggregatedListRequest` of google-cloud-compute-v1 4.1.0 (`src/model.rs`, `pub
//!   mod instances` at line 461495) has `filter`, `include_all_scopes`, `max_results`,
//!   `order_by`, `page_token`, `project`, `service_project_number` and nothing else;
//! - it costs 70 s more of a cold debug build on top of google-cloud-auth's 145 s, and 38 more
//!   crates (tonic, prost, opentelemetry among them): the crate is 892,000 lines of generated
//!   code, its `model.rs` alone 575,779, parsed whatever features are on;
//! - its typed `Instance` would have to be turned back into JSON for `parse_instance` (one
//!   reader for live and recorded fleets), a second pass over every page against the 1.3x
//!   wire-speed target.
//!
//! GCE cannot cull here: worker-manager's google provider removes the instances of workers that
//! never register or stop checking in (taskcluster 9d59eb59,
//! `services/worker-manager/src/providers/google.js`: `checkWorker` calls `removeWorker` once a
//! running instance's `terminateAfter` (the registration deadline) has passed or
//! `Provider.isZombie` says so, lines 432-441, and `removeWorker` deletes the instance, lines
//! 185-200), so health and acting are [`Can::No`](crate::source::Can) with [`NO_CULL`] as the
//! reason.

mod client;
mod filter;
mod live;

pub use client::{DEFAULT_ENDPOINT, SCOPE_READONLY};
pub use filter::{STATUSES, server_filter};
pub use live::{GceOptions, Live};

/// Why `cull` refuses on GCE, in the words `checker cull` prints.
pub const NO_CULL: &str = "checker does not cull on GCP: worker-manager's google provider already removes instances whose worker never registers or stops checking in, so a second culler would race it; read-only commands (check, snapshot, diff, explain, hook --no-cull) work on GCP";

/// The Compute API method every live read calls, as the least-privilege permission docs
/// (docs/accounts.md) name it: `compute.instances.list` (in `roles/compute.viewer`).
pub const API_METHOD: &str = "compute.instances.aggregatedList";

/// The IAM permission [`API_METHOD`] needs.
pub const PERMISSION: &str = "compute.instances.list";

//! Integration tests: one binary, a module per area. They run the real `checker` binary on
//! files in the repository or in temporary directories.

mod accounts;
mod bad_input;
mod build;
mod contract_tests;
mod cull;
mod cull_claims;
mod cull_runs;
mod deploy;
mod escaping;
mod firefox_ci;
mod first_hour;
mod formats;
mod gate;
mod gate_clouds;
mod golden;
mod html;
mod image;
mod init;
mod inputs;
mod layout;
mod live;
mod live_faults;
mod live_more;
mod live_overlap;
mod moto;
mod recorded_clouds;
mod replay;
mod schemas;
mod secret_shapes;
mod selects_nothing;
mod snapshots;
mod stream;
mod support;
mod taskcluster;
mod waivers;

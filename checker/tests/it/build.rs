//! The build itself: `cargo build` and `cargo test --workspace` must resolve every dependency
//! they share with the same features, or cargo compiles the AWS SDK (52 crates, minutes) a second
//! time for the tests; and aws-sdk-ec2 must not bring the legacy hyper 0.14 / rustls 0.21 stack.

use crate::support::root;
use std::collections::BTreeSet;
use std::process::Command;

/// `cargo tree` lines `name version features` (every package, every feature set it is built with).
fn tree(args: &[&str]) -> BTreeSet<String> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let out = Command::new(cargo)
        .args(["tree", "--offline", "--locked", "--prefix", "none"])
        .args(["--format", "{p} {f}"])
        .args(args)
        .current_dir(root())
        .output()
        .expect("cargo tree runs");
    assert!(
        out.status.success(),
        "cargo tree {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim_end_matches(" (*)").trim().to_string())
        .filter(|l| !l.is_empty())
        .collect()
}

#[test]
fn cargo_build_and_cargo_test_build_every_shared_dependency_once() {
    // What `cargo build` (the default members, no dev-dependencies) compiles...
    let build = tree(&["--edges", "normal,build"]);
    // ...and what `cargo test --workspace` compiles (every member, dev-dependencies too).
    let test = tree(&["--workspace"]);
    let rebuilt: Vec<&String> = build.iter().filter(|l| !test.contains(*l)).collect();
    assert!(
        rebuilt.is_empty(),
        "cargo test --workspace would compile these again with other features than cargo build \
         (a dev-dependency or bench member turns features on: declare them in the normal \
         dependencies too, see checker-ec2/Cargo.toml):\n{rebuilt:#?}\nthe test build has:\n{:#?}",
        rebuilt
            .iter()
            .flat_map(|l| {
                let name = l.split(' ').take(2).collect::<Vec<_>>().join(" ") + " ";
                test.iter().filter(move |t| t.starts_with(&name))
            })
            .collect::<Vec<_>>()
    );
}

#[test]
fn the_legacy_hyper_0_14_and_rustls_0_21_stack_is_not_built() {
    let test = tree(&["--workspace"]);
    for legacy in ["hyper v0.14.", "rustls v0.21.", "hyper-rustls v0.24."] {
        let found: Vec<&String> = test.iter().filter(|l| l.starts_with(legacy)).collect();
        assert!(
            found.is_empty(),
            "{found:?} is built: aws-sdk-ec2's default `rustls` feature is on again (keep \
             default-features = false on it in the workspace Cargo.toml)"
        );
    }
}

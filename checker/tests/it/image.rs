//! The container image: `docker/build` makes it offline (a binary built outside, a Debian base
//! from packages, `--network none`), and it runs the main job with no network. Needs a running
//! docker daemon, so the test is `#[ignore = "needs docker ..."]`: `cargo test --workspace` counts it
//! as ignored, and `-- --include-ignored` (CI; `.ci/run` installs docker.io and debootstrap and
//! starts dockerd) runs it and fails it when no daemon answers.

use crate::support::*;
use std::process::{Command, Stdio};

fn docker_ready() {
    let ok = Command::new("docker")
        .arg("info")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        ok,
        "this test needs a docker daemon: `docker info` fails; install docker.io and debootstrap \
         and start dockerd (.ci/run does), or leave the test ignored: cargo test --workspace"
    );
}

fn run_image(args: &[&str]) -> Run {
    let out = Command::new("docker")
        .args(["run", "--rm", "--network", "none", "checker:test"])
        .args(args)
        .output()
        .expect("docker run");
    Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into(),
        stderr: String::from_utf8_lossy(&out.stderr).into(),
    }
}

#[test]
#[ignore = "needs a docker daemon (docker.io, debootstrap, dockerd running): run with -- --include-ignored"]
fn the_image_builds_offline_and_runs_the_main_job_without_network() {
    docker_ready();
    let build = Command::new(root().join("docker/build"))
        .args([
            "--binary",
            env!("CARGO_BIN_EXE_checker"),
            "--tag",
            "checker:test",
        ])
        .current_dir(root())
        .output()
        .expect("docker/build");
    assert!(
        build.status.success(),
        "docker/build failed:\n{}\n{}",
        String::from_utf8_lossy(&build.stdout),
        String::from_utf8_lossy(&build.stderr)
    );
    let v = run_image(&["--version"]);
    assert_eq!(v.code, 0, "{}", v.stderr);
    assert_eq!(
        v.stdout,
        checker(&["--version"]).stdout,
        "the image holds this binary"
    );
    let r = run_image(&["validate"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    let r = run_image(&[
        "check",
        "--fleet",
        "/checker/examples/firefox-ci-2021/fleet.json",
        "--format",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert_eq!(r.json()["source"]["instances"], 18);
    let id = Command::new("docker")
        .args([
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "id",
            "checker:test",
            "-u",
        ])
        .output()
        .expect("id");
    assert_ne!(
        String::from_utf8_lossy(&id.stdout).trim(),
        "0",
        "the image runs as a non-root user"
    );
}

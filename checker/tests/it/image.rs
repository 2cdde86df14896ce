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
    hook_runs_as_docker_worker_runs_it();
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

/// The hook as Taskcluster's docker-worker runs it: the image's own user and entry point, the
/// hook definition's command, and no volume at /builds/worker/artifacts (docker-worker copies
/// the artifacts out of the container afterwards). The non-root user could not create that
/// folder: every run exited 3.
fn hook_runs_as_docker_worker_runs_it() {
    let _ = Command::new("docker")
        .args(["rm", "-f", "checker-test-hook"])
        .output();
    let out = Command::new("docker")
        .args([
            "run",
            "--network",
            "none",
            "--name",
            "checker-test-hook",
            "checker:test",
            "hook",
            "--fleet",
            "/checker/examples/firefox-ci-2021/fleet.json",
            "--contracts",
            "/checker/contracts",
            "--no-cull",
            "--artifacts",
            "/builds/worker/artifacts",
        ])
        .output()
        .expect("docker run");
    // What docker-worker uploads: the folder, copied out of the stopped container.
    let copied = tempfile::tempdir().expect("tmp");
    let cp = Command::new("docker")
        .args(["cp", "checker-test-hook:/builds/worker/artifacts"])
        .arg(copied.path())
        .status();
    let _ = Command::new("docker")
        .args(["rm", "-f", "checker-test-hook"])
        .output();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_ne!(out.status.code(), Some(3), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 1)),
        "the hook ran: {stderr}"
    );
    assert!(cp.is_ok_and(|s| s.success()), "docker cp");
    for f in ["report.json", "summary.md", "junit.xml"] {
        assert!(
            copied.path().join("artifacts").join(f).is_file(),
            "{f} is not among the artifacts: {stderr}"
        );
    }
}

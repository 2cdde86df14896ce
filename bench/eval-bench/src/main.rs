//! Evaluation alone: records in memory, the shipped contract sets, one thread.
//!
//!     cargo run --release -p eval-bench -- [INSTANCES]
//!
//! Replicates the 2018-02-14 example fleet (with its user-data) to INSTANCES records (default
//! 200,000) with distinct ids, evaluates each shipped contract set over them, and prints the
//! instance-clause evaluations per second. Prints one JSON object per set.

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::path::PathBuf;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.get(1).map(String::as_str) == Some("--page") {
        return page(&args[2..]);
    }
    let n: usize = std::env::args()
        .nth(1)
        .and_then(|a| a.parse().ok())
        .unwrap_or(200_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let sets: [(&str, Vec<PathBuf>, &str); 3] = [
        (
            "2018 after + consumers-prefix",
            vec![
                root.join("examples/taskcluster-2018/provider-after"),
                root.join("examples/taskcluster-2018/consumers-prefix"),
            ],
            "examples/taskcluster-2018/fleet-2018-02-14.json",
        ),
        (
            "2018 after + consumers-postfix",
            vec![
                root.join("examples/taskcluster-2018/provider-after"),
                root.join("examples/taskcluster-2018/consumers-postfix"),
            ],
            "examples/taskcluster-2018/fleet-2018-02-14.json",
        ),
        (
            "contracts/ (worker-manager)",
            vec![root.join("contracts")],
            "examples/firefox-ci-2021/fleet.json",
        ),
    ];
    let now = chrono::DateTime::parse_from_rfc3339("2018-02-14T12:00:00Z")
        .map(|t| t.with_timezone(&chrono::Utc))
        .unwrap_or_else(|_| chrono::Utc::now());
    for (name, paths, fleet_file) in sets {
        let set = match checker::load::load(&paths) {
            Ok(s) => s,
            Err(d) => {
                eprintln!("{d}");
                std::process::exit(2);
            }
        };
        let base = match checker::fleet::read_recorded(&root.join(fleet_file), &set.secret_policy())
        {
            Ok(f) => f,
            Err(d) => {
                eprintln!("{d}");
                std::process::exit(2);
            }
        };
        let fleet: Vec<checker::fleet::Instance> = (0..n)
            .map(|k| {
                let mut i = base[k % base.len()].clone();
                i.id = format!("i-{k:017x}");
                i
            })
            .collect();
        // One warm-up pass, then the timed best of three.
        let _ = checker::eval::evaluate(&set, &fleet[..fleet.len().min(10_000)], now);
        let mut best = f64::MAX;
        let mut evals = 0;
        for _ in 0..3 {
            let t = Instant::now();
            let ev = checker::eval::evaluate(&set, &fleet, now);
            best = best.min(t.elapsed().as_secs_f64());
            evals = ev.evaluations;
        }
        let per_sec = evals as f64 / best;
        println!(
            "{}",
            serde_json::json!({"set": name, "instances": n, "evaluations": evals, "seconds": best, "evaluationsPerSecond": per_sec.round()})
        );
    }
}

/// `eval-bench --page FILE [ROUNDS]`: the page reader alone, on one DescribeInstances body (as
/// bench/page fetches from the fake), one core: CPU per page, bytes and instances per second.
fn page(args: &[String]) {
    let Some(file) = args.first() else {
        eprintln!("usage: eval-bench --page FILE [ROUNDS]");
        std::process::exit(2);
    };
    let rounds: usize = args.get(1).and_then(|a| a.parse().ok()).unwrap_or(200);
    let body = match std::fs::read(file) {
        Ok(b) => b,
        Err(e) => {
            eprintln!("{file}: {e}");
            std::process::exit(2);
        }
    };
    let instances = match checker_ec2::read_instances_page(&body) {
        Ok((v, _)) => v.len(),
        Err(e) => {
            eprintln!("{file}: not a DescribeInstances page: {e}");
            std::process::exit(2);
        }
    };
    // The best of five runs of `rounds` reads each.
    let mut best = f64::MAX;
    for _ in 0..5 {
        let t = Instant::now();
        for _ in 0..rounds {
            let page = checker_ec2::read_instances_page(std::hint::black_box(&body));
            std::hint::black_box(page.map(|(v, _)| v.len()).unwrap_or(0));
        }
        best = best.min(t.elapsed().as_secs_f64() / rounds as f64);
    }
    println!(
        "{}",
        serde_json::json!({
            "page": file, "bytes": body.len(), "instances": instances,
            "msPerPage": (best * 1e5).round() / 100.0,
            "mbPerSecond": (body.len() as f64 / best / 1e6).round(),
            "instancesPerSecond": (instances as f64 / best).round(),
        })
    );
}

//! The `checker` binary: it parses arguments, calls the library and prints (`src/cmd/`).

mod cmd;

/// mimalloc: a scan allocates and frees a page's records (and a 4 MB body) thousands of times;
/// glibc's allocator spent 11% of a 100,000-instance check in malloc/free and 6% in fresh-page
/// faults (bench/analysis.md, the perf profile).
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    checker::build::started();
    cmd::main().into()
}

//! The `checker` binary: everything lives in the library; see `checker --help`.

fn main() {
    std::process::exit(checker::cli::main());
}

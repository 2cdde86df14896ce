//! The `checker` binary: it parses arguments, calls the library and prints (`src/cmd/`).

mod cmd;

fn main() -> std::process::ExitCode {
    cmd::main().into()
}

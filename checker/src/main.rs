//! The `checker` binary: it parses arguments, calls the library and prints (`src/cmd/`).

mod cmd;

fn main() -> std::process::ExitCode {
    checker::build::started();
    cmd::main().into()
}

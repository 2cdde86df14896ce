//! The `checker` binary: everything lives in the library; see `checker --help`.

/// mimalloc keeps freed memory for reuse: a scan frees each page's body (megabytes) once it is
/// read, and with the system allocator the next page's body was fresh memory again, faulted
/// in page by page.
#[global_allocator]
static ALLOC: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(checker::cli::main());
}

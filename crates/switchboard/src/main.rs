//! The `switchboard` binary: parses the command line and hands over to the server library.

mod admin;
mod cli;
mod sync;

use clap::Parser;

/// mimalloc instead of glibc's allocator: the server allocates and frees many small objects per request and
/// per written row, and glibc's malloc/free (with `malloc_consolidate`) were ~30 % of the writer thread's CPU
/// in a full Google sync (perf, 2026-12-02). The benchmarks set the same allocator.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

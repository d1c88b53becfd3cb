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

/// Transparent huge pages off for this process. mimalloc marks its arenas `MADV_HUGEPAGE`, so touching a
/// fresh 4 KiB of them (after a start, or after mimalloc returned idle memory to the OS) faults in and zeroes a
/// whole 2 MiB page. When 10,000 sockets each needed a new queue block for the same event, the kernel zeroing
/// those pages was ~half of the server's CPU and that event reached clients ~0.6 s late instead of ~0.1 s
/// (bench/README.md, 2026-12-03). This is mimalloc's own `MIMALLOC_ALLOW_THP=0` switch, which an environment
/// variable can only set before the allocator starts, i.e. not from here.
#[cfg(target_os = "linux")]
fn disable_transparent_huge_pages() {
    // The flag belongs to the process's address space (all threads, children inherit it).
    if let Err(err) = rustix::thread::disable_transparent_huge_pages(true) {
        eprintln!("warning: could not turn transparent huge pages off: {err}");
    }
}

fn main() -> std::process::ExitCode {
    #[cfg(target_os = "linux")]
    disable_transparent_huge_pages();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(err) => {
            eprintln!("error: cannot start the async runtime: {err}");
            return std::process::ExitCode::FAILURE;
        }
    };
    runtime.block_on(run())
}

async fn run() -> std::process::ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("error: {err:#}");
            std::process::ExitCode::FAILURE
        }
    }
}

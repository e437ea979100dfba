/// glibc's allocator was about a third of the server's CPU under ingest (every request
/// builds and drops many small JSON values); jemalloc keeps per-thread caches.
#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() -> std::process::ExitCode {
    commonplace::cli::run()
}

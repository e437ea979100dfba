//! One server per data directory. `serve` holds an OS file lock (flock) on
//! `DATA_DIR/server.lock` for as long as it runs, and writes its pid and listen address
//! there. A second `serve` on the same directory is refused with a message naming the
//! first, instead of silently sharing its embedded PostgreSQL and losing it when the
//! first stops. The kernel releases the lock when its holder exits, however it exits,
//! so a file left by a crash never blocks a start. Other commands do not take it: while
//! a server runs they use its cluster.

use std::fs::{self, File, TryLockError};
use std::io::{Seek, Write};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum ServerLockError {
    #[error(
        "another Commonplace server (pid {pid}, listening on {address}) is running on the \
         data directory {}; stop it, or give this server another --data-dir",
        data_dir.display()
    )]
    Held {
        pid: String,
        address: String,
        data_dir: PathBuf,
    },
    #[error("{context}: {source}")]
    Io {
        context: String,
        source: std::io::Error,
    },
}

fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> ServerLockError {
    let context = context.into();
    move |source| ServerLockError::Io { context, source }
}

/// The lock this process holds on its data directory; released when dropped.
pub struct ServerLock {
    path: PathBuf,
    file: File,
}

impl ServerLock {
    /// Takes the data directory for this server, which will listen on `address`.
    pub fn acquire(data_dir: &Path, address: SocketAddr) -> Result<ServerLock, ServerLockError> {
        fs::create_dir_all(data_dir).map_err(io(format!("create {}", data_dir.display())))?;
        let path = data_dir.join("server.lock");
        // Not truncated on open: until it is ours, the file names the running server.
        let file = File::options()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(io(format!("open {}", path.display())))?;
        match file.try_lock() {
            Ok(()) => {}
            Err(TryLockError::WouldBlock) => {
                let holder = fs::read_to_string(&path).unwrap_or_default();
                let mut lines = holder.lines().map(str::trim);
                let mut next = || {
                    lines
                        .next()
                        .filter(|line| !line.is_empty())
                        .map_or_else(|| "unknown".to_string(), str::to_string)
                };
                return Err(ServerLockError::Held {
                    pid: next(),
                    address: next(),
                    data_dir: data_dir.to_path_buf(),
                });
            }
            Err(TryLockError::Error(e)) => return Err(io(format!("lock {}", path.display()))(e)),
        }
        let mut lock = ServerLock { path, file };
        lock.record(address)?;
        Ok(lock)
    }

    /// Names this process and the address it listens on (known exactly once bound).
    pub fn record(&mut self, address: SocketAddr) -> Result<(), ServerLockError> {
        let context = format!("write {}", self.path.display());
        self.file.set_len(0).map_err(io(&context))?;
        self.file.rewind().map_err(io(&context))?;
        writeln!(self.file, "{}\n{address}", std::process::id()).map_err(io(&context))
    }
}

//! [`TempDb`]: a SQLite database file of one test, removed with its WAL files when dropped.

use std::path::{Path, PathBuf};

use oob::PendingId;

/// A fresh database path in the temporary directory (`oob-<what>-<random>.db`); the file
/// and its `-wal` and `-shm` companions are removed when this is dropped.
#[derive(Debug)]
pub struct TempDb(PathBuf);

impl TempDb {
    /// A new, unused path named after `what`.
    pub fn new(what: &str) -> Self {
        Self(std::env::temp_dir().join(format!("oob-{what}-{}.db", PendingId::random())))
    }

    /// The database's path.
    pub fn path(&self) -> &Path {
        &self.0
    }
}

impl Drop for TempDb {
    fn drop(&mut self) {
        for suffix in ["", "-wal", "-shm"] {
            let mut p = self.0.clone().into_os_string();
            p.push(suffix);
            let _ = std::fs::remove_file(p);
        }
    }
}

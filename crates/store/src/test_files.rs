//! A directory of its own for a test's SQLite files (the database, its WAL and shared memory), under the
//! system's temporary directory, created empty and removed when the test is done.

use std::path::PathBuf;

/// A fresh directory, removed on drop.
pub struct TestDir(PathBuf);

impl TestDir {
    /// `<tmp>/sb-<name>-<pid>`, emptied first (a previous run may have been killed).
    pub fn new(name: &str) -> Self {
        let dir = std::env::temp_dir().join(format!("sb-{name}-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    /// The path of `file` in the directory.
    pub fn path(&self, file: &str) -> PathBuf {
        self.0.join(file)
    }

    /// The `sqlite://` URL of the database file `file` in the directory.
    pub fn sqlite_url(&self, file: &str) -> String {
        format!("sqlite://{}", self.path(file).display())
    }
}

impl Drop for TestDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

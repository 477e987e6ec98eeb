//! A throwaway Postgres for tests: `initdb` in a temporary directory, loopback only, a free
//! port, trust authentication; run as the `postgres` user when the tests run as root
//! (`initdb` refuses root).
//!
//! A small `sh` watchdog holds a pipe from the test process: when the test process ends in
//! any way (even killed), the pipe closes and the watchdog stops the server with
//! `pg_ctl stop -m immediate`, so no server outlives its tests (also for servers kept in a
//! `static`).
//!
//! When `initdb`/`pg_ctl` are not installed, [`PostgresServer::start`] returns `None` after
//! printing a notice (the test then skips), unless the environment variable `CI` is set:
//! then it panics, so a CI run can never pass by skipping.

use std::io::Write;
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use oob::store::PostgresStore;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::DeviceCode;

mod replicas;
pub use replicas::Replicas;

/// Stops the server when a line arrives or the pipe closes. `$1`: the command prefix that
/// runs as the server's user, `$2`: `pg_ctl`, `$3`: the data directory, `$4`: the server's
/// directory, removed once the server stopped (also for a server kept in a `static`, which
/// is never dropped).
const WATCHDOG: &str =
    r#"read -r _; $1 "$2" stop -D "$3" -m immediate -w >/dev/null 2>&1; rm -rf "$4"; exit 0"#;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running (or stopped, restartable) Postgres server.
#[derive(Debug)]
pub struct PostgresServer {
    port: u16,
    dir: PathBuf,
    bin: PathBuf,
    as_postgres: bool,
    watchdog: Option<(Child, ChildStdin)>,
}

/// The directory holding `initdb` and `pg_ctl`: on `PATH`, or Debian's
/// `/usr/lib/postgresql/<version>/bin` (newest first).
#[must_use]
pub fn bin_dir() -> Option<PathBuf> {
    let on_path = std::env::var_os("PATH")
        .into_iter()
        .flat_map(|p| std::env::split_paths(&p).collect::<Vec<_>>());
    let mut debian: Vec<PathBuf> = std::fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .map(|e| e.path().join("bin"))
        .collect();
    debian.sort_by_key(|p| std::cmp::Reverse(version_of(p)));
    on_path
        .chain(debian)
        .find(|d| d.join("initdb").is_file() && d.join("pg_ctl").is_file())
}

fn version_of(bin: &Path) -> u32 {
    bin.parent()
        .and_then(Path::file_name)
        .and_then(|v| v.to_str())
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

/// `None` when Postgres is missing and the run may skip (prints why); panics in CI.
fn require() -> Option<PathBuf> {
    if let Some(bin) = bin_dir() {
        return Some(bin);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "initdb/pg_ctl are not installed, and CI is set: install Postgres (apt-get install -y \
         postgresql); Postgres tests never skip in CI"
    );
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: Postgres (initdb, pg_ctl) is not installed; skipping this Postgres test \
         (apt-get install -y postgresql to run it)"
    );
    None
}

fn is_root() -> bool {
    Command::new("id")
        .arg("-u")
        .output()
        .is_ok_and(|o| o.stdout.trim_ascii() == b"0")
}

impl PostgresServer {
    /// Initialises a cluster and starts it. `None` (after a notice) when Postgres is missing
    /// outside CI.
    ///
    /// # Panics
    /// In CI when Postgres is missing; when the cluster cannot be made or does not start.
    #[must_use]
    pub fn start() -> Option<Self> {
        let bin = require()?;
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "oob-pg-{}-{}-{port}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let as_postgres = is_root();
        if as_postgres {
            run(Command::new("chown").arg("postgres:postgres").arg(&dir));
        }
        let mut server = Self {
            port,
            dir,
            bin,
            as_postgres,
            watchdog: None,
        };
        let data = server.data();
        run(server.pg("initdb").arg("-D").arg(&data).args([
            "-U",
            "postgres",
            "--auth=trust",
            "-E",
            "UTF8",
            "--no-sync",
        ]));
        let prefix = if as_postgres {
            "runuser -u postgres --"
        } else {
            ""
        };
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .arg(prefix)
            .arg(server.bin.join("pg_ctl"))
            .arg(&data)
            .arg(&server.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn the watchdog");
        let stdin = child.stdin.take().expect("watchdog stdin");
        server.watchdog = Some((child, stdin));
        server.restart();
        Some(server)
    }

    fn data(&self) -> PathBuf {
        self.dir.join("data")
    }

    /// A command running the Postgres program `name` as the server's user.
    fn pg(&self, name: &str) -> Command {
        let program = self.bin.join(name);
        let mut cmd = if self.as_postgres {
            let mut c = Command::new("runuser");
            c.args(["-u", "postgres", "--"]).arg(program);
            c
        } else {
            Command::new(program)
        };
        // The server inherits nothing of the test process's output.
        cmd.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .current_dir(&self.dir);
        cmd
    }

    /// Starts the server (again) on the same port and data; waits until it accepts
    /// connections.
    ///
    /// # Panics
    /// When it does not come up.
    pub fn restart(&mut self) {
        let opts = format!(
            "-c listen_addresses=127.0.0.1 -p {} -k {} -c fsync=off -c max_connections=400",
            self.port,
            self.dir.display()
        );
        run(self
            .pg("pg_ctl")
            .arg("start")
            .arg("-D")
            .arg(self.data())
            .args(["-w", "-t", "60", "-l"])
            .arg(self.dir.join("postgres.log"))
            .arg("-o")
            .arg(opts));
    }

    /// Stops the server at once (`pg_ctl stop -m immediate`: no shutdown checkpoint, as after
    /// a crash; what was committed is recovered from the WAL at the next start).
    pub fn stop_immediate(&mut self) {
        run(self
            .pg("pg_ctl")
            .arg("stop")
            .arg("-D")
            .arg(self.data())
            .args(["-m", "immediate", "-w"]));
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The connection URL.
    #[must_use]
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// A new pool on the server (up to `max` connections, failing an acquire after 3 s).
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn pool(&self, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&self.url())
            .await
            .expect("connect to postgres")
    }

    /// A new pool on the server as the role `user` (which must exist and may log in).
    ///
    /// # Panics
    /// When the server cannot be reached.
    pub async fn pool_as(&self, user: &str, max: u32) -> PgPool {
        PgPoolOptions::new()
            .max_connections(max)
            .acquire_timeout(Duration::from_secs(3))
            .connect(&format!(
                "postgres://{user}@127.0.0.1:{}/postgres",
                self.port
            ))
            .await
            .expect("connect to postgres")
    }

    /// A migrated store in a fresh schema of its own on `pool`.
    ///
    /// # Panics
    /// When the store cannot be built or migrated.
    pub async fn store(
        pool: &PgPool,
        schema: &str,
        retention: Duration,
    ) -> PostgresStore<DeviceCode> {
        let store = PostgresStore::builder(pool.clone())
            .schema(schema)
            .retention(retention)
            .build()
            .await
            .expect("build the store");
        store.migrate().await.expect("migrate");
        store
    }
}

impl Drop for PostgresServer {
    fn drop(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"stop\n");
            drop(stdin);
            let _ = child.wait();
        }
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn run(cmd: &mut Command) {
    let status = cmd.status().expect("run a postgres program");
    assert!(status.success(), "{cmd:?} failed: {status}");
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// The test binary's one server, started on first use (kept in a `static`: the watchdog
/// stops it when the binary ends). `None` as for [`PostgresServer::start`].
#[must_use]
pub fn shared() -> Option<&'static PostgresServer> {
    static SERVER: std::sync::OnceLock<Option<PostgresServer>> = std::sync::OnceLock::new();
    SERVER.get_or_init(PostgresServer::start).as_ref()
}

/// A unique schema name for one test store.
#[must_use]
pub fn fresh_schema() -> String {
    format!(
        "t{}_{}",
        std::process::id(),
        SEQ.fetch_add(1, Ordering::SeqCst)
    )
}

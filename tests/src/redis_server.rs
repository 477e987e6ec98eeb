//! A throwaway `redis-server` for tests: loopback only, a free port, its own directory.
//!
//! The server runs under a small `sh` watchdog that holds a pipe from the test process:
//! when the test process ends in any way (even killed), the pipe closes and the watchdog
//! kills the server, so no server outlives its tests (also for servers kept in a `static`).
//!
//! When `redis-server` is not installed, [`RedisServer::start`] returns `None` after printing
//! a notice (the test then skips), unless the environment variable `CI` is set: then it
//! panics, so a CI run can never pass by skipping.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oob::provider::FromVerifiedSubject;
use oob::store::RedisStore;
use oob::time::SystemClock;
use oob::{CallbackBase, Manager};

use crate::DeviceCode;

/// A manager on a Redis store: one replica of a service.
pub type Replica = Manager<DeviceCode, RedisStore<DeviceCode>, FromVerifiedSubject>;

/// How long a starting server may take to answer `PING` before the test fails.
const READY_WITHIN: Duration = Duration::from_secs(20);

/// Kills the server when its line arrives or the pipe closes; waits for it to be gone. When
/// the pipe closed (the test process ended), also removes the server's directory.
const WATCHDOG: &str = r#"redis-server "$@" & p=$!; read -r line; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; [ -n "$line" ] || rm -rf "$OOB_REDIS_DIR"; exit 0"#;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// A running (or killed, restartable) `redis-server`.
#[derive(Debug)]
pub struct RedisServer {
    port: u16,
    dir: PathBuf,
    appendonly: bool,
    watchdog: Option<(Child, ChildStdin)>,
}

/// Whether `redis-server` can be run here.
#[must_use]
pub fn available() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `None` when `redis-server` is missing and the run may skip (prints why); panics in CI.
fn require() -> Option<()> {
    if available() {
        return Some(());
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "redis-server is not installed, and CI is set: install it (apt-get install -y \
         redis-server); Redis tests never skip in CI"
    );
    // Written straight to stderr so the test harness does not swallow it.
    let _ = writeln!(
        std::io::stderr(),
        "NOTICE: redis-server is not installed; skipping this Redis test \
         (apt-get install -y redis-server to run it)"
    );
    None
}

impl RedisServer {
    /// Starts a server without persistence (`--save ''`, no AOF). `None` (after a notice)
    /// when `redis-server` is missing outside CI.
    ///
    /// # Panics
    /// In CI when `redis-server` is missing; when the server does not come up.
    #[must_use]
    pub fn start() -> Option<Self> {
        Self::start_with(false)
    }

    /// Starts a server with an append-only file fsynced on every write, so everything it
    /// acknowledged survives a SIGKILL.
    ///
    /// # Panics
    /// As [`start`](Self::start).
    #[must_use]
    pub fn start_durable() -> Option<Self> {
        Self::start_with(true)
    }

    fn start_with(appendonly: bool) -> Option<Self> {
        require()?;
        let port = free_port();
        let dir = std::env::temp_dir().join(format!(
            "oob-redis-{}-{}-{port}",
            std::process::id(),
            SEQ.fetch_add(1, Ordering::SeqCst)
        ));
        std::fs::create_dir_all(&dir).expect("create the server's directory");
        let mut server = Self {
            port,
            dir,
            appendonly,
            watchdog: None,
        };
        server.spawn();
        Some(server)
    }

    fn spawn(&mut self) {
        let mut args: Vec<String> = vec![
            "--port".into(),
            self.port.to_string(),
            "--bind".into(),
            "127.0.0.1".into(),
            "--dir".into(),
            self.dir.display().to_string(),
            "--save".into(),
            String::new(),
            "--daemonize".into(),
            "no".into(),
            "--logfile".into(),
            "redis.log".into(),
        ];
        if self.appendonly {
            args.extend(["--appendonly", "yes", "--appendfsync", "always"].map(String::from));
        } else {
            args.extend(["--appendonly", "no"].map(String::from));
        }
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(WATCHDOG)
            .arg("sh")
            .args(&args)
            .env("OOB_REDIS_DIR", &self.dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn sh with redis-server");
        let stdin = child.stdin.take().expect("watchdog stdin");
        self.watchdog = Some((child, stdin));
        self.wait_ready();
    }

    fn wait_ready(&self) {
        let start = Instant::now();
        // Ours, not another test's server that took the port between `free_port` and the
        // bind: it works in this server's own directory.
        let dir = std::fs::canonicalize(&self.dir).unwrap_or_else(|_| self.dir.clone());
        loop {
            if serves_from(self.port, &dir.display().to_string()) {
                return;
            }
            assert!(
                start.elapsed() < READY_WITHIN,
                "redis-server on port {} did not answer from its directory (another server \
                 may hold the port; log: {})",
                self.port,
                self.dir.join("redis.log").display()
            );
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// The port.
    #[must_use]
    pub fn port(&self) -> u16 {
        self.port
    }

    /// The server's working directory (its append-only file lives there).
    #[must_use]
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The `redis://` URL of the server.
    #[must_use]
    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }

    /// A plain connection to the server, to look at or change keys behind a store's back.
    ///
    /// # Panics
    /// When it cannot connect.
    pub async fn raw(&self) -> redis::aio::MultiplexedConnection {
        redis::Client::open(self.url())
            .expect("client")
            .get_multiplexed_async_connection()
            .await
            .expect("raw connection")
    }

    /// A replica on this server: a manager (system clock, verified-subject namespaces) on
    /// its own connection to the store under `prefix`. Replicas with one prefix share pendings.
    ///
    /// # Panics
    /// When the store cannot connect.
    pub async fn replica(&self, prefix: &str) -> Replica {
        let client = redis::Client::open(self.url()).expect("client");
        let store = RedisStore::builder(client)
            .prefix(prefix)
            .connect()
            .await
            .expect("connect");
        Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
            .clock(SystemClock)
            .build()
    }

    /// Kills the server with SIGKILL and waits until it is gone.
    pub fn kill(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"kill\n");
            drop(stdin);
            let _ = child.wait();
        }
    }

    /// Starts the server again on the same port and directory (killing it first if it runs).
    ///
    /// # Panics
    /// When it does not come up.
    pub fn restart(&mut self) {
        self.kill();
        self.spawn();
    }
}

impl Drop for RedisServer {
    fn drop(&mut self) {
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

/// Whether the server on `port` answers `PING` (so it has loaded its data) and works in
/// `dir` (`CONFIG GET dir`).
fn serves_from(port: u16, dir: &str) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(1)));
    if s.write_all(b"PING\r\nCONFIG GET dir\r\n").is_err() {
        return false;
    }
    let want = format!("+PONG\r\n*2\r\n$3\r\ndir\r\n${}\r\n{dir}\r\n", dir.len());
    let mut reply = vec![0u8; want.len()];
    s.read_exact(&mut reply).is_ok() && reply == want.as_bytes()
}

/// Every key under `prefix`, sorted (`KEYS`: for tests only).
///
/// # Panics
/// When the command fails.
pub async fn keys_under(c: &mut redis::aio::MultiplexedConnection, prefix: &str) -> Vec<String> {
    let mut k: Vec<String> = redis::cmd("KEYS")
        .arg(format!("{prefix}*"))
        .query_async(c)
        .await
        .expect("KEYS");
    k.sort();
    k
}

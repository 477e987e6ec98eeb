//! The Redis bench's server, payload, baselines and measuring tools.
#![allow(dead_code, unreachable_pub)]

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, ChildStdin, Command, Stdio};
use std::time::{Duration, Instant};

use oob::{OobPayload, Spec};
use redis::aio::ConnectionManager;

pub mod pairs;

/// The device-code payload of the other benches.
#[derive(Clone, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "device_code", route = "/oob/cb/{id}")]
pub struct DeviceCode {
    verify_url: String,
    user_code: String,
    message: String,
}

/// The bench's spec (resource `example.com`, 10 minutes).
pub fn spec() -> Spec<DeviceCode> {
    Spec::new(DeviceCode {
        verify_url: "https://ex.com/device".into(),
        user_code: "ABCD-1234".into(),
        message: "Enter the code".into(),
    })
    .resource("example.com")
    .ttl(Duration::from_secs(600))
}

/// A `redis-server` under a watchdog shell that kills it when this process ends.
pub struct Server {
    port: u16,
    watchdog: Option<(Child, ChildStdin)>,
}

impl Server {
    pub fn start() -> Option<Self> {
        let found = Command::new("redis-server")
            .arg("--version")
            .stdout(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
        if !found {
            eprintln!("NOTICE: redis-server is not installed; skipping the Redis benchmark");
            return None;
        }
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("free port");
        let mut child = Command::new("sh")
            .arg("-c")
            .arg(r#"redis-server "$@" & p=$!; read -r _; kill -9 "$p"; wait "$p"; exit 0"#)
            .arg("sh")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no", "--logfile", ""])
            .stdin(Stdio::piped())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server");
        let stdin = child.stdin.take().expect("stdin");
        let server = Self {
            port,
            watchdog: Some((child, stdin)),
        };
        let start = Instant::now();
        while !ping(port) {
            assert!(
                start.elapsed() < Duration::from_secs(20),
                "redis-server did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        Some(server)
    }

    pub fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/", self.port)
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"kill\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

fn ping(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let mut buf = [0u8; 7];
    s.write_all(b"PING\r\n").is_ok() && s.read_exact(&mut buf).is_ok() && &buf == b"+PONG\r\n"
}

/// `INFO commandstats` as (command, calls, microseconds).
pub async fn commandstats(c: &mut ConnectionManager) -> Vec<(String, u64, u64)> {
    let info: String = redis::cmd("INFO")
        .arg("commandstats")
        .query_async(c)
        .await
        .expect("INFO");
    info.lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("cmdstat_")?;
            let (name, stats) = rest.split_once(':')?;
            let field = |f: &str| {
                stats
                    .split(',')
                    .find_map(|kv| kv.strip_prefix(f))
                    .and_then(|v| v.parse::<u64>().ok())
            };
            Some((name.to_owned(), field("calls=")?, field("usec=")?))
        })
        .collect()
}

/// Microseconds Redis spent in `commands` (top-level ones: scripts include what they call)
/// between two [`commandstats`] snapshots.
pub fn usec_in(
    before: &[(String, u64, u64)],
    after: &[(String, u64, u64)],
    commands: &[&str],
) -> u64 {
    let get = |s: &[(String, u64, u64)], n: &str| {
        s.iter().find(|(name, _, _)| name == n).map_or(0, |x| x.2)
    };
    commands
        .iter()
        .map(|c| get(after, c).saturating_sub(get(before, c)))
        .sum()
}

/// The median and the spread (min, max) of some figures.
pub fn median(mut v: Vec<f64>) -> (f64, f64, f64) {
    v.sort_by(f64::total_cmp);
    let mid = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    let lo = v.first().copied().unwrap_or(f64::NAN);
    let hi = v.last().copied().unwrap_or(f64::NAN);
    (mid, lo, hi)
}

/// CPU time this process's threads have used so far (ns; `/proc/self/task/*/schedstat`),
/// or 0 where that is not available.
pub fn client_cpu_ns() -> u64 {
    let Ok(tasks) = std::fs::read_dir("/proc/self/task") else {
        return 0;
    };
    tasks
        .filter_map(Result::ok)
        .filter_map(|t| std::fs::read_to_string(t.path().join("schedstat")).ok())
        .filter_map(|s| s.split_whitespace().next()?.parse::<u64>().ok())
        .sum()
}

/// CPU time Redis's main thread has used so far (µs; `INFO cpu`).
pub async fn redis_cpu_us(c: &mut ConnectionManager) -> f64 {
    let info: String = redis::cmd("INFO")
        .arg("cpu")
        .query_async(c)
        .await
        .expect("INFO cpu");
    info.lines()
        .filter_map(|l| l.split_once(':'))
        .filter(|(k, _)| *k == "used_cpu_sys_main_thread" || *k == "used_cpu_user_main_thread")
        .filter_map(|(_, v)| v.trim().parse::<f64>().ok())
        .sum::<f64>()
        * 1e6
}

//! A throwaway Redis Cluster for tests: `redis-server --cluster-enabled yes` nodes on free
//! loopback ports (each with its cluster bus port free too), joined by
//! `redis-cli --cluster create`, each under the same `sh` watchdog as
//! [`RedisServer`](crate::redis_server::RedisServer), so no node outlives the test process.
//! Dropping the cluster kills every node and removes their directories; a cluster kept in a
//! `static` is never dropped, and its watchdogs remove the directories when the process ends.
//!
//! Without `redis-server` and `redis-cli`, [`RedisCluster::start`] returns `None` after a
//! notice, unless `CI` is set: then it panics.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use oob::store::RedisStore;
use oob::store::redis::{RedisStoreBuilder, RedisTarget};

use crate::DeviceCode;

const WATCHDOG: &str = r#"redis-server "$@" & p=$!; read -r line; kill -9 "$p" 2>/dev/null; wait "$p" 2>/dev/null; [ -n "$line" ] || rm -rf "$OOB_REDIS_DIR"; exit 0"#;

static SEQ: AtomicUsize = AtomicUsize::new(0);

/// One node: its port, directory and watchdog.
#[derive(Debug)]
struct Node {
    port: u16,
    dir: PathBuf,
    watchdog: Option<(Child, ChildStdin)>,
}

impl Node {
    fn kill(&mut self) {
        if let Some((mut child, mut stdin)) = self.watchdog.take() {
            let _ = stdin.write_all(b"kill\n");
            drop(stdin);
            let _ = child.wait();
        }
    }
}

/// A running cluster.
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
}

fn installed(bin: &str) -> bool {
    Command::new(bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Ports this process handed to cluster nodes (their own and their bus ports).
static TAKEN: Mutex<BTreeSet<u16>> = Mutex::new(BTreeSet::new());

/// A free port whose cluster bus port (+10000) is free as well, both below the kernel's
/// ephemeral range (32768 and up on Linux), so no outgoing connection of this or another
/// test takes the bus port between this check and the node's start (which made a node fail
/// to start now and then), and neither handed to another node of this process.
fn free_port_pair() -> u16 {
    let mut taken = TAKEN
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    // Spread over the range from a per-process start, so concurrent test processes (or a
    // leftover node) rarely meet.
    let start = u32::from(u16::try_from(std::process::id() % 12_000).unwrap_or(0));
    for i in 0..12_000_u32 {
        let port = u16::try_from(10_000 + (start + i * 7) % 12_000).unwrap_or(10_000);
        let bus = port + 10_000;
        if !taken.contains(&port)
            && !taken.contains(&bus)
            && TcpListener::bind(("127.0.0.1", port)).is_ok()
            && TcpListener::bind(("127.0.0.1", bus)).is_ok()
        {
            taken.insert(port);
            taken.insert(bus);
            return port;
        }
    }
    panic!("no free port pair for a cluster node");
}

/// Sends one inline command and returns the raw reply (enough for `PING` and `INFO`-like
/// bulk replies in tests).
fn inline(port: u16, cmd: &str) -> Option<String> {
    let mut s = TcpStream::connect(("127.0.0.1", port)).ok()?;
    s.set_read_timeout(Some(Duration::from_secs(1))).ok()?;
    s.write_all(format!("{cmd}\r\n").as_bytes()).ok()?;
    let mut out = Vec::new();
    let mut buf = [0u8; 4096];
    loop {
        match s.read(&mut buf) {
            Ok(0) | Err(_) => break,
            Ok(n) => {
                out.extend_from_slice(&buf[..n]);
                let text = String::from_utf8_lossy(&out);
                // A simple reply, or a bulk string read to its end.
                if text.starts_with('+') || text.starts_with('-') {
                    break;
                }
                if let Some((head, body)) = text.split_once("\r\n")
                    && let Ok(len) = head.trim_start_matches('$').parse::<usize>()
                    && body.len() >= len
                {
                    break;
                }
            }
        }
    }
    Some(String::from_utf8_lossy(&out).into_owned())
}

impl RedisCluster {
    /// Starts `primaries` primaries with `replicas` replicas each (fast failover: node
    /// timeout 1 s), and waits until every node reports `cluster_state:ok`. `None` (after a
    /// notice) when Redis is not installed outside CI.
    ///
    /// # Panics
    /// In CI without Redis; when the cluster does not form.
    #[must_use]
    pub fn start(primaries: usize, replicas: usize) -> Option<Self> {
        if !installed("redis-server") || !installed("redis-cli") {
            assert!(
                std::env::var_os("CI").is_none(),
                "redis-server/redis-cli are not installed, and CI is set: install them \
                 (apt-get install -y redis-server redis-tools); Redis tests never skip in CI"
            );
            let _ = writeln!(
                std::io::stderr(),
                "NOTICE: redis-server or redis-cli is not installed; skipping this cluster test"
            );
            return None;
        }
        let total = primaries * (1 + replicas);
        let mut cluster = Self { nodes: Vec::new() };
        for _ in 0..total {
            let port = free_port_pair();
            let dir = std::env::temp_dir().join(format!(
                "oob-redis-cluster-{}-{}-{port}",
                std::process::id(),
                SEQ.fetch_add(1, Ordering::SeqCst)
            ));
            std::fs::create_dir_all(&dir).expect("node directory");
            let mut node = Node {
                port,
                dir,
                watchdog: None,
            };
            let args = [
                "--port",
                &port.to_string(),
                "--bind",
                "127.0.0.1",
                "--dir",
                &node.dir.display().to_string(),
                "--cluster-enabled",
                "yes",
                "--cluster-config-file",
                "nodes.conf",
                "--cluster-node-timeout",
                "1000",
                "--save",
                "",
                "--appendonly",
                "no",
                "--logfile",
                "redis.log",
            ]
            .map(String::from);
            let mut child = Command::new("sh")
                .arg("-c")
                .arg(WATCHDOG)
                .arg("sh")
                .args(&args)
                .env("OOB_REDIS_DIR", &node.dir)
                .stdin(Stdio::piped())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .expect("spawn redis-server");
            let stdin = child.stdin.take().expect("stdin");
            node.watchdog = Some((child, stdin));
            cluster.nodes.push(node);
        }
        for n in &cluster.nodes {
            let start = Instant::now();
            while !inline(n.port, "PING").is_some_and(|r| r.starts_with("+PONG")) {
                assert!(
                    start.elapsed() < Duration::from_secs(20),
                    "node did not start"
                );
                std::thread::sleep(Duration::from_millis(10));
            }
        }
        let addrs: Vec<String> = cluster
            .nodes
            .iter()
            .map(|n| format!("127.0.0.1:{}", n.port))
            .collect();
        let out = Command::new("redis-cli")
            .arg("--cluster")
            .arg("create")
            .args(&addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .output()
            .expect("redis-cli --cluster create");
        assert!(
            out.status.success(),
            "cluster create failed: {}",
            String::from_utf8_lossy(&out.stdout)
        );
        cluster.wait_ok(Duration::from_secs(30));
        Some(cluster)
    }

    /// Waits until every live node reports `cluster_state:ok`.
    ///
    /// # Panics
    /// When that takes longer than `within`.
    pub fn wait_ok(&self, within: Duration) {
        let start = Instant::now();
        for n in self.nodes.iter().filter(|n| n.watchdog.is_some()) {
            while !inline(n.port, "CLUSTER INFO").is_some_and(|r| r.contains("cluster_state:ok")) {
                assert!(start.elapsed() < within, "the cluster did not become ok");
                std::thread::sleep(Duration::from_millis(50));
            }
        }
    }

    /// The `redis://` URLs of every node.
    #[must_use]
    pub fn urls(&self) -> Vec<String> {
        self.nodes
            .iter()
            .map(|n| format!("redis://127.0.0.1:{}/", n.port))
            .collect()
    }

    /// A store builder on the cluster (every node as a seed).
    ///
    /// # Panics
    /// Never for the cluster's own URLs.
    #[must_use]
    pub fn store_builder(&self) -> RedisStoreBuilder<DeviceCode> {
        RedisStore::builder(RedisTarget::cluster(self.urls()).expect("cluster target"))
    }

    /// The index of the live node that is the primary serving `slot`.
    #[must_use]
    pub fn primary_of(&self, slot: u16) -> Option<usize> {
        let live = self.nodes.iter().find(|n| n.watchdog.is_some())?;
        let nodes = inline(live.port, "CLUSTER NODES")?;
        for line in nodes.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() < 9 || !f[2].contains("master") || f[2].contains("fail") {
                continue;
            }
            let serves = f[8..].iter().any(|r| {
                let (a, b) = r.split_once('-').unwrap_or((r, r));
                matches!((a.parse::<u16>(), b.parse::<u16>()), (Ok(a), Ok(b)) if a <= slot && slot <= b)
            });
            if serves {
                let port: u16 = f[1].split(['@', ':']).nth(1)?.parse().ok()?;
                return self.nodes.iter().position(|n| n.port == port);
            }
        }
        None
    }

    /// Kills node `i` with SIGKILL.
    pub fn kill(&mut self, i: usize) {
        if let Some(n) = self.nodes.get_mut(i) {
            n.kill();
        }
    }
}

/// The hash slot of a key (CRC16 of its hash tag, mod 16384).
#[must_use]
pub fn key_slot(key: &str) -> u16 {
    let tag = key
        .find('{')
        .and_then(|o| {
            key[o + 1..]
                .find('}')
                .filter(|l| *l > 0)
                .map(|l| &key[o + 1..o + 1 + l])
        })
        .unwrap_or(key);
    let mut crc: u16 = 0;
    for b in tag.bytes() {
        crc ^= u16::from(b) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc % 16_384
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        for n in &mut self.nodes {
            n.kill();
            let _ = std::fs::remove_dir_all(&n.dir);
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn key_slots_match_redis() {
        // Values from `CLUSTER KEYSLOT`.
        assert_eq!(super::key_slot("somekey"), 11_058);
        assert_eq!(super::key_slot("foo{hash_tag}"), 2_515);
        assert_eq!(super::key_slot("{oob}:x"), super::key_slot("oob"));
    }
}

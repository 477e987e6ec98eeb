//! `RedisVault::with_wait_for_replicas` with the longest timeout (`Duration::MAX`, "as long
//! as it takes") against a primary with one replica: the write is acknowledged. Before, the
//! vault sent a `WAIT` timeout Redis refuses, after the write was applied, so every write
//! was reported failed.

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use oob::vault::{RedisVault, Vault};
use oob_tests::redis_server::RedisServer;

/// A `redis-server` replicating `primary`, killed when dropped.
struct ReplicaProcess(Child);

impl Drop for ReplicaProcess {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free loopback port")
}

#[tokio::test]
async fn waiting_as_long_as_it_takes_is_a_timeout_redis_accepts() {
    let Some(primary) = RedisServer::start() else {
        // No redis-server and not in CI: nothing here can run.
        return;
    };
    let dir = primary.dir().join("replica");
    std::fs::create_dir_all(&dir).expect("replica dir");
    let replica = ReplicaProcess(
        Command::new("redis-server")
            .args(["--port", &free_port().to_string(), "--bind", "127.0.0.1"])
            .args(["--save", "", "--appendonly", "no"])
            .args(["--replicaof", "127.0.0.1", &primary.port().to_string()])
            .arg("--dir")
            .arg(&dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start the replica"),
    );
    let mut raw = primary.raw().await;
    let since = Instant::now();
    loop {
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query_async(&mut raw)
            .await
            .expect("INFO");
        if info.contains("connected_slaves:1") && info.contains("state=online") {
            break;
        }
        assert!(
            since.elapsed() < Duration::from_secs(20),
            "the replica did not come online: {info}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }

    let m = oob_tests::manager();
    let alice = oob_tests::user("alice");
    let t = m.caller(&alice).expect("caller");
    let client = redis::Client::open(primary.url()).expect("client");
    let vault = RedisVault::<String>::connect(client)
        .await
        .expect("connect")
        .with_prefix("{wait}:")
        .with_wait_for_replicas(1, Duration::MAX);
    vault
        .put(&t, "github", "gho_1".to_owned())
        .await
        .expect("acknowledged by the replica");
    assert!(vault.delete(&t, "github").await.expect("delete"));
    drop(replica);
}

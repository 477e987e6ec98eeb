//! [`RedisStateGuard`] on a real Redis Cluster (three primaries, started by the test) when
//! the reply to a consume is lost: the primary of the nonce's slot is reached through a
//! proxy that forwards the `SET`, drops its reply and closes the connection, so the cluster
//! connection sends the `SET` again. The guard must still report the first use (`Ok`), not
//! a replay.
//!
//! Without `redis-server` installed the test skips with a notice (unless `CI` is set: then
//! it fails).

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use oob::mcp::{GuardError, RedisStateGuard, StateGuard};
use oob::store::RedisTarget;
use oob_tests::redis_cluster::{RedisCluster, key_slot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A TCP proxy to `127.0.0.1:upstream` that loses one reply: the first command whose bytes
/// contain `marker` reaches the server, then the proxy reads the server's reply, drops it
/// and closes the connection, as when a connection fails after the server applied a
/// command. Returns the proxy's port and a count of the replies it lost.
async fn reply_losing_proxy(upstream: u16, marker: &'static [u8]) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let armed = Arc::new(AtomicBool::new(true));
    let lost = Arc::new(AtomicUsize::new(0));
    let counter = lost.clone();
    tokio::spawn(async move {
        while let Ok((client, _)) = listener.accept().await {
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                continue;
            };
            let (armed, lost) = (armed.clone(), lost.clone());
            tokio::spawn(async move {
                let (mut cr, mut cw) = client.into_split();
                let (mut sr, mut sw) = server.into_split();
                let losing = AtomicBool::new(false);
                let up = async {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = cr.read(&mut buf).await {
                        let hit = buf[..n].windows(marker.len()).any(|w| w == marker);
                        // Decided before the command is forwarded, so before its reply.
                        if hit && armed.swap(false, Ordering::SeqCst) {
                            losing.store(true, Ordering::SeqCst);
                        }
                        if sw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                let down = async {
                    let mut buf = vec![0; 64 * 1024];
                    while let Ok(n @ 1..) = sr.read(&mut buf).await {
                        if losing.load(Ordering::SeqCst) {
                            lost.fetch_add(1, Ordering::SeqCst);
                            break;
                        }
                        if cw.write_all(&buf[..n]).await.is_err() {
                            break;
                        }
                    }
                };
                // Either side ending drops both connections.
                tokio::select! {
                    () = up => {}
                    () = down => {}
                }
            });
        }
    });
    (port, counter)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_a_cluster_a_retried_consume_whose_first_reply_was_lost_is_the_first_use() {
    let Some(cluster) = RedisCluster::start(3, 0) else {
        return;
    };
    let urls = cluster.urls();
    let nonce = "lost-reply";
    let key = format!("{}{nonce}", RedisStateGuard::DEFAULT_PREFIX);
    let primary = cluster.primary_of(key_slot(&key)).expect("a primary");
    let node_port: u16 = urls[primary]
        .trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("node port");
    // The primary of the key's slot announces the proxy as its address, so the cluster
    // connection reaches it through the proxy.
    let (proxy, lost) = reply_losing_proxy(node_port, nonce.as_bytes()).await;
    let mut admin = redis::Client::open(urls[primary].as_str())
        .unwrap()
        .get_multiplexed_async_connection()
        .await
        .unwrap();
    let _: () = redis::cmd("CONFIG")
        .arg("SET")
        .arg("cluster-announce-port")
        .arg(proxy)
        .query_async(&mut admin)
        .await
        .unwrap();

    let target = RedisTarget::cluster([urls[primary].clone()]).expect("cluster target");
    let g = RedisStateGuard::connect(target).await.expect("connect");
    let exp = SystemTime::now() + Duration::from_secs(600);
    // The SET is applied, its reply lost, the connection dropped; the cluster connection
    // sends it again, and Redis answers with the token the first attempt stored.
    g.consume(nonce, exp).await.expect("the first use");
    assert_eq!(lost.load(Ordering::SeqCst), 1, "the proxy lost the reply");
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(&key)
        .query_async(&mut admin)
        .await
        .unwrap();
    assert_eq!(stored.len(), 16);
    // A later consume is a replay, as always.
    assert!(matches!(
        g.consume(nonce, exp).await,
        Err(GuardError::Replayed)
    ));
}

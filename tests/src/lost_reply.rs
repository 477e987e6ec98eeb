//! A TCP proxy that loses one reply, as a connection that fails after the server applied a
//! command does: the first command whose bytes contain the armed marker reaches the
//! server, then the proxy reads the server's reply, drops it and closes the connection.
//! Put in front of a Redis Cluster node (the node announces the proxy's port, see
//! [`LostReplyProxy::announce`]), it makes the cluster connection send the command again.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// The proxy (see the module docs); it runs until the runtime ends.
#[derive(Debug, Clone)]
pub struct LostReplyProxy {
    /// The proxy's port on 127.0.0.1.
    pub port: u16,
    marker: Arc<Mutex<Option<Vec<u8>>>>,
    lost: Arc<AtomicUsize>,
}

impl LostReplyProxy {
    /// A proxy to `127.0.0.1:upstream`, not armed.
    pub async fn start(upstream: u16) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let proxy = Self {
            port,
            marker: Arc::default(),
            lost: Arc::default(),
        };
        let shared = proxy.clone();
        tokio::spawn(async move {
            while let Ok((client, _)) = listener.accept().await {
                let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)).await else {
                    continue;
                };
                tokio::spawn(shared.clone().relay(client, server));
            }
        });
        proxy
    }

    /// Loses the reply to the next command that contains `marker`.
    pub fn arm(&self, marker: &str) {
        *self.marker.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(marker.as_bytes().to_vec());
    }

    /// How many replies it lost.
    pub fn lost(&self) -> usize {
        self.lost.load(Ordering::SeqCst)
    }

    /// Makes the cluster node at `node_url` announce this proxy's port as its own, so a
    /// cluster connection reaches the node through the proxy.
    pub async fn announce(&self, node_url: &str) {
        let mut admin = redis::Client::open(node_url)
            .expect("node url")
            .get_multiplexed_async_connection()
            .await
            .expect("admin connection");
        let () = redis::cmd("CONFIG")
            .arg("SET")
            .arg("cluster-announce-port")
            .arg(self.port)
            .query_async(&mut admin)
            .await
            .expect("announce the proxy");
    }

    async fn relay(self, client: TcpStream, server: TcpStream) {
        let (mut cr, mut cw) = client.into_split();
        let (mut sr, mut sw) = server.into_split();
        let losing = AtomicBool::new(false);
        let up = async {
            let mut buf = vec![0; 64 * 1024];
            while let Ok(n @ 1..) = cr.read(&mut buf).await {
                {
                    // Decided before the command is forwarded, so before its reply.
                    let mut m = self.marker.lock().unwrap_or_else(PoisonError::into_inner);
                    if m.as_ref()
                        .is_some_and(|k| buf[..n].windows(k.len()).any(|w| w == &k[..]))
                    {
                        *m = None;
                        losing.store(true, Ordering::SeqCst);
                    }
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
                    self.lost.fetch_add(1, Ordering::SeqCst);
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
    }
}

/// The port of a `redis://127.0.0.1:port/` URL.
#[must_use]
pub fn port_of(url: &str) -> u16 {
    url.trim_end_matches('/')
        .rsplit(':')
        .next()
        .and_then(|p| p.parse().ok())
        .expect("a port in the URL")
}

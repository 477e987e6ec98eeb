//! Change events: the subscriber task that feeds the in-process [`Notifier`] from the
//! store's channel, and what a message says.
//!
//! A message is the id alone (waiters re-read the record) or, when the record is forgotten
//! at once (zero retention), the id, a space and the record's fields as a JSON array, so
//! waiters on other replicas learn the outcome without reading it.

use std::str::FromStr;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use redis::{Client, ConnectionAddr, RedisError, Value};
use serde::de::DeserializeOwned;

use super::codec::message_record;
use crate::id::PendingId;
use crate::store::Notifier;

/// Handles one event message: wakes the local waiters of its id, with the record when the
/// message carries one and somebody waits.
pub(crate) fn on_event<T: DeserializeOwned>(notifier: &Notifier<T>, payload: &[u8]) {
    let Some(id) = payload
        .get(..36)
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| PendingId::from_str(s).ok())
    else {
        return;
    };
    if !notifier.is_watched(id) {
        return;
    }
    let record = payload
        .get(37..)
        .filter(|r| !r.is_empty())
        .and_then(|json| message_record::<T>(id, json));
    match record {
        Some(r) => notifier.notify_with(id, r),
        None => notifier.notify(id),
    }
}

pub(crate) struct SubscriberCtx<T> {
    /// The servers to subscribe on, tried in turn (one, or every known cluster node).
    pub(crate) clients: Vec<Client>,
    /// A cluster: on each subscription the node's view of the cluster (`CLUSTER NODES`)
    /// adds every node to `clients`, so a failover that takes the seed nodes away leaves
    /// nodes to move to.
    pub(crate) discover: bool,
    pub(crate) channel: String,
    pub(crate) notifier: Notifier<T>,
    pub(crate) subscribed: Arc<AtomicBool>,
    pub(crate) ready: tokio::sync::watch::Sender<bool>,
    pub(crate) connection_timeout: Duration,
    pub(crate) response_timeout: Duration,
    pub(crate) keepalive: Duration,
}

/// The event subscriber: subscribes, feeds the notifier, and reconnects (to the next
/// server in turn, with backoff up to a second) whenever the connection is lost.
pub(crate) async fn subscriber<T: DeserializeOwned + Send + Sync + 'static>(
    mut cx: SubscriberCtx<T>,
) {
    const MIN_BACKOFF: Duration = Duration::from_millis(20);
    const MAX_BACKOFF: Duration = Duration::from_secs(1);
    let mut backoff = MIN_BACKOFF;
    let mut next = 0usize;
    loop {
        let Some(client) = cx.clients.get(next % cx.clients.len().max(1)).cloned() else {
            return;
        };
        next = next.wrapping_add(1);
        let connected = tokio::time::timeout(
            cx.connection_timeout.saturating_add(cx.response_timeout),
            async {
                let mut ps = client.get_async_pubsub().await?;
                ps.subscribe(&cx.channel).await?;
                Ok::<_, RedisError>(ps)
            },
        )
        .await;
        if let Ok(Ok(ps)) = connected {
            backoff = MIN_BACKOFF;
            next = next.wrapping_sub(1);
            if cx.discover {
                let found = tokio::time::timeout(
                    cx.connection_timeout.saturating_add(cx.response_timeout),
                    cluster_nodes(&client),
                )
                .await;
                if let Ok(Ok(nodes)) = found {
                    add_nodes(&mut cx.clients, &nodes);
                }
            }
            let (mut sink, mut stream) = ps.split();
            cx.subscribed.store(true, Ordering::SeqCst);
            cx.ready.send_replace(true);
            // Events may have been missed while disconnected: every waiter re-reads.
            cx.notifier.notify_all();
            let mut tick = tokio::time::interval(cx.keepalive);
            tick.reset();
            loop {
                tokio::select! {
                    msg = std::future::poll_fn(|c| {
                        futures_core::Stream::poll_next(std::pin::Pin::new(&mut stream), c)
                    }) => match msg {
                        Some(m) => on_event(&cx.notifier, m.get_payload_bytes()),
                        None => break,
                    },
                    _ = tick.tick() => {
                        let pong = tokio::time::timeout(
                            cx.response_timeout,
                            sink.ping::<Value>(),
                        ).await;
                        if !matches!(pong, Ok(Ok(_))) {
                            break;
                        }
                    }
                }
            }
            cx.subscribed.store(false, Ordering::SeqCst);
            cx.ready.send_replace(false);
            // Try the next server first after a lost connection (its server may be gone).
            next = next.wrapping_add(1);
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(MAX_BACKOFF);
    }
}

/// The `CLUSTER NODES` answer of the node `client` reaches.
async fn cluster_nodes(client: &Client) -> Result<String, RedisError> {
    let mut c = client.get_multiplexed_async_connection().await?;
    redis::cmd("CLUSTER").arg("NODES").query_async(&mut c).await
}

/// Adds to `clients` every node of a `CLUSTER NODES` answer they do not hold, each with the
/// settings (credentials, TLS) of the first of them. A line's second field is the node's
/// `host:port@bus-port[,hostname]`; a node without an address (`:0@0`) is left out.
fn add_nodes(clients: &mut Vec<Client>, nodes: &str) {
    let Some(seed) = clients.first().map(|c| c.get_connection_info().clone()) else {
        return;
    };
    for line in nodes.lines() {
        let Some(addr) = line.split(' ').nth(1) else {
            continue;
        };
        let hostport = addr.split(['@', ',']).next().unwrap_or_default();
        let Some((host, port)) = hostport.rsplit_once(':') else {
            continue;
        };
        let Ok(port) = port.parse::<u16>() else {
            continue;
        };
        if host.is_empty() || port == 0 {
            continue;
        }
        let known = clients
            .iter()
            .any(|c| match c.get_connection_info().addr() {
                ConnectionAddr::Tcp(h, p)
                | ConnectionAddr::TcpTls {
                    host: h, port: p, ..
                } => h == host && *p == port,
                _ => false,
            });
        if known {
            continue;
        }
        let addr = match seed.addr() {
            ConnectionAddr::Tcp(..) => ConnectionAddr::Tcp(host.to_owned(), port),
            ConnectionAddr::TcpTls {
                insecure,
                tls_params,
                ..
            } => ConnectionAddr::TcpTls {
                host: host.to_owned(),
                port,
                insecure: *insecure,
                tls_params: tls_params.clone(),
            },
            _ => continue,
        };
        if let Ok(c) = Client::open(seed.clone().set_addr(addr)) {
            clients.push(c);
        }
    }
}

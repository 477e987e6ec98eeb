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
    /// A cluster: on each subscription `clients` becomes the nodes given (the first
    /// `seeds` of it) and the nodes the subscribed node names (`CLUSTER NODES`), so a
    /// failover that takes the given nodes away leaves nodes to move to.
    pub(crate) discover: bool,
    /// How many of `clients` were given (they stay in it).
    pub(crate) seeds: usize,
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
                    cx.clients.truncate(cx.seeds);
                    add_nodes(&mut cx.clients, &nodes);
                    // The node subscribed to, where it now is in the list (so that after
                    // losing it the next one is tried first).
                    let here = client.get_connection_info().addr().to_string();
                    if let Some(at) = cx
                        .clients
                        .iter()
                        .position(|c| c.get_connection_info().addr().to_string() == here)
                    {
                        next = at;
                    }
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
/// settings (credentials, TLS) of the first of them. A line is `id address flags …`, the
/// address `ip:port@bus-port[,hostname]`: the node is reached by its IP, as the cluster
/// client reaches it, or by the hostname it announces when the first node was given by
/// name (a TLS certificate names hosts). Nodes flagged failing, in handshake or without an
/// address are left out.
fn add_nodes(clients: &mut Vec<Client>, nodes: &str) {
    let Some(seed) = clients.first().map(|c| c.get_connection_info().clone()) else {
        return;
    };
    let by_name = match seed.addr() {
        ConnectionAddr::Tcp(h, _) | ConnectionAddr::TcpTls { host: h, .. } => h
            .trim_matches(['[', ']'])
            .parse::<std::net::IpAddr>()
            .is_err(),
        _ => false,
    };
    for line in nodes.lines() {
        let mut fields = line.split(' ');
        let (Some(addr), Some(flags)) = (fields.nth(1), fields.next()) else {
            continue;
        };
        if flags
            .split(',')
            .any(|f| matches!(f, "fail" | "fail?" | "handshake" | "noaddr"))
        {
            continue;
        }
        let (ipport, hostname) = match addr.split_once('@') {
            Some((ipport, bus)) => (ipport, bus.split_once(',').map(|(_, h)| h)),
            None => (addr, None),
        };
        let Some((ip, port)) = ipport.rsplit_once(':') else {
            continue;
        };
        let host = hostname.filter(|h| by_name && !h.is_empty()).unwrap_or(ip);
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

#[cfg(test)]
mod tests {
    use redis::{Client, ConnectionAddr};

    use super::add_nodes;

    fn addrs(clients: &[Client]) -> Vec<String> {
        clients
            .iter()
            .map(|c| match c.get_connection_info().addr() {
                ConnectionAddr::Tcp(h, p) => format!("{h}:{p}"),
                other => format!("{other:?}"),
            })
            .collect()
    }

    /// Nodes by IP (IPv6 included), or by the hostname they announce when the first node
    /// was given by name; failing, in handshake and address-less nodes left out; known
    /// ones not added twice.
    #[test]
    fn cluster_nodes_are_read_for_what_they_announce() {
        let mut by_name = vec![Client::open("redis://node-a.example:7000/").unwrap()];
        add_nodes(
            &mut by_name,
            "b2 10.0.0.2:7001@17001,node-b.example master - 0 0 2 connected 5461-10922\n",
        );
        assert_eq!(
            addrs(&by_name),
            ["node-a.example:7000", "node-b.example:7001"]
        );
        let mut clients = vec![Client::open("redis://10.0.0.1:7000/").unwrap()];
        let nodes = "\
a1 10.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460
b2 10.0.0.2:7001@17001,node-b.example master - 0 0 2 connected 5461-10922
c3 ::1:7002@17002 slave b2 0 0 2 connected
d4 10.0.0.4:7003@17003 master,fail - 0 0 3 connected
e5 10.0.0.5:7004@17004 handshake - 0 0 0 connected
f6 :0@0 master,noaddr - 0 0 0 disconnected
g7 10.0.0.7:7006@17006 slave,fail? a1 0 0 1 connected
";
        add_nodes(&mut clients, nodes);
        assert_eq!(
            addrs(&clients),
            ["10.0.0.1:7000", "10.0.0.2:7001", "::1:7002"]
        );
        add_nodes(&mut clients, nodes);
        assert_eq!(clients.len(), 3);
    }
}

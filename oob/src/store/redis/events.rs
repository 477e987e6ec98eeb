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

use redis::{Client, RedisError, Value};
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
pub(crate) async fn subscriber<T: DeserializeOwned + Send + Sync + 'static>(cx: SubscriberCtx<T>) {
    const MIN_BACKOFF: Duration = Duration::from_millis(20);
    const MAX_BACKOFF: Duration = Duration::from_secs(1);
    let mut backoff = MIN_BACKOFF;
    let mut next = 0usize;
    loop {
        let Some(client) = cx.clients.get(next % cx.clients.len().max(1)) else {
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

//! [`RedisStoreBuilder`]: the options of a [`RedisStore`], and connecting it.

use std::marker::PhantomData;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use serde::de::DeserializeOwned;

use super::conn::RedisTarget;
use super::error::{RedisStoreError, reply};
use super::events::{SubscriberCtx, subscriber};
use super::keys::{Keys, has_hash_tag};
use super::maintenance::sweep;
use super::recent::Recent;
use super::{DEFAULT_PREFIX, DEFAULT_RETENTION, DEFAULT_TTL_SLACK, RedisStore, Shared};
use crate::payload::OobPayload;
use crate::store::{Notifier, StoreError};

/// Options for a [`RedisStore`]; [`connect`](Self::connect) opens it.
pub struct RedisStoreBuilder<T> {
    target: RedisTarget,
    prefix: String,
    retention: Duration,
    slack: Duration,
    connection_timeout: Duration,
    response_timeout: Duration,
    keepalive: Duration,
    replicas: Option<(u32, Duration)>,
    _payload: PhantomData<fn() -> T>,
}

impl<T> std::fmt::Debug for RedisStoreBuilder<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("target", &self.target)
            .field("prefix", &self.prefix)
            .field("retention", &self.retention)
            .field("connection_timeout", &self.connection_timeout)
            .field("response_timeout", &self.response_timeout)
            .field("wait_for_replicas", &self.replicas)
            .finish_non_exhaustive()
    }
}

impl<T> RedisStoreBuilder<T> {
    pub(super) fn new(target: RedisTarget) -> Self {
        Self {
            target,
            prefix: DEFAULT_PREFIX.to_owned(),
            retention: DEFAULT_RETENTION,
            slack: DEFAULT_TTL_SLACK,
            connection_timeout: Duration::from_secs(1),
            response_timeout: Duration::from_secs(2),
            keepalive: Duration::from_secs(10),
            replicas: None,
            _payload: PhantomData,
        }
    }

    /// The key prefix (default [`DEFAULT_PREFIX`]). Keys are the prefix, the payload kind
    /// and `:`, then a short tag, so payload types may share a prefix. It must end with `:`
    /// ([`connect`](Self::connect) refuses another), and on Redis Cluster carry a hash tag
    /// (e.g. `{oob}:`). Stores on one Redis use one prefix, or prefixes neither of which
    /// begins with the other: a prefix that begins with another store's prefix and kind
    /// (`oob:` with kind `device`, and `oob:device:n:`) names keys of that store.
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// How long finished and expired records stay readable (default [`DEFAULT_RETENTION`]).
    /// With zero, a finished record is gone for every read when the call that finished it
    /// returns (its waiters, here and on other replicas, get the record with the event).
    /// This setting changes no stored record.
    #[must_use]
    pub fn retention(mut self, retention: Duration) -> Self {
        self.retention = retention;
        self
    }

    /// How soon after its retention window a record is forgotten when no sweeper calls
    /// [`purge`](crate::store::Store::purge): within twice this (default
    /// [`DEFAULT_TTL_SLACK`]). Every connected store purges by itself this often (at least
    /// once a second), forgetting what a purge at Redis's clock (`TIME`) minus this would,
    /// so the host clocks of the stores that sweep do not matter. That is safe for the
    /// records of services whose clocks run up to this much behind Redis's; the records of
    /// a service whose clock runs further behind are forgotten early, by the excess (and
    /// one it just finished, once the excess passes the retention window). An explicit
    /// [`purge`](crate::store::Store::purge) goes by the `now` it is given. (Records carry
    /// no Redis TTL: a key expiring by itself would leave its index entries behind.)
    #[must_use]
    pub fn ttl_slack(mut self, slack: Duration) -> Self {
        self.slack = slack;
        self
    }

    /// How long one connection attempt may take (default 1 s). While Redis is down an
    /// operation fails within about this time.
    #[must_use]
    pub fn connection_timeout(mut self, timeout: Duration) -> Self {
        self.connection_timeout = timeout;
        self
    }

    /// How long a reply may take (default 2 s).
    #[must_use]
    pub fn response_timeout(mut self, timeout: Duration) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// How often the event subscriber pings Redis to notice a dead connection (default 10 s;
    /// at least 1 ms, a shorter period is 1 ms).
    #[must_use]
    pub fn keepalive(mut self, every: Duration) -> Self {
        self.keepalive = every.max(Duration::from_millis(1));
        self
    }

    /// After every create and transition, waits (`WAIT`) until `replicas` replicas of the
    /// primary acknowledged it, at most `timeout`; fewer fails the call with
    /// [`RedisStoreError::NotReplicated`] (the write itself stays applied: a transition's
    /// waiters are told its outcome all the same, and a
    /// [`complete_with`](crate::Manager::complete_with) so failed does not run its persist
    /// step, though the pending is completed). With this, an
    /// acknowledged write survives a failover to any replica that acknowledged it: Redis
    /// replication is asynchronous otherwise, and a primary killed before it replicated
    /// loses its last writes. Default: off.
    ///
    /// Creates and transitions then go on a connection of their own, and each waits
    /// there: `WAIT` covers only its own connection's writes and holds that connection
    /// while it waits, so a lagging replica delays the store's other writes (up to
    /// `timeout` each) but not its reads, lists, purges and clears.
    ///
    /// `timeout` is capped at three quarters of the
    /// [`response_timeout`](Self::response_timeout), so the reply of a `WAIT` that runs out
    /// arrives before the client gives up on it. `WAIT` counts the replicas that have the
    /// writes of its own connection: should that connection break between a write and its
    /// `WAIT` (the store reconnects by itself), the `WAIT` runs on the new connection,
    /// which wrote nothing yet, and answers at once with every connected replica, so that
    /// one write is acknowledged without being known to be replicated.
    #[must_use]
    pub fn wait_for_replicas(mut self, replicas: u32, timeout: Duration) -> Self {
        self.replicas = (replicas > 0).then_some((replicas, timeout));
        self
    }

    /// Connects, and starts the event subscriber on the current tokio runtime.
    ///
    /// # Errors
    /// When Redis cannot be reached, the event subscription cannot be set up within the
    /// connection and response timeouts, the prefix does not end with `:`, or the target is
    /// a cluster and the prefix has no hash tag.
    ///
    /// # Panics
    /// Outside a tokio runtime.
    pub async fn connect(self) -> Result<RedisStore<T>, StoreError>
    where
        T: OobPayload + DeserializeOwned + Send + Sync + 'static,
    {
        if !self.prefix.ends_with(':') {
            return Err(StoreError::Backend(Box::new(RedisStoreError::Config(
                "the prefix must end with `:` (e.g. `oob:`, or `{oob}:` on a cluster), so that \
                 no store's keys begin another's (prefix `oo` with kind `bx` and prefix `oob` \
                 with kind `x` would share every key)",
            ))));
        }
        if self.target.is_cluster() && !has_hash_tag(&self.prefix) {
            return Err(StoreError::Backend(Box::new(RedisStoreError::Config(
                "on a cluster the prefix needs a hash tag, e.g. {oob}:",
            ))));
        }
        let conn = self
            .target
            .connect(self.connection_timeout, self.response_timeout)
            .await?;
        let keys = Keys::new(&self.prefix, T::KIND);
        let notifier = Notifier::new();
        let subscribed = Arc::new(AtomicBool::new(false));
        let (ready_tx, mut ready_rx) = tokio::sync::watch::channel(false);
        let clients = self.target.subscriber_clients()?;
        // The subscriber tries the servers in turn: allow each one attempt.
        let attempts = u32::try_from(clients.len()).unwrap_or(u32::MAX).max(1);
        let subscriber = tokio::spawn(subscriber::<T>(SubscriberCtx {
            seeds: clients.len(),
            clients,
            discover: self.target.is_cluster(),
            channel: keys.channel.clone(),
            notifier: notifier.clone(),
            subscribed: subscribed.clone(),
            ready: ready_tx,
            connection_timeout: self.connection_timeout,
            response_timeout: self.response_timeout,
            keepalive: self.keepalive,
        }));
        let writes = if self.replicas.is_some() {
            self.target
                .connect(self.connection_timeout, self.response_timeout)
                .await?
        } else {
            conn.clone()
        };
        let slack = self.slack;
        let store = RedisStore {
            shared: Arc::new_cyclic(|weak| Shared {
                conn,
                writes,
                keys,
                retention: self.retention,
                slack: self.slack,
                replicas: self.replicas.map(|(n, timeout)| {
                    let cap = self
                        .response_timeout
                        .saturating_sub(self.response_timeout / 4);
                    (n, timeout.min(cap))
                }),
                notifier,
                subscribed,
                subscriber,
                sweeper: tokio::spawn(sweep(weak.clone(), slack)),
                recent: Recent::default(),
            }),
        };
        let limit = (self
            .connection_timeout
            .saturating_add(self.response_timeout))
        .saturating_mul(attempts);
        match tokio::time::timeout(limit, ready_rx.wait_for(|r| *r)).await {
            Ok(Ok(_)) => Ok(store),
            _ => Err(reply("event subscription could not be set up")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A zero keepalive would panic the event subscriber (`interval` of zero) after the
    /// store reported it connected; it is 1 ms.
    #[test]
    fn a_keepalive_is_at_least_a_millisecond() {
        let client = redis::Client::open("redis://127.0.0.1:1/").expect("client");
        let b = RedisStoreBuilder::<()>::new(client.into());
        assert_eq!(
            b.keepalive(Duration::ZERO).keepalive,
            Duration::from_millis(1)
        );
    }
}

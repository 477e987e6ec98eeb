//! Where a store connects ([`RedisTarget`]: one server, or a Redis Cluster), the connection
//! it sends commands on, and how scripts are called.

use std::time::Duration;

use redis::aio::{ConnectionLike, ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::cluster_routing::{Route, RoutingInfo, SingleNodeRoutingInfo, SlotAddr};
use redis::{
    Arg, Client, Cmd, ConnectionInfo, IntoConnectionInfo, RedisFuture, RedisResult, Script, Value,
};

use super::error::{RedisStoreError, backend};
use crate::store::StoreError;

/// Where a [`RedisStore`](super::RedisStore) or a [`RedisVault`](super::RedisVault)
/// connects: one endpoint (a standalone server, a replicated primary, or a proxy), or a
/// Redis Cluster, whose redirections it then follows (commands go to the node that holds
/// its slot, also after a failover).
///
/// A [`redis::Client`] converts into a single-endpoint target, so
/// `RedisStore::builder(client)` and `RedisVault::connect(client)` keep working.
#[derive(Clone)]
pub struct RedisTarget {
    kind: TargetKind,
}

#[derive(Clone)]
enum TargetKind {
    Single(Client),
    Cluster { nodes: Vec<ConnectionInfo> },
}

impl std::fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Connection infos may carry credentials: only the shape is printed.
        match &self.kind {
            TargetKind::Single(_) => f.write_str("RedisTarget::Single"),
            TargetKind::Cluster { nodes } => {
                write!(f, "RedisTarget::Cluster({} nodes)", nodes.len())
            }
        }
    }
}

impl From<Client> for RedisTarget {
    fn from(client: Client) -> Self {
        Self {
            kind: TargetKind::Single(client),
        }
    }
}

impl RedisTarget {
    /// A Redis Cluster, reached through any of `nodes` (e.g. `redis://10.0.0.1:7000/`;
    /// one reachable node is enough, the others are found from it). The store's prefix must
    /// then carry a hash tag (e.g. `{oob}:`), so all its keys live in one slot.
    ///
    /// # Errors
    /// When a node address is invalid, or none is given.
    pub fn cluster<N: IntoConnectionInfo>(
        nodes: impl IntoIterator<Item = N>,
    ) -> Result<Self, StoreError> {
        let nodes = nodes
            .into_iter()
            .map(IntoConnectionInfo::into_connection_info)
            .collect::<Result<Vec<_>, _>>()
            .map_err(backend)?;
        if nodes.is_empty() {
            return Err(StoreError::Backend(Box::new(RedisStoreError::Config(
                "a cluster needs at least one node address",
            ))));
        }
        Ok(Self {
            kind: TargetKind::Cluster { nodes },
        })
    }

    /// Whether this is a cluster.
    #[must_use]
    pub fn is_cluster(&self) -> bool {
        matches!(self.kind, TargetKind::Cluster { .. })
    }

    /// The clients the event subscriber tries, in turn (pub/sub messages reach every node
    /// of a cluster, so any node will do).
    pub(crate) fn subscriber_clients(&self) -> Result<Vec<Client>, StoreError> {
        match &self.kind {
            TargetKind::Single(c) => Ok(vec![c.clone()]),
            TargetKind::Cluster { nodes } => nodes
                .iter()
                .map(|n| Client::open(n.clone()).map_err(backend))
                .collect(),
        }
    }

    /// Opens the command connection.
    pub(crate) async fn connect(
        &self,
        connection_timeout: Duration,
        response_timeout: Duration,
    ) -> Result<Conn, StoreError> {
        match &self.kind {
            TargetKind::Single(client) => {
                let config = ConnectionManagerConfig::new()
                    .set_connection_timeout(Some(connection_timeout))
                    .set_response_timeout(Some(response_timeout))
                    .set_number_of_retries(0);
                ConnectionManager::new_with_config(client.clone(), config)
                    .await
                    .map(Conn::Single)
                    .map_err(backend)
            }
            TargetKind::Cluster { nodes } => {
                // Retries follow MOVED/ASK redirections and ride out a failover (a few
                // seconds with the default backoff); each attempt is bounded by the timeouts.
                // A command whose reply was lost with its connection is sent again, so every
                // write tells its own resend: a create and a transition by their call's
                // token, a vault write by its version, the state guard by its token (tests
                // `redis_cluster_lost_reply.rs`, `mcp_state_guard_redis_lost_reply.rs`). Not
                // covered: a resent vault delete answers that nothing was there; a resent
                // create whose record was completed by a joiner and removed (zero retention,
                // a clear) within the retry window inserts it again, open.
                let client = ClusterClient::builder(nodes.clone())
                    .connection_timeout(connection_timeout)
                    .response_timeout(response_timeout)
                    .retries(8)
                    .min_retry_wait(50)
                    .max_retry_wait(1_000)
                    .build()
                    .map_err(backend)?;
                client
                    .get_async_connection()
                    .await
                    .map(|c| Conn::Cluster(Box::new(c)))
                    .map_err(backend)
            }
        }
    }
}

/// The command connection: one multiplexed connection that reconnects by itself, or a
/// cluster connection that routes by slot.
#[derive(Clone)]
pub(crate) enum Conn {
    Single(ConnectionManager),
    Cluster(Box<ClusterConnection>),
}

impl ConnectionLike for Conn {
    fn req_packed_command<'a>(&'a mut self, cmd: &'a Cmd) -> RedisFuture<'a, Value> {
        match self {
            Self::Single(c) => c.req_packed_command(cmd),
            Self::Cluster(c) => c.req_packed_command(cmd),
        }
    }

    fn req_packed_commands<'a>(
        &'a mut self,
        cmd: &'a redis::Pipeline,
        offset: usize,
        count: usize,
    ) -> RedisFuture<'a, Vec<Value>> {
        match self {
            Self::Single(c) => c.req_packed_commands(cmd, offset, count),
            Self::Cluster(c) => c.req_packed_commands(cmd, offset, count),
        }
    }

    fn get_db(&self) -> i64 {
        match self {
            Self::Single(c) => c.get_db(),
            Self::Cluster(c) => c.get_db(),
        }
    }
}

impl Conn {
    /// Sends `cmd` (a command without keys, e.g. `WAIT`) to the primary of `slot`, on the
    /// connection this store's writes to that slot use.
    pub(crate) async fn send_to_slot_primary(&mut self, slot: u16, cmd: Cmd) -> RedisResult<Value> {
        match self {
            Self::Single(c) => cmd.query_async(c).await,
            Self::Cluster(c) => {
                let route = Route::new(slot, SlotAddr::Master);
                c.route_command(
                    cmd,
                    RoutingInfo::SingleNode(SingleNodeRoutingInfo::SpecificNode(route)),
                )
                .await
            }
        }
    }
}

/// `EVALSHA <hash> <numkeys>`, to which the caller adds keys then arguments.
pub(crate) fn evalsha(script: &Script, numkeys: usize) -> Cmd {
    let mut c = redis::cmd("EVALSHA");
    c.arg(script.get_hash()).arg(numkeys);
    c
}

/// Runs an [`evalsha`] command; on `NOSCRIPT` (a restarted, flushed or newly promoted
/// server) sends the same call as `EVAL` with the script's source, which also caches it on
/// the node that holds the keys (on a cluster, `SCRIPT LOAD` would go to another node).
pub(crate) async fn eval(conn: &mut Conn, source: &str, cmd: &Cmd) -> Result<Value, StoreError> {
    eval_redis(conn, source, cmd).await.map_err(backend)
}

/// [`eval`], with the `redis` error as it came (for callers with their own error type, e.g.
/// the vault).
pub(crate) async fn eval_redis(conn: &mut Conn, source: &str, cmd: &Cmd) -> RedisResult<Value> {
    match cmd.query_async(conn).await {
        Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript) => {
            let mut again = redis::cmd("EVAL");
            again.arg(source);
            for a in cmd.args_iter().skip(2) {
                if let Arg::Simple(bytes) = a {
                    again.arg(bytes);
                }
            }
            again.query_async(conn).await
        }
        r => r,
    }
}

/// The `WAIT` timeout argument for `timeout` (the store's and the vault's
/// `wait_for_replicas`), in ms: at least 1 (0 would mean "forever" to Redis), at most 2^62
/// (about 146 million years: "forever"), since Redis refuses one past `i64::MAX` less its
/// clock, and refuses it after the write was applied, so the write would be reported failed.
pub(crate) fn wait_timeout_ms(timeout: Duration) -> u64 {
    u64::try_from(timeout.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 62)
}

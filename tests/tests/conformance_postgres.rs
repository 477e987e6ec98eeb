//! The store conformance suite against [`PostgresStore`], on one Postgres server per test
//! binary; every store gets its own schema. Twice: on one pool, and as two replicas (two
//! stores on two pools sharing a schema, used in turn), so racing completers and creates
//! are spread over two pools and waiters are woken through `LISTEN`/`NOTIFY` only.
//!
//! Without Postgres installed the whole binary skips with a notice (unless `CI` is set:
//! then it fails).

use std::sync::OnceLock;
use std::time::Duration;

use oob::store::PostgresStore;
use oob_tests::DeviceCode;
use oob_tests::postgres_server::{PostgresServer, Replicas, fresh_schema};

static SERVER: OnceLock<Option<PostgresServer>> = OnceLock::new();

fn server() -> &'static PostgresServer {
    match SERVER.get_or_init(PostgresServer::start) {
        Some(s) => s,
        // No Postgres and not in CI: nothing here can run.
        None => std::process::exit(0),
    }
}

mod one_pool {
    use super::*;

    async fn make(retention: Duration) -> PostgresStore<DeviceCode> {
        let server = server();
        let pool = server.pool(8).await;
        PostgresServer::store(&pool, &fresh_schema(), retention).await
    }

    oob_tests::store_conformance!(make);
}

mod two_pools {
    use super::*;

    async fn make(retention: Duration) -> Replicas<PostgresStore<DeviceCode>> {
        let server = server();
        let schema = fresh_schema();
        let a = PostgresServer::store(&server.pool(8).await, &schema, retention).await;
        let b = PostgresServer::store(&server.pool(8).await, &schema, retention).await;
        Replicas::new(a, b)
    }

    oob_tests::store_conformance!(make);
}

#[path = "conformance_postgres/postgres_only.rs"]
mod postgres_only;

#[path = "conformance_postgres/batches.rs"]
mod batches;

#[path = "conformance_postgres/clear_race.rs"]
mod clear_race;

#[path = "conformance_postgres/big_rows.rs"]
mod big_rows;

#[path = "conformance_postgres/counts.rs"]
mod counts;

#[path = "conformance_postgres/mixed_retention.rs"]
mod mixed_retention;

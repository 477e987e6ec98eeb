//! The fault tasks that run beside the load: Redis SIGKILLed and restarted, Postgres stopped
//! with `pg_ctl stop -m immediate` and restarted, a Redis Cluster primary killed and failed
//! over. Each says what it injected.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use super::config::Config;
use super::run::FaultTask;
use crate::postgres_server::PostgresServer;
use crate::redis_cluster::RedisCluster;
use crate::redis_server::RedisServer;

/// Runs `f` on the value behind `m` on a blocking thread (the harnesses block while a server
/// stops or starts).
async fn blocking<T: Send + 'static, R: Send + 'static>(
    m: &Arc<Mutex<T>>,
    f: impl FnOnce(&mut T) -> R + Send + 'static,
) -> R {
    let m = m.clone();
    tokio::task::spawn_blocking(move || f(&mut m.lock().unwrap_or_else(PoisonError::into_inner)))
        .await
        .expect("a harness call panicked")
}

/// The window faults are injected in: from 30 % to 70 % of the load's duration.
fn window(cfg: &Config) -> (Duration, Instant) {
    let start = cfg.duration().mul_f64(0.3);
    (start, Instant::now() + cfg.duration().mul_f64(0.7))
}

/// SIGKILLs the server and restarts it on the same data, again and again in the window.
#[must_use]
pub fn redis_kill(server: Arc<Mutex<RedisServer>>, cfg: &Config) -> FaultTask {
    let (start, until) = window(cfg);
    tokio::spawn(async move {
        tokio::time::sleep(start).await;
        let mut n = 0;
        while Instant::now() < until {
            blocking(&server, RedisServer::kill).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            blocking(&server, RedisServer::restart).await;
            n += 1;
            tokio::time::sleep(Duration::from_millis(900)).await;
        }
        format!("redis-server SIGKILLed and restarted {n} times (down 300 ms each)")
    })
}

/// Stops Postgres with `-m immediate` and restarts it, again and again in the window.
#[must_use]
pub fn postgres_stop(server: Arc<Mutex<PostgresServer>>, cfg: &Config) -> FaultTask {
    let (start, until) = window(cfg);
    tokio::spawn(async move {
        tokio::time::sleep(start).await;
        let mut n = 0;
        let mut down = Duration::ZERO;
        while Instant::now() < until {
            let t = Instant::now();
            blocking(&server, PostgresServer::stop_immediate).await;
            tokio::time::sleep(Duration::from_millis(300)).await;
            blocking(&server, PostgresServer::restart).await;
            down += t.elapsed();
            n += 1;
            tokio::time::sleep(Duration::from_millis(1_000)).await;
        }
        format!(
            "postgres stopped with `pg_ctl stop -m immediate` and restarted {n} times \
             ({:.1} s down in all)",
            down.as_secs_f64()
        )
    })
}

/// SIGKILLs the primary serving `slot` once, and waits for a replica to take it over.
#[must_use]
pub fn cluster_failover(cluster: Arc<Mutex<RedisCluster>>, slot: u16, cfg: &Config) -> FaultTask {
    let (start, _) = window(cfg);
    tokio::spawn(async move {
        tokio::time::sleep(start).await;
        let Some(victim) = blocking(&cluster, move |c| c.primary_of(slot)).await else {
            return "no primary found for the store's slot: nothing killed".into();
        };
        blocking(&cluster, move |c| c.kill(victim)).await;
        let t = Instant::now();
        while t.elapsed() < Duration::from_secs(20) {
            let now = blocking(&cluster, move |c| c.primary_of(slot)).await;
            if now.is_some_and(|p| p != victim) {
                return format!(
                    "the primary of the store's slot SIGKILLed; a replica took over after {:.1} s",
                    t.elapsed().as_secs_f64()
                );
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        "the primary of the store's slot SIGKILLed; no replica took over within 20 s".into()
    })
}

//! Fault run for SQLite: a child process (this binary with `--sqlite-child`) creates and
//! completes pendings on a file and is SIGKILLed mid-batch, twice; then a new store on the
//! file must find every acknowledged create, every acknowledged completion completed, and
//! complete the rest exactly once.

use std::collections::HashSet;
use std::io::{BufRead, BufReader, Write as _};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use oob::provider::VerifiedSubject;
use oob::store::SqliteStore;
use oob::{AnyPending, Namespace, PendingId, Spec};

use super::config::{Backend, Config};
use super::invariants::{Counts, Invariant};
use super::report::StoreReport;
use super::workload::{Load, M};
use crate::sqlite_file::TempDb;
use crate::{DeviceCode, device_code};

fn manager(path: &std::path::Path) -> Result<M<SqliteStore<DeviceCode>>, String> {
    let store = SqliteStore::<DeviceCode>::open(path).map_err(|e| format!("sqlite: {e}"))?;
    let load = Load::<_, oob::vault::MemoryVault<String>>::new(&[store], Vec::new(), None);
    Ok(load.ms[0].clone())
}

/// The child: creates and completes pendings in `path` as fast as it can, printing `C <id>`
/// once a create is acknowledged and `D <id>` once a completion is, until it is killed.
///
/// # Errors
/// The store failed.
pub async fn child(path: &str) -> Result<(), String> {
    let m = manager(std::path::Path::new(path))?;
    let mut out = std::io::stdout().lock();
    let mut n = 0u64;
    loop {
        n += 1;
        let ns =
            Namespace::new(format!("user-{}@soak.example", n % 17)).map_err(|e| e.to_string())?;
        let p = m
            .create(
                &VerifiedSubject::new(ns),
                Spec::new(device_code()).ttl(Duration::from_secs(60)),
            )
            .await
            .map_err(|e| e.to_string())?;
        let id = p.id();
        writeln!(out, "C {id}").map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        if n.is_multiple_of(2) {
            m.complete(p).await.map_err(|e| e.to_string())?;
            writeln!(out, "D {id}").map_err(|e| e.to_string())?;
            out.flush().map_err(|e| e.to_string())?;
        }
    }
}

/// Runs the child and kills it, twice; then checks the file.
///
/// # Errors
/// The child could not be started or read.
pub async fn run(cfg: &Config) -> Result<StoreReport, String> {
    let db = TempDb::new("soak-kill");
    let exe = std::env::current_exe().map_err(|e| e.to_string())?;
    let (mut created, mut done) = (Vec::new(), HashSet::new());
    let started = Instant::now();
    let rounds = 2;
    for _ in 0..rounds {
        let mut child = Command::new(&exe)
            .arg("--sqlite-child")
            .arg(db.path())
            .stdout(Stdio::piped())
            .spawn()
            .map_err(|e| format!("spawn child: {e}"))?;
        let stdout = child.stdout.take().ok_or("no child stdout")?;
        let reader = std::thread::spawn(move || {
            BufReader::new(stdout)
                .lines()
                .map_while(Result::ok)
                .collect::<Vec<String>>()
        });
        tokio::time::sleep(Duration::from_secs_f64((cfg.secs / 4.0).clamp(0.5, 5.0))).await;
        child.kill().map_err(|e| format!("kill: {e}"))?; // SIGKILL
        let _ = child.wait();
        let lines = reader.join().map_err(|_| "reader thread panicked")?;
        for line in lines {
            match line.split_once(' ') {
                Some(("C", id)) => {
                    created.push(id.parse::<PendingId>().map_err(|e| e.to_string())?)
                }
                Some(("D", id)) => {
                    done.insert(id.parse::<PendingId>().map_err(|e| e.to_string())?);
                }
                _ => {}
            }
        }
    }
    let elapsed = started.elapsed();
    let m = manager(db.path())?;
    let counts = Counts::default();
    let mut finished_now = 0;
    for id in &created {
        match m.get(*id).await {
            Ok(AnyPending::Completed(_)) => {} // acknowledged, or the kill came before the ack
            Ok(AnyPending::Open(p)) if !done.contains(id) => {
                if m.complete(p).await.is_err() {
                    counts.breach(Invariant::AckedLost, || {
                        format!("{id}: open, not completable")
                    });
                }
                finished_now += 1;
                if m.complete_id(*id).await.is_ok() {
                    counts.breach(Invariant::FinishedTwice, || {
                        format!("{id}: completed twice")
                    });
                }
            }
            Ok(other) => counts.breach(Invariant::AckedLost, || format!("{id}: found {other:?}")),
            Err(e) => counts.breach(Invariant::AckedLost, || format!("{id}: lost: {e}")),
        }
        if done.contains(id) && m.complete_id(*id).await.is_ok() {
            counts.breach(Invariant::FinishedTwice, || {
                format!("{id}: completed again after its acknowledged completion")
            });
        }
    }
    if created.is_empty() {
        counts.breach(Invariant::AckedLost, || {
            "the child acknowledged nothing".into()
        });
    }
    let mut r = StoreReport {
        name: Backend::SqliteKill.name(),
        setup: "1 writer process (creates, completes every second one), no vault".into(),
        durability: "one file in WAL mode; every acknowledged create and completion must \
                     survive a SIGKILL"
            .into(),
        elapsed,
        interactions: created.len() as u64,
        faults: format!(
            "writer SIGKILLed mid-batch {rounds} times; {} acknowledged creates and {} \
             acknowledged completions read back, {finished_now} open ones completed after",
            created.len(),
            done.len()
        ),
        ..StoreReport::default()
    };
    r.set_counts(&counts);
    Ok(r)
}

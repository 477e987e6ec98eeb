//! The connection thread's loop: the jobs queued together run as one batch in one
//! transaction (group commit).

use std::sync::Arc;
use std::sync::mpsc;

use rusqlite::Connection;

use super::worker::{Done, Job};

/// The most jobs the connection thread runs in one transaction.
const MAX_BATCH: usize = 256;

/// The connection thread: runs queued jobs in batches, one transaction each.
pub(super) fn serve(conn: &Connection, rx: &mpsc::Receiver<Job>) {
    let mut batch: Vec<Job> = Vec::with_capacity(MAX_BATCH);
    let mut done: Vec<Done> = Vec::with_capacity(MAX_BATCH);
    while let Ok(first) = rx.recv() {
        batch.push(first);
        while batch.len() < MAX_BATCH {
            match rx.try_recv() {
                Ok(job) => batch.push(job),
                Err(_) => break,
            }
        }
        run(conn, &mut batch, &mut done);
    }
}

/// Runs one batch and replies to its jobs.
///
/// A batch with a writing job runs in one `BEGIN IMMEDIATE` transaction, so a create's
/// reads (dedup, counts) and its insert are atomic against another connection on the file
/// (another process). While that connection
/// holds the write lock, SQLite retries the `BEGIN` through the busy handler for the busy
/// timeout; past it, each writing job fails with the error, having written nothing, and the
/// reading jobs run in a deferred (read) transaction, which needs no write lock in WAL mode.
/// A batch of reads only runs in a deferred transaction and never waits for the write lock.
fn run(conn: &Connection, batch: &mut Vec<Job>, done: &mut Vec<Done>) {
    if batch.iter().all(|job| !job.writes) {
        deferred(conn, batch.drain(..), done);
        return;
    }
    if let Err(e) = exec_cached(conn, "BEGIN IMMEDIATE") {
        let e = Arc::new(e);
        let mut reads = Vec::new();
        for job in batch.drain(..) {
            if job.writes {
                ((job.run)(Err(&e)).done)(Some(&e));
            } else {
                reads.push(job);
            }
        }
        if !reads.is_empty() {
            deferred(conn, reads.into_iter(), done);
        }
        return;
    }
    let lost = run_jobs(conn, batch.drain(..), done, None);
    finish(conn, done, lost);
}

/// Runs reading jobs in a deferred transaction.
fn deferred(conn: &Connection, jobs: impl Iterator<Item = Job>, done: &mut Vec<Done>) {
    let lost = exec_cached(conn, "BEGIN").err().map(Arc::new);
    let lost = run_jobs(conn, jobs, done, lost);
    finish(conn, done, lost);
}

/// Runs `jobs` inside the open transaction.
///
/// A failing statement leaves nothing behind (SQLite undoes the statement; the one job
/// that writes more than once, a create closing expired rows first, does so under a
/// savepoint of its own). But SQLite may roll the whole transaction back by itself when a
/// statement fails (`SQLITE_FULL`, `SQLITE_IOERR`, `SQLITE_NOMEM`, `SQLITE_BUSY`): the
/// writes of the jobs before it are gone, and a job run after it would run in autocommit,
/// each statement committed alone (a create's dedup read and insert no longer atomic). So
/// after each job, if the connection is back in autocommit, the jobs after it fail with
/// that error without running. Returns the error that ended the transaction, if one did
/// (or `lost`, given).
fn run_jobs(
    conn: &Connection,
    jobs: impl Iterator<Item = Job>,
    done: &mut Vec<Done>,
    mut lost: Option<Arc<rusqlite::Error>>,
) -> Option<Arc<rusqlite::Error>> {
    for job in jobs {
        if let Some(e) = &lost {
            done.push((job.run)(Err(e)).done);
            continue;
        }
        let ran = (job.run)(Ok(conn));
        done.push(ran.done);
        if conn.is_autocommit() {
            lost = Some(ran.failed.unwrap_or_else(|| Arc::new(ended())));
        }
    }
    lost
}

/// Ends the transaction (commits it unless it was lost) and replies to the jobs run: with
/// the error that ended it, if any (their writes are gone).
fn finish(conn: &Connection, done: &mut Vec<Done>, lost: Option<Arc<rusqlite::Error>>) {
    let end = match lost {
        Some(e) => {
            if !conn.is_autocommit() {
                let _ = conn.execute_batch("ROLLBACK");
            }
            Some(e)
        }
        None => exec_cached(conn, "COMMIT").err().map(|e| {
            let _ = conn.execute_batch("ROLLBACK");
            Arc::new(e)
        }),
    };
    for d in done.drain(..) {
        d(end.as_ref());
    }
}

/// The transaction ended inside a job that did not report an error.
fn ended() -> rusqlite::Error {
    rusqlite::Error::SqliteFailure(
        rusqlite::ffi::Error::new(rusqlite::ffi::SQLITE_ABORT),
        Some("the batch's transaction ended inside a job".to_owned()),
    )
}

fn exec_cached(conn: &Connection, sql: &str) -> rusqlite::Result<usize> {
    conn.prepare_cached(sql)?.execute([])
}

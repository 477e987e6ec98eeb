//! Durability: pendings committed by a process that is then killed with SIGKILL are all
//! found intact by a new process, and each completes exactly once.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};

use oob::provider::FixedNamespace;
use oob::store::{Finished, SqliteStore};
use oob::{AnyPending, CallbackBase, Error, Manager, PendingId};
use oob_tests::sqlite_file::TempDb;
use oob_tests::{DeviceCode, device_code, finished, ns};

const N: usize = 60;
const K: usize = 10;

/// Kills the child if the test fails before it does.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pendings_survive_sigkill_and_complete_exactly_once() {
    let file = TempDb::new("durability");
    let path = file.path().to_path_buf();

    let child = Command::new(env!("CARGO_BIN_EXE_sqlite_child"))
        .arg(&path)
        .arg(N.to_string())
        .arg(K.to_string())
        .stdout(Stdio::piped())
        .spawn()
        .expect("spawn child");
    let mut child = KillOnDrop(child);
    let stdout = child.0.stdout.take().expect("child stdout");
    let mut open_ids = Vec::new();
    let mut done_ids = Vec::new();
    let mut ready = false;
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("read child");
        if line == "ready" {
            ready = true;
            break;
        }
        let (what, id) = line.split_once(' ').expect("a `<what> <id>` line");
        let id: PendingId = id.parse().expect("an id");
        match what {
            "open" => open_ids.push(id),
            "done" => done_ids.push(id),
            other => panic!("unexpected line {other}"),
        }
    }
    assert!(ready, "the child exited before it was ready");
    // `Child::kill` sends SIGKILL on Unix: no destructor, no checkpoint, no clean close.
    child.0.kill().expect("kill child");
    let status = child.0.wait().expect("reap child");
    assert!(!status.success());
    assert_eq!(open_ids.len(), N - K);
    assert_eq!(done_ids.len(), K);

    let store = SqliteStore::<DeviceCode>::open(&path).expect("reopen");
    let m = Manager::builder()
        .store(store)
        .provider(FixedNamespace::new(ns("durable")))
        .callback_base(CallbackBase::parse("https://ex.com").expect("base"))
        .build();

    let listed = m.list(&()).await.expect("list");
    assert_eq!(listed.len(), N - K);
    for id in &done_ids {
        assert!(matches!(m.get(*id).await, Ok(AnyPending::Completed(_))));
        assert_eq!(
            finished(&m.complete_id(*id).await),
            Some(Finished::Completed)
        );
    }
    for (i, id) in open_ids.iter().enumerate() {
        let p = m.open(*id).await.expect("intact and open");
        assert_eq!(p.namespace(), &ns("durable"));
        assert_eq!(p.data(), &device_code());
        assert_eq!(p.alias(), Some(format!("pending-{}", i + K).as_str()));
        assert_eq!(p.resource(), Some("example.com"));
    }
    // Two completers race for every id: exactly one wins each.
    let tasks: Vec<_> = open_ids
        .iter()
        .flat_map(|id| [*id, *id])
        .map(|id| {
            let m = m.clone();
            tokio::spawn(async move { (id, m.complete_id(id).await) })
        })
        .collect();
    let mut wins = std::collections::HashMap::new();
    for t in tasks {
        let (id, r) = t.await.expect("join");
        match r {
            Ok(done) => *wins.entry(done.id()).or_insert(0) += 1,
            Err(Error::Finished {
                how: Finished::Completed,
                ..
            }) => {}
            Err(e) => panic!("{id}: {e:?}"),
        }
    }
    assert_eq!(wins.len(), N - K);
    assert!(wins.values().all(|&n| n == 1));
    for id in &open_ids {
        assert_eq!(
            finished(&m.complete_id(*id).await),
            Some(Finished::Completed)
        );
    }
    assert!(m.list(&()).await.expect("list").is_empty());
}

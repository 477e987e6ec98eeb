//! Child process for `tests/tests/sqlite_durability.rs`: opens a SQLite store, creates N
//! pendings (completing the first K), prints `open <id>` / `done <id>` lines and `ready`,
//! then blocks until killed.
//!
//! Usage: `sqlite_child <db-path> <n> <k>`

use std::io::Write;

use oob::provider::FixedNamespace;
use oob::store::SqliteStore;
use oob::{CallbackBase, Manager};
use oob_tests::{DeviceCode, ns, spec};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let (Some(path), Some(n), Some(k)) = (args.next(), args.next(), args.next()) else {
        return Err("usage: sqlite_child <db-path> <n> <k>".into());
    };
    let n: usize = n.parse()?;
    let k: usize = k.parse()?;
    let store = SqliteStore::<DeviceCode>::open(&path)?;
    let manager = Manager::builder()
        .store(store)
        .provider(FixedNamespace::new(ns("durable")))
        .callback_base(CallbackBase::parse("https://ex.com")?)
        .build();
    let mut out = std::io::stdout().lock();
    for i in 0..n {
        let open = manager
            .create(&(), spec().alias(format!("pending-{i}")))
            .await?;
        let id = open.id();
        if i < k {
            manager.complete(open).await?;
            writeln!(out, "done {id}")?;
        } else {
            writeln!(out, "open {id}")?;
        }
    }
    writeln!(out, "ready")?;
    out.flush()?;
    drop(out);
    // Every id printed is committed; wait to be killed.
    std::future::pending::<()>().await;
    Ok(())
}

//! Soak: simulated users on several manager replicas over one shared store and vault, for
//! every store (memory, a slow store with timeouts, SQLite, Postgres, Redis, Redis Cluster),
//! with faults injected; each invariant is a counted figure, and any nonzero count fails the
//! run (exit code 1). The code lives in `oob_tests::soak`.
//!
//! ```text
//! cargo run -p oob-tests --release --bin soak -- --report          # every store, 20 s each
//! cargo run -p oob-tests --bin soak -- --short                      # every store, 4 s each (CI)
//! cargo run -p oob-tests --release --bin soak -- --store redis --faults --secs 60
//! ```
//!
//! `--report` writes the tables to `target/oob-report.md` (under `CARGO_TARGET_DIR` when
//! set) as well as printing them.

use std::process::ExitCode;
use std::time::Instant;

use oob_tests::soak::config::Config;
use oob_tests::soak::{backend, report, sqlite_kill};

async fn run(cfg: Config, command: String) -> Result<u64, String> {
    let started = Instant::now();
    let mut reports = Vec::new();
    for b in &cfg.stores {
        let t = Instant::now();
        let r = backend::run(*b, &cfg).await?;
        println!("{}", r.markdown());
        println!(
            "[{}] done in {:.1} s\n",
            b.name(),
            t.elapsed().as_secs_f64()
        );
        reports.push(r);
    }
    let doc = report::document(&command, &reports, started.elapsed());
    if cfg.report {
        let path = report::path();
        std::fs::write(&path, &doc).map_err(|e| format!("write {}: {e}", path.display()))?;
        println!("report written to {}", path.display());
    }
    let breaches: u64 = reports.iter().map(report::StoreReport::breaches).sum();
    for r in &reports {
        if r.breaches() > 0 {
            eprintln!("[{}] {} invariant breaches", r.name, r.breaches());
        }
    }
    Ok(breaches)
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.first().map(String::as_str) == Some("--sqlite-child") {
        let Some(path) = args.get(1) else {
            return ExitCode::from(2);
        };
        let rt = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .expect("tokio runtime");
        return match rt.block_on(sqlite_kill::child(path)) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("sqlite child: {e}");
                ExitCode::FAILURE
            }
        };
    }
    let command = format!("soak {}", args.join(" "));
    let cfg = match Config::parse(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let t = Instant::now();
    let result = rt.block_on(run(cfg, command));
    println!("soak took {:.1} s", t.elapsed().as_secs_f64());
    match result {
        Ok(0) => ExitCode::SUCCESS,
        Ok(n) => {
            eprintln!("soak failed: {n} invariant breaches");
            ExitCode::FAILURE
        }
        Err(e) => {
            eprintln!("soak failed: {e}");
            ExitCode::FAILURE
        }
    }
}

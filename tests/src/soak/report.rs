//! The report: one table per store (operations per second and p50/p99 per operation, the
//! faults injected, each invariant's count), printed and written to `target/oob-report.md`.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use super::invariants::{Counts, Invariant};
use super::ops::OpFigures;

/// What one backend's run found.
#[derive(Debug, Clone, Default)]
pub struct StoreReport {
    /// The backend's name.
    pub name: &'static str,
    /// Replicas, users, duration and the vault used.
    pub setup: String,
    /// What the backend promises about acknowledged writes, as configured here.
    pub durability: String,
    /// How long the load ran.
    pub elapsed: Duration,
    /// Interactions driven to an end and checked.
    pub interactions: u64,
    /// Figures per operation.
    pub ops: Vec<OpFigures>,
    /// The faults injected.
    pub faults: String,
    /// Each invariant's count.
    pub invariants: Vec<(Invariant, u64)>,
    /// The first breaches, described.
    pub examples: Vec<String>,
    /// Why the backend did not run (a missing server outside CI).
    pub skipped: Option<String>,
    /// Invariants measured but not enforced, because the backend's durability setting does
    /// not promise them under the faults injected (the durability line says why).
    pub measured_only: Vec<Invariant>,
}

impl StoreReport {
    /// A report of a backend that did not run.
    #[must_use]
    pub fn skipped(name: &'static str, why: impl Into<String>) -> Self {
        Self {
            name,
            skipped: Some(why.into()),
            ..Self::default()
        }
    }

    /// Takes the invariant counts and examples of `counts`.
    pub fn set_counts(&mut self, counts: &Counts) {
        self.invariants = Invariant::ALL
            .iter()
            .map(|i| (*i, counts.get(*i)))
            .collect();
        self.examples = counts.examples();
    }

    /// The sum of the enforced invariants' counts (any nonzero fails the run).
    #[must_use]
    pub fn breaches(&self) -> u64 {
        self.invariants
            .iter()
            .filter(|(i, _)| !self.measured_only.contains(i) && !i.always_measured())
            .map(|(_, n)| n)
            .sum()
    }

    /// The report as Markdown.
    #[must_use]
    pub fn markdown(&self) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "### {}\n", self.name);
        if let Some(why) = &self.skipped {
            let _ = writeln!(s, "Skipped: {why}\n");
            return s;
        }
        let _ = writeln!(
            s,
            "{}; {:.1} s of load, {} interactions checked. Durability: {}. Faults: {}.\n",
            self.setup,
            self.elapsed.as_secs_f64(),
            self.interactions,
            self.durability,
            if self.faults.is_empty() {
                "none"
            } else {
                &self.faults
            },
        );
        if !self.ops.is_empty() {
            s.push_str("| operation | count | ops/s | failed | p50 | p99 |\n");
            s.push_str("|---|---:|---:|---:|---:|---:|\n");
            for o in &self.ops {
                let _ = writeln!(
                    s,
                    "| {} | {} | {:.0} | {} | {} | {} |",
                    o.op,
                    o.count,
                    o.per_sec,
                    o.failed,
                    ms(o.p50),
                    ms(o.p99)
                );
            }
            s.push('\n');
        }
        s.push_str("| invariant | count |\n|---|---:|\n");
        for (inv, n) in &self.invariants {
            let note = if inv.always_measured() {
                " (measured)"
            } else if self.measured_only.contains(inv) {
                " (measured, not promised here)"
            } else {
                ""
            };
            let _ = writeln!(s, "| {}{note} | {n} |", inv.label());
        }
        for e in &self.examples {
            let _ = writeln!(s, "\n- {e}");
        }
        s
    }
}

fn ms(d: Duration) -> String {
    format!("{:.2} ms", d.as_secs_f64() * 1e3)
}

/// Every backend's report, under a heading naming the command.
#[must_use]
pub fn document(command: &str, reports: &[StoreReport], total: Duration) -> String {
    let mut s = String::from("# oob reliability report\n\n");
    let _ = writeln!(
        s,
        "Command: `{command}` ({:.0} s in all). \"failed\" counts operations that met a fault or \
         a timeout (a transition losing a race is an answer, not a failure). Every invariant \
         must be 0, except those marked measured.\n",
        total.as_secs_f64()
    );
    for r in reports {
        s.push_str(&r.markdown());
        s.push('\n');
    }
    s
}

/// Where the report goes: `$CARGO_TARGET_DIR/oob-report.md`, else the workspace's
/// `target/oob-report.md`.
#[must_use]
pub fn path() -> PathBuf {
    let target = std::env::var_os("CARGO_TARGET_DIR").map_or_else(
        || {
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("..")
                .join("target")
        },
        PathBuf::from,
    );
    target.join("oob-report.md")
}

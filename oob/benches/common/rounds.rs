//! Interleaved rounds: every contender runs a batch in each round, in turn (the order
//! alternating), so a slow minute of the shared machine hits all of them alike. Figures are
//! medians over the rounds with their spread (min–max), and ratios are taken per round.

use std::time::{Duration, Instant};

/// A batch runner: performs `n` operations.
pub type Run<'a> = Box<dyn FnMut(u64) + 'a>;

/// One contender: a name and its batch runner.
pub type Batch<'a> = (&'a str, Run<'a>);

/// Per-operation times (ns) of each contender, one per round.
#[derive(Debug)]
pub struct Rounds {
    /// Names, in the order given.
    pub names: Vec<String>,
    /// `ns[contender][round]`.
    pub ns: Vec<Vec<f64>>,
}

/// Runs `rounds` rounds of `n` operations per contender (after one warm-up round).
pub fn interleave(rounds: usize, n: u64, mut contenders: Vec<Batch<'_>>) -> Rounds {
    let names = contenders.iter().map(|(n, _)| (*n).to_owned()).collect();
    let mut ns = vec![Vec::with_capacity(rounds); contenders.len()];
    for (_, run) in &mut contenders {
        run(n / 4 + 1);
    }
    for round in 0..rounds {
        let k = contenders.len();
        for j in 0..k {
            // Alternate the order, so no contender always runs first.
            let i = if round % 2 == 0 { j } else { k - 1 - j };
            let run = &mut contenders[i].1;
            let start = Instant::now();
            run(n);
            ns[i].push(per_op(start.elapsed(), n));
        }
    }
    Rounds { names, ns }
}

fn per_op(d: Duration, n: u64) -> f64 {
    d.as_nanos() as f64 / n as f64
}

/// Median, min and max.
pub fn summary(xs: &[f64]) -> (f64, f64, f64) {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let mid = v.get(v.len() / 2).copied().unwrap_or(f64::NAN);
    (
        mid,
        v.first().copied().unwrap_or(f64::NAN),
        v.last().copied().unwrap_or(f64::NAN),
    )
}

impl Rounds {
    /// Per-round ratios of contender `a` to contender `b`.
    pub fn ratio(&self, a: usize, b: usize) -> Vec<f64> {
        self.ns[a]
            .iter()
            .zip(&self.ns[b])
            .map(|(x, y)| x / y)
            .collect()
    }

    /// Prints each contender's median time and spread, and its median ratio (with spread)
    /// to contender `base`.
    pub fn print(&self, title: &str, base: usize) {
        println!("{title}");
        for (i, name) in self.names.iter().enumerate() {
            let (m, lo, hi) = summary(&self.ns[i]);
            let line = format!("  {name:<44} {m:>10.0} ns/op  ({lo:.0}-{hi:.0})");
            if i == base {
                println!("{line}  [baseline]");
            } else {
                let (r, rlo, rhi) = summary(&self.ratio(i, base));
                println!("{line}  x{r:.2} of baseline ({rlo:.2}-{rhi:.2})");
            }
        }
    }

    /// Prints the median (min–max) of the per-round ratio of contender `a` to contender `b`.
    pub fn print_ratio(&self, a: usize, b: usize) {
        let (r, lo, hi) = summary(&self.ratio(a, b));
        println!(
            "  {} / {}: x{r:.2} ({lo:.2}-{hi:.2})",
            self.names[a], self.names[b]
        );
    }
}

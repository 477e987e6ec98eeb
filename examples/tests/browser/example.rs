//! An example under test: started with `--serve`, its interaction URL and output read from
//! its stdout, stopped by a signal with its scratch directory checked.

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Child, ChildStdout, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::{BoxError, ensure};

/// An example started with `--serve`, its interaction URL, its output lines; killed on drop.
pub(super) struct Example {
    child: Child,
    pub(super) url: String,
    pub(super) base: String,
    lines: mpsc::Receiver<String>,
    scratch: Vec<PathBuf>,
}

impl Drop for Example {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn scratch_dirs(name: &str) -> Vec<PathBuf> {
    let prefix = format!("oob-{name}-");
    std::fs::read_dir(std::env::temp_dir())
        .map(|d| {
            d.filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(&prefix))
                .map(|e| e.path())
                .collect()
        })
        .unwrap_or_default()
}

pub(super) fn start(bin: &str, scratch_name: &str) -> Result<Example, BoxError> {
    start_at(bin, scratch_name, "open http://")
}

/// Starts an example with `--serve` and waits for the line holding `marker` (which ends
/// with the start of the URL to keep).
pub(super) fn start_at(bin: &str, scratch_name: &str, marker: &str) -> Result<Example, BoxError> {
    let before = scratch_dirs(scratch_name);
    let mut child = Command::new(bin)
        .arg("--serve")
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()?;
    let stdout: ChildStdout = child.stdout.take().ok_or("no stdout")?;
    let (tx, lines) = mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let url = loop {
        let line = lines.recv_timeout(Duration::from_secs(30))?;
        if let Some(at) = line.find(marker) {
            break line[at + marker.len() - "http://".len()..]
                .split_whitespace()
                .next()
                .unwrap_or_default()
                .to_owned();
        }
    };
    let base = url.splitn(4, '/').take(3).collect::<Vec<_>>().join("/");
    let scratch = scratch_dirs(scratch_name)
        .into_iter()
        .filter(|d| !before.contains(d))
        .collect();
    Ok(Example {
        child,
        url,
        base,
        lines,
        scratch,
    })
}

impl Example {
    /// Sends `signal` and checks the example exits 0 with its scratch directory removed.
    pub(super) fn stop_with(mut self, signal: &str) -> Result<(), BoxError> {
        ensure(
            !self.scratch.is_empty(),
            "the example made a scratch directory",
        )?;
        let status = Command::new("kill")
            .arg(format!("-{signal}"))
            .arg(self.child.id().to_string())
            .status()?;
        ensure(status.success(), "kill")?;
        let deadline = Instant::now() + Duration::from_secs(15);
        let exit = loop {
            if let Some(s) = self.child.try_wait()? {
                break s;
            }
            ensure(
                Instant::now() < deadline,
                format!("still running after SIG{signal}"),
            )?;
            std::thread::sleep(Duration::from_millis(50));
        };
        ensure(exit.success(), format!("exit after SIG{signal}: {exit}"))?;
        for d in &self.scratch {
            ensure(
                !d.exists(),
                format!(
                    "scratch directory left behind after SIG{signal}: {}",
                    d.display()
                ),
            )?;
        }
        Ok(())
    }

    /// The output lines so far.
    pub(super) fn output(&self) -> Vec<String> {
        self.lines.try_iter().collect()
    }
}

/// After a double submit: the example's waiting tool call finished exactly once.
pub(super) async fn one_completion(ex: &Example) -> Result<(), BoxError> {
    tokio::time::sleep(Duration::from_millis(300)).await;
    let finished = ex
        .output()
        .iter()
        .filter(|l| l.starts_with("tool call finished"))
        .count();
    ensure(finished == 1, format!("one completion, saw {finished}"))
}

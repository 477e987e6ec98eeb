//! The example processes (started with `--serve`, stopped with SIGTERM on drop) and a raw
//! HTTP/1.1 client: the request target goes on the wire byte for byte (no URL parser
//! normalising `..`, decoding `%2e` or refusing NUL), so the server sees exactly the hostile
//! input.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// A guard against a hung example or connection, not a timing assertion.
const GUARD: Duration = Duration::from_secs(30);

/// An example binary serving on a loopback port it chose and printed.
pub(crate) struct Example {
    child: Child,
    lines: Receiver<String>,
    /// `http://127.0.0.1:PORT`.
    pub(crate) base: String,
    /// The first banner line starting with the prefix `start` waited for.
    pub(crate) banner: String,
    /// The example's `TMPDIR`: its scratch directory goes even if it has to be killed.
    _tmp: tempfile::TempDir,
}

impl Example {
    /// Starts `bin --serve` and waits for the stdout line starting with `prefix`; the base
    /// URL is the `http://127.0.0.1:PORT` in that line.
    pub(crate) fn start(bin: &str, prefix: &str) -> Self {
        Self::start_with(bin, prefix, &[])
    }

    /// [`start`](Self::start) with `env` set for the example.
    pub(crate) fn start_with(bin: &str, prefix: &str, env: &[(&str, &str)]) -> Self {
        let tmp = tempfile::tempdir().expect("a temporary directory");
        let mut child = Command::new(bin)
            .arg("--serve")
            .env("TMPDIR", tmp.path())
            .env_remove("MCP_SERVER_ADDR")
            .env_remove("OAUTH_CLIENT_ID")
            .env_remove("OAUTH_ISSUER")
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .unwrap_or_else(|e| panic!("start {bin}: {e}"));
        let stdout = child.stdout.take().expect("piped stdout");
        let (tx, lines) = channel();
        // Keeps draining so the example never blocks on its output.
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut ex = Self {
            child,
            lines,
            base: String::new(),
            banner: String::new(),
            _tmp: tmp,
        };
        ex.banner = ex.line_starting(prefix);
        let at = ex
            .banner
            .find("http://127.0.0.1:")
            .unwrap_or_else(|| panic!("{bin}: no URL in {:?}", ex.banner));
        let rest = &ex.banner[at + "http://".len()..];
        let end = rest.find(['/', ' ']).unwrap_or(rest.len());
        ex.base = format!("http://{}", &rest[..end]);
        ex
    }

    /// The next stdout line starting with `prefix` (earlier lines are skipped).
    pub(crate) fn line_starting(&self, prefix: &str) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self
                .lines
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no line starting with {prefix:?}"));
            if line.starts_with(prefix) {
                return line;
            }
        }
    }

    /// The URL in the banner line (its first `http://` word).
    pub(crate) fn banner_url(&self) -> String {
        self.banner
            .split_whitespace()
            .find(|w| w.starts_with("http://"))
            .expect("a URL in the banner")
            .to_owned()
    }

    /// `host:port` of the server.
    pub(crate) fn authority(&self) -> &str {
        self.base.trim_start_matches("http://")
    }
}

impl Drop for Example {
    /// SIGTERM (the example removes its scratch directory), then SIGKILL if it lingers.
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status();
        let deadline = Instant::now() + Duration::from_secs(10);
        while Instant::now() < deadline {
            if matches!(self.child.try_wait(), Ok(Some(_))) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// One raw request.
pub(crate) struct Raw<'a> {
    pub(crate) method: &'a str,
    /// The request target exactly as sent (path and query).
    pub(crate) target: Vec<u8>,
    /// Extra header lines (`name: value`).
    pub(crate) headers: Vec<String>,
    pub(crate) body: Vec<u8>,
}

/// What came back: the status (0 when the server closed the connection without answering)
/// and the whole response, head and (de-chunked) body.
pub(crate) struct Reply {
    pub(crate) status: u16,
    pub(crate) bytes: Vec<u8>,
}

/// Sends `req` to `authority` on a fresh connection (`Connection: close`) and reads the
/// response to the end.
pub(crate) async fn send(authority: &str, req: &Raw<'_>) -> Reply {
    let mut head = Vec::new();
    head.extend_from_slice(req.method.as_bytes());
    head.push(b' ');
    head.extend_from_slice(&req.target);
    head.extend_from_slice(
        format!(" HTTP/1.1\r\nhost: {authority}\r\nconnection: close\r\n").as_bytes(),
    );
    for h in &req.headers {
        head.extend_from_slice(h.as_bytes());
        head.extend_from_slice(b"\r\n");
    }
    if req.method == "POST" {
        head.extend_from_slice(
            format!(
                "content-type: application/x-www-form-urlencoded\r\ncontent-length: {}\r\n",
                req.body.len()
            )
            .as_bytes(),
        );
    }
    head.extend_from_slice(b"\r\n");
    head.extend_from_slice(&req.body);
    let exchange = async {
        let mut conn = tokio::net::TcpStream::connect(authority).await?;
        conn.write_all(&head).await?;
        let mut out = Vec::new();
        // A server may answer and close before reading everything we sent: keep what came.
        let _ = conn.read_to_end(&mut out).await;
        Ok::<_, std::io::Error>(out)
    };
    let out = tokio::time::timeout(GUARD, exchange)
        .await
        .expect("the example answered or closed in time")
        .expect("connect to the example");
    parse(out)
}

fn parse(out: Vec<u8>) -> Reply {
    let status = out
        .strip_prefix(b"HTTP/1.1 ")
        .and_then(|r| r.get(..3))
        .and_then(|s| std::str::from_utf8(s).ok())
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let Some(split) = out.windows(4).position(|w| w == b"\r\n\r\n") else {
        return Reply { status, bytes: out };
    };
    let head = String::from_utf8_lossy(&out[..split]).to_ascii_lowercase();
    if !head.contains("transfer-encoding: chunked") {
        return Reply { status, bytes: out };
    }
    let mut bytes = out[..split + 4].to_vec();
    let mut rest = &out[split + 4..];
    while let Some(eol) = rest.windows(2).position(|w| w == b"\r\n") {
        let size = std::str::from_utf8(&rest[..eol])
            .ok()
            .and_then(|s| usize::from_str_radix(s.split(';').next().unwrap_or("").trim(), 16).ok())
            .unwrap_or(0);
        rest = &rest[eol + 2..];
        if size == 0 || size > rest.len() {
            break;
        }
        bytes.extend_from_slice(&rest[..size]);
        rest = rest.get(size + 2..).unwrap_or_default();
    }
    Reply { status, bytes }
}

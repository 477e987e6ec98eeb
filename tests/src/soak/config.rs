//! What a run is asked to do: the command line.

use std::time::Duration;

/// One backend the soak runs against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    /// `MemoryStore` and `MemoryVault`.
    Memory,
    /// `MemoryStore` behind injected latency, operations under a timeout.
    Slow,
    /// `SqliteStore` and `SqliteVault` on one file.
    Sqlite,
    /// A child process writing to SQLite, SIGKILLed mid-batch.
    SqliteKill,
    /// `PostgresStore` and `PostgresVault`, a pool per replica; fault: `pg_ctl stop -m immediate`.
    Postgres,
    /// `RedisStore` and `RedisVault` on one durable server; fault: SIGKILL and restart.
    Redis,
    /// `RedisStore` on a three-primary cluster; fault: the store's primary killed.
    RedisCluster,
}

impl Backend {
    /// Every backend, in the order a full run takes them.
    pub const ALL: [Backend; 7] = [
        Backend::Memory,
        Backend::Slow,
        Backend::Sqlite,
        Backend::SqliteKill,
        Backend::Postgres,
        Backend::Redis,
        Backend::RedisCluster,
    ];

    /// The name on the command line and in the report.
    #[must_use]
    pub fn name(self) -> &'static str {
        match self {
            Backend::Memory => "memory",
            Backend::Slow => "slow",
            Backend::Sqlite => "sqlite",
            Backend::SqliteKill => "sqlite-kill",
            Backend::Postgres => "postgres",
            Backend::Redis => "redis",
            Backend::RedisCluster => "redis-cluster",
        }
    }

    fn parse(s: &str) -> Result<Self, String> {
        Self::ALL
            .into_iter()
            .find(|b| b.name() == s)
            .ok_or_else(|| {
                let names: Vec<_> = Self::ALL.iter().map(|b| b.name()).collect();
                format!("unknown store `{s}`: one of {}", names.join(", "))
            })
    }
}

/// A run's settings.
#[derive(Debug, Clone)]
pub struct Config {
    /// The backends, in order.
    pub stores: Vec<Backend>,
    /// Manager replicas per backend.
    pub replicas: usize,
    /// Simulated users per backend.
    pub users: usize,
    /// How long the load runs per backend.
    pub secs: f64,
    /// Whether faults are injected.
    pub faults: bool,
    /// Whether the report is written to `target/oob-report.md`.
    pub report: bool,
}

/// The usage line.
pub const USAGE: &str = "usage: soak [--store NAME]... [--replicas N] [--users N] [--secs S] \
     [--faults] [--short] [--report]\n  stores: memory slow sqlite sqlite-kill postgres redis \
     redis-cluster\n  --short: every store with faults, a few seconds each (CI)\n  --report: \
     every store with faults (unless --store/--short narrow it), written to target/oob-report.md";

impl Config {
    /// Parses the arguments (without the program name).
    ///
    /// # Errors
    /// An unknown argument or a bad value: the message to print.
    pub fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut c = Config {
            stores: Vec::new(),
            replicas: 3,
            users: 100,
            secs: 20.0,
            faults: false,
            report: false,
        };
        let mut short = false;
        let mut args = args.into_iter();
        while let Some(a) = args.next() {
            let mut value = |name: &str| args.next().ok_or(format!("{name} needs a value"));
            match a.as_str() {
                "--store" => c.stores.push(Backend::parse(&value("--store")?)?),
                "--replicas" => c.replicas = number(&value("--replicas")?)?,
                "--users" => c.users = number(&value("--users")?)?,
                "--secs" => {
                    c.secs = value("--secs")?
                        .parse()
                        .map_err(|e| format!("--secs: {e}"))?;
                }
                "--faults" => c.faults = true,
                "--short" => short = true,
                "--report" => c.report = true,
                "-h" | "--help" => return Err(USAGE.into()),
                other => return Err(format!("unknown argument `{other}` (try --help)")),
            }
        }
        if short {
            c.secs = 4.0;
            c.users = 40;
            c.faults = true;
        } else if c.report {
            c.faults = true;
        }
        if c.stores.is_empty() {
            c.stores = if short || c.report {
                Backend::ALL.to_vec()
            } else {
                vec![Backend::Memory]
            };
        }
        if c.replicas == 0 || c.users == 0 || !c.secs.is_finite() || c.secs <= 0.0 {
            return Err("--replicas, --users and --secs must be positive".into());
        }
        Ok(c)
    }

    /// The load's duration.
    #[must_use]
    pub fn duration(&self) -> Duration {
        Duration::from_secs_f64(self.secs)
    }
}

fn number(s: &str) -> Result<usize, String> {
    s.parse().map_err(|e| format!("`{s}`: {e}"))
}

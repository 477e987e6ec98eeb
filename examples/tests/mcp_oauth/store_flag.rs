//! `--store postgres`: the self-test on a Postgres started by the test, and the flag
//! checked.

use std::process::Command;

use oob_tests::postgres_server::PostgresServer;

#[test]
fn selftest_on_postgres() {
    let Some(pg) = PostgresServer::start() else {
        return;
    };
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "postgres"])
        .env("DATABASE_URL", pg.url())
        .env_remove("OAUTH_CLIENT_ID")
        .output()
        .expect("mcp_server starts");
    assert!(
        out.status.success(),
        "mcp_server --selftest --store postgres failed ({}):\nstdout:\n{}\nstderr:\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    // The state lived in Postgres: the example migrated the `oob` schema and stored the
    // tokens there, sealed (the self-test's tokens are `gho_alice` and `gho_bob`).
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let values: Vec<String> = rt.block_on(async {
        let pool = pg.pool(1).await;
        sqlx::query_scalar("SELECT value::text FROM oob.vault")
            .fetch_all(&pool)
            .await
            .expect("the oob schema's vault table")
    });
    assert_eq!(values.len(), 2, "both tokens stored in Postgres");
    assert!(
        values.iter().all(|v| !v.contains("gho_")),
        "stored encrypted: {values:?}"
    );
}

#[test]
fn store_flag_is_checked() {
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "mongodb"])
        .output()
        .expect("mcp_server starts");
    assert_eq!(out.status.code(), Some(2));
    let out = Command::new(env!("CARGO_BIN_EXE_mcp_server"))
        .args(["--selftest", "--store", "postgres"])
        .env_remove("DATABASE_URL")
        .output()
        .expect("mcp_server starts");
    assert!(!out.status.success(), "no DATABASE_URL, no start");
    assert!(String::from_utf8_lossy(&out.stderr).contains("DATABASE_URL"));
}

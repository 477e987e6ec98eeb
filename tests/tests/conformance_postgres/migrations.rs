//! Migrations of the Postgres schema: what each keeps of the data and of the work in flight
//! of the version before.

use super::*;
use oob::store::postgres::{SchemaName, migrate};

/// Migration 3 deletes the zero `counts` rows only once the creates of version 2 in
/// flight are done: such a create (an insert that does nothing on the existing zero row,
/// then a `SELECT … FOR UPDATE` of it, in one transaction) still finds its row.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn migration_3_waits_for_creates_of_version_2_in_flight() {
    let pool = server().pool(4).await;
    let s = fresh_schema();
    let mut setup = format!(
        "CREATE SCHEMA {s}; CREATE TABLE {s}.migrations (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now()); "
    );
    for step in [
        include_str!("../../../oob/src/store/postgres/migrations/1.sql"),
        include_str!("../../../oob/src/store/postgres/migrations/2.sql"),
    ] {
        setup.push_str(&step.replace("{s}", &s));
        setup.push('\n');
    }
    setup.push_str(&format!(
        "INSERT INTO {s}.migrations (version) VALUES (1), (2); \
         INSERT INTO {s}.counts (kind, namespace, open) VALUES ('k', 'n', 0);"
    ));
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&pool)
        .await
        .expect("schema at version 2");
    // A create of version 2, between its two statements.
    let mut create = pool.begin().await.expect("begin");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "INSERT INTO {s}.counts (kind, namespace, open) VALUES ('k', 'n', 0) \
         ON CONFLICT (kind, namespace) DO NOTHING"
    )))
    .execute(&mut *create)
    .await
    .expect("insert");
    let migration = {
        let (pool, name) = (pool.clone(), SchemaName::new(&s).expect("name"));
        tokio::spawn(async move { migrate(&pool, &name).await })
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert!(
        !migration.is_finished(),
        "the migration waits for the create"
    );
    let open: Option<i64> = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT open FROM {s}.counts WHERE kind = 'k' AND namespace = 'n' FOR UPDATE"
    )))
    .fetch_optional(&mut *create)
    .await
    .expect("select");
    assert_eq!(open, Some(0), "the create still finds its row");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {s}.counts SET open = open + 1 WHERE kind = 'k' AND namespace = 'n'"
    )))
    .execute(&mut *create)
    .await
    .expect("count");
    create.commit().await.expect("commit");
    assert_eq!(migration.await.expect("join").expect("migrate"), 2);
    let open: i64 = sqlx::query_scalar(sqlx::AssertSqlSafe(format!(
        "SELECT open FROM {s}.counts WHERE kind = 'k' AND namespace = 'n'"
    )))
    .fetch_one(&pool)
    .await
    .expect("count after");
    assert_eq!(open, 1, "the count of the create survives the migration");
}

/// Migration 4 (the tables lose their CHECK constraints) keeps what version 3 wrote
/// readable and usable; a row with a state no version writes, which the tables no
/// longer refuse, reads as a typed error.
#[tokio::test]
async fn migration_4_keeps_version_3_rows_and_reads_check_every_row() {
    let pool = server().pool(4).await;
    let s = fresh_schema();
    let mut setup = format!(
        "CREATE SCHEMA {s}; CREATE TABLE {s}.migrations (version integer PRIMARY KEY, \
         applied_at timestamptz NOT NULL DEFAULT now()); \
         INSERT INTO {s}.migrations (version) VALUES (1), (2), (3); "
    );
    for step in [
        include_str!("../../../oob/src/store/postgres/migrations/1.sql"),
        include_str!("../../../oob/src/store/postgres/migrations/2.sql"),
        include_str!("../../../oob/src/store/postgres/migrations/3.sql"),
    ] {
        setup.push_str(&step.replace("{s}", &s));
        setup.push('\n');
    }
    let mut tx = pool.begin().await.expect("begin");
    sqlx::raw_sql(sqlx::AssertSqlSafe(setup))
        .execute(&mut *tx)
        .await
        .expect("schema at version 3");
    tx.commit().await.expect("commit");
    let store = PostgresStore::<DeviceCode>::builder(pool.clone())
        .schema(&s)
        .build()
        .await
        .expect("store");
    let m = manager(&store);
    let (open, done) = (create(&m, "a").await, create(&m, "a").await);
    m.complete_id(done).await.expect("complete on version 3");
    assert_eq!(store.migrate().await.expect("migrate"), 3);
    assert!(matches!(
        m.get(done).await,
        Ok(oob::AnyPending::Completed(_))
    ));
    m.complete_id(open).await.expect("complete on version 4");
    sqlx::query(sqlx::AssertSqlSafe(format!(
        "UPDATE {s}.finished SET state = 'reopened' WHERE id = $1::uuid"
    )))
    .bind(open.to_string())
    .execute(&pool)
    .await
    .expect("no CHECK refuses it now");
    let read = store.get(open, SystemClock.now()).await;
    assert!(
        matches!(read, Err(oob::store::StoreError::Decode(_))),
        "{read:?}"
    );
}

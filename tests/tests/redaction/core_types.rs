//! The core types: namespaces, providers, specs, pendings in every state, tokens, the vault,
//! the store, the manager, records and bodies; and that every type holding a payload
//! prints without the payload's own `Debug`.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use oob::provider::{BearerHash, BearerToken, FixedNamespace};
use oob::state::CancelReason;
use oob::store::{Body, Created, MemoryStore, Record, RecordState, Store};
use oob::time::Timestamp;
use oob::vault::{MemoryVault, Vault, VaultError};
use oob::{AnyPending, CallbackBase, Error, Joined, Manager, OobPayload, Outcome, PendingId};

use crate::leaks::Leaks;
use crate::{NS, SECRET, Secret, canary_ns, manager, secret, spec, subject};
fn spawn_wait<S: Store<Secret>, P: Send + Sync + 'static>(
    m: &Manager<Secret, S, P>,
    id: PendingId,
    within: Duration,
) -> tokio::task::JoinHandle<Result<Outcome<Secret>, Error>> {
    let m = m.clone();
    tokio::spawn(async move { m.wait(id, within).await })
}

/// Namespaces, providers, specs, pendings in every state (directly and through
/// `AnyPending`, `Outcome` and `Joined`), tokens, the vault, the store, the manager, records
/// and bodies.
#[tokio::test(start_paused = true)]
async fn core_types_print_neither_secret_nor_namespace() {
    let mut leaks = Leaks::default();
    let cx = subject();
    leaks.debug("Namespace", &canary_ns());
    leaks.debug("VerifiedSubject", &cx);
    leaks.debug("Some(VerifiedSubject)", &Some(cx.clone()));
    leaks.debug("FixedNamespace", &FixedNamespace::new(canary_ns()));
    leaks.debug("Spec", &spec());
    leaks.debug("BearerToken", &BearerToken(SECRET.to_owned()));
    let key = format!("{SECRET}-server-key-of-32-bytes-or-more");
    leaks.debug(
        "BearerHash",
        &BearerHash::new(key.into_bytes()).expect("key"),
    );

    let builder = Manager::<Secret, _, _>::builder()
        .store(MemoryStore::<Secret>::new())
        .provider(FixedNamespace::new(canary_ns()));
    leaks.debug("ManagerBuilder", &builder);
    let fixed = builder
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build();
    let p = fixed.create(&(), spec()).await.expect("create");
    leaks.debug("Manager (FixedNamespace)", &fixed);
    leaks.debug("Pending<Open> (FixedNamespace)", &p);

    let m = manager();
    // Open, directly, through `Joined` and through `AnyPending`.
    let open = m.create(&cx, spec()).await.expect("create");
    leaks.debug("Pending<Open>", &open);
    let created = m
        .create_or_join(&cx, spec().alias("gh"))
        .await
        .expect("create_or_join");
    leaks.debug("Joined::Created", &created);
    let joined = m
        .create_or_join(&cx, spec().alias("gh"))
        .await
        .expect("create_or_join");
    assert!(joined.is_joined());
    leaks.debug("Joined::Joined", &joined);
    leaks.debug("AnyPending::Open", &m.get(open.id()).await.expect("get"));
    leaks.debug(
        "Vec<Pending<Open>> (list)",
        &m.list(&cx).await.expect("list"),
    );
    leaks.debug("Manager", &m);
    leaks.debug("MemoryStore", m.store());
    leaks.debug("Operator", &m.operator());

    // Completed: the token inside the persist step, the pending, `AnyPending`, `Outcome`.
    let vault = MemoryVault::<String>::new();
    let id = open.id();
    let waiter = spawn_wait(&m, id, Duration::from_secs(30));
    tokio::task::yield_now().await;
    let writer = vault.clone();
    let (done, token_debug) = m
        .complete_with(open, async move |token| {
            writer.put(&token, "github", SECRET.to_owned()).await?;
            Ok::<_, VaultError>([format!("{token:?}"), format!("{token:#?}")])
        })
        .await
        .expect("complete_with");
    for out in &token_debug {
        leaks.text("NamespaceToken (persist step)", out);
    }
    leaks.debug("Pending<Completed>", &done);
    leaks.debug("AnyPending::Completed", &m.get(id).await.expect("get"));
    leaks.debug(
        "Outcome::Completed",
        &waiter.await.expect("join").expect("wait"),
    );
    let token = m.caller(&cx).expect("caller");
    leaks.debug("NamespaceToken (caller)", &token);
    assert_eq!(
        vault.get(&token, "github").await.expect("get").as_deref(),
        Some(SECRET)
    );
    leaks.debug("MemoryVault", &vault);
    leaks.debug(
        "MemoryVault::keys",
        &vault.keys(&token).await.expect("keys"),
    );

    // Cancelled and declined, and the decline a cooldown answers with.
    let c = m.create(&cx, spec()).await.expect("create");
    let cid = c.id();
    let waiter = spawn_wait(&m, cid, Duration::from_secs(30));
    tokio::task::yield_now().await;
    leaks.debug("Pending<Cancelled>", &m.cancel(c).await.expect("cancel"));
    leaks.debug(
        "Outcome::Cancelled",
        &waiter.await.expect("join").expect("wait"),
    );
    leaks.debug("AnyPending::Cancelled", &m.get(cid).await.expect("get"));
    let d = m
        .create_or_join(&cx, spec().alias("to-decline"))
        .await
        .expect("create")
        .into_open()
        .expect("open");
    let did = d.id();
    let waiter = spawn_wait(&m, did, Duration::from_secs(30));
    tokio::task::yield_now().await;
    leaks.debug(
        "Pending<Cancelled> (declined)",
        &m.decline(d).await.expect("decline"),
    );
    leaks.debug(
        "Outcome::Declined",
        &waiter.await.expect("join").expect("wait"),
    );
    let declined = m
        .create_or_join(&cx, spec().alias("to-decline"))
        .await
        .expect("cooldown");
    assert!(matches!(declined, Joined::Declined(_)));
    leaks.debug("Joined::Declined", &declined);

    // Expired.
    let e = m
        .create(&cx, spec().ttl(Duration::from_secs(5)))
        .await
        .expect("create");
    let eid = e.id();
    leaks.debug(
        "Outcome::Expired",
        &m.wait(eid, Duration::from_secs(60)).await.expect("wait"),
    );
    match m.get(eid).await.expect("get") {
        AnyPending::Expired(p) => {
            leaks.debug("Pending<Expired>", &p);
            leaks.debug("AnyPending::Expired", &AnyPending::Expired(p));
        }
        other => panic!("expected expired, got {other:?}"),
    }
    leaks.debug("Error::Expired", &m.complete(e).await.expect_err("expired"));

    // Timed out and removed.
    let r = m.create(&cx, spec()).await.expect("create");
    leaks.debug(
        "Outcome::TimedOut",
        &m.wait(r.id(), Duration::from_secs(1)).await.expect("wait"),
    );
    let waiter = spawn_wait(&m, r.id(), Duration::from_secs(30));
    tokio::task::yield_now().await;
    m.clear(&cx).await.expect("clear");
    leaks.debug(
        "Outcome::Removed",
        &waiter.await.expect("join").expect("wait"),
    );

    // A store's plain data: a record built by hand (its fields are public), its body, its
    // state, and what `create` answers.
    let record = Record::new(
        PendingId::random(),
        canary_ns(),
        Timestamp::from_millis(1),
        Timestamp::from_millis(2),
        RecordState::Open,
        Arc::new(Body::new(
            secret(),
            Some(SECRET.to_owned()),
            Some(NS.to_owned()),
            Some(SECRET.to_owned()),
        )),
    );
    leaks.debug("Record", &record);
    leaks.debug("Body", &*record.body);
    leaks.debug("Created::Joined", &Created::Joined(record.clone()));
    leaks.debug("Created::Declined", &Created::Declined(record.clone()));
    leaks.debug(
        "Record (cancelled)",
        &record.clone().with_state(RecordState::Cancelled {
            at: Timestamp::from_millis(2),
            reason: CancelReason::Declined,
        }),
    );

    leaks.assert_none(80);
}

/// Every public type holding a payload prints for a payload that does not implement
/// `Debug` (a secret-bearing payload need not derive it to be printed in a test's
/// `assert_eq!`, `unwrap_err` or a log line). Found in a review (2026-12-07): `Outcome`,
/// `Joined`, `AnyPending`, `Created`, `Resume` and `PostgresStoreBuilder` required it.
#[test]
fn types_holding_a_payload_print_without_its_debug() {
    #[derive(Clone, serde::Serialize, serde::Deserialize, OobPayload)]
    #[oob(kind = "no_debug", route = "/no-debug/{id}")]
    struct NoDebug {
        secret: String,
    }
    fn prints<D: fmt::Debug>() {}
    prints::<oob::Outcome<NoDebug>>();
    prints::<oob::Joined<NoDebug>>();
    prints::<oob::AnyPending<NoDebug>>();
    prints::<oob::Pending<NoDebug, oob::state::Open>>();
    prints::<oob::store::Created<NoDebug>>();
    prints::<oob::store::Record<NoDebug>>();
    prints::<oob::mcp::Resume<NoDebug>>();
    prints::<oob::store::postgres::PostgresStoreBuilder<NoDebug>>();
    let _ = NoDebug {
        secret: String::new(),
    }
    .secret;
}

//! `Debug` redaction: every public type of `oob` that can hold a secret (a payload, a stored
//! credential, key material, a tool call's arguments or `requestState`) or a namespace (often
//! an e-mail address) is formatted with `{:?}` and `{:#?}`, and neither canary may appear.
//!
//! A source error written by the user may print what it likes; the sources used here print
//! the canaries only in their `Display`, never in their `Debug`, so what is checked is what
//! `oob`'s own types print (and that they do not render a source with `Display`).

use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use oob::provider::{
    BearerHash, BearerToken, FixedNamespace, FromVerifiedSubject, ProviderError, VerifiedSubject,
};
use oob::state::CancelReason;
use oob::store::NamespaceScope;
use oob::store::{
    Body, CreateError, Created, Dedup, Limits, MemoryStore, NewRecord, Record, RecordState, Store,
    StoreError, TransitionError, Wake,
};
use oob::time::{Timestamp, TokioClock};
use oob::vault::{MemoryVault, Vault, VaultError};
use oob::{
    AnyPending, CallbackBase, Error, Joined, Manager, Namespace, OobPayload, Outcome, PendingId,
    Spec,
};
use oob_tests::delegate::{Delegate, Overrides};

/// The secret every payload, credential and key here carries.
const SECRET: &str = "CANARY-SECRET-7f3a";
/// The namespace every pending here belongs to.
const NS: &str = "canary-ns-9c1e@example.com";

/// A payload holding a secret, with a derived `Debug` that prints it (as a user's would).
#[derive(Debug, Clone, PartialEq, Eq, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "secret_form", route = "/oob/secret/{id}", ttl = "10m")]
struct Secret {
    value: String,
}

fn secret() -> Secret {
    Secret {
        value: SECRET.to_owned(),
    }
}

fn canary_ns() -> Namespace {
    Namespace::new(NS).expect("valid namespace")
}

fn subject() -> VerifiedSubject {
    VerifiedSubject::new(canary_ns())
}

/// A spec whose payload and labels all carry a canary.
fn spec() -> Spec<Secret> {
    Spec::new(secret())
        .alias(SECRET)
        .resource(NS)
        .elicit_id(SECRET)
}

/// A user-written error: both canaries in its `Display`, neither in its `Debug`.
struct UserError;

impl fmt::Debug for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UserError")
    }
}

impl fmt::Display for UserError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "backend said {SECRET} for {NS}")
    }
}

impl std::error::Error for UserError {}

/// What leaked where; the test fails listing every leak at once.
#[derive(Default)]
struct Leaks {
    found: Vec<String>,
    checked: usize,
}

impl Leaks {
    fn text(&mut self, what: &str, out: &str) {
        self.checked += 1;
        // `REDACTION_SHOW=1 cargo test --test redaction -- --nocapture` prints what is checked.
        if std::env::var_os("REDACTION_SHOW").is_some() {
            eprintln!("{what}: {out}");
        }
        for (canary, name) in [(SECRET, "the secret"), (NS, "the namespace")] {
            // The whole canary, or a recognizable part of it (an escaped or cut rendering).
            let head = &canary[..canary.len() - 5];
            if out.contains(canary) || out.contains(head) {
                self.found.push(format!("{what} prints {name}: {out}"));
            }
        }
    }

    /// Checks `{:?}` and `{:#?}` of `value`.
    fn debug<D: fmt::Debug + ?Sized>(&mut self, what: &str, value: &D) {
        self.text(&format!("{what} {{:?}}"), &format!("{value:?}"));
        self.text(&format!("{what} {{:#?}}"), &format!("{value:#?}"));
    }

    /// Checks `Debug` and `Display` of an error type `oob` defines.
    fn error<E: std::error::Error>(&mut self, what: &str, e: &E) {
        self.debug(what, e);
        self.text(&format!("{what} (Display)"), &e.to_string());
    }

    #[track_caller]
    fn assert_none(self, at_least: usize) {
        assert!(
            self.checked >= at_least,
            "only {} outputs checked",
            self.checked
        );
        assert!(
            self.found.is_empty(),
            "{} Debug output(s) leak a canary:\n{}",
            self.found.len(),
            self.found.join("\n")
        );
    }
}

/// The check itself sees a leak: a derived `Debug` of the payload, or the namespace text.
#[test]
fn the_check_catches_a_leak() {
    let mut leaks = Leaks::default();
    leaks.debug("the user's payload", &secret());
    leaks.debug("the namespace text", NS);
    leaks.debug("a value in a map", &[("k", format!("xx{SECRET}xx"))]);
    assert_eq!(leaks.found.len(), 6, "{:#?}", leaks.found);
    let mut clean = Leaks::default();
    clean.debug("an id", &PendingId::random());
    clean.debug("a user error", &UserError);
    assert!(clean.found.is_empty(), "{:#?}", clean.found);
}

type M = Manager<Secret, MemoryStore<Secret>, FromVerifiedSubject>;

fn manager() -> M {
    Manager::builder()
        .store(MemoryStore::new())
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(TokioClock::new())
        .decline_cooldown(Duration::from_secs(60))
        .build()
}

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

/// Keeps the `Debug` of every `NewRecord` a store is handed and of every answer it gives (a
/// `NewRecord` is made only by the manager, so this is how a test gets one).
struct Spy {
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

impl Spy {
    fn saw<D: fmt::Debug>(&self, what: &str, value: &D) {
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        seen.push((format!("{what} {{:?}}"), format!("{value:?}")));
        seen.push((format!("{what} {{:#?}}"), format!("{value:#?}")));
    }
}

impl<S: Store<Secret>> Overrides<Secret, S> for Spy {
    async fn create(
        &self,
        inner: &S,
        new: &NewRecord<Secret>,
        limits: Limits,
        dedup: Dedup,
        now: Timestamp,
    ) -> Result<Created<Secret>, CreateError> {
        self.saw("NewRecord", new);
        let created = inner.create(new, limits, dedup, now).await;
        self.saw("Result<Created, CreateError>", &created);
        created
    }

    async fn get(
        &self,
        inner: &S,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<Secret>>, StoreError> {
        let got = inner.get(id, now).await;
        self.saw("Result<Option<Record>, StoreError> (get)", &got);
        got
    }

    async fn complete(
        &self,
        inner: &S,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<Secret>, TransitionError> {
        let done = inner.complete(id, expect, now, wake).await;
        self.saw("Result<Record, TransitionError> (complete)", &done);
        done
    }

    async fn cancel(
        &self,
        inner: &S,
        id: PendingId,
        reason: CancelReason,
        expect: Option<&Namespace>,
        now: Timestamp,
    ) -> Result<Record<Secret>, TransitionError> {
        let done = inner.cancel(id, reason, expect, now).await;
        self.saw("Result<Record, TransitionError> (cancel)", &done);
        done
    }

    async fn list_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
        now: Timestamp,
    ) -> Result<Vec<Record<Secret>>, StoreError> {
        self.saw("NamespaceScope (list_namespace)", &namespace);
        let listed = inner.list_namespace(namespace, now).await;
        self.saw("Result<Vec<Record>, StoreError> (list)", &listed);
        listed
    }

    async fn clear_namespace(
        &self,
        inner: &S,
        namespace: NamespaceScope<'_>,
    ) -> Result<usize, StoreError> {
        self.saw("NamespaceScope (clear_namespace)", &namespace);
        inner.clear_namespace(namespace).await
    }
}

/// What the store SPI is handed and answers: new records, created answers, transition
/// answers, listings, tokens, and a subscription holding a completed record.
#[tokio::test]
async fn what_the_store_spi_sees_prints_neither_secret_nor_namespace() {
    let mut leaks = Leaks::default();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let m = Manager::builder()
        .store(Delegate::new(
            MemoryStore::new(),
            Spy {
                seen: Arc::clone(&seen),
            },
        ))
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build();
    let cx = subject();
    let a = m.create(&cx, spec().alias("gh")).await.expect("create");
    let joined = m
        .create_or_join(&cx, spec().alias("gh"))
        .await
        .expect("join");
    assert!(joined.is_joined());
    let mut sub = m.store().subscribe(a.id()).await.expect("subscribe");
    m.list(&cx).await.expect("list");
    m.get(a.id()).await.expect("get");
    m.complete(a).await.expect("complete");
    leaks.debug("Subscription (holding a completed record)", &sub);
    let event = sub.changed().await;
    leaks.debug("Subscription event", &event);
    let b = m.create(&cx, spec()).await.expect("create");
    m.cancel(b).await.expect("cancel");
    m.clear(&cx).await.expect("clear");
    let seen = std::mem::take(&mut *seen.lock().unwrap_or_else(PoisonError::into_inner));
    assert!(seen.iter().any(|(what, _)| what.starts_with("NewRecord")));
    for (what, out) in &seen {
        leaks.text(what, out);
    }
    leaks.assert_none(20);
}

/// The errors `oob` defines, in `Debug` and `Display`, including ones wrapping a user error
/// whose `Display` holds both canaries.
#[tokio::test]
async fn errors_print_neither_secret_nor_namespace() {
    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();

    leaks.error(
        "Error::NotFound",
        &m.get(PendingId::random()).await.expect_err("unknown"),
    );
    let p = m.create(&cx, spec()).await.expect("create");
    let id = p.id();
    let other = Namespace::new(format!("other-{NS}")).expect("namespace");
    leaks.error(
        "Error::NamespaceMismatch",
        &m.complete_in(id, &other).await.expect_err("mismatch"),
    );
    m.complete(p).await.expect("complete");
    leaks.error(
        "Error::Finished",
        &m.complete_id(id).await.expect_err("finished"),
    );

    // A persist step failing with a user error that holds both canaries in its Display.
    let p = m.create(&cx, spec()).await.expect("create");
    let persist = m
        .complete_with(p, async |_token| Err::<(), _>(UserError))
        .await
        .expect_err("persist fails");
    assert!(matches!(persist, Error::Persist { .. }), "{persist:?}");
    leaks.error("Error::Persist", &persist);

    leaks.error(
        "Error::Provider(NoIdentity)",
        &m.create(&None::<VerifiedSubject>, spec())
            .await
            .expect_err("no identity"),
    );
    leaks.error(
        "Error::Spec",
        &m.create(&cx, spec().alias(format!("{SECRET}\n{NS}")))
            .await
            .expect_err("control character"),
    );
    leaks.error(
        "NamespaceError",
        &Namespace::new(format!("{NS}\n{SECRET}")).expect_err("control character"),
    );
    leaks.error(
        "NamespaceError (too long)",
        &Namespace::new(format!("{NS}{}", "x".repeat(100_000))).expect_err("too long"),
    );
    leaks.error(
        "ProviderError::Other",
        &ProviderError::Other(Box::new(UserError)),
    );
    leaks.error(
        "Error::Provider(Other)",
        &Error::Provider(ProviderError::Other(Box::new(UserError))),
    );
    leaks.error("ProviderError::NoIdentity", &ProviderError::NoIdentity);
    leaks.error(
        "VaultError::Backend",
        &VaultError::Backend(Box::new(UserError)),
    );
    leaks.error("StoreError::backend", &StoreError::backend(UserError));
    leaks.error(
        "Error::Store",
        &Error::Store(StoreError::backend(UserError)),
    );
    leaks.error(
        "TransitionError::Store",
        &TransitionError::Store(StoreError::backend(UserError)),
    );
    leaks.error(
        "CreateError::Store",
        &CreateError::Store(StoreError::backend(UserError)),
    );
    leaks.error("Error::StoreContract", &Error::StoreContract(id));
    leaks.assert_none(30);
}

/// The durable stores and vault, after they hold a canary pending and credential.
#[tokio::test]
async fn sqlite_and_redis_types_print_neither_secret_nor_namespace() {
    use oob::store::{RedisStore, SqliteStore};
    use oob::vault::SqliteVault;
    let mut leaks = Leaks::default();
    let cx = subject();

    let store = SqliteStore::<Secret>::open_in_memory().expect("open");
    let m = Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .build();
    let p = m.create(&cx, spec()).await.expect("create");
    m.create(&cx, spec()).await.expect("create");
    let vault = SqliteVault::<String>::from_store(m.store());
    let writer = vault.clone();
    m.complete_with(p, async move |token| {
        writer.put(&token, "github", SECRET.to_owned()).await
    })
    .await
    .expect("complete_with");
    leaks.debug("SqliteStore", m.store());
    leaks.debug("SqliteVault", &vault);
    leaks.debug("Manager<SqliteStore>", &m);
    let own = SqliteVault::<String>::open_in_memory().expect("open");
    own.put(&m.caller(&cx).expect("caller"), "github", SECRET.to_owned())
        .await
        .expect("put");
    leaks.debug("SqliteVault (in memory)", &own);

    // A builder whose URL carries a password: never connected, nothing to print.
    let url = format!("redis://:{SECRET}@127.0.0.1:1/");
    let builder = RedisStore::<Secret>::builder(redis::Client::open(url.as_str()).expect("client"))
        .prefix("redaction:");
    leaks.debug("RedisStoreBuilder", &builder);
    if let Some(server) = oob_tests::redis_server::RedisServer::start() {
        let client = redis::Client::open(server.url()).expect("client");
        let store = RedisStore::<Secret>::builder(client)
            .prefix("redaction:")
            .connect()
            .await
            .expect("connect");
        let m = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
            .build();
        let p = m.create(&cx, spec()).await.expect("create");
        leaks.debug("RedisStore", m.store());
        leaks.debug("Manager<RedisStore>", &m);
        leaks.debug("Pending<Open> (redis)", &p);
        leaks.debug(
            "Pending<Completed> (redis)",
            &m.complete(p).await.expect("complete"),
        );
    }
    leaks.assert_none(10);
}

/// The HTTP extractors and their rejections, through a router (they are only made by
/// extraction): `UncheckedInteraction`, `Interaction<_, ExtensionUser>`, `InteractionContext`,
/// `Interactions`, and `InteractionRejection` for a wrong user, a finished pending and an internal failure.
#[tokio::test]
async fn http_types_print_neither_secret_nor_namespace() {
    use axum::Router;
    use axum::body::Body as HttpBody;
    use axum::http::Request;
    use axum::routing::get;
    use oob::http::{
        ExtensionUser, Interaction, InteractionContext, InteractionLayer, InteractionRejection,
        Interactions, RejectionKind, UncheckedInteraction,
    };
    use tower::ServiceExt;

    fn both<D: fmt::Debug>(v: &D) -> String {
        format!("{v:?}\n{v:#?}")
    }
    async fn plain(ix: Result<UncheckedInteraction<Secret>, InteractionRejection>) -> String {
        ix.map_or_else(|r| both(&r), |ix| both(&ix))
    }
    async fn session(
        ix: Result<Interaction<Secret, ExtensionUser>, InteractionRejection>,
    ) -> String {
        ix.map_or_else(|r| both(&r), |ix| both(&ix))
    }
    async fn context(cx: InteractionContext<Secret>) -> String {
        both(&cx)
    }
    async fn call(app: &Router, uri: String, who: Option<VerifiedSubject>) -> String {
        let mut req = Request::get(uri);
        if let Some(who) = who {
            req = req.extension(who);
        }
        let res = app
            .clone()
            .oneshot(req.body(HttpBody::empty()).expect("request"))
            .await
            .expect("infallible");
        let bytes = axum::body::to_bytes(res.into_body(), usize::MAX)
            .await
            .expect("body");
        String::from_utf8(bytes.to_vec()).expect("utf-8")
    }

    let mut leaks = Leaks::default();
    let m = manager();
    let interactions: Interactions<Secret> = m.interactions();
    leaks.debug("Interactions", &interactions);
    let app = Router::new()
        .route("/oob/secret/{id}", get(plain))
        .route("/session/oob/secret/{id}", get(session))
        .with_state(interactions);
    let layered = Router::new()
        .route("/oob/secret/{id}", get(context))
        .route_layer(InteractionLayer::unchecked(m.clone()));

    let p = m.create(&subject(), spec()).await.expect("create");
    let id = p.id();
    let out = call(&app, format!("/oob/secret/{id}"), None).await;
    assert!(out.starts_with("Interaction"), "{out}");
    leaks.text("Interaction", &out);
    let out = call(&app, format!("/session/oob/secret/{id}"), Some(subject())).await;
    assert!(out.starts_with("Interaction"), "{out}");
    leaks.text("Interaction (checked)", &out);
    let intruder = VerifiedSubject::new(Namespace::new(format!("x{NS}")).expect("namespace"));
    let out = call(&app, format!("/session/oob/secret/{id}"), Some(intruder)).await;
    assert!(out.contains("WrongUser"), "{out}");
    leaks.text("InteractionRejection (wrong user)", &out);
    let out = call(&layered, format!("/oob/secret/{id}"), None).await;
    assert!(out.starts_with("InteractionContext"), "{out}");
    leaks.text("InteractionContext", &out);
    m.complete_id(id).await.expect("complete");
    let out = call(&app, format!("/oob/secret/{id}"), None).await;
    assert!(out.contains("Completed"), "{out}");
    leaks.text("InteractionRejection (completed)", &out);

    // A failed persist step keeps its source (for logs): an `oob` error around a user error.
    let p = m.create(&subject(), spec()).await.expect("create");
    let persist = m
        .complete_with(p, async |_token| Err::<(), _>(UserError))
        .await
        .expect_err("persist fails");
    let rejection = InteractionRejection::from(persist);
    assert_eq!(rejection.kind(), RejectionKind::NotSaved);
    leaks.error("InteractionRejection (not saved)", &rejection);
    leaks.error(
        "InteractionRejection::with_source",
        &InteractionRejection::with_source(RejectionKind::Internal, UserError),
    );
    leaks.assert_none(10);
}

/// The MCP glue: `Need`, `Gate`, `ToolCall`, `Binding`, `OpenedState`, `StateKeys`,
/// `OobTools` and `Resume`, and the protocol values made from a canary pending (their
/// message is the service's own text, sent to the client: a neutral one here).
#[tokio::test]
async fn mcp_types_print_neither_secret_nor_namespace() {
    use oob::mcp::rmcp::{Gate, Need, OobTools, ToolCall};
    use oob::mcp::{
        Binding, ElicitationComplete, ElicitationModes, InputRequired, StateKeys, UrlElicitation,
        UrlElicitationRequired, resume,
    };
    use rmcp::model::{CallToolResult, ContentBlock};
    use serde_json::json;

    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();
    let ns = canary_ns();

    leaks.debug(
        "Need",
        &Need::new(spec(), "github", format!("{SECRET} for {NS}")),
    );
    leaks.debug("Gate::Ready", &Gate::Ready(SECRET.to_owned()));
    leaks.debug(
        "Gate::Respond",
        &Gate::<String>::Respond(CallToolResult::success(vec![ContentBlock::text(SECRET)]).into()),
    );

    let key = format!("{SECRET}-request-state-key-material-0123456789");
    let keys = StateKeys::new(key.clone().into_bytes())
        .expect("key")
        .with_previous_key(format!("{key}-old").into_bytes())
        .expect("key");
    leaks.debug("StateKeys", &keys);
    let arguments = json!({"token": SECRET, "user": NS});
    let params = json!({"name": "list_repos", "arguments": arguments});
    let binding = Binding::new(&ns, "tools/call", &params);
    leaks.debug("Binding", &binding);
    // Nor the params' digest: unkeyed, so low-entropy arguments could be guessed back.
    let shown = format!("{binding:?}");
    assert!(!shown.contains("digest"), "{shown}");

    let done = m.create(&cx, spec()).await.expect("create");
    let still_open = m.create(&cx, spec()).await.expect("create");
    let (done_id, open_id) = (done.id(), still_open.id());
    let completed = m.complete(done).await.expect("complete");
    leaks.debug("ElicitationComplete", &ElicitationComplete::new(&completed));
    let now = SystemTime::now();
    let state = keys.seal(&binding, &[done_id], now);
    let opened = keys.open(&state, &binding, now).expect("open");
    leaks.debug("OpenedState", &opened);
    let call = ToolCall::new(
        "list_repos",
        arguments.as_object().cloned().expect("object"),
        Some(format!("{state}{SECRET}")),
    );
    leaks.debug("ToolCall", &call);

    leaks.debug(
        "Resume::Proceed",
        &resume(&m, &opened, &ns).await.expect("resume"),
    );
    let both = keys.seal(&binding, &[done_id, open_id], now);
    let opened = keys.open(&both, &binding, now).expect("open");
    leaks.debug(
        "Resume::StillOpen",
        &resume(&m, &opened, &ns).await.expect("resume"),
    );

    let modes = ElicitationModes::new(false, true);
    let message = "Sign in to the upstream service.";
    let elicitation = UrlElicitation::new(&still_open, message, modes).expect("url mode");
    leaks.debug("UrlElicitation", &elicitation);
    leaks.debug(
        "UrlElicitationRequired",
        &UrlElicitationRequired::new(elicitation),
    );
    let asked = InputRequired::for_pendings(
        &keys,
        &binding,
        modes,
        now,
        [("upstream".to_owned(), &still_open, message.to_owned())],
    )
    .expect("input_required");
    leaks.debug("InputRequired", &asked);

    let vault = MemoryVault::<String>::new();
    vault
        .put(&m.caller(&cx).expect("caller"), "github", SECRET.to_owned())
        .await
        .expect("put");
    let tools = OobTools::new(m.clone(), vault, keys);
    leaks.debug("OobTools", &tools);
    leaks.assert_none(20);
}

/// A payload of the same kind as [`Secret`] in another shape (a later version of it): a
/// stored `Secret` does not decode as one.
#[derive(Debug, Clone, OobPayload, serde::Serialize, serde::Deserialize)]
#[oob(kind = "secret_form", route = "/oob/secret/{id}")]
struct Reshaped {
    value: u64,
}

/// What a vault's value type became (an upgrade): a stored string does not decode as it.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
enum Grant {
    Bearer,
}

impl Leaks {
    /// Checks `Debug` and `Display` of `e` and of every source in its chain (what a log of
    /// the chain prints, e.g. the MCP layer's internal errors).
    fn chain(&mut self, what: &str, e: &(dyn std::error::Error + 'static)) {
        let mut next = Some(e);
        let mut depth = 0;
        while let Some(e) = next {
            let at = format!("{what} (source {depth})");
            self.debug(&at, e);
            self.text(&format!("{at} (Display)"), &e.to_string());
            next = e.source();
            depth += 1;
        }
    }
}

/// A stored credential that no longer decodes as the vault's type: serde_json's message
/// quotes it (`unknown variant \`…\``, `invalid type: string "…"`), so the error must not keep
/// that message, on any vault (the encryption layer's is the decrypted credential).
#[tokio::test]
async fn a_stored_value_that_does_not_decode_prints_nothing_of_it() {
    use oob::vault::{EncryptedVault, KeyRing, PostgresVault, RedisVault, Sealed, SqliteVault};
    use oob::vault::{VaultKey, WriteOptions};
    let mut leaks = Leaks::default();
    let m = manager();
    let cx = subject();
    let t = m.caller(&cx).expect("caller");
    let ring = KeyRing::new(1, VaultKey::from_bytes([7; 32]));
    let mut check = |what: &str, e: VaultError| {
        assert!(matches!(e, VaultError::Codec(_)), "{what}: {e:?}");
        leaks.chain(what, &e);
    };

    let inner = MemoryVault::<Sealed>::new();
    EncryptedVault::<String, _>::new(inner.clone(), ring.clone())
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let reader = EncryptedVault::<Grant, _>::new(inner.clone(), ring.clone());
    check(
        "EncryptedVault<MemoryVault> (enum)",
        reader.get(&t, "github").await.expect_err("no decode"),
    );
    let reader = EncryptedVault::<u64, _>::new(inner, ring.clone());
    check(
        "EncryptedVault<MemoryVault> (number)",
        reader.get(&t, "github").await.expect_err("no decode"),
    );

    let db = oob_tests::sqlite_file::TempDb::new("redaction-vault");
    SqliteVault::<String>::open(db.path())
        .expect("open")
        .put(&t, "github", SECRET.to_owned())
        .await
        .expect("put");
    let reader = SqliteVault::<Grant>::open(db.path()).expect("open");
    check(
        "SqliteVault",
        reader.get(&t, "github").await.expect_err("no decode"),
    );
    let inner = SqliteVault::<Sealed>::open(db.path()).expect("open");
    EncryptedVault::<String, _>::new(inner.clone(), ring.clone())
        .put(&t, "sealed", SECRET.to_owned())
        .await
        .expect("put");
    let reader = EncryptedVault::<Grant, _>::new(inner, ring.clone());
    check(
        "EncryptedVault<SqliteVault>",
        reader.read(&t, "sealed").await.expect_err("no decode"),
    );

    let server = oob_tests::redis_server::RedisServer::start();
    if let Some(server) = &server {
        let client = redis::Client::open(server.url()).expect("client");
        let writer = RedisVault::<String>::connect(client.clone())
            .await
            .expect("connect")
            .with_prefix("{redaction}:");
        writer
            .write(&t, "github", SECRET.to_owned(), WriteOptions::new())
            .await
            .expect("put");
        let reader = RedisVault::<u64>::connect(client)
            .await
            .expect("connect")
            .with_prefix("{redaction}:");
        check(
            "RedisVault",
            reader.get(&t, "github").await.expect_err("no decode"),
        );
    }
    if let Some(pg) = oob_tests::postgres_server::shared() {
        let schema = oob_tests::postgres_server::fresh_schema();
        let writer = PostgresVault::<String>::new(pg.pool(2).await, &schema).expect("schema");
        writer.migrate().await.expect("migrate");
        writer
            .put(&t, "github", SECRET.to_owned())
            .await
            .expect("put");
        let reader = PostgresVault::<Grant>::new(pg.pool(2).await, &schema).expect("schema");
        check(
            "PostgresVault",
            reader.get(&t, "github").await.expect_err("no decode"),
        );
    }
    leaks.assert_none(30);
}

/// The same for a pending's payload: a store that reads a stored `Secret` as a
/// [`Reshaped`] fails with a decode error that prints nothing of the payload.
#[tokio::test]
async fn a_stored_payload_that_does_not_decode_prints_nothing_of_it() {
    use oob::store::{PostgresStore, RedisStore, SqliteStore};
    let mut leaks = Leaks::default();
    let cx = subject();
    let base = || CallbackBase::parse("https://ex.com").expect("valid base");
    let mut check = |what: &str, r: Result<AnyPending<Reshaped>, Error>| {
        let e = r.expect_err("no decode");
        assert!(
            matches!(e, Error::Store(StoreError::Decode(_))),
            "{what}: {e:?}"
        );
        leaks.chain(what, &e);
    };

    let db = oob_tests::sqlite_file::TempDb::new("redaction-store");
    let writer = Manager::builder()
        .store(SqliteStore::<Secret>::open(db.path()).expect("open"))
        .provider(FromVerifiedSubject)
        .callback_base(base())
        .build();
    let id = writer.create(&cx, spec()).await.expect("create").id();
    let reader = Manager::builder()
        .store(SqliteStore::<Reshaped>::open(db.path()).expect("open"))
        .provider(FromVerifiedSubject)
        .callback_base(base())
        .build();
    check("SqliteStore", reader.get(id).await);

    let server = oob_tests::redis_server::RedisServer::start();
    if let Some(server) = &server {
        let client = redis::Client::open(server.url()).expect("client");
        let writer = Manager::builder()
            .store(
                RedisStore::<Secret>::builder(client.clone())
                    .prefix("{redaction}:")
                    .connect()
                    .await
                    .expect("connect"),
            )
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        let id = writer.create(&cx, spec()).await.expect("create").id();
        let reader = Manager::builder()
            .store(
                RedisStore::<Reshaped>::builder(client)
                    .prefix("{redaction}:")
                    .connect()
                    .await
                    .expect("connect"),
            )
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        check("RedisStore", reader.get(id).await);
    }
    if let Some(pg) = oob_tests::postgres_server::shared() {
        let schema = oob_tests::postgres_server::fresh_schema();
        let pool = pg.pool(2).await;
        let store = PostgresStore::<Secret>::builder(pool.clone())
            .schema(&schema)
            .build()
            .await
            .expect("build");
        store.migrate().await.expect("migrate");
        let writer = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        let id = writer.create(&cx, spec()).await.expect("create").id();
        let store = PostgresStore::<Reshaped>::builder(pool)
            .schema(&schema)
            .build()
            .await
            .expect("build");
        let reader = Manager::builder()
            .store(store)
            .provider(FromVerifiedSubject)
            .callback_base(base())
            .build();
        check("PostgresStore", reader.get(id).await);
    }
    leaks.assert_none(12);
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

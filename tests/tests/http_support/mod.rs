//! Shared pieces of the HTTP tests: a real server on 127.0.0.1:0, a client, a clock that can
//! jump, a store that fails on demand, and a small interaction service under test.
#![allow(dead_code)]

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::{FromRef, State};
use axum::response::Html;
use axum::routing::get;
use oob::http::{InteractionRejection, Interactions, UncheckedInteraction, interaction_headers};
use oob::provider::FromVerifiedSubject;
use oob::provider::VerifiedSubject;
use oob::store::{MemoryStore, Record, StoreError, TransitionError, Wake};
use oob::time::{Clock, Timestamp};
use oob::vault::{MemoryVault, Vault};
use oob::{CallbackBase, Manager, Namespace, PendingId, Store};
use oob_tests::delegate::{Delegate, Overrides};
use oob_tests::{DeviceCode, spec};

/// Text that only internal errors carry: a response containing it leaked one.
pub(crate) const INTERNAL_DETAIL: &str = "db at 10.1.2.3 refused password hunter2";

/// A server on 127.0.0.1:0; its base URL.
pub(crate) async fn serve(app: Router) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind loopback");
    let addr = listener.local_addr().expect("local addr");
    tokio::spawn(async move {
        axum::serve(listener, app).await.expect("server runs");
    });
    format!("http://{addr}")
}

/// A client that does not follow redirects.
pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// Asserts the interaction headers.
pub(crate) fn assert_interaction_headers(res: &reqwest::Response, what: &str) {
    let h = res.headers();
    assert_eq!(
        h.get("cache-control").map(|v| v.as_bytes()),
        Some(&b"no-store"[..]),
        "Cache-Control on {what}"
    );
    assert_eq!(
        h.get("referrer-policy").map(|v| v.as_bytes()),
        Some(&b"no-referrer"[..]),
        "Referrer-Policy on {what}"
    );
    assert_eq!(
        h.get("x-content-type-options").map(|v| v.as_bytes()),
        Some(&b"nosniff"[..]),
        "X-Content-Type-Options on {what}"
    );
    assert!(
        h.get_all("content-security-policy")
            .iter()
            .any(|v| v.as_bytes() == b"frame-ancestors 'none'"),
        "Content-Security-Policy frame-ancestors on {what}"
    );
    assert_eq!(
        h.get("x-frame-options").map(|v| v.as_bytes()),
        Some(&b"DENY"[..]),
        "X-Frame-Options on {what}"
    );
}

/// The system clock plus an offset that tests move forward.
#[derive(Debug, Clone, Default)]
pub(crate) struct ShiftClock(Arc<AtomicU64>);

impl ShiftClock {
    pub(crate) fn advance(&self, by: Duration) {
        let ms = u64::try_from(by.as_millis()).expect("small shift");
        self.0.fetch_add(ms, Ordering::SeqCst);
    }
}

impl Clock for ShiftClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_system_time(SystemTime::now())
            .saturating_add(Duration::from_millis(self.0.load(Ordering::SeqCst)))
    }
}

/// A memory store that fails on demand (with an error whose text must never reach a
/// response) and counts reads.
pub(crate) type FlakyStore = Delegate<MemoryStore<DeviceCode>, Flaky>;

/// The switches and the read count of a [`FlakyStore`].
#[derive(Debug, Clone, Default)]
pub(crate) struct Flaky {
    pub(crate) fail_get: Arc<AtomicBool>,
    pub(crate) fail_complete: Arc<AtomicBool>,
    pub(crate) gets: Arc<AtomicUsize>,
}

#[derive(Debug)]
struct Outage;

impl std::fmt::Display for Outage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(INTERNAL_DETAIL)
    }
}

impl std::error::Error for Outage {}

fn outage() -> StoreError {
    StoreError::backend(Outage)
}

impl Overrides<DeviceCode, MemoryStore<DeviceCode>> for Flaky {
    async fn get(
        &self,
        inner: &MemoryStore<DeviceCode>,
        id: PendingId,
        now: Timestamp,
    ) -> Result<Option<Record<DeviceCode>>, StoreError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        if self.fail_get.load(Ordering::SeqCst) {
            return Err(outage());
        }
        inner.get(id, now).await
    }

    async fn complete(
        &self,
        inner: &MemoryStore<DeviceCode>,
        id: PendingId,
        expect: Option<&Namespace>,
        now: Timestamp,
        wake: Wake,
    ) -> Result<Record<DeviceCode>, TransitionError> {
        if self.fail_complete.load(Ordering::SeqCst) {
            return Err(outage().into());
        }
        inner.complete(id, expect, now, wake).await
    }
}

/// The manager of the HTTP tests.
pub(crate) type Oob = Manager<DeviceCode, FlakyStore, FromVerifiedSubject>;

/// A manager over `store` on `clock`.
pub(crate) fn manager(store: FlakyStore, clock: ShiftClock) -> Oob {
    Manager::builder()
        .store(store)
        .provider(FromVerifiedSubject)
        .callback_base(CallbackBase::parse("https://ex.com").expect("valid base"))
        .clock(clock)
        .build()
}

/// Pendings of `who` that ended without completing: one cancelled, one declined, and one
/// expired (its 60 s deadline passed by moving `clock`); their ids in that order.
pub(crate) async fn ended_pendings(
    oob: &Oob,
    who: &VerifiedSubject,
    clock: &ShiftClock,
) -> [PendingId; 3] {
    let cancelled = oob.create(who, spec()).await.unwrap();
    let cancelled_id = cancelled.id();
    oob.cancel(cancelled).await.unwrap();
    let declined = oob.create(who, spec()).await.unwrap();
    let declined_id = declined.id();
    oob.decline(declined).await.unwrap();
    let expiring = oob
        .create(who, spec().ttl(Duration::from_secs(60)))
        .await
        .unwrap();
    clock.advance(Duration::from_secs(61));
    [cancelled_id, declined_id, expiring.id()]
}

/// The state of the service under test.
#[derive(Clone)]
pub(crate) struct AppState {
    pub(crate) oob: Oob,
    pub(crate) vault: MemoryVault<String>,
}

impl FromRef<AppState> for Interactions<DeviceCode> {
    fn from_ref(state: &AppState) -> Self {
        state.oob.interactions()
    }
}

#[derive(serde::Deserialize)]
pub(crate) struct Submit {
    pub(crate) secret: String,
}

impl AppState {
    /// What the vault holds under `key` for the verified caller `who`, read with that
    /// caller's own capability (as a tool call would).
    pub(crate) async fn stored(&self, who: &str, key: &str) -> Option<String> {
        let cx = oob_tests::user(who);
        let token = self.oob.caller(&cx).expect("a verified caller");
        self.vault.get(&token, key).await.expect("vault")
    }
}

/// GET: a form naming only the id.
async fn form(ix: UncheckedInteraction<DeviceCode>) -> Html<String> {
    Html(format!(
        "<form method=post action=\"/oob/cb/{}\"><input name=secret></form>",
        ix.id()
    ))
}

/// POST: completes, storing the secret under the pending's namespace before waking.
async fn submit(
    State(state): State<AppState>,
    ix: UncheckedInteraction<DeviceCode>,
    axum::Form(f): axum::Form<Submit>,
) -> Result<&'static str, InteractionRejection> {
    let vault = state.vault.clone();
    state
        .oob
        .complete_with(ix.into_pending(), async move |token| {
            vault.put(&token, "secret", f.secret).await
        })
        .await?;
    Ok("saved")
}

/// The routes of the service under test, without the header layer.
pub(crate) fn bare_routes(state: AppState) -> Router {
    Router::new()
        .route("/oob/cb/{id}", get(form).post(submit))
        .with_state(state)
}

/// The service under test: the callback route, with the interaction headers.
pub(crate) fn app(state: AppState) -> Router {
    bare_routes(state).layer(interaction_headers())
}

/// A fresh state and its server.
pub(crate) async fn start() -> (AppState, ShiftClock, FlakyStore, String) {
    let store = FlakyStore::default();
    let clock = ShiftClock::default();
    let state = AppState {
        oob: manager(store.clone(), clock.clone()),
        vault: MemoryVault::new(),
    };
    let base = serve(app(state.clone())).await;
    (state, clock, store, base)
}

//! [`ManagerBuilder`]: a builder whose `build()` compiles only once the store, the namespace
//! provider and the callback base are all given.

use std::marker::PhantomData;
use std::num::NonZeroU32;
use std::sync::Arc;
use std::time::Duration;

use super::{Manager, ManagerInner};
use crate::observe::LogKey;
use crate::payload::{OobPayload, route_id_position};
use crate::pending::CallbackTemplate;
use crate::store::{Limits, Store};
use crate::time::{Clock, SystemClock};

pub use super::callback_base::{CallbackBase, CallbackBaseError};

/// The default TTL of a pending whose spec and payload type name none.
pub const DEFAULT_TTL: Duration = Duration::from_secs(600);

/// A part of a [`ManagerBuilder`] that has not been given yet. Only the builder makes one
/// (no constructor, no `Default`), so a part cannot be "given" as `Missing`:
/// `.provider(Missing)` does not compile, and a built manager has every part.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct Missing;

/// A part of a [`ManagerBuilder`] that has been given.
#[derive(Debug, Clone)]
pub struct Given<X>(X);

mod sealed {
    /// Seals the builder's marker traits: only [`Given`](super::Given) parts satisfy them,
    /// so `build()` cannot be reached by implementing one for [`Missing`](super::Missing)
    /// or a type of one's own.
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a part given to a manager builder",
        label = "the builder's parts are sealed",
        note = "give every part through the builder: `.store(...)`, `.provider(...)` and `.callback_base(...)`; the marker traits cannot be implemented outside `oob`"
    )]
    pub trait Sealed {}
    impl<X> Sealed for super::Given<X> {}
}

/// Satisfied once [`ManagerBuilder::store`] was called. Sealed.
#[diagnostic::on_unimplemented(
    message = "this manager builder has no store",
    label = "`build()` needs a store",
    note = "call `.store(...)` before `.build()`, e.g. `.store(oob::store::MemoryStore::new())`"
)]
pub trait HasStore<T>: sealed::Sealed {
    /// The store type.
    type Store: Store<T>;
    #[doc(hidden)]
    fn into_store(self) -> Self::Store;
}

impl<T, S: Store<T>> HasStore<T> for Given<S> {
    type Store = S;
    fn into_store(self) -> S {
        self.0
    }
}

/// Satisfied once [`ManagerBuilder::provider`] was called. Sealed.
#[diagnostic::on_unimplemented(
    message = "this manager builder has no namespace provider",
    label = "`build()` needs a namespace provider",
    note = "call `.provider(...)` before `.build()`, e.g. `.provider(oob::provider::FromVerifiedSubject)`"
)]
pub trait HasProvider: sealed::Sealed {
    /// The provider type.
    type Provider: Send + Sync + 'static;
    #[doc(hidden)]
    fn into_provider(self) -> Self::Provider;
}

impl<P: Send + Sync + 'static> HasProvider for Given<P> {
    type Provider = P;
    fn into_provider(self) -> P {
        self.0
    }
}

/// Satisfied once [`ManagerBuilder::callback_base`] was called. Sealed.
#[diagnostic::on_unimplemented(
    message = "this manager builder has no callback base",
    label = "`build()` needs the base URL of callback URLs",
    note = "call `.callback_base(oob::CallbackBase::parse(\"https://your.host\")?)` before `.build()`"
)]
pub trait HasCallbackBase: sealed::Sealed {
    #[doc(hidden)]
    fn into_base(self) -> CallbackBase;
}

impl HasCallbackBase for Given<CallbackBase> {
    fn into_base(self) -> CallbackBase {
        self.0
    }
}

/// Builds a [`Manager`]. Obtained from [`Manager::builder`].
///
/// `build()` compiles only when [`store`](Self::store), [`provider`](Self::provider) and
/// [`callback_base`](Self::callback_base) were all called (the Go `ErrMisconfigured` as a
/// compile error):
///
/// ```compile_fail
/// # #[derive(Clone, oob::OobPayload)] #[oob(kind = "k", route = "/cb/{id}")] struct P;
/// let manager = oob::Manager::<P, _, _>::builder()
///     .store(oob::store::MemoryStore::<P>::new())
///     .build(); // error: this manager builder has no namespace provider
/// ```
#[must_use = "a builder does nothing until `.build()`"]
pub struct ManagerBuilder<T, St, Pr, Cb> {
    store: St,
    provider: Pr,
    base: Cb,
    clock: Arc<dyn Clock>,
    default_ttl: Duration,
    limits: Limits,
    decline_cooldown: Duration,
    create_rate: Option<(NonZeroU32, Duration)>,
    pseudonym: Option<LogKey>,
    #[cfg(feature = "integrity")]
    integrity: Option<crate::integrity::IntegrityKey>,
    _payload: PhantomData<fn() -> T>,
}

impl<T, St, Pr, Cb> std::fmt::Debug for ManagerBuilder<T, St, Pr, Cb> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagerBuilder")
            .field("default_ttl", &self.default_ttl)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<T> Manager<T, Missing, Missing> {
    /// A builder with nothing given yet.
    // The bound on the function, not the impl: a type that is no payload then gets the
    // trait's own message (add the derive), not "no function `builder`".
    pub fn builder() -> ManagerBuilder<T, Missing, Missing, Missing>
    where
        T: OobPayload,
    {
        ManagerBuilder {
            store: Missing,
            provider: Missing,
            base: Missing,
            clock: Arc::new(SystemClock),
            default_ttl: T::DEFAULT_TTL.unwrap_or(DEFAULT_TTL),
            limits: Limits::default(),
            decline_cooldown: Duration::ZERO,
            create_rate: None,
            pseudonym: None,
            #[cfg(feature = "integrity")]
            integrity: None,
            _payload: PhantomData,
        }
    }
}

impl<T, St, Pr, Cb> ManagerBuilder<T, St, Pr, Cb> {
    /// The store pendings live in.
    pub fn store<S: Store<T>>(self, store: S) -> ManagerBuilder<T, Given<S>, Pr, Cb> {
        ManagerBuilder {
            store: Given(store),
            provider: self.provider,
            base: self.base,
            clock: self.clock,
            default_ttl: self.default_ttl,
            limits: self.limits,
            decline_cooldown: self.decline_cooldown,
            create_rate: self.create_rate,
            pseudonym: self.pseudonym,
            #[cfg(feature = "integrity")]
            integrity: self.integrity,
            _payload: PhantomData,
        }
    }

    /// How the namespace of a caller is derived (see [`crate::provider`]).
    pub fn provider<P: Send + Sync + 'static>(
        self,
        provider: P,
    ) -> ManagerBuilder<T, St, Given<P>, Cb> {
        ManagerBuilder {
            store: self.store,
            provider: Given(provider),
            base: self.base,
            clock: self.clock,
            default_ttl: self.default_ttl,
            limits: self.limits,
            decline_cooldown: self.decline_cooldown,
            create_rate: self.create_rate,
            pseudonym: self.pseudonym,
            #[cfg(feature = "integrity")]
            integrity: self.integrity,
            _payload: PhantomData,
        }
    }

    /// The base URL callback URLs start with.
    pub fn callback_base(
        self,
        base: CallbackBase,
    ) -> ManagerBuilder<T, St, Pr, Given<CallbackBase>> {
        ManagerBuilder {
            store: self.store,
            provider: self.provider,
            base: Given(base),
            clock: self.clock,
            default_ttl: self.default_ttl,
            limits: self.limits,
            decline_cooldown: self.decline_cooldown,
            create_rate: self.create_rate,
            pseudonym: self.pseudonym,
            #[cfg(feature = "integrity")]
            integrity: self.integrity,
            _payload: PhantomData,
        }
    }

    /// The TTL of pendings whose spec names none (default: the payload's `ttl`, else
    /// [`DEFAULT_TTL`]). A zero TTL is no TTL (a pending would be born expired): it is
    /// ignored, and the default stays.
    pub fn default_ttl(mut self, ttl: Duration) -> Self {
        if !ttl.is_zero() {
            self.default_ttl = ttl;
        }
        self
    }

    /// The most open pendings per namespace (default 1,000). A create beyond it fails with
    /// [`Error::Capacity`](crate::Error::Capacity) and creates nothing.
    pub fn max_open_per_namespace(mut self, n: usize) -> Self {
        self.limits.per_namespace = n;
        self
    }

    /// The most open pendings in the whole store (default unbounded).
    pub fn max_open_total(mut self, n: usize) -> Self {
        self.limits.total = n;
        self
    }

    /// After a user declines, how long [`Manager::create_or_join`] answers with that decline
    /// instead of asking again (default zero: no cooldown). Bounded in practice by the
    /// store's retention window.
    pub fn decline_cooldown(mut self, cooldown: Duration) -> Self {
        self.decline_cooldown = cooldown;
        self
    }

    /// At most `n` creates per `per` in each namespace, in this manager (default: no limit; a
    /// zero `per` is none): `n` at once, then one every `per / n`. A create or
    /// [`create_or_join`](Manager::create_or_join) beyond it fails with
    /// [`Error::RateLimited`](crate::Error::RateLimited), saying when one would pass, and
    /// stores nothing. Every call counts, whatever the store answers (a join too).
    ///
    /// The capacity bounds count open pendings, but a finished one is kept for the
    /// retention window whatever their number: a caller that loops create and cancel (over
    /// MCP, a tool call and a declined retry) leaves one record per loop. With a rate, a
    /// namespace keeps at most about `n × (retention + TTL + sweep) / per` records, plus
    /// `n`, with a [sweeper](Manager::spawn_sweeper) purging every `sweep` (a store forgets
    /// records only when purged). Each replica counts its own creates: with several, a
    /// namespace may create that many on each.
    pub fn max_creates_per_namespace(mut self, n: NonZeroU32, per: Duration) -> Self {
        self.create_rate = Some((n, per));
        self
    }

    /// The clock: by default the [system clock](crate::time::SystemClock), read on every
    /// create, read and transition; tests may use [`TokioClock`](crate::time::TokioClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The key of the namespace pseudonym in `tracing` events (the `ns` field: a keyed hash,
    /// never the namespace). By default each manager draws a random key, so one namespace
    /// has another pseudonym in every process; give every replica of a service the same
    /// secret key (at least 16 random bytes, from its secret store) and they all write the
    /// same pseudonym, so one user's events can be followed across replicas. Anyone holding
    /// the key can test a guessed namespace against a pseudonym: keep it as secret as the
    /// logs are sensitive.
    pub fn pseudonym_key(mut self, key: impl AsRef<[u8]>) -> Self {
        self.pseudonym = Some(LogKey::keyed(key.as_ref()));
        self
    }

    /// Binds every pending's namespace and kind to its id under `key` (feature
    /// `integrity`), and checks it on every record the store returns: a store, or anyone who
    /// can write its database, that moves a pending to another namespace makes the manager
    /// fail with [`Error::StoreContract`](crate::Error::StoreContract) instead of handing a
    /// persist step a token for that namespace. Give every replica the same key, and keep it
    /// across restarts of a durable store; pendings minted without it (or under another key)
    /// are refused.
    #[cfg(feature = "integrity")]
    pub fn integrity_key(mut self, key: crate::integrity::IntegrityKey) -> Self {
        self.integrity = Some(key);
        self
    }

    /// The manager.
    pub fn build<S, P>(self) -> Manager<T, S, P>
    where
        T: OobPayload,
        St: HasStore<T, Store = S>,
        Pr: HasProvider<Provider = P>,
        Cb: HasCallbackBase,
    {
        const {
            assert!(
                crate::payload::kind_is_valid(T::KIND),
                "OobPayload::KIND must be 1 to 64 of `a-z`, `0-9`, `_`, `.`, `-`, starting with a letter (as `#[derive(OobPayload)]` checks)"
            );
        }
        let pos = const {
            match route_id_position(T::ROUTE) {
                Some(p) => p,
                None => {
                    panic!(
                        "OobPayload::ROUTE must start with `/` and carry exactly one `{{id}}`, as a whole path segment or query value, in characters a URL carries as is (see oob::payload::route_id_position)"
                    )
                }
            }
        };
        let base = self.base.into_base();
        let mut prefix = String::with_capacity(base.as_str().len() + pos);
        prefix.push_str(base.as_str());
        prefix.push_str(&T::ROUTE[..pos]);
        Manager {
            inner: Arc::new(ManagerInner {
                store: self.store.into_store(),
                provider: self.provider.into_provider(),
                callback: Arc::new(CallbackTemplate {
                    prefix,
                    suffix: &T::ROUTE[pos + 4..],
                }),
                clock: self.clock,
                default_ttl: self.default_ttl,
                limits: self.limits,
                decline_cooldown: self.decline_cooldown,
                create_rate: self
                    .create_rate
                    .and_then(|(n, per)| super::rate::CreateRate::new(n, per)),
                log: self.pseudonym.unwrap_or_else(LogKey::random),
                #[cfg(feature = "integrity")]
                integrity: self.integrity,
                #[cfg(feature = "metrics")]
                expiries: super::instrument::ExpiryWatch::default(),
                settling: super::settling::Settling::default(),
                _payload: PhantomData,
            }),
        }
    }
}

//! [`NamespaceProvider`]: how a manager derives the namespace of a caller.
//!
//! The namespace is derived once, at creation, from the caller's verified context. Built-ins:
//! [`FixedNamespace`] (single-user stdio servers), [`FromVerifiedSubject`] (a subject that
//! upstream authentication verified and placed in the request) and, behind the
//! `bearer-hash` feature, `BearerHash` (a keyed hash of a verified bearer token). There is
//! deliberately no provider that parses an unverified JWT.

use crate::namespace::{Namespace, NamespaceError};

/// Why a provider could not derive a namespace.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProviderError {
    /// The context carries no verified identity.
    #[error("the request carries no verified identity")]
    NoIdentity,
    /// The identity does not make a valid namespace.
    #[error("the verified identity is not a valid namespace")]
    Invalid(#[from] NamespaceError),
    /// Another failure of a custom provider.
    #[error("namespace provider failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync + 'static>),
}

/// Derives the [`Namespace`] of a caller from its context `C` (a request's parts or
/// extensions, an MCP request context, or `()` for a single-user server).
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot derive a namespace from a `{C}`",
    label = "this provider does not accept `{C}` as caller context",
    note = "implement `oob::NamespaceProvider<{C}>` for it, or pass a context it accepts (e.g. `FromVerifiedSubject` needs a context implementing `oob::provider::SubjectSource`)"
)]
pub trait NamespaceProvider<C: ?Sized>: Send + Sync + 'static {
    /// The caller's namespace.
    fn namespace(&self, cx: &C) -> Result<Namespace, ProviderError>;
}

/// Always the same namespace: for single-user servers (e.g. MCP over stdio).
///
/// ```
/// use oob::{Namespace, NamespaceProvider, provider::FixedNamespace};
/// let p = FixedNamespace::new(Namespace::new("local")?);
/// assert_eq!(p.namespace(&())?.as_str(), "local");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone)]
pub struct FixedNamespace(Namespace);

impl FixedNamespace {
    /// A provider answering `namespace` for every caller.
    #[must_use]
    pub fn new(namespace: Namespace) -> Self {
        Self(namespace)
    }
}

impl<C: ?Sized> NamespaceProvider<C> for FixedNamespace {
    fn namespace(&self, _cx: &C) -> Result<Namespace, ProviderError> {
        Ok(self.0.clone())
    }
}

/// A subject that upstream authentication verified (e.g. the `sub` of a validated access
/// token), placed in the request (its extensions) for [`FromVerifiedSubject`] to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedSubject(Namespace);

impl VerifiedSubject {
    /// Marks `namespace` as verified. Call this only from code that has authenticated it.
    #[must_use]
    pub fn new(namespace: Namespace) -> Self {
        Self(namespace)
    }

    /// The verified namespace.
    #[must_use]
    pub fn namespace(&self) -> &Namespace {
        &self.0
    }
}

/// A caller context that may carry a [`VerifiedSubject`].
#[diagnostic::on_unimplemented(
    message = "`{Self}` is not a caller context that can carry a verified subject",
    label = "`FromVerifiedSubject` reads the namespace from a verified request, not from this",
    note = "pass the live request context your authentication layer marked: an rmcp `RequestContext<RoleServer>` (feature `rmcp`), `&Some(VerifiedSubject)` or `&VerifiedSubject`; a namespace is never taken from a string or a `Namespace`",
    note = "or implement `oob::provider::SubjectSource` for your own request type, returning the subject your auth layer verified"
)]
pub trait SubjectSource {
    /// The verified subject, if authentication placed one.
    fn verified_subject(&self) -> Option<&VerifiedSubject>;
}

impl SubjectSource for VerifiedSubject {
    fn verified_subject(&self) -> Option<&VerifiedSubject> {
        Some(self)
    }
}

impl SubjectSource for Option<VerifiedSubject> {
    fn verified_subject(&self) -> Option<&VerifiedSubject> {
        self.as_ref()
    }
}

/// The namespace is the [`VerifiedSubject`] that upstream authentication placed in the
/// context; a context without one is refused ([`ProviderError::NoIdentity`]).
///
/// ```
/// use oob::{Namespace, NamespaceProvider};
/// use oob::provider::{FromVerifiedSubject, VerifiedSubject};
/// let cx = Some(VerifiedSubject::new(Namespace::new("alice")?));
/// assert_eq!(FromVerifiedSubject.namespace(&cx)?.as_str(), "alice");
/// assert!(FromVerifiedSubject.namespace(&None::<VerifiedSubject>).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct FromVerifiedSubject;

impl<C: SubjectSource + ?Sized> NamespaceProvider<C> for FromVerifiedSubject {
    fn namespace(&self, cx: &C) -> Result<Namespace, ProviderError> {
        cx.verified_subject()
            .map(|s| s.0.clone())
            .ok_or(ProviderError::NoIdentity)
    }
}

#[cfg(feature = "bearer-hash")]
pub use bearer::{BearerHash, BearerSource, BearerToken, ShortKey};

#[cfg(feature = "bearer-hash")]
mod bearer {
    use hmac::{Hmac, KeyInit, Mac};
    use sha2::Sha256;

    use super::{NamespaceProvider, ProviderError};
    use crate::namespace::Namespace;

    /// A caller context that may carry a bearer token (already verified upstream).
    #[diagnostic::on_unimplemented(
        message = "`{Self}` is not a caller context that can carry a bearer token",
        label = "`BearerHash` hashes the verified request's bearer token, not this",
        note = "pass the live request context (an rmcp `RequestContext<RoleServer>` with feature `rmcp`, or a `BearerToken` your auth layer verified), or implement `oob::provider::BearerSource` for your request type"
    )]
    pub trait BearerSource {
        /// The bearer token, without the `Bearer ` prefix.
        fn bearer_token(&self) -> Option<&str>;
    }

    /// A verified bearer token, as a context for [`BearerHash`].
    #[derive(Clone)]
    pub struct BearerToken(pub String);

    impl std::fmt::Debug for BearerToken {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("BearerToken(..)")
        }
    }

    impl BearerSource for BearerToken {
        fn bearer_token(&self) -> Option<&str> {
            Some(&self.0)
        }
    }

    /// The namespace is `bearer:` followed by the hex HMAC-SHA256 of the bearer token under
    /// a server key: stable per token, and the token itself is never stored or logged.
    ///
    /// Use it only behind authentication that verified the token; it does not parse or
    /// trust anything inside it.
    ///
    /// ```
    /// use oob::NamespaceProvider;
    /// use oob::provider::{BearerHash, BearerToken};
    /// let p = BearerHash::new(*b"server-key-of-at-least-32-bytes!")?;
    /// let ns = p.namespace(&BearerToken("tok".into()))?;
    /// assert!(ns.as_str().starts_with("bearer:"));
    /// assert_eq!(ns, p.namespace(&BearerToken("tok".into()))?);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[derive(Clone)]
    pub struct BearerHash {
        key: Vec<u8>,
    }

    impl std::fmt::Debug for BearerHash {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("BearerHash(..)")
        }
    }

    /// The server key given to [`BearerHash::new`] is shorter than 32 bytes.
    #[derive(Debug, Clone, thiserror::Error)]
    #[error("the bearer-hash key must be at least 32 bytes")]
    pub struct ShortKey;

    impl BearerHash {
        /// A provider keyed with `key` (at least 32 bytes of secret).
        pub fn new(key: impl Into<Vec<u8>>) -> Result<Self, ShortKey> {
            let key = key.into();
            if key.len() < 32 {
                return Err(ShortKey);
            }
            Ok(Self { key })
        }
    }

    impl<C: BearerSource + ?Sized> NamespaceProvider<C> for BearerHash {
        fn namespace(&self, cx: &C) -> Result<Namespace, ProviderError> {
            let token = cx
                .bearer_token()
                .filter(|t| !t.is_empty())
                .ok_or(ProviderError::NoIdentity)?;
            let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(&self.key)
                .map_err(|e| ProviderError::Other(Box::new(e)))?;
            mac.update(token.as_bytes());
            let digest = mac.finalize().into_bytes();
            let mut s = String::with_capacity(7 + 64);
            s.push_str("bearer:");
            for b in digest {
                s.push(char::from(b"0123456789abcdef"[usize::from(b >> 4)]));
                s.push(char::from(b"0123456789abcdef"[usize::from(b & 15)]));
            }
            Ok(Namespace::new(s)?)
        }
    }
}

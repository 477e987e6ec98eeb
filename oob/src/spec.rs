//! [`Spec`]: what a caller supplies to create a pending interaction.

use std::borrow::Cow;
use std::time::{Duration, SystemTime};

/// The longest alias, resource or elicitation id, in bytes.
pub const MAX_LABEL_LEN: usize = 1024;

/// What a caller supplies to create a pending interaction: its data and labels, and how long
/// it may stay open.
///
/// There is no namespace here: the manager derives it from the caller's verified context,
/// so a caller cannot choose (or forget) whose interaction this is.
///
/// ```
/// use std::time::Duration;
/// use oob::Spec;
///
/// # #[derive(Clone)] struct DeviceCode { user_code: String }
/// let spec = Spec::new(DeviceCode { user_code: "ABCD-1234".into() })
///     .alias("github")
///     .resource("api.github.com")
///     .ttl(Duration::from_secs(600));
/// assert_eq!(spec.data().user_code, "ABCD-1234");
/// ```
#[derive(Clone)]
pub struct Spec<T> {
    pub(crate) data: T,
    pub(crate) alias: Option<Cow<'static, str>>,
    pub(crate) resource: Option<Cow<'static, str>>,
    pub(crate) elicit_id: Option<Cow<'static, str>>,
    pub(crate) expiry: Option<Expiry>,
}

/// Prints the expiry only: the payload and labels may be secrets or personal data.
impl<T> std::fmt::Debug for Spec<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Spec")
            .field("expiry", &self.expiry)
            .finish_non_exhaustive()
    }
}

/// When a pending stops being open, as given in a [`Spec`] (through [`Spec::ttl`] or
/// [`Spec::deadline`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Expiry {
    /// This long after creation.
    Ttl(Duration),
    /// At this instant.
    Deadline(SystemTime),
}

/// Why a [`Spec`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// A label (alias, resource or elicitation id) is longer than [`MAX_LABEL_LEN`].
    #[error("{field} is {len} bytes long; the limit is {MAX_LABEL_LEN}")]
    TooLong {
        /// Which label.
        field: &'static str,
        /// Its length in bytes.
        len: usize,
    },
    /// A label contains a control character.
    #[error("{field} contains a control character")]
    ControlCharacter {
        /// Which label.
        field: &'static str,
    },
    /// The TTL is zero or the deadline is not in the future.
    #[error("the pending would already be expired: give a positive TTL or a future deadline")]
    AlreadyExpired,
}

impl<T> Spec<T> {
    /// A spec carrying `data`, with no labels and the default TTL.
    #[must_use]
    pub fn new(data: T) -> Self {
        Self {
            data,
            alias: None,
            resource: None,
            elicit_id: None,
            expiry: None,
        }
    }

    /// A caller-chosen label for the interaction (e.g. which account or provider). Part of
    /// the dedup key of `create_or_join`.
    ///
    /// Labels take a `String` or a `&'static str`; a static one is kept without a copy when
    /// it is the pending's only label. (Pass `s.to_owned()` for a borrowed string.)
    #[must_use]
    pub fn alias(mut self, alias: impl Into<Cow<'static, str>>) -> Self {
        self.alias = Some(alias.into());
        self
    }

    /// The resource the interaction is for (e.g. an API host). Part of the dedup key.
    #[must_use]
    pub fn resource(mut self, resource: impl Into<Cow<'static, str>>) -> Self {
        self.resource = Some(resource.into());
        self
    }

    /// An MCP elicitation id to remember alongside the pending, readable from it. The MCP
    /// glue sends the pending id itself as the `elicitationId` whether or not one is set.
    #[must_use]
    pub fn elicit_id(mut self, elicit_id: impl Into<Cow<'static, str>>) -> Self {
        self.elicit_id = Some(elicit_id.into());
        self
    }

    /// The pending expires this long after creation (at the latest at
    /// [`Timestamp::LATEST_DEADLINE`](crate::time::Timestamp::LATEST_DEADLINE)).
    #[must_use]
    pub fn ttl(mut self, ttl: Duration) -> Self {
        self.expiry = Some(Expiry::Ttl(ttl));
        self
    }

    /// The pending expires at this instant (at the latest at
    /// [`Timestamp::LATEST_DEADLINE`](crate::time::Timestamp::LATEST_DEADLINE)).
    #[must_use]
    pub fn deadline(mut self, deadline: SystemTime) -> Self {
        self.expiry = Some(Expiry::Deadline(deadline));
        self
    }

    /// The data.
    #[must_use]
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The expiry, if one was given.
    #[must_use]
    pub fn expiry(&self) -> Option<Expiry> {
        self.expiry
    }

    pub(crate) fn validate(&self) -> Result<(), SpecError> {
        for (field, value) in [
            ("alias", &self.alias),
            ("resource", &self.resource),
            ("elicit id", &self.elicit_id),
        ] {
            if let Some(v) = value {
                if v.len() > MAX_LABEL_LEN {
                    return Err(SpecError::TooLong {
                        field,
                        len: v.len(),
                    });
                }
                if crate::namespace::control_at(v).is_some() {
                    return Err(SpecError::ControlCharacter { field });
                }
            }
        }
        if self.expiry == Some(Expiry::Ttl(Duration::ZERO)) {
            return Err(SpecError::AlreadyExpired);
        }
        Ok(())
    }
}

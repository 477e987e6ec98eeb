//! What a vault keeps per key: [`Entry`], its [`Version`], and the [`WriteOptions`] of a write.

use std::fmt;
use std::time::SystemTime;

use crate::id::PendingId;
use crate::time::Timestamp;

/// The version of a vault entry: changes on every write of the key, and is never reused in
/// practice (64 random bits), so a compare-and-swap against a version read earlier cannot be
/// fooled by a delete and re-create in between. Compare versions for equality only.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Version(u64);

impl Version {
    /// A fresh random version.
    pub(crate) fn random() -> Self {
        let b = *PendingId::random().as_bytes();
        // Bytes 6 and 8 of a v4 UUID carry its version and variant bits: skip them.
        Self(u64::from_le_bytes([
            b[0], b[1], b[2], b[3], b[4], b[5], b[10], b[11],
        ]))
    }

    /// The version as a number (for storage backends).
    #[must_use]
    pub fn get(self) -> u64 {
        self.0
    }

    /// A version from its number (as a storage backend read it).
    #[must_use]
    pub fn from_u64(v: u64) -> Self {
        Self(v)
    }

    /// The same 64 bits as a signed integer, for databases whose integers are signed
    /// (SQLite, Postgres `BIGINT`).
    #[must_use]
    pub fn to_i64(self) -> i64 {
        i64::from_ne_bytes(self.0.to_ne_bytes())
    }

    /// A version from the signed integer [`to_i64`](Self::to_i64) stored.
    #[must_use]
    pub fn from_i64(v: i64) -> Self {
        Self(u64::from_ne_bytes(v.to_ne_bytes()))
    }
}

impl fmt::Debug for Version {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Version({:016x})", self.0)
    }
}

/// A vault entry: the value, when it was written, until when it is valid, and its version.
/// An entry past its expiry reads as absent.
#[derive(Clone)]
pub struct Entry<V> {
    value: V,
    written_at: Timestamp,
    expires_at: Option<Timestamp>,
    version: Version,
}

/// Prints the metadata only, never the value.
impl<V> fmt::Debug for Entry<V> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("written_at", &self.written_at)
            .field("expires_at", &self.expires_at)
            .field("version", &self.version)
            .finish_non_exhaustive()
    }
}

impl<V> Entry<V> {
    /// An entry as a backend read it.
    #[must_use]
    pub fn new(
        value: V,
        written_at: SystemTime,
        expires_at: Option<SystemTime>,
        version: Version,
    ) -> Self {
        Self {
            value,
            written_at: Timestamp::from_system_time(written_at),
            expires_at: expires_at.map(Timestamp::from_system_time),
            version,
        }
    }

    pub(crate) fn at(
        value: V,
        written_at: Timestamp,
        expires_at: Option<Timestamp>,
        version: Version,
    ) -> Self {
        Self {
            value,
            written_at,
            expires_at,
            version,
        }
    }

    /// The value.
    #[must_use]
    pub fn value(&self) -> &V {
        &self.value
    }

    /// The value, by value.
    #[must_use]
    pub fn into_value(self) -> V {
        self.value
    }

    /// When it was written.
    #[must_use]
    pub fn written_at(&self) -> SystemTime {
        self.written_at.to_system_time()
    }

    /// When it stops being readable, if ever.
    #[must_use]
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.expires_at.map(Timestamp::to_system_time)
    }

    /// Its version, for a compare-and-swap ([`WriteOptions::if_version`]).
    #[must_use]
    pub fn version(&self) -> Version {
        self.version
    }

    /// The same metadata with another value (what a layer over a vault, such as encryption,
    /// hands up after transforming the value).
    #[must_use]
    pub fn map<W>(self, f: impl FnOnce(V) -> W) -> Entry<W> {
        Entry {
            value: f(self.value),
            written_at: self.written_at,
            expires_at: self.expires_at,
            version: self.version,
        }
    }

    /// Whether it has expired at `now`.
    pub(crate) fn is_expired_at(&self, now: Timestamp) -> bool {
        self.expires_at.is_some_and(|e| e <= now)
    }
}

/// What a write requires of the entry it replaces (compare-and-swap).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Expect {
    /// Nothing: write whatever is there.
    #[default]
    Any,
    /// No live entry (absent or expired).
    Absent,
    /// A live entry with exactly this version.
    Version(Version),
}

impl Expect {
    /// Whether a key whose live entry has `current` version (or none) meets this.
    #[must_use]
    pub fn admits(self, current: Option<Version>) -> bool {
        match self {
            Self::Any => true,
            Self::Absent => current.is_none(),
            Self::Version(v) => current == Some(v),
        }
    }
}

/// How a [`Vault::write`](super::Vault::write) writes: an optional expiry, and an optional
/// compare-and-swap condition.
///
/// ```
/// use std::time::{Duration, SystemTime};
/// use oob::vault::WriteOptions;
/// let refresh = WriteOptions::new().expires_at(SystemTime::now() + Duration::from_secs(3600));
/// # let _ = refresh;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct WriteOptions {
    pub(crate) expires_at: Option<Timestamp>,
    pub(crate) expect: Expect,
}

impl WriteOptions {
    /// An unconditional write of an entry that does not expire.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The entry reads as absent from `at` on (e.g. an access token's expiry). A write that
    /// has expired already when the vault applies it removes the entry instead (under the
    /// write's [compare-and-swap](Self::if_version), if any: a conditional delete), in every
    /// vault of this crate, so no copy of its value stays behind until a purge.
    #[must_use]
    pub fn expires_at(mut self, at: SystemTime) -> Self {
        self.expires_at = Some(Timestamp::from_system_time(at));
        self
    }

    /// Write only if the key's live entry has version `v` (what was read before a refresh);
    /// otherwise the write fails with [`VaultError::Conflict`](super::VaultError::Conflict)
    /// and changes nothing.
    #[must_use]
    pub fn if_version(mut self, v: Version) -> Self {
        self.expect = Expect::Version(v);
        self
    }

    /// Write only if the key has no live entry.
    #[must_use]
    pub fn if_absent(mut self) -> Self {
        self.expect = Expect::Absent;
        self
    }

    /// The expiry, if any.
    #[must_use]
    pub fn expiry(&self) -> Option<SystemTime> {
        self.expires_at.map(Timestamp::to_system_time)
    }

    /// The compare-and-swap condition.
    #[must_use]
    pub fn expect(&self) -> Expect {
        self.expect
    }
}

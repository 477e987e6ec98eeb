//! [`Namespace`]: the verified user or tenant a pending belongs to.

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

/// A validated namespace: the verified user or tenant that owns a pending interaction and
/// whatever it obtains.
///
/// Non-empty, at most [`MAX_NAMESPACE_LEN`] bytes, no control characters. Cloning is an
/// atomic reference-count increment, so a namespace can be kept in every record that belongs
/// to it without copying the text.
///
/// ```
/// use oob::Namespace;
///
/// let ns = Namespace::new("alice@example.com")?;
/// assert_eq!(ns.as_str(), "alice@example.com");
/// assert!(Namespace::new("").is_err());
/// assert!(Namespace::new("bob\n").is_err());
/// # Ok::<(), oob::NamespaceError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Namespace(Arc<str>);

/// Why a string is not a valid [`Namespace`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum NamespaceError {
    /// The namespace is empty.
    #[error("namespace is empty")]
    Empty,
    /// The namespace is longer than [`MAX_NAMESPACE_LEN`] bytes.
    #[error("namespace is {0} bytes long; the limit is {MAX_NAMESPACE_LEN}")]
    TooLong(usize),
    /// The namespace contains a control character at this byte offset.
    #[error("namespace contains a control character at byte {0}")]
    ControlCharacter(usize),
}

impl Namespace {
    /// Validates `value` as a namespace.
    pub fn new(value: impl AsRef<str>) -> Result<Self, NamespaceError> {
        let s = value.as_ref();
        Self::validate(s)?;
        Ok(Self(Arc::from(s)))
    }

    fn validate(s: &str) -> Result<(), NamespaceError> {
        if s.is_empty() {
            return Err(NamespaceError::Empty);
        }
        if s.len() > MAX_NAMESPACE_LEN {
            return Err(NamespaceError::TooLong(s.len()));
        }
        if let Some((at, _)) = s.char_indices().find(|(_, c)| c.is_control()) {
            return Err(NamespaceError::ControlCharacter(at));
        }
        Ok(())
    }

    /// The namespace as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({:?})", &*self.0)
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for Namespace {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Namespace {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl std::str::FromStr for Namespace {
    type Err = NamespaceError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::new(s)
    }
}

impl TryFrom<String> for Namespace {
    type Error = NamespaceError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        Self::validate(&s)?;
        Ok(Self(Arc::from(s)))
    }
}

impl TryFrom<&str> for Namespace {
    type Error = NamespaceError;
    fn try_from(s: &str) -> Result<Self, Self::Error> {
        Self::new(s)
    }
}

impl Serialize for Namespace {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for Namespace {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        Self::new(&*s).map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation() {
        assert!(Namespace::new("user-1").is_ok());
        assert!(Namespace::new("tenant/ä").is_ok());
        assert_eq!(Namespace::new(""), Err(NamespaceError::Empty));
        assert_eq!(
            Namespace::new("a".repeat(257)),
            Err(NamespaceError::TooLong(257))
        );
        assert!(Namespace::new("a".repeat(256)).is_ok());
        assert_eq!(
            Namespace::new("ab\u{7}"),
            Err(NamespaceError::ControlCharacter(2))
        );
        assert_eq!(
            Namespace::new("a\u{85}"),
            Err(NamespaceError::ControlCharacter(1))
        );
        assert!(serde_json::from_str::<Namespace>("\"\"").is_err());
        let ns: Namespace = serde_json::from_str("\"x\"").unwrap();
        assert_eq!(ns.as_str(), "x");
    }

    #[test]
    fn clone_shares_text() {
        let a = Namespace::new("shared").unwrap();
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
    }
}

//! The one rule for vault keys, which every vault checks before it touches its backend, so a
//! key behaves the same on every backend (a key one backend stores, another would otherwise
//! refuse with a backend error, or index only in part).

use super::VaultError;
use crate::namespace::control_at;

/// The longest vault key, in bytes.
pub const MAX_KEY_LEN: usize = 512;

/// Why a string is not a valid vault key: not empty, at most [`MAX_KEY_LEN`] bytes, no
/// control characters (the same rule as a [`Namespace`](crate::Namespace)'s, with a longer
/// limit). Every vault refuses such a key with [`VaultError::Key`] in every operation,
/// before it touches its backend. The key itself is not printed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// The key is empty.
    #[error("vault key is empty")]
    Empty,
    /// The key is longer than [`MAX_KEY_LEN`] bytes.
    #[error("vault key is {0} bytes long; the limit is {MAX_KEY_LEN}")]
    TooLong(usize),
    /// The key contains a control character (NUL included) at this byte offset.
    #[error("vault key contains a control character at byte {0}")]
    ControlCharacter(usize),
}

/// Checks `key` against the rule; every vault calls this first in every operation.
pub(crate) fn check(key: &str) -> Result<(), VaultError> {
    if key.is_empty() {
        return Err(KeyError::Empty.into());
    }
    if key.len() > MAX_KEY_LEN {
        return Err(KeyError::TooLong(key.len()).into());
    }
    if let Some(at) = control_at(key) {
        return Err(KeyError::ControlCharacter(at).into());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_rule() {
        assert!(check("oauth:github").is_ok());
        assert!(check("ключ ✓").is_ok());
        assert!(check(&"k".repeat(MAX_KEY_LEN)).is_ok());
        let refused = |k: &str| match check(k) {
            Err(VaultError::Key(e)) => e,
            other => panic!("{other:?}"),
        };
        assert_eq!(refused(""), KeyError::Empty);
        assert_eq!(
            refused(&"k".repeat(MAX_KEY_LEN + 1)),
            KeyError::TooLong(MAX_KEY_LEN + 1)
        );
        assert_eq!(refused("a\0b"), KeyError::ControlCharacter(1));
        assert_eq!(refused("é\u{85}"), KeyError::ControlCharacter(2));
    }
}

//! [`Namespace`]: the verified user or tenant a pending belongs to.

use std::fmt;
use std::sync::Arc;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The longest namespace, in bytes.
pub const MAX_NAMESPACE_LEN: usize = 256;

/// A validated namespace: the verified user or tenant that owns a pending interaction and
/// whatever it obtains.
///
/// Non-empty, at most [`MAX_NAMESPACE_LEN`] bytes, no control characters (C0, DEL, C1, and
/// the invisible ones that reorder text: bidirectional marks, embeddings, overrides and
/// isolates, line and paragraph separators). Cloning is an
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
#[derive(Clone)]
pub struct Namespace(Arc<str>, u64);

/// The keyed hash of a namespace's text, computed once when it is made (SipHash-1-3 under a
/// random per-process key, so namespaces chosen by users cannot be made to collide), so
/// indexes keyed by namespace never hash the text again.
fn keyed_hash(s: &str) -> u64 {
    use std::hash::BuildHasher;
    static KEY: std::sync::OnceLock<std::collections::hash_map::RandomState> =
        std::sync::OnceLock::new();
    KEY.get_or_init(std::collections::hash_map::RandomState::new)
        .hash_one(s)
}

impl PartialEq for Namespace {
    fn eq(&self, other: &Self) -> bool {
        self.1 == other.1 && (Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0)
    }
}

impl Eq for Namespace {}

impl std::hash::Hash for Namespace {
    // The keyed hash computed at construction: maps keyed by namespace never rehash the text
    // (with [`PrehashedBuild`] they do no hashing at all).
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        state.write_u64(self.1);
    }
}

impl PartialOrd for Namespace {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Namespace {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.cmp(&other.0)
    }
}

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
        Ok(Self(Arc::from(s), keyed_hash(s)))
    }

    fn validate(s: &str) -> Result<(), NamespaceError> {
        if s.is_empty() {
            return Err(NamespaceError::Empty);
        }
        if s.len() > MAX_NAMESPACE_LEN {
            return Err(NamespaceError::TooLong(s.len()));
        }
        if let Some(at) = control_at(s) {
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

/// Redacted: a namespace is often personal data (an e-mail address, a user id). `Debug`
/// prints a short per-process pseudonym instead, so two values can still be told apart in a
/// debug session; [`Display`](fmt::Display) and [`as_str`](Namespace::as_str) give the text.
impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace(#{:08x})", self.1 >> 32)
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
        let hash = keyed_hash(&s);
        Ok(Self(Arc::from(s), hash))
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

/// The byte offset of the first control character in `s`, if any: C0, DEL or C1, and the
/// invisible characters that reorder or break the text around them (the bidirectional
/// marks, embeddings, overrides and isolates, U+061C, U+200E–U+200F, U+202A–U+202E,
/// U+2066–U+2069, and the line and paragraph separators U+2028–U+2029), which could make a
/// consent page or a log line read other than it is. ASCII text is checked byte by byte.
pub(crate) fn control_at(s: &str) -> Option<usize> {
    /// The bidirectional formatting characters and the line and paragraph separators.
    fn is_reordering(c: char) -> bool {
        matches!(c, '\u{61c}' | '\u{200e}' | '\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{2028}' | '\u{2029}')
    }
    // Eight bytes at a time answer the common case, printable ASCII, without a branch per
    // byte; only suspect text (a control character or any non-ASCII byte) is scanned exactly.
    if !suspect(s.as_bytes()) {
        None
    } else if s.is_ascii() {
        s.bytes().position(|b| b < 0x20 || b == 0x7f)
    } else {
        s.char_indices()
            .find(|&(_, c)| c.is_control() || is_reordering(c))
            .map(|(at, _)| at)
    }
}

/// Whether `bytes` has a byte outside printable ASCII (`0x20..=0x7e`).
fn suspect(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // A word with a byte below 0x20 (the classic "has less than" test, exact for the
    // question "any?"), or a byte that is 0x7f or has its top bit set.
    let word = |w: &[u8; 8]| {
        let w = u64::from_ne_bytes(*w);
        (w.wrapping_sub(0x20 * ONES) & !w) | w.wrapping_add(ONES) | w
    };
    let n = bytes.len();
    let Some(last) = n
        .checked_sub(8)
        .and_then(|at| bytes[at..].first_chunk::<8>())
    else {
        return bytes.iter().any(|b| !(0x20..0x7f).contains(b));
    };
    // Whole words from the start, and the last eight bytes for the rest (they overlap the
    // last whole word).
    let acc = bytes
        .chunks_exact(8)
        .filter_map(<[u8]>::first_chunk::<8>)
        .fold(word(last), |acc, w| acc | word(w));
    acc & HIGH != 0
}

/// A hasher that passes one `u64` through: for keys that are already keyed hashes.
#[derive(Debug, Default, Clone, Copy)]
pub(crate) struct Prehashed(u64);

impl std::hash::Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }
    fn write(&mut self, bytes: &[u8]) {
        for b in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*b);
        }
    }
    fn write_u64(&mut self, n: u64) {
        self.0 ^= n;
    }
}

/// Builds [`Prehashed`] hashers.
pub(crate) type PrehashedBuild = std::hash::BuildHasherDefault<Prehashed>;

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
    fn equal_text_means_equal_namespace_and_hash() {
        let a = Namespace::new("tenant-1").unwrap();
        let b: Namespace = "tenant-1".parse().unwrap();
        let c = Namespace::try_from(String::from("tenant-1")).unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a.1, c.1);
        assert_ne!(a, Namespace::new("tenant-2").unwrap());
        let mut m = std::collections::HashMap::<Namespace, u32, PrehashedBuild>::default();
        m.insert(a, 1);
        assert_eq!(m.get(&c), Some(&1));
        assert_eq!(m.get(&Namespace::new("tenant-2").unwrap()), None);
        let mut by_sip = std::collections::HashMap::new();
        by_sip.insert(b, 2);
        assert_eq!(by_sip.get(&c), Some(&2));
    }

    #[test]
    fn the_word_check_agrees_with_the_byte_definition() {
        let exact = |b: &[u8]| b.iter().any(|&b| !(0x20..0x7f).contains(&b));
        // Every byte value at every position of every length up to 17 (two words and a
        // tail), among printable neighbours, and next to another suspect byte.
        for len in 1..=17usize {
            for pos in 0..len {
                for b in 0..=255u8 {
                    let mut v = vec![b'a'; len];
                    v[pos] = b;
                    assert_eq!(suspect(&v), exact(&v), "len {len} pos {pos} byte {b:#x}");
                    v[(pos + 1) % len] = 0xff;
                    assert_eq!(suspect(&v), exact(&v), "len {len} pos {pos} byte {b:#x}");
                }
            }
        }
        assert!(!suspect(b""));
        assert!(!suspect(b" ~ ~ ~ ~ ~ ~ ~ ~ ~"));
        assert_eq!(control_at("example.com"), None);
        assert_eq!(control_at("abcdefgh\u{1f}"), Some(8));
        assert_eq!(control_at("abcdefgh\u{7f}x"), Some(8));
        assert_eq!(control_at("ålias 🦀"), None);
        assert_eq!(control_at("é\u{9f}"), Some(2));
        for c in [
            '\u{61c}', '\u{200e}', '\u{200f}', '\u{202a}', '\u{202e}', '\u{2066}', '\u{2069}',
            '\u{2028}', '\u{2029}',
        ] {
            assert_eq!(
                control_at(&format!("ab{c}")),
                Some(2),
                "U+{:04X}",
                u32::from(c)
            );
        }
        assert_eq!(
            control_at("a\u{200d}b"),
            None,
            "a zero-width joiner (emoji sequences) is text"
        );
    }

    #[test]
    fn clone_shares_text() {
        let a = Namespace::new("shared").unwrap();
        let b = a.clone();
        assert!(std::ptr::eq(a.as_str(), b.as_str()));
    }
}

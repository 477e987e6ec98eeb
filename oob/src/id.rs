//! [`PendingId`]: the random, unguessable identifier of a pending interaction.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};
use uuid::Uuid;

/// The identifier of a pending interaction: a random UUID v4 (122 random bits) drawn from a
/// cryptographically secure generator. With the `integrity` feature's key, 58 of those bits
/// stay random and the other 62 are an HMAC tag binding the id to its namespace and kind:
/// as unguessable without the key; two ids of one namespace and kind held at once collide
/// with even odds only among about 2^29 of them (the store then refuses the create).
///
/// The id is a bearer capability: whoever holds the callback URL can act on the pending, so
/// it is never sequential or time-ordered. It parses only from its canonical, lower- or
/// upper-case hyphenated form; anything else is a [`PendingIdError`], never a lookup.
///
/// ```
/// use oob::PendingId;
///
/// let id = PendingId::random();
/// let parsed: PendingId = id.to_string().parse()?;
/// assert_eq!(id, parsed);
/// assert!("not-an-id".parse::<PendingId>().is_err());
/// assert!("{67e55044-10b1-426f-9247-bb680e5fe0c8}".parse::<PendingId>().is_err());
/// # Ok::<(), oob::PendingIdError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct PendingId(Uuid);

/// Why a string is not a [`PendingId`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PendingIdError {
    /// The input is empty.
    #[error("pending id is empty")]
    Empty,
    /// The input is not 36 bytes long.
    #[error("pending id must be 36 characters (canonical hyphenated UUID), got {0}")]
    Length(usize),
    /// The input is not a canonical hyphenated UUID (`xxxxxxxx-xxxx-xxxx-xxxx-xxxxxxxxxxxx`).
    #[error("pending id is not a canonical hyphenated UUID")]
    Format,
    /// The input is a UUID, but not a random (version 4, RFC 4122 variant) one.
    #[error("pending id is not a random (version 4) UUID")]
    NotV4,
}

impl PendingId {
    /// A fresh random id.
    #[must_use]
    pub fn random() -> Self {
        Self(Uuid::new_v4())
    }

    /// Rebuilds an id from its 16 bytes (as stored by a backend). The bytes must be those of
    /// a version 4 UUID.
    pub fn from_bytes(bytes: [u8; 16]) -> Result<Self, PendingIdError> {
        let uuid = Uuid::from_bytes(bytes);
        if uuid.get_version_num() != 4 || uuid.get_variant() != uuid::Variant::RFC4122 {
            return Err(PendingIdError::NotV4);
        }
        Ok(Self(uuid))
    }

    /// The 16 bytes of the id.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 16] {
        self.0.as_bytes()
    }

    /// The 32 lowercase hex digits without hyphens (a form some clients echo back).
    #[must_use]
    #[cfg(any(feature = "mcp", test))]
    pub(crate) fn simple_hex(&self) -> String {
        self.0.simple().to_string()
    }

    /// The canonical text form into a stack buffer, without allocating.
    #[must_use]
    pub fn encode(&self) -> PendingIdStr {
        let mut buf = [0u8; 36];
        self.0.hyphenated().encode_lower(&mut buf);
        PendingIdStr(buf)
    }
}

/// The canonical text form of a [`PendingId`], held on the stack.
#[derive(Clone, Copy)]
pub struct PendingIdStr([u8; 36]);

impl PendingIdStr {
    /// The text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        // The buffer only ever holds ASCII hex digits and hyphens written by `uuid`.
        std::str::from_utf8(&self.0).unwrap_or_default()
    }
}

impl fmt::Debug for PendingIdStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl FromStr for PendingId {
    type Err = PendingIdError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        if s.is_empty() {
            return Err(PendingIdError::Empty);
        }
        if s.len() != 36 {
            return Err(PendingIdError::Length(s.len()));
        }
        let b = s.as_bytes();
        for (i, &c) in b.iter().enumerate() {
            let ok = match i {
                8 | 13 | 18 | 23 => c == b'-',
                _ => c.is_ascii_hexdigit(),
            };
            if !ok {
                return Err(PendingIdError::Format);
            }
        }
        let uuid = Uuid::try_parse_ascii(b).map_err(|_| PendingIdError::Format)?;
        Self::from_bytes(*uuid.as_bytes())
    }
}

impl std::hash::Hash for PendingId {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        // 122 of the 128 bits are uniformly random: folding them is a good hash input.
        let v = self.0.as_u128();
        #[allow(clippy::cast_possible_truncation)]
        state.write_u64((v as u64) ^ ((v >> 64) as u64));
    }
}

impl fmt::Display for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.encode().as_str())
    }
}

impl fmt::Debug for PendingId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PendingId({self})")
    }
}

impl Serialize for PendingId {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.encode().as_str())
    }
}

impl<'de> Deserialize<'de> for PendingId {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let s = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_rejections() {
        let id = PendingId::random();
        assert_eq!(id.to_string().parse::<PendingId>().unwrap(), id);
        assert_eq!(
            id.to_string().to_uppercase().parse::<PendingId>().unwrap(),
            id
        );
        assert_eq!("".parse::<PendingId>(), Err(PendingIdError::Empty));
        assert_eq!("abc".parse::<PendingId>(), Err(PendingIdError::Length(3)));
        let simple = id.simple_hex();
        assert_eq!(simple.parse::<PendingId>(), Err(PendingIdError::Length(32)));
        let braced = format!("{{{id}}}");
        assert!(braced.parse::<PendingId>().is_err());
        let urn = format!("urn:uuid:{id}");
        assert!(urn.parse::<PendingId>().is_err());
        assert_eq!(
            "67e55044-10b1-426f-9247-bb680e5fe0cg".parse::<PendingId>(),
            Err(PendingIdError::Format)
        );
        assert_eq!(
            "67e55044+10b1-426f-9247-bb680e5fe0c8".parse::<PendingId>(),
            Err(PendingIdError::Format)
        );
        // version 7 and nil are not random ids
        assert_eq!(
            "017f22e2-79b0-7cc3-98c4-dc0c0c07398f".parse::<PendingId>(),
            Err(PendingIdError::NotV4)
        );
        assert_eq!(
            "00000000-0000-0000-0000-000000000000".parse::<PendingId>(),
            Err(PendingIdError::NotV4)
        );
        // 36 bytes of path tricks or percent-encoding are still not ids.
        let dots = "..%2F..%2F..%2F..%2Fetc%2Fpasswd%2F0";
        assert_eq!(dots.len(), 36);
        assert_eq!(dots.parse::<PendingId>(), Err(PendingIdError::Format));
        let spaced = " 7e55044-10b1-426f-9247-bb680e5fe0c8";
        assert_eq!(spaced.parse::<PendingId>(), Err(PendingIdError::Format));
    }

    #[test]
    fn ids_are_distinct_v4() {
        let a = PendingId::random();
        let b = PendingId::random();
        assert_ne!(a, b);
        assert_eq!(a.as_bytes()[6] >> 4, 4);
    }

    #[test]
    fn serde_uses_canonical_text() {
        let id = PendingId::random();
        let json = serde_json::to_string(&id).unwrap();
        assert_eq!(json, format!("\"{id}\""));
        assert_eq!(serde_json::from_str::<PendingId>(&json).unwrap(), id);
        assert!(serde_json::from_str::<PendingId>("\"nope\"").is_err());
    }
}

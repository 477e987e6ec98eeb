//! [`CodecError`]: a value that could not be encoded as JSON or decoded from it, told
//! without the value.

use std::fmt;

/// What kind of JSON failure a [`CodecError`] is (serde_json's category of it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum CodecFailure {
    /// Reading or writing the bytes failed.
    Io,
    /// The stored text is not valid JSON.
    Syntax,
    /// Valid JSON of another shape or type than the value's type expects (e.g. the type
    /// changed since the value was stored), or a value its type refused to encode.
    Data,
    /// The stored text ends early.
    Eof,
}

impl fmt::Display for CodecFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Io => "an I/O failure",
            Self::Syntax => "not valid JSON",
            Self::Data => "data of another shape or type",
            Self::Eof => "the text ends early",
        })
    }
}

/// Encoding a value as JSON, or decoding a stored value from it, failed: a vault value
/// ([`VaultError::Codec`](crate::vault::VaultError::Codec)) or a pending's payload
/// ([`StoreError::Decode`](crate::store::StoreError::Decode),
/// [`StoreError::Encode`](crate::store::StoreError::Encode)).
///
/// It keeps the kind of failure and where in the text it was (line and column), and not
/// serde_json's message, which quotes the value (`invalid type: string "gho_…"`,
/// ``unknown variant `gho_…` ``): the value may be a credential or a payload, and neither
/// the `Debug` nor the `Display` of an `oob` error prints those. It has no source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError {
    decoding: bool,
    failure: CodecFailure,
    line: usize,
    column: usize,
}

impl CodecError {
    /// Decoding a stored value failed with `e` (its message is dropped).
    #[cfg(any(
        feature = "sqlite",
        feature = "redis",
        feature = "postgres",
        feature = "encryption"
    ))]
    pub(crate) fn decoding(e: &serde_json::Error) -> Self {
        Self::of(true, e)
    }

    /// Encoding a value failed with `e` (its message is dropped).
    #[cfg(any(
        feature = "sqlite",
        feature = "redis",
        feature = "postgres",
        feature = "encryption"
    ))]
    pub(crate) fn encoding(e: &serde_json::Error) -> Self {
        Self::of(false, e)
    }

    #[cfg(any(
        feature = "sqlite",
        feature = "redis",
        feature = "postgres",
        feature = "encryption"
    ))]
    fn of(decoding: bool, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        Self {
            decoding,
            failure: match e.classify() {
                Category::Io => CodecFailure::Io,
                Category::Syntax => CodecFailure::Syntax,
                Category::Data => CodecFailure::Data,
                Category::Eof => CodecFailure::Eof,
            },
            line: e.line(),
            column: e.column(),
        }
    }

    /// Whether decoding (`true`) or encoding (`false`) failed.
    #[must_use]
    pub fn is_decoding(&self) -> bool {
        self.decoding
    }

    /// The kind of failure.
    #[must_use]
    pub fn failure(&self) -> CodecFailure {
        self.failure
    }

    /// The line of the text where decoding failed, from 1 (0 when encoding failed).
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the text where decoding failed, from 1 (0 when encoding failed).
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decoding {
            write!(
                f,
                "could not decode the stored JSON: {} at line {}, column {}",
                self.failure, self.line, self.column
            )
        } else {
            write!(f, "could not encode the value as JSON: {}", self.failure)
        }
    }
}

impl std::error::Error for CodecError {}

#[cfg(all(test, feature = "encryption"))]
mod tests {
    use super::*;

    /// serde_json's message quotes the value; the codec error keeps only where and what kind.
    #[test]
    fn the_value_is_not_kept() {
        #[derive(Debug, serde::Deserialize)]
        enum Grant {
            Bearer,
        }
        let json = "\"gho_CANARY\"";
        let e = serde_json::from_str::<Grant>(json).expect_err("not a variant");
        assert!(e.to_string().contains("gho_CANARY"), "serde_json quotes it");
        let redacted = CodecError::decoding(&e);
        for shown in [redacted.to_string(), format!("{redacted:?}")] {
            assert!(!shown.contains("gho_CANARY"), "{shown}");
        }
        assert!(redacted.is_decoding());
        assert_eq!(redacted.failure(), CodecFailure::Data);
        assert_eq!((redacted.line(), redacted.column()), (1, e.column()));
        let e = serde_json::from_str::<u64>("\"gho_CANARY").expect_err("ends early");
        assert_eq!(CodecError::decoding(&e).failure(), CodecFailure::Eof);
    }
}

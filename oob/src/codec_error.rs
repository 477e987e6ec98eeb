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
/// It keeps the kind of failure, where in the text a syntax error was (line and column),
/// and not serde_json's message, which quotes the value (`invalid type: string "gho_…"`,
/// ``unknown variant `gho_…` ``): the value may be a credential or a payload, and neither
/// the `Debug` nor the `Display` of an `oob` error prints those. Of any other failure no
/// position is kept either: where data of another shape ends, or where the text ends, would
/// tell the length of the value before it. It has no source.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CodecError {
    decoding: bool,
    failure: CodecFailure,
    line: usize,
    column: usize,
}

#[cfg(any(
    feature = "sqlite",
    feature = "redis",
    feature = "postgres",
    feature = "encryption"
))]
impl CodecError {
    /// Decoding a stored value failed with `e` (its message is dropped).
    pub(crate) fn decoding(e: &serde_json::Error) -> Self {
        Self::of(true, e)
    }

    /// Encoding a value failed with `e` (its message is dropped).
    pub(crate) fn encoding(e: &serde_json::Error) -> Self {
        Self::of(false, e)
    }

    fn of(decoding: bool, e: &serde_json::Error) -> Self {
        use serde_json::error::Category;
        let failure = match e.classify() {
            Category::Io => CodecFailure::Io,
            Category::Syntax => CodecFailure::Syntax,
            Category::Data => CodecFailure::Data,
            Category::Eof => CodecFailure::Eof,
        };
        // Only a syntax error's position: any other would tell a value's length.
        let (line, column) = match failure {
            CodecFailure::Syntax => (e.line(), e.column()),
            _ => (0, 0),
        };
        Self {
            decoding,
            failure,
            line,
            column,
        }
    }
}

impl CodecError {
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

    /// The line of the text where decoding found a [syntax error](CodecFailure::Syntax),
    /// from 1 (0 for any other failure).
    #[must_use]
    pub fn line(&self) -> usize {
        self.line
    }

    /// The column of the text where decoding found a [syntax error](CodecFailure::Syntax),
    /// from 1 (0 for any other failure).
    #[must_use]
    pub fn column(&self) -> usize {
        self.column
    }
}

impl fmt::Display for CodecError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.decoding && self.line > 0 {
            write!(
                f,
                "could not decode the stored JSON: {} at line {}, column {}",
                self.failure, self.line, self.column
            )
        } else if self.decoding {
            write!(f, "could not decode the stored JSON: {}", self.failure)
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
        // serde_json's column is where the secret ends: its length, not kept.
        assert_eq!(e.column(), json.len());
        assert_eq!((redacted.line(), redacted.column()), (0, 0));
        let e = serde_json::from_str::<u64>("\"gho_CANARY").expect_err("ends early");
        let eof = CodecError::decoding(&e);
        assert_eq!(eof.failure(), CodecFailure::Eof);
        assert_eq!((eof.line(), eof.column()), (0, 0));
        assert!(!eof.to_string().contains("column"), "{eof}");
        // A syntax error keeps where it is.
        let e = serde_json::from_str::<serde_json::Value>("{\n  x").expect_err("not JSON");
        let syntax = CodecError::decoding(&e);
        assert_eq!(syntax.failure(), CodecFailure::Syntax);
        assert_eq!((syntax.line(), syntax.column()), (2, 3));
        assert!(
            syntax.to_string().ends_with("at line 2, column 3"),
            "{syntax}"
        );
    }
}

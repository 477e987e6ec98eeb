//! The `kind` rule: `[a-z][a-z0-9_.-]*`, at most 64 bytes, with a message per way of
//! breaking it and a suggestion of a valid kind close to the one given.

/// The longest kind, in bytes.
const KIND_MAX_LEN: usize = 64;

/// Why a `kind` is invalid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum KindError {
    Empty,
    TooLong(usize),
    BadStart(char),
    BadChar(char),
}

/// Checks `kind` against `[a-z][a-z0-9_.-]*`, at most 64 bytes.
pub(crate) fn check_kind(kind: &str) -> Result<(), KindError> {
    let mut chars = kind.chars();
    let Some(first) = chars.next() else {
        return Err(KindError::Empty);
    };
    if !first.is_ascii_lowercase() {
        return Err(KindError::BadStart(first));
    }
    if let Some(c) = chars.find(|&c| !kind_char(c)) {
        return Err(KindError::BadChar(c));
    }
    if kind.len() > KIND_MAX_LEN {
        return Err(KindError::TooLong(kind.len()));
    }
    Ok(())
}

fn kind_char(c: char) -> bool {
    c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, '_' | '.' | '-')
}

/// A valid kind close to `kind` (snake_cased, invalid characters replaced), if any.
fn suggest_kind(kind: &str) -> Option<String> {
    let mut out = String::new();
    let mut prev_lower = false;
    for c in kind.chars() {
        if c.is_ascii_uppercase() && prev_lower {
            out.push('_');
        }
        prev_lower = c.is_ascii_lowercase() || c.is_ascii_digit();
        let c = c.to_ascii_lowercase();
        if kind_char(c) {
            out.push(c);
        } else if !out.ends_with('_') {
            out.push('_');
        }
    }
    let out = out.trim_start_matches(|c: char| !c.is_ascii_lowercase());
    let out = out.trim_end_matches('_');
    (out != kind && check_kind(out).is_ok()).then(|| out.to_owned())
}

impl KindError {
    /// The error message for this error on `kind`, with how to fix it.
    pub(crate) fn message(&self, kind: &str) -> String {
        let rule = "a kind is lowercase ASCII letters, digits, `_`, `.` and `-`, starting with a letter (`[a-z][a-z0-9_.-]*`)";
        let fix = match suggest_kind(kind) {
            Some(suggestion) => format!("; write e.g. `kind = \"{suggestion}\"`"),
            None => String::new(),
        };
        match self {
            KindError::Empty => {
                "`kind` is empty: name the interaction, e.g. `kind = \"device_code\"`".to_owned()
            }
            KindError::TooLong(len) => format!(
                "`kind` is {len} bytes long, more than the {KIND_MAX_LEN} allowed: shorten it"
            ),
            KindError::BadStart(c) => format!(
                "`kind` must start with a lowercase ASCII letter, not {}: {rule}{fix}",
                describe(*c)
            ),
            KindError::BadChar(c) => {
                format!("`kind` cannot contain {}: {rule}{fix}", describe(*c))
            }
        }
    }
}

/// How to name `c` in a message: "a space", or the character between backticks.
fn describe(c: char) -> String {
    match c {
        ' ' => "a space".to_owned(),
        c => format!("`{}`", c.escape_debug()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::valid::strings;

    /// `oob::payload::kind_is_valid`, copied verbatim: the reference for `check_kind`.
    const fn kind_is_valid(kind: &str) -> bool {
        let b = kind.as_bytes();
        if b.is_empty() || b.len() > 64 || !b[0].is_ascii_lowercase() {
            return false;
        }
        let mut i = 1;
        while i < b.len() {
            let c = b[i];
            if !(c.is_ascii_lowercase()
                || c.is_ascii_digit()
                || c == b'_'
                || c == b'.'
                || c == b'-')
            {
                return false;
            }
            i += 1;
        }
        true
    }

    #[test]
    fn kinds() {
        assert_eq!(check_kind("device_code"), Ok(()));
        assert_eq!(check_kind("a.b-c_1"), Ok(()));
        assert_eq!(check_kind(&"a".repeat(64)), Ok(()));
        assert_eq!(check_kind(""), Err(KindError::Empty));
        assert_eq!(check_kind("Device"), Err(KindError::BadStart('D')));
        assert_eq!(check_kind("1abc"), Err(KindError::BadStart('1')));
        assert_eq!(check_kind("a b"), Err(KindError::BadChar(' ')));
        assert_eq!(check_kind("deviceCode"), Err(KindError::BadChar('C')));
        assert_eq!(check_kind(&"a".repeat(65)), Err(KindError::TooLong(65)));
    }

    #[test]
    fn kinds_agree_with_oob() {
        for kind in strings(&['a', 'Z', '0', '_', '.', '-', ' ', 'é'], 5) {
            assert_eq!(check_kind(&kind).is_ok(), kind_is_valid(&kind), "{kind:?}");
        }
        for len in 60..70 {
            let kind = "k".repeat(len);
            assert_eq!(check_kind(&kind).is_ok(), kind_is_valid(&kind), "{len}");
        }
    }

    #[test]
    fn kind_suggestions() {
        assert_eq!(suggest_kind("DeviceCode").as_deref(), Some("device_code"));
        assert_eq!(suggest_kind("device code").as_deref(), Some("device_code"));
        assert_eq!(suggest_kind("api/key").as_deref(), Some("api_key"));
        assert_eq!(suggest_kind("OAuth").as_deref(), Some("oauth"));
        assert_eq!(suggest_kind("!!!"), None);
        assert!(
            KindError::BadStart('D')
                .message("DeviceCode")
                .ends_with("write e.g. `kind = \"device_code\"`")
        );
    }
}

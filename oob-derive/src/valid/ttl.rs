//! The `ttl` syntax: `<number><unit>` groups with unit `s`, `m` or `h`, parsed into
//! seconds, with a message per way of breaking it.

use std::fmt::{self, Display};

/// Why a `ttl` is invalid.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TtlError {
    Empty,
    Space,
    Negative,
    /// A group that does not start with a number; holds the text from there on.
    ExpectedNumber(String),
    /// A number without a unit; holds the number.
    MissingUnit(String),
    UnknownUnit(String),
    Fraction,
    TooLarge,
    Zero,
}

/// Parses a TTL: one or more `<digits><unit>` groups, unit `s`, `m` or `h` (e.g. `"90s"`,
/// `"10m"`, `"1h30m"`), into seconds. A zero total is an error.
pub(crate) fn parse_ttl(ttl: &str) -> Result<u64, TtlError> {
    if ttl.is_empty() {
        return Err(TtlError::Empty);
    }
    if ttl.contains(char::is_whitespace) {
        return Err(TtlError::Space);
    }
    if ttl.starts_with('-') {
        return Err(TtlError::Negative);
    }
    let b = ttl.as_bytes();
    let mut total: u64 = 0;
    let mut i = 0;
    while i < b.len() {
        let start = i;
        while i < b.len() && b[i].is_ascii_digit() {
            i += 1;
        }
        if i == start {
            return Err(TtlError::ExpectedNumber(ttl[start..].to_owned()));
        }
        let number = &ttl[start..i];
        let unit_start = i;
        while i < b.len() && !b[i].is_ascii_digit() {
            i += 1;
        }
        let secs_per_unit = match &ttl[unit_start..i] {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "" => return Err(TtlError::MissingUnit(number.to_owned())),
            unit if unit.starts_with(['.', ',']) => return Err(TtlError::Fraction),
            unit => return Err(TtlError::UnknownUnit(unit.to_owned())),
        };
        total = number
            .parse::<u64>()
            .ok()
            .and_then(|n| n.checked_mul(secs_per_unit))
            .and_then(|secs| total.checked_add(secs))
            .ok_or(TtlError::TooLarge)?;
    }
    if total == 0 {
        return Err(TtlError::Zero);
    }
    Ok(total)
}

impl Display for TtlError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const GRAMMAR: &str = "write `<number><unit>` groups with unit `s`, `m` or `h`, \
                               e.g. `ttl = \"90s\"`, `\"10m\"` or `\"1h30m\"`";
        match self {
            TtlError::Empty => write!(
                f,
                "`ttl` is empty: {GRAMMAR}, or remove `ttl` to use the manager's default"
            ),
            TtlError::Space => write!(
                f,
                "`ttl` cannot contain spaces: write the groups together, e.g. `ttl = \"1h30m\"`"
            ),
            TtlError::Negative => write!(f, "`ttl` cannot be negative: {GRAMMAR}"),
            TtlError::ExpectedNumber(rest) => {
                write!(f, "invalid `ttl`: expected a number at `{rest}`; {GRAMMAR}")
            }
            TtlError::MissingUnit(n) => write!(
                f,
                "`ttl` needs a unit after `{n}`: write `\"{n}s\"`, `\"{n}m\"` or `\"{n}h\"`"
            ),
            TtlError::UnknownUnit(unit) => {
                let hint = match unit.as_str() {
                    "sec" | "secs" | "second" | "seconds" => " (use `s` for seconds)",
                    "min" | "mins" | "minute" | "minutes" => " (use `m` for minutes)",
                    "hr" | "hrs" | "hour" | "hours" => " (use `h` for hours)",
                    "d" | "day" | "days" => " (days are not supported: use hours, e.g. `\"24h\"`)",
                    "ms" | "us" | "ns" => " (the smallest unit is the second)",
                    "S" | "M" | "H" => " (units are lowercase)",
                    _ => "",
                };
                write!(f, "unknown `ttl` unit `{unit}`{hint}: {GRAMMAR}")
            }
            TtlError::Fraction => write!(
                f,
                "`ttl` cannot have fractions: combine units instead, e.g. `\"1h30m\"` for 1.5 hours"
            ),
            TtlError::TooLarge => write!(
                f,
                "`ttl` is too large to count in seconds: give a shorter duration"
            ),
            TtlError::Zero => write!(
                f,
                "`ttl` is zero, so every pending would expire at once: give a positive duration \
                 such as `ttl = \"10m\"`, or remove `ttl` to use the manager's default"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ttls() {
        assert_eq!(parse_ttl("90s"), Ok(90));
        assert_eq!(parse_ttl("10m"), Ok(600));
        assert_eq!(parse_ttl("1h"), Ok(3600));
        assert_eq!(parse_ttl("1h30m"), Ok(5400));
        assert_eq!(parse_ttl("1h0m5s"), Ok(3605));
        assert_eq!(parse_ttl("007s"), Ok(7));
        assert_eq!(parse_ttl("0s1s"), Ok(1));
        assert_eq!(parse_ttl(""), Err(TtlError::Empty));
        assert_eq!(parse_ttl("0s"), Err(TtlError::Zero));
        assert_eq!(parse_ttl("0h0m0s"), Err(TtlError::Zero));
        assert_eq!(parse_ttl("10"), Err(TtlError::MissingUnit("10".into())));
        assert_eq!(parse_ttl("1h30"), Err(TtlError::MissingUnit("30".into())));
        assert_eq!(parse_ttl("10min"), Err(TtlError::UnknownUnit("min".into())));
        assert_eq!(parse_ttl("2d"), Err(TtlError::UnknownUnit("d".into())));
        assert_eq!(parse_ttl("10M"), Err(TtlError::UnknownUnit("M".into())));
        assert_eq!(parse_ttl("1.5h"), Err(TtlError::Fraction));
        assert_eq!(parse_ttl("10 m"), Err(TtlError::Space));
        assert_eq!(parse_ttl(" 10m"), Err(TtlError::Space));
        assert_eq!(parse_ttl("-5m"), Err(TtlError::Negative));
        assert_eq!(parse_ttl("m"), Err(TtlError::ExpectedNumber("m".into())));
        assert_eq!(parse_ttl("h1"), Err(TtlError::ExpectedNumber("h1".into())));
        assert_eq!(parse_ttl("99999999999999999999s"), Err(TtlError::TooLarge));
        assert_eq!(parse_ttl("18446744073709551615h"), Err(TtlError::TooLarge));
        assert_eq!(parse_ttl("18446744073709551615s"), Ok(u64::MAX));
        assert_eq!(
            parse_ttl("18446744073709551615s1s"),
            Err(TtlError::TooLarge)
        );
    }

    #[test]
    fn ttl_messages() {
        assert!(
            parse_ttl("10min")
                .unwrap_err()
                .to_string()
                .contains("use `m` for minutes")
        );
        assert!(
            parse_ttl("10")
                .unwrap_err()
                .to_string()
                .contains(r#"`"10s"`, `"10m"` or `"10h"`"#)
        );
    }

    mod props {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(2_000))]

            /// Any sum of `<n><unit>` groups parses to its number of seconds.
            #[test]
            fn ttl_groups_sum(groups in prop::collection::vec((0u64..100_000, 0usize..3), 1..5)) {
                let units = [("s", 1u64), ("m", 60), ("h", 3600)];
                let text: String = groups.iter().map(|(n, u)| format!("{n}{}", units[*u].0)).collect();
                let secs: u64 = groups.iter().map(|(n, u)| n * units[*u].1).sum();
                if secs == 0 {
                    prop_assert_eq!(parse_ttl(&text), Err(TtlError::Zero));
                } else {
                    prop_assert_eq!(parse_ttl(&text), Ok(secs));
                }
            }

            /// Arbitrary text never panics the TTL parser, and every error has a message.
            #[test]
            fn ttl_never_panics(s in ".{0,24}") {
                if let Err(e) = parse_ttl(&s) {
                    prop_assert!(!e.to_string().is_empty());
                }
            }
        }
    }
}

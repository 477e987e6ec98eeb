//! The form schema (the MCP form-schema subset) and the server-side validation of what a
//! browser submits against it.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// String formats of the MCP form schema.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub(super) enum Format {
    Email,
    Uri,
    Date,
    DateTime,
}

/// A field's type and its constraints.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) enum Kind {
    /// Text; `secret` renders a password input that is never refilled or echoed.
    String {
        min_length: Option<usize>,
        max_length: Option<usize>,
        format: Option<Format>,
        secret: bool,
    },
    Number {
        minimum: Option<f64>,
        maximum: Option<f64>,
    },
    Integer {
        minimum: Option<i64>,
        maximum: Option<i64>,
    },
    Boolean,
    Enum {
        options: Vec<String>,
    },
}

/// One field of the flat schema.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub(super) struct Field {
    pub(super) name: String,
    pub(super) title: String,
    pub(super) description: Option<String>,
    pub(super) required: bool,
    pub(super) kind: Kind,
}

/// A validated value.
#[derive(Debug, Clone, PartialEq)]
pub(super) enum Value {
    Text(String),
    Number(f64),
    Integer(i64),
    Bool(bool),
}

/// A calendar date `YYYY-MM-DD` (month 1–12, a day the month has).
fn valid_date(s: &str) -> bool {
    let p: Vec<&str> = s.split('-').collect();
    let [y, m, d] = p.as_slice() else {
        return false;
    };
    let (Some(y), Some(m), Some(d)) = (number(y, 4), number(m, 2), number(d, 2)) else {
        return false;
    };
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let days = match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return false,
    };
    (1..=days).contains(&d)
}

/// `s` as a number of exactly `len` ASCII digits.
fn number(s: &str, len: usize) -> Option<u32> {
    (s.len() == len && s.bytes().all(|b| b.is_ascii_digit()))
        .then(|| s.parse().ok())
        .flatten()
}

/// A time `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff` (hour < 24, minute and second < 60).
fn valid_time(s: &str) -> bool {
    let p: Vec<&str> = s.splitn(3, ':').collect();
    let hour = p.first().and_then(|h| number(h, 2)).is_some_and(|h| h < 24);
    let minute = p.get(1).and_then(|m| number(m, 2)).is_some_and(|m| m < 60);
    let second = p.get(2).is_none_or(|sec| {
        let mut parts = sec.splitn(2, '.');
        let whole = parts
            .next()
            .and_then(|w| number(w, 2))
            .is_some_and(|w| w < 60);
        let fraction = parts
            .next()
            .is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()));
        whole && fraction
    });
    hour && minute && second
}

/// Whether `v` has `format`.
fn valid_format(format: Format, v: &str) -> bool {
    match format {
        Format::Email => v.split_once('@').is_some_and(|(l, d)| {
            !l.is_empty()
                && d.contains('.')
                && !d.starts_with('.')
                && !d.ends_with('.')
                && !v.contains(char::is_whitespace)
        }),
        // An http(s) URL with a host.
        Format::Uri => {
            let rest = v
                .strip_prefix("https://")
                .or_else(|| v.strip_prefix("http://"));
            rest.is_some_and(|r| {
                let authority = r.split(['/', '?', '#']).next().unwrap_or_default();
                let host = authority.rsplit('@').next().unwrap_or_default();
                let host = host.rsplit_once(':').map_or(host, |(h, port)| {
                    if port.bytes().all(|b| b.is_ascii_digit()) {
                        h
                    } else {
                        host
                    }
                });
                !host.is_empty() && !v.contains(char::is_whitespace)
            })
        }
        Format::Date => valid_date(v),
        // `YYYY-MM-DDTHH:MM`, as a browser's date-time picker sends it, or with `:SS` and
        // fractions.
        Format::DateTime => v
            .split_once('T')
            .is_some_and(|(d, t)| valid_date(d) && valid_time(t)),
    }
}

/// Validates the submitted fields against the schema: the values, or a message per field.
pub(super) fn validate(
    fields: &[Field],
    form: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, Value>, BTreeMap<String, String>> {
    let mut values = BTreeMap::new();
    let mut errors = BTreeMap::new();
    for f in fields {
        // Surrounding spaces are dropped, but not from a secret: a password may have them.
        let secret = matches!(f.kind, Kind::String { secret: true, .. });
        let raw = form
            .get(&f.name)
            .map(|s| if secret { s.as_str() } else { s.trim() })
            .unwrap_or("");
        if let Kind::Boolean = f.kind {
            values.insert(f.name.clone(), Value::Bool(raw == "on" || raw == "true"));
            continue;
        }
        if raw.is_empty() {
            if f.required {
                errors.insert(f.name.clone(), "This field is required.".into());
            }
            continue;
        }
        let checked = match &f.kind {
            Kind::String {
                min_length,
                max_length,
                format,
                ..
            } => {
                let n = raw.chars().count();
                if min_length.is_some_and(|m| n < m) {
                    Err(format!("At least {} characters.", min_length.unwrap_or(0)))
                } else if max_length.is_some_and(|m| n > m) {
                    Err(format!("At most {} characters.", max_length.unwrap_or(0)))
                } else if format.is_some_and(|fmt| !valid_format(fmt, raw)) {
                    Err("This value has the wrong format.".into())
                } else {
                    Ok(Value::Text(raw.to_owned()))
                }
            }
            Kind::Number { minimum, maximum } => match raw.parse::<f64>() {
                Ok(x) if !x.is_finite() => Err("Enter a number.".into()),
                Ok(x) if minimum.is_some_and(|m| x < m) || maximum.is_some_and(|m| x > m) => {
                    Err("This number is out of range.".into())
                }
                Ok(x) => Ok(Value::Number(x)),
                Err(_) => Err("Enter a number.".into()),
            },
            Kind::Integer { minimum, maximum } => match raw.parse::<i64>() {
                Ok(x) if minimum.is_some_and(|m| x < m) || maximum.is_some_and(|m| x > m) => {
                    Err("This number is out of range.".into())
                }
                Ok(x) => Ok(Value::Integer(x)),
                Err(_) => Err("Enter a whole number.".into()),
            },
            Kind::Enum { options } => {
                if options.iter().any(|o| o == raw) {
                    Ok(Value::Text(raw.to_owned()))
                } else {
                    Err("Choose one of the options.".into())
                }
            }
            Kind::Boolean => Ok(Value::Bool(true)),
        };
        match checked {
            Ok(v) => {
                values.insert(f.name.clone(), v);
            }
            Err(e) => {
                errors.insert(f.name.clone(), e);
            }
        }
    }
    if errors.is_empty() {
        Ok(values)
    } else {
        Err(errors)
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::{Field, Format, Kind, Value, valid_format, validate};

    #[test]
    fn a_secret_keeps_its_spaces_and_other_text_is_trimmed() {
        let field = |name: &str, secret| Field {
            name: name.to_owned(),
            title: name.to_owned(),
            description: None,
            required: true,
            kind: Kind::String {
                min_length: None,
                max_length: None,
                format: None,
                secret,
            },
        };
        let form = BTreeMap::from([
            ("password".to_owned(), "  correct horse  ".to_owned()),
            ("user".to_owned(), "  alice ".to_owned()),
        ]);
        let values =
            validate(&[field("password", true), field("user", false)], &form).expect("valid");
        assert_eq!(values["password"], Value::Text("  correct horse  ".into()));
        assert_eq!(values["user"], Value::Text("alice".into()));
    }

    #[test]
    fn formats_are_checked_for_what_they_mean() {
        let ok = |f, v| valid_format(f, v);
        assert!(ok(Format::Date, "2024-02-29") && ok(Format::Date, "2030-12-31"));
        for bad in [
            "2023-02-29",
            "0000-99-99",
            "2030-13-01",
            "2030-04-31",
            "2030-00-10",
            "2030-1-01",
        ] {
            assert!(!ok(Format::Date, bad), "{bad}");
        }
        assert!(
            ok(Format::DateTime, "2030-12-31T23:59")
                && ok(Format::DateTime, "2030-12-31T23:59:59.5")
        );
        for bad in [
            "2030-13-45T99:99",
            "2030-12-31T24:00",
            "2030-12-31T12:60",
            "2030-12-31T12:00:60",
            "2030-12-31T12:00:00.",
        ] {
            assert!(!ok(Format::DateTime, bad), "{bad}");
        }
        for good in [
            "https://db.example.com",
            "http://10.0.0.1:5432/x",
            "https://u@h/p?q#f",
        ] {
            assert!(ok(Format::Uri, good), "{good}");
        }
        for bad in [
            "http://",
            "https:///path",
            "https://:80",
            "ftp://h",
            "https://a b",
        ] {
            assert!(!ok(Format::Uri, bad), "{bad}");
        }
    }
}

//! [`Revision`]: which URL-elicitation flow a protocol version uses.

/// How a client of a given protocol version receives URL elicitations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Revision {
    /// 2025-11-25 (and dated versions up to 2026-07-28): `elicitation/create` with an
    /// `elicitationId`, the `-32042` error and the completion notification.
    UrlElicitation,
    /// 2026-07-28 and later: the `input_required` result and a sealed `requestState`.
    MultiRoundTrip,
}

impl Revision {
    /// The first protocol version with URL-mode elicitation.
    pub const URL_ELICITATION_SINCE: &'static str = "2025-11-25";
    /// The first protocol version with multi round-trip requests.
    pub const MULTI_ROUND_TRIP_SINCE: &'static str = "2026-07-28";

    /// The revision of a negotiated protocol version (`YYYY-MM-DD`); `None` for versions
    /// before 2025-11-25, which have no URL mode, and for anything that is not a date.
    #[must_use]
    pub fn of_version(version: &str) -> Option<Self> {
        let b = version.as_bytes();
        let is_date = b.len() == 10
            && b[4] == b'-'
            && b[7] == b'-'
            && b.iter()
                .enumerate()
                .all(|(i, c)| i == 4 || i == 7 || c.is_ascii_digit());
        if !is_date {
            return None;
        }
        // ISO dates compare correctly as strings.
        if version >= Self::MULTI_ROUND_TRIP_SINCE {
            Some(Self::MultiRoundTrip)
        } else if version >= Self::URL_ELICITATION_SINCE {
            Some(Self::UrlElicitation)
        } else {
            None
        }
    }
}

#[cfg(test)]
mod tests {
    use super::Revision;

    #[test]
    fn versions_map_to_revisions() {
        assert_eq!(
            Revision::of_version("2025-11-25"),
            Some(Revision::UrlElicitation)
        );
        assert_eq!(
            Revision::of_version("2026-07-28"),
            Some(Revision::MultiRoundTrip)
        );
        assert_eq!(
            Revision::of_version("2027-01-01"),
            Some(Revision::MultiRoundTrip)
        );
        assert_eq!(Revision::of_version("2025-06-18"), None);
        assert_eq!(Revision::of_version("2026-7-28"), None);
        assert_eq!(Revision::of_version("latest"), None);
        assert_eq!(Revision::of_version(""), None);
    }
}

//! [`Body`]: the immutable part of a pending (payload and labels), shared, never copied.

use std::borrow::Cow;
use std::sync::Arc;

/// The immutable part of a pending: its payload, alias, resource and elicitation id, in
/// one allocation besides the payload's own (the three labels share one buffer, and a
/// single `&'static str` label is kept as it is, without a copy).
#[derive(PartialEq, Eq)]
pub struct Body<T> {
    data: T,
    labels: Labels,
}

impl<T> std::fmt::Debug for Body<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Payloads may be secrets: never printed.
        f.debug_struct("Body").finish_non_exhaustive()
    }
}

impl<T> Body<T> {
    /// A body. Labels longer than 65,534 bytes are cut at a character boundary (the manager
    /// refuses labels over [`MAX_LABEL_LEN`](crate::spec::MAX_LABEL_LEN) before this).
    #[must_use]
    pub fn new(
        data: T,
        alias: Option<String>,
        resource: Option<String>,
        elicit_id: Option<String>,
    ) -> Self {
        Self::with_labels(
            data,
            [alias, resource, elicit_id].map(|l| l.map(Cow::Owned)),
        )
    }

    /// A body from a spec's labels (alias, resource, elicitation id).
    pub(crate) fn with_labels(data: T, labels: [Option<Cow<'static, str>>; 3]) -> Self {
        Self {
            data,
            labels: Labels::new(labels),
        }
    }

    /// The payload.
    #[must_use]
    pub fn data(&self) -> &T {
        &self.data
    }

    /// The alias, if any.
    #[must_use]
    pub fn alias(&self) -> Option<&str> {
        self.labels.get(0)
    }

    /// The resource, if any.
    #[must_use]
    pub fn resource(&self) -> Option<&str> {
        self.labels.get(1)
    }

    /// The elicitation id, if any.
    #[must_use]
    pub fn elicit_id(&self) -> Option<&str> {
        self.labels.get(2)
    }

    /// The payload, by value: moved out when this is the only reference, cloned otherwise.
    #[must_use]
    pub fn into_data(self: Arc<Self>) -> T
    where
        T: Clone,
    {
        match Arc::try_unwrap(self) {
            Ok(body) => body.data,
            Err(shared) => shared.data.clone(),
        }
    }
}

/// Up to three optional labels in one buffer: a `&'static str` when only one label is given
/// and it is static (no allocation), one owned buffer otherwise. `lens` holds each label's
/// length, [`ABSENT`] for a missing one. (24 bytes: the tag shares the word of `lens`.)
#[derive(Debug)]
enum Labels {
    Static { buf: &'static str, lens: [u16; 3] },
    Owned { buf: Box<str>, lens: [u16; 3] },
}

const ABSENT: u16 = u16::MAX;

/// The longest prefix of `p` of at most 65,534 bytes that ends at a character boundary.
fn clamp(p: &str) -> usize {
    let max = p.len().min(usize::from(ABSENT - 1));
    (0..=max)
        .rev()
        .find(|&i| p.is_char_boundary(i))
        .unwrap_or(0)
}

impl Labels {
    fn new(parts: [Option<Cow<'static, str>>; 3]) -> Self {
        let mut lens = [ABSENT; 3];
        if parts.iter().flatten().count() <= 1 {
            // Keep the one label as it is: a static string, or the caller's own buffer.
            for (i, part) in parts.into_iter().enumerate() {
                let Some(p) = part else { continue };
                let take = clamp(&p);
                lens[i] = u16::try_from(take).unwrap_or(0);
                return match p {
                    Cow::Borrowed(b) => Self::Static {
                        buf: b.get(..take).unwrap_or(""),
                        lens,
                    },
                    Cow::Owned(mut o) => {
                        o.truncate(take);
                        Self::Owned {
                            buf: o.into_boxed_str(),
                            lens,
                        }
                    }
                };
            }
            return Self::Static { buf: "", lens };
        }
        let total: usize = parts.iter().flatten().map(|p| p.len()).sum();
        let mut buf = String::with_capacity(total);
        for (len, part) in lens.iter_mut().zip(&parts) {
            if let Some(p) = part {
                let take = clamp(p);
                buf.push_str(p.get(..take).unwrap_or(""));
                *len = u16::try_from(take).unwrap_or(0);
            }
        }
        Self::Owned {
            buf: buf.into_boxed_str(),
            lens,
        }
    }

    fn parts(&self) -> (&str, &[u16; 3]) {
        match self {
            Self::Static { buf, lens } => (buf, lens),
            Self::Owned { buf, lens } => (buf, lens),
        }
    }

    fn get(&self, which: usize) -> Option<&str> {
        let (buf, lens) = self.parts();
        let start: usize = lens[..which]
            .iter()
            .filter(|l| **l != ABSENT)
            .map(|l| usize::from(*l))
            .sum();
        let l = lens[which];
        (l != ABSENT).then(|| buf.get(start..start + usize::from(l)).unwrap_or(""))
    }
}

impl PartialEq for Labels {
    fn eq(&self, other: &Self) -> bool {
        self.parts() == other.parts()
    }
}

impl Eq for Labels {}

#[cfg(test)]
mod tests {
    use super::*;

    fn labels(body: &Body<()>) -> [Option<&str>; 3] {
        [body.alias(), body.resource(), body.elicit_id()]
    }

    #[test]
    fn every_combination_of_labels_reads_back() {
        let texts: [&'static str; 3] = ["gh", "ålias 🦀", ""];
        for mask in 0..8u8 {
            for owned in [false, true] {
                let given: [Option<&'static str>; 3] =
                    std::array::from_fn(|i| (mask & (1 << i) != 0).then_some(texts[i]));
                let body = Body::with_labels(
                    (),
                    given.map(|l| {
                        l.map(|s| {
                            if owned {
                                Cow::Owned(s.to_owned())
                            } else {
                                Cow::Borrowed(s)
                            }
                        })
                    }),
                );
                assert_eq!(labels(&body), given, "mask {mask}, owned {owned}");
                // A body is equal to one built from `String`s, however it keeps its labels.
                let from_strings = Body::new((), given[0].map(str::to_owned), None, None);
                let only_alias = given[1].is_none() && given[2].is_none();
                assert_eq!(body == from_strings, only_alias, "mask {mask}");
            }
        }
    }

    #[test]
    fn a_single_static_label_is_not_copied_and_long_labels_are_cut_at_a_boundary() {
        static RESOURCE: &str = "example.com";
        let body = Body::with_labels((), [None, Some(Cow::Borrowed(RESOURCE)), None]);
        assert!(std::ptr::eq(body.resource().unwrap_or(""), RESOURCE));
        assert!(matches!(body.labels, Labels::Static { .. }));
        assert_eq!(std::mem::size_of::<Labels>(), 24);

        // 'é' is two bytes; 32,767 of them straddle the 65,534-byte cut.
        let long = "é".repeat(40_000);
        for part in [
            Cow::Owned(long.clone()),
            Cow::Borrowed(long.clone().leak() as &str),
        ] {
            let body = Body::with_labels((), [Some(part), Some(Cow::Borrowed("r")), None]);
            assert_eq!(body.alias().map(str::len), Some(65_534));
            assert_eq!(body.resource(), Some("r"));
            let single = Body::new((), Some(long.clone()), None, None);
            assert_eq!(single.alias().map(str::len), Some(65_534));
        }
    }
}

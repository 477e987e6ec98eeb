//! The counts: requests sent per class of hostile input, 5xx answers, answers that echo the
//! input back, forgeries accepted; and the echo detector.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::wire::Reply;

/// Needles shorter than this are not looked for (they would match ordinary page text); every
/// hostile input here carries a longer distinctive part.
const MIN_NEEDLE: usize = 8;

#[derive(Default, Clone, Copy)]
struct Row {
    sent: usize,
    five_xx: usize,
    echoes: usize,
    accepted: usize,
    /// Closed without an answer (not a failure: a server may drop a request it cannot parse).
    dropped: usize,
}

/// Counts per class, and what failed, for the assertion message.
#[derive(Default)]
pub(crate) struct Tally {
    rows: BTreeMap<&'static str, Row>,
    pub(crate) failures: Vec<String>,
}

/// Whether `bytes` contain `needle` as sent, HTML-escaped either way the examples and the
/// library escape, or percent-encoded.
pub(crate) fn echoes(bytes: &[u8], needle: &[u8]) -> bool {
    if needle.len() < MIN_NEEDLE {
        return false;
    }
    let mut forms = vec![needle.to_vec()];
    if let Ok(s) = std::str::from_utf8(needle) {
        forms.push(oob_examples::escape(s).into_bytes());
        forms.push(
            s.replace('&', "&amp;")
                .replace('<', "&lt;")
                .replace('>', "&gt;")
                .replace('"', "&quot;")
                .replace('\'', "&#39;")
                .into_bytes(),
        );
        forms.push(
            url::form_urlencoded::byte_serialize(s.as_bytes())
                .collect::<String>()
                .into_bytes(),
        );
    }
    forms
        .iter()
        .any(|f| bytes.windows(f.len()).any(|w| w == f.as_slice()))
}

impl Tally {
    fn row(&mut self, class: &'static str) -> &mut Row {
        self.rows.entry(class).or_default()
    }

    /// One request of `class` (`what` names it in failures): its answer is checked for a 5xx
    /// and for any of `needles`.
    pub(crate) fn answer(
        &mut self,
        class: &'static str,
        what: &str,
        reply: &Reply,
        needles: &[&[u8]],
    ) {
        let row = self.row(class);
        row.sent += 1;
        if reply.status == 0 {
            row.dropped += 1;
        }
        if reply.status >= 500 {
            row.five_xx += 1;
            self.failures
                .push(format!("5xx ({}) on {class}: {what}", reply.status));
        }
        if needles.iter().any(|n| echoes(&reply.bytes, n)) {
            self.row(class).echoes += 1;
            self.failures.push(format!(
                "input echoed ({}) on {class}: {what}",
                reply.status
            ));
        }
    }

    /// One request of `class` answered with `status` whose body is `body` (for requests sent
    /// with reqwest).
    pub(crate) fn http(
        &mut self,
        class: &'static str,
        what: &str,
        status: u16,
        body: &str,
        needles: &[&[u8]],
    ) {
        let reply = Reply {
            status,
            bytes: body.as_bytes().to_vec(),
        };
        self.answer(class, what, &reply, needles);
    }

    /// A forgery of `class` was accepted (`accepted`) or refused.
    pub(crate) fn forgery(&mut self, class: &'static str, what: &str, accepted: bool) {
        if accepted {
            self.row(class).accepted += 1;
            self.failures
                .push(format!("forgery accepted on {class}: {what}"));
        }
    }

    /// The whole table (markdown).
    pub(crate) fn table(&self) -> String {
        let mut out = String::from(
            "| class | requests | 5xx | echoed input | forgeries accepted | closed unanswered |\n\
             |---|---:|---:|---:|---:|---:|\n",
        );
        let mut total = Row::default();
        for (class, r) in &self.rows {
            let _ = writeln!(
                out,
                "| {class} | {} | {} | {} | {} | {} |",
                r.sent, r.five_xx, r.echoes, r.accepted, r.dropped
            );
            total.sent += r.sent;
            total.five_xx += r.five_xx;
            total.echoes += r.echoes;
            total.accepted += r.accepted;
            total.dropped += r.dropped;
        }
        let _ = writeln!(
            out,
            "| **total** | {} | {} | {} | {} | {} |",
            total.sent, total.five_xx, total.echoes, total.accepted, total.dropped
        );
        out
    }

    /// Requests sent in `class`.
    pub(crate) fn sent(&self, class: &str) -> usize {
        self.rows.get(class).map_or(0, |r| r.sent)
    }
}

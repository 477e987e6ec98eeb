//! The check: what leaked where, over `Debug`, `Display` and an error's whole chain.

use std::fmt;

use oob::PendingId;

use crate::{NS, SECRET, UserError, secret};

/// What leaked where; the test fails listing every leak at once.
#[derive(Default)]
pub(crate) struct Leaks {
    found: Vec<String>,
    checked: usize,
}

impl Leaks {
    pub(crate) fn text(&mut self, what: &str, out: &str) {
        self.checked += 1;
        // `REDACTION_SHOW=1 cargo test --test redaction -- --nocapture` prints what is checked.
        if std::env::var_os("REDACTION_SHOW").is_some() {
            eprintln!("{what}: {out}");
        }
        for (canary, name) in [(SECRET, "the secret"), (NS, "the namespace")] {
            // The whole canary, or a recognizable part of it (an escaped or cut rendering).
            let head = &canary[..canary.len() - 5];
            if out.contains(canary) || out.contains(head) {
                self.found.push(format!("{what} prints {name}: {out}"));
            }
        }
    }

    /// Checks `{:?}` and `{:#?}` of `value`.
    pub(crate) fn debug<D: fmt::Debug + ?Sized>(&mut self, what: &str, value: &D) {
        self.text(&format!("{what} {{:?}}"), &format!("{value:?}"));
        self.text(&format!("{what} {{:#?}}"), &format!("{value:#?}"));
    }

    /// Checks `Debug` and `Display` of an error type `oob` defines.
    pub(crate) fn error<E: std::error::Error>(&mut self, what: &str, e: &E) {
        self.debug(what, e);
        self.text(&format!("{what} (Display)"), &e.to_string());
    }

    /// Checks `Debug` and `Display` of `e` and of every source in its chain (what a log of
    /// the chain prints, e.g. the MCP layer's internal errors).
    pub(crate) fn chain(&mut self, what: &str, e: &(dyn std::error::Error + 'static)) {
        let mut next = Some(e);
        let mut depth = 0;
        while let Some(e) = next {
            let at = format!("{what} (source {depth})");
            self.debug(&at, e);
            self.text(&format!("{at} (Display)"), &e.to_string());
            next = e.source();
            depth += 1;
        }
    }

    #[track_caller]
    pub(crate) fn assert_none(self, at_least: usize) {
        assert!(
            self.checked >= at_least,
            "only {} outputs checked",
            self.checked
        );
        assert!(
            self.found.is_empty(),
            "{} Debug output(s) leak a canary:\n{}",
            self.found.len(),
            self.found.join("\n")
        );
    }
}

/// The check itself sees a leak: a derived `Debug` of the payload, or the namespace text.
#[test]
fn the_check_catches_a_leak() {
    let mut leaks = Leaks::default();
    leaks.debug("the user's payload", &secret());
    leaks.debug("the namespace text", NS);
    leaks.debug("a value in a map", &[("k", format!("xx{SECRET}xx"))]);
    assert_eq!(leaks.found.len(), 6, "{:#?}", leaks.found);
    let mut clean = Leaks::default();
    clean.debug("an id", &PendingId::random());
    clean.debug("a user error", &UserError);
    assert!(clean.found.is_empty(), "{:#?}", clean.found);
}
